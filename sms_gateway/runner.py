"""`permit-gateway run`: start everything, stop cleanly on SIGTERM or SIGINT."""

from __future__ import annotations

import logging
import signal
import threading

from sqlalchemy import Engine

from sms_gateway import transports
from sms_gateway.config import Config
from sms_gateway.gateway import Gateway

log = logging.getLogger(__name__)


def run(config: Config, engine: Engine, *, node: str,
        stop_event: threading.Event | None = None) -> None:
    """Blocks until asked to stop; claimed work is finished or released before returning."""
    stop = stop_event or threading.Event()
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
    gateway = Gateway(config, engine, transports.build(config), node=node)
    gateway.start()
    try:
        stop.wait()
    finally:
        log.info("stopping")
        gateway.stop()
