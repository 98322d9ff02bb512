"""What the SMPP session reports to the thread that drives it (h11-style immutable events)."""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass

from sms_gateway.transport import DeliveryReceipt, InboundPart, Unreadable


class Event:
    """Base of everything `Session` reports."""


@dataclass(frozen=True)
class Bound(Event):
    """The SMSC accepted our bind."""

    system_id: str


@dataclass(frozen=True)
class BindRefused(Event):
    """The SMSC refused our bind; the connection is useless until a fresh attempt."""

    status: int


@dataclass(frozen=True)
class Received(Event):
    """A deliver_sm to store (or, unreadable, to set aside); answer it with
    `Session.acknowledge` once it is committed."""

    sequence: int
    item: InboundPart | DeliveryReceipt | Unreadable


@dataclass(frozen=True)
class Refused(Event):
    """A deliver_sm we could not read; the session already answered it with `status`."""

    sequence: int
    reason: str
    status: int


@dataclass(frozen=True)
class SubmitAccepted(Event):
    """The SMSC took one submit_sm and named it `message_id` (normalised)."""

    tag: Hashable
    message_id: str


@dataclass(frozen=True)
class SubmitFailed(Event):
    """One submit_sm will not be answered with success: retry later unless `permanent`.

    `deferred`: the link, not the network, stopped it (not bound, closed, throttled out):
    no attempt is counted."""

    tag: Hashable
    error: str
    permanent: bool = False
    uncertain: bool = False  # written to the SMSC but never answered: it may be delivered
    deferred: bool = False


@dataclass(frozen=True)
class LinkDead(Event):
    """The link cannot go on (no answer in time, broken stream): close the socket."""

    reason: str


@dataclass(frozen=True)
class Unbound(Event):
    """The session is over: the SMSC unbound us, or answered (or ignored) our unbind."""

    by_peer: bool
