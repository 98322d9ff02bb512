"""A modem gateway process that is SIGKILLed between the commit and AT+CMGD (no tests here).

    python -m tests.modem_gateway_child DATABASE_URL MODEM_PORT

It reads the SIM behind MODEM_PORT through the real modem pool into the real durable inbox.
Once the first batch is committed it prints "stored <n>" and hangs inside the sink, so the
driver never gets to delete those SMS from the SIM: the state a power cut at that instant
leaves behind, for the test to restart the gateway on.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Sequence

from sms_gateway.pipeline.sink import PipelineSink, standalone
from sms_gateway.transport import DeliveryReceipt, InboundPart, LinkHealth, Unreadable
from storage.db import make_engine
from tests.modem_gateway_rig import pool_transport


class CommitThenHang:
    """An `InboundSink` that commits through the real inbox, then never returns."""

    def __init__(self, sink: PipelineSink) -> None:
        self.sink = sink

    def store(self, parts: Sequence[InboundPart]) -> None:
        self.sink.store(parts)
        print(f"stored {len(parts)}", flush=True)
        threading.Event().wait()

    def receipts(self, receipts: Sequence[DeliveryReceipt]) -> None:
        self.sink.receipts(receipts)

    def set_aside(self, items: Sequence[Unreadable]) -> None:
        self.sink.set_aside(items)

    def is_urgent(self, sender: str) -> bool:
        return self.sink.is_urgent(sender)

    def link_health(self, health: LinkHealth) -> None:
        pass


def main(url: str, port: str) -> None:
    # No dispatcher: the restarted gateway must find the committed rows and answer them.
    transport = pool_transport([port])
    transport.start(CommitThenHang(standalone(make_engine(url))))
    threading.Event().wait()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
