"""What goes into the rules and what comes out: plain values, no transport details."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass


@dataclass(frozen=True)
class Inbound:
    """A request as the rules see it: who sent what, on which channel, when."""

    sender: str
    text: str
    channel: str
    received_at: dt.datetime


@dataclass(frozen=True)
class Reply:
    """A text to send back; `expires_at` is when it stops being worth sending."""

    to: str
    text: str
    priority: int = 0
    permit_id: int | None = None
    expires_at: dt.datetime | None = None


@dataclass(frozen=True)
class Outcome:
    """What the rules decided for one inbound message."""

    kind: str
    replies: tuple[Reply, ...] = ()
    permit_id: int | None = None
    reason: int | None = None
    district_id: str | None = None
    officer: bool = False
    permit_code: str | None = None
    capped: bool = False  # the reply was held back by the per-number reply cap

    @property
    def recorded(self) -> str:
        """The outcome as the ledger counts it: `capped` when nobody was answered."""
        return "capped" if self.capped else self.kind


OFFICER_PRIORITY = 1
