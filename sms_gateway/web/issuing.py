"""Issuing a permit on a resident's behalf (a social worker on the phone with them).

The request goes through the rules exactly as an SMS would, so the quota, the one-active-permit
rule and district switches hold; the reply is shown to the operator instead of being sent.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import Connection, update

from permits import codes
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
    reply: str | None
    permit_id: int | None


def issue_for(conn: Connection, rules: Rules, resident_phone: str, reason: int,
              operator: str, now: dt.datetime) -> Issued:
    """Ask for a permit as the resident would by SMS, inside the caller's transaction."""
    if rules.settings.reason(reason) is None:
        raise IssueError(f"no reason number {reason}")
    message = Inbound(sender=resident_phone, text=f"ВЫХОД {reason}", channel=CHANNEL,
                      received_at=now)
    [outcome] = rules.handle(conn, [message], now)
    if outcome.kind == "issued" and outcome.permit_id:
        conn.execute(update(permits).where(permits.c.id == outcome.permit_id)
                     .values(issued_by=f"web:{operator}"[:60]))
    return Issued(outcome.kind,
                  codes.display(outcome.permit_code) if outcome.permit_code else None,
                  outcome.replies[0].text if outcome.replies else None, outcome.permit_id)
