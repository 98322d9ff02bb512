"""`permit-gateway run` and `web`: start everything, stop cleanly on SIGTERM or SIGINT."""

from __future__ import annotations

import logging
import signal
import threading

from sqlalchemy import Engine

from sms_gateway import links
from sms_gateway.config import Config
from sms_gateway.gateway import Gateway

log = logging.getLogger(__name__)


def _stop_event(given: threading.Event | None) -> threading.Event:
    stop = given or threading.Event()
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
    return stop


def run(config: Config, engine: Engine, *, node: str, web: bool = True,
        stop_event: threading.Event | None = None) -> None:
    """Blocks until asked to stop; claimed work is finished or released before returning."""
    from sms_gateway.web.server import WebServer

    stop = _stop_event(stop_event)
    gateway = Gateway(config, engine, links.build(config), node=node)
    server = WebServer(config, engine) if web else None
    gateway.start()
    if server:
        server.start()
        log.info("web console on %s", server.url)
    try:
        stop.wait()
    finally:
        log.info("stopping")
        if server:
            server.stop()
        gateway.stop()


def serve_web(config: Config, engine: Engine, stop_event: threading.Event | None = None) -> None:
    """Only the web console (e.g. on a machine apart from the gateway nodes)."""
    from sms_gateway.web.server import WebServer

    stop = _stop_event(stop_event)
    server = WebServer(config, engine)
    server.start()
    log.info("web console on %s", server.url)
    try:
        stop.wait()
    finally:
        server.stop()
