"""A transport that talks to the test or the console instead of a network."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Sequence

from sms_gateway.clock import utc_now
from sms_gateway.transport import (
    InboundPart,
    InboundSink,
    LinkHealth,
    OutboundMessage,
    SendResult,
    Transport,
)


class LoopbackTransport(Transport):
    """Inbound by `inject`, outbound into `sent` (and to `on_send`, when given).

    `fail_sends` makes the network refuse every send (an attempt each); `set_link(False)`
    takes the link down (nothing is an attempt, the sender waits for `set_link(True)`)."""

    kind = "loopback"

    def __init__(self, name: str = "loopback",
                 on_send: Callable[[Sequence[OutboundMessage]], None] | None = None) -> None:
        super().__init__(name)
        self.sent: list[OutboundMessage] = []
        self.on_send = on_send
        self.fail_sends = False
        self._link_up = True
        self._sink: InboundSink | None = None
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def start(self, sink: InboundSink) -> None:
        self._sink = sink

    def stop(self) -> None:
        self._sink = None

    def inject(self, sender: str, text: str, **extra: object) -> None:
        """Store one message as a transport would (raises StoreError when not stored)."""
        self.inject_parts([InboundPart(self.channel, sender, text, utc_now(), **extra)])

    def inject_parts(self, parts: Sequence[InboundPart]) -> None:
        if self._sink is None:
            raise RuntimeError("loopback transport is not started")
        self._sink.store(parts)

    def set_link(self, up: bool) -> None:
        """Take the link down or bring it back, reporting the change as a real link does."""
        self._link_up = up
        if self._sink is not None:
            self._sink.link_health(self.health())

    def ready(self) -> bool:
        return self._sink is not None and self._link_up

    def send(self, messages: Sequence[OutboundMessage]) -> list[SendResult]:
        if not self.ready():
            return [SendResult(m.id, False, error="link down", deferred=True) for m in messages]
        if self.fail_sends:
            return [SendResult(m.id, False, error="loopback told to fail") for m in messages]
        with self._lock:
            self.sent.extend(messages)
            ids = [f"lb{next(self._ids)}" for _ in messages]
        if self.on_send:
            self.on_send(messages)
        return [SendResult(m.id, True, transport_message_id=i) for m, i in zip(messages, ids,
                                                                                 strict=True)]

    def health(self) -> LinkHealth:
        return LinkHealth(self.channel, self.kind, self.ready())
