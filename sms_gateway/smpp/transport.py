"""`SmppTransport`: one SMSC connection group (a transceiver, or a transmitter+receiver pair)."""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterable, Sequence

from sms_gateway.clock import SessionClock, SystemClock
from sms_gateway.smpp.batch import SendBatch
from sms_gateway.smpp.client import Link
from sms_gateway.smpp.events import SubmitAccepted, SubmitFailed
from sms_gateway.smpp.outbound import UnsendableMessage, build_submits
from sms_gateway.smpp.settings import SmppSettings
from sms_gateway.smpp.states import BindKind
from sms_gateway.transport import InboundSink, LinkHealth, OutboundMessage, SendResult, Transport


class SmppTransport(Transport):
    """Sends replies as submit_sm and hands deliver_sm to the sink, over one SMPP bind mode.

    `send` blocks until every message was answered by the SMSC, timed out or failed; call it
    from the sender's thread, several threads may call it at once.
    """

    kind = "smpp"

    def __init__(self, settings: SmppSettings, clock: SessionClock | None = None) -> None:
        super().__init__(settings.name)
        self.settings = settings
        self._clock = clock or SystemClock()
        self._links: list[Link] = []
        self._sink: InboundSink | None = None
        # Concatenation references: per connection group, starting anywhere.
        self._references = itertools.count(random.randrange(65536))

    def start(self, sink: InboundSink) -> None:
        self._sink = sink
        kinds = (
            [BindKind.TRANSCEIVER]
            if self.settings.bind_mode == "transceiver"
            else [BindKind.TRANSMITTER, BindKind.RECEIVER]
        )
        self._links = [
            Link(
                self.settings, kind, self.channel, sink, _resolve, self._report_health, self._clock
            )
            for kind in kinds
        ]
        for link in self._links:
            link.start()

    def stop(self) -> None:
        for link in self._links:
            link.stop()

    def send(self, messages: Sequence[OutboundMessage]) -> list[SendResult]:
        batch = SendBatch(list(messages))
        now = self._clock.now()
        items = []
        for index, message in enumerate(messages):
            try:
                parts = build_submits(message, self.settings, next(self._references), now)
            except UnsendableMessage as exc:
                batch.fail(index, str(exc), permanent=True)
                continue
            batch.expect(index, len(parts))
            items.extend((batch.tag(index, part), submit) for part, submit in enumerate(parts))
        sender = self._sender()
        if sender is not None:
            sender.submit(items)
        else:
            _resolve([SubmitFailed(tag, "transport not started", deferred=True)
                      for tag, _ in items])
        return batch.wait()

    def health(self) -> LinkHealth:
        snapshots = {link.kind.name.lower(): link.snapshot() for link in self._links}
        links = list(snapshots.values())
        sender = snapshots.get("transmitter") or snapshots.get("transceiver")
        states = " ".join(f"{kind}:{snap.bind_state}" for kind, snap in snapshots.items())
        details: dict[str, object] = {
            "bind_mode": self.settings.bind_mode,
            "bind_state": states or "stopped",
            "last_enquire_link": _latest(snap.last_enquire_link for snap in links),
            "last_received": _latest(snap.last_received for snap in links),
            "window_in_use": sender.window_in_use if sender else 0,
            "window": self.settings.window,
            "queued": sender.queued if sender else 0,
            "reconnects": sum(snap.reconnects for snap in links),
            "refused_pdus": sum(snap.refused_pdus for snap in links),
            "last_error": next((snap.last_error for snap in links if snap.last_error), None),
        }
        up = bool(self._links) and all(link.bound for link in self._links)
        return LinkHealth(channel=self.channel, kind=self.kind, up=up, details=details)

    def ready(self) -> bool:
        sender = self._sender()
        return sender is not None and sender.ready

    def _sender(self) -> Link | None:
        """The link that submits: the transceiver, or the transmitter of a pair."""
        return self._links[0] if self._links else None

    def _report_health(self) -> None:
        if self._sink is not None:
            self._sink.link_health(self.health())


def _latest(stamps: Iterable[str | None]) -> str | None:
    """The latest of some ISO-8601 UTC stamps (they sort as text)."""
    return max((stamp for stamp in stamps if stamp), default=None)


def _resolve(outcomes: Sequence[SubmitAccepted | SubmitFailed]) -> None:
    """Route each part's outcome to the batch its tag names."""
    for outcome in outcomes:
        batch, _, _ = outcome.tag  # type: ignore[misc]
        batch.resolve(outcome)
