"""A gateway process for crash tests: it is SIGKILLed at a chosen stage by the test.

    python -m tests.pipeline_child DATABASE_URL STAGE COUNT

STAGE `stored`: store COUNT requests, print "stored", wait (the dispatcher never runs).
STAGE `sending`: run the whole gateway on them; the transport hangs in send() after
printing "sending", so replies are claimed but never confirmed.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Sequence
from pathlib import Path

from sms_gateway.config import from_dict
from sms_gateway.gateway import Gateway
from sms_gateway.loopback import LoopbackTransport
from sms_gateway.pipeline.sink import standalone
from sms_gateway.transport import OutboundMessage, SendResult
from storage.db import make_engine


class HangingTransport(LoopbackTransport):
    def send(self, messages: Sequence[OutboundMessage]) -> list[SendResult]:
        print("sending", flush=True)
        threading.Event().wait()
        return []


def requests(count: int) -> list[tuple[str, str]]:
    return [(f"+7927{n:07d}", "ВЫХОД магазин") for n in range(count)]


def main(url: str, stage: str, count: int) -> None:
    engine = make_engine(url)
    if stage == "stored":
        transport = LoopbackTransport("crash")
        transport.start(standalone(engine))
        for sender, text in requests(count):
            transport.inject(sender, text)
        print("stored", flush=True)
        threading.Event().wait()
    config = from_dict({"database": {"url": url}}, base=Path.cwd())
    transport = HangingTransport("crash")
    gateway = Gateway(config, engine, [transport])
    transport.start(gateway.sink)
    for sender, text in requests(count):
        transport.inject(sender, text)
    gateway.start()
    threading.Event().wait()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
