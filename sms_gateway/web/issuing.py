"""Issuing a permit on a resident's behalf (a social worker on the phone with them).

The request goes through the rules exactly as an SMS would, so the quota, the one-active-permit
rule and district switches hold; the reply is shown to the operator instead of being sent. It
is asked in the console's language ("ВЫХОД 6" or "EXIT 6"), so the text the operator reads to
the caller is in the language of the page it is shown on.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import Connection, update

from permits import codes, ledger
from permits.messages import Inbound
from permits.service import Rules
from storage.tables.ledger import permits

CHANNEL = "web:operator"


class IssueError(ValueError):
    """The request cannot be made: no such reason."""


@dataclass(frozen=True)
class Issued:
    """What the rules decided: `kind` as in the outcomes table, the code if a permit exists."""

    kind: str
    code: str | None
    reply: str | None  # None when the number's hourly reply limit held the text back
    permit_id: int | None
    valid_from: dt.datetime | None = None
    valid_until: dt.datetime | None = None
    permit_reason: int | None = None  # the permit's own (an older one held may differ)


_COMMAND = {"ru": "ВЫХОД", "en": "EXIT"}


def issue_for(conn: Connection, rules: Rules, resident_phone: str, reason: int,
              operator: str, now: dt.datetime, language: str = "ru") -> Issued:
    """Ask for a permit as the resident would by SMS, inside the caller's transaction."""
    if rules.settings.reason(reason) is None:
        raise IssueError(f"no reason number {reason}")
    message = Inbound(sender=resident_phone, text=f"{_COMMAND[language]} {reason}",
                      channel=CHANNEL, received_at=now)
    [outcome] = rules.handle(conn, [message], now)
    if outcome.kind == "issued" and outcome.permit_id:
        conn.execute(update(permits).where(permits.c.id == outcome.permit_id)
                     .values(issued_by=f"web:{operator}"[:60]))
    reply = outcome.replies[0].text if outcome.replies else None
    if not outcome.permit_code:
        return Issued(outcome.kind, None, reply, outcome.permit_id)
    held = ledger.find_by_codes(conn, [outcome.permit_code])[outcome.permit_code].permit
    return Issued(outcome.kind, codes.display(outcome.permit_code), reply, outcome.permit_id,
                  held.valid_from, held.valid_until, held.reason)
