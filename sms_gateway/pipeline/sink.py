"""What a transport hands its reads to: the pipeline's `InboundSink`, made of named parts.

Messages go to the inbox, delivery receipts to the receipts, a link's state to the board of
link health: a reader follows each to its owner instead of callbacks threaded through the
gateway. `standalone` builds one for a process that runs a transport without a gateway
(tools, tests, benchmarks).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Engine

from sms_gateway.clock import Clock, utc_now
from sms_gateway.link_health import HealthBoard
from sms_gateway.pipeline.gate import Refused
from sms_gateway.pipeline.inbox import Inbox, Listener
from sms_gateway.pipeline.receipts import Receipts
from sms_gateway.transport import DeliveryReceipt, InboundPart, LinkHealth, Unreadable


@dataclass(frozen=True)
class PipelineSink:
    """The `InboundSink` every transport of a node is started with."""

    inbox: Inbox
    delivery_receipts: Receipts
    links: HealthBoard

    def store(self, parts: Sequence[InboundPart]) -> list[Refused]:
        return self.inbox.store(parts)

    def set_aside(self, items: Sequence[Unreadable]) -> None:
        self.inbox.set_aside(items)

    def is_urgent(self, sender: str) -> bool:
        return self.inbox.is_urgent(sender)

    def receipts(self, receipts: Sequence[DeliveryReceipt]) -> None:
        self.delivery_receipts.record(receipts)

    def link_health(self, health: LinkHealth) -> None:
        self.links.report(health)


def standalone(engine: Engine, *, clock: Clock = utc_now,
               listener: Listener | None = None) -> PipelineSink:
    inbox = Inbox(engine, clock=clock, listener=listener)
    return PipelineSink(inbox, Receipts(inbox.writer), HealthBoard(clock))
