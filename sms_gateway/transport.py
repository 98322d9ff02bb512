"""The contract between transports (modem, SMPP, loopback) and the durable pipeline.

A transport only moves messages: it hands inbound parts to an `InboundSink`, which commits
them before returning (so the transport may acknowledge only after `store` returned), and it
sends the outbound messages the sender gives it, reporting each outcome. What it read but
cannot decode at all goes to the sink too (`set_aside`), and is acknowledged the same way.
It says whether it is ready to send (the sender claims nothing for a link that is not) and
reports every change of its link to the sink (the sender wakes when its link comes up).
"""

from __future__ import annotations

import abc
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol


class StoreError(Exception):
    """The inbound batch was not committed: the transport must not acknowledge it."""


@dataclass(frozen=True)
class Concat:
    """Where a part sits in a concatenated message (UDH or SAR)."""

    reference: int
    total: int
    seq: int


@dataclass(frozen=True)
class InboundPart:
    """One received SMS (or one part of a long one), decoded, as a transport saw it."""

    channel: str
    sender: str
    text: str
    received_at: dt.datetime
    dedup_key: str | None = None
    concat: Concat | None = None
    raw: bytes = b""
    ussd_op: int | None = None
    ussd_session: str | None = None


@dataclass(frozen=True)
class DeliveryReceipt:
    """A network's word on a message we sent: matched to the outbox by transport message id."""

    channel: str
    message_id: str
    state: str
    error: str | None = None


@dataclass(frozen=True)
class Unreadable:
    """What a transport received but cannot decode (a SIM PDU, a deliver_sm's text): kept in
    the quarantine for an operator, then acknowledged, so it neither fills a SIM nor comes back."""

    channel: str
    raw: bytes
    reason: str
    received_at: dt.datetime
    sender: str = ""


class InboundSink(Protocol):
    """What the pipeline offers a transport."""

    def store(self, parts: Sequence[InboundPart]) -> None:
        """Commit the parts in one transaction; raises StoreError only when the database
        itself failed. A part the database cannot hold is quarantined, and counts as stored."""

    def set_aside(self, items: Sequence[Unreadable]) -> None:
        """Commit what could not be decoded to the quarantine; raises StoreError like `store`."""

    def receipts(self, receipts: Sequence[DeliveryReceipt]) -> None:
        """Record delivery receipts; raises StoreError like `store`."""

    def link_health(self, health: LinkHealth) -> None:
        """Note the current state of a link (kept in memory, snapshotted by the scheduler).

        Called on every change: a link that comes up wakes its senders."""

    def is_urgent(self, sender: str) -> bool:
        """Whether to store this sender's messages ahead of others (officers at a checkpoint)."""


@dataclass(frozen=True)
class OutboundMessage:
    """A reply to send; `expires_at` bounds how long the network should try."""

    id: int
    to: str
    text: str
    expires_at: dt.datetime | None = None
    ussd_op: int | None = None
    ussd_session: str | None = None


@dataclass(frozen=True)
class SendResult:
    """The outcome of one send: ok, a temporary failure (retry later) or a permanent one.

    `deferred`: the link could not carry it (down, not bound yet, throttled out, gone while
    the message was on the wire). That is no attempt: the reply waits for the link, keeping
    its place in the queue, and is never failed for it."""

    id: int
    ok: bool
    transport_message_id: str | None = None
    error: str | None = None
    permanent: bool = False
    uncertain: bool = False  # failed, but the network may have taken it (a lost response)
    deferred: bool = False


@dataclass(frozen=True)
class LinkHealth:
    """A link's state for the status page; `details` holds transport-specific figures."""

    channel: str
    kind: str
    up: bool
    details: dict[str, object] = field(default_factory=dict)


class Transport(abc.ABC):
    """A link to phones: a modem pool, an SMPP connection group or the loopback."""

    kind: str = "abstract"
    send_concurrency: int = 1  # how many `send` calls may usefully run at once

    def __init__(self, name: str) -> None:
        self.name = name

    @property
    def channel(self) -> str:
        """The channel name stored with every message, used to route replies back."""
        return f"{self.kind}:{self.name}"

    @abc.abstractmethod
    def start(self, sink: InboundSink) -> None:
        """Open the link and begin handing inbound parts to `sink`."""

    @abc.abstractmethod
    def stop(self) -> None:
        """Close the link cleanly; inbound parts not yet stored stay unacknowledged."""

    @abc.abstractmethod
    def send(self, messages: Sequence[OutboundMessage]) -> list[SendResult]:
        """Hand the messages to the network; one result per message, in any order."""

    @abc.abstractmethod
    def health(self) -> LinkHealth:
        """The link's current state."""

    @abc.abstractmethod
    def ready(self) -> bool:
        """Whether a send now could reach the network (bound and not throttled, a healthy
        modem, ...). Asked before every claim, so it must be cheap: no I/O, no database."""
