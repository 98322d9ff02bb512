"""The scheduled purge: message texts, permits and checks older than `[privacy] retain_days`,
temporary residents that long after their last day, registration questions nobody answered.

What stays: per-day counts of requests and checks by kind, reason and district
(`daily_counts`).
Each run deletes in chunks, one transaction per chunk, until nothing old is left.
"""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy import Connection, Engine, delete

from permits import registration_queue, retention
from permits.ledger import hour_of
from permits.service import Rules
from storage.tables.console import login_failures
from storage.tables.ledger import reply_counts
from storage.tables.messages import (
    InboxState,
    OutboxState,
    delivery_receipts,
    inbox,
    inbox_parts,
    outbox,
    quarantine,
    ussd_sessions,
)

log = logging.getLogger(__name__)
# A day after its last failed login, a name or an address starts again with its free tries;
# without this, names an attacker made up would stay in the table for ever.
FAILED_LOGINS_KEPT = dt.timedelta(days=1)
_FINAL = (OutboxState.SENT, OutboxState.DELIVERED, OutboxState.FAILED, OutboxState.EXPIRED)


def purge_messages(conn: Connection, before: dt.datetime, now: dt.datetime) -> int:
    """Texts and numbers of handled (or quarantined) messages older than `before`; brakes,
    USSD sessions and failed logins that no longer slow anyone."""
    removed = 0
    for statement in (
        delete(inbox).where(inbox.c.stored_at < before, inbox.c.state != InboxState.NEW),
        delete(outbox).where(outbox.c.created_at < before, outbox.c.state.in_(_FINAL)),
        delete(delivery_receipts).where(delivery_receipts.c.received_at < before),
        delete(inbox_parts).where(inbox_parts.c.stored_at < before, inbox_parts.c.assembled),
        delete(quarantine).where(quarantine.c.quarantined_at < before),
    ):
        removed += conn.execute(statement).rowcount
    conn.execute(delete(reply_counts).where(reply_counts.c.hour < hour_of(now)
                                            - dt.timedelta(hours=2)))
    conn.execute(delete(ussd_sessions).where(ussd_sessions.c.expires_at < now))
    registration_queue.purge(conn, now)
    conn.execute(delete(login_failures).where(login_failures.c.last_at < now - FAILED_LOGINS_KEPT))
    return removed


def purge(engine: Engine, rules: Rules, retain_days: int, now: dt.datetime) -> dict[str, int]:
    """Everything older than `retain_days`; returns how many rows of each kind went."""
    before = now - dt.timedelta(days=retain_days)
    before_day = rules.local_day(now) - dt.timedelta(days=retain_days)
    totals = {"outcomes": 0, "checks": 0, "permits": 0, "residents": 0, "messages": 0}
    while True:
        with engine.begin() as conn:
            folded = retention.fold_outcomes(conn, before_day)
            checks, purged = retention.purge_permits(conn, before_day, before, rules.local_day)
            ended = retention.remove_ended_residents(conn, before_day)
        for key, count in (("outcomes", folded), ("checks", checks), ("permits", purged),
                           ("residents", ended)):
            totals[key] += count
        if max(folded, checks, purged, ended) < retention.CHUNK:
            break
    with engine.begin() as conn:
        totals["messages"] = purge_messages(conn, before, now)
    if any(totals.values()):
        log.info("retention: removed %(outcomes)d request records, %(checks)d checks, "
                 "%(permits)d permits, %(residents)d ended temporary residents, "
                 "%(messages)d messages", totals)
    return totals
