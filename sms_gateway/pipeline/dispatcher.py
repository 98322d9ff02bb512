"""The dispatcher: inbox rows in, the rules' decisions and the replies out, in one transaction.

A batch is claimed (officers first), decided by `permits`, and its permits, verification
records, outbox rows and the inbox rows' new state are committed together: one fsync per batch.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, Row, bindparam, insert, select, update
from sqlalchemy.exc import SQLAlchemyError

from permits.messages import Inbound, Outcome
from permits.service import Rules
from sms_gateway.clock import Clock, utc_now
from sms_gateway.config import UssdSettings
from sms_gateway.pipeline import quarantine
from sms_gateway.pipeline.notify import OUTBOX, notify
from sms_gateway.pipeline.outbox import new_row
from sms_gateway.pipeline.repeats import DUPLICATE, repeated
from sms_gateway.pipeline.store_errors import is_content_failure, store_failure
from sms_gateway.ussd.sessions import UssdSessions
from storage.bulk import Bulk
from storage.db import transaction
from storage.dialect import skip_locked
from storage.tables.messages import InboxState, inbox, outbox

log = logging.getLogger(__name__)
# How often the dispatcher looks for officers' messages other nodes stored (its own inbox
# tells it at once).
_LOOK_FOR_URGENT_SECONDS = 1.0


@dataclass(frozen=True)
class BatchResult:
    """What one dispatch did: how many messages and replies, for wake-ups and metrics."""

    messages: int
    replies: int
    urgent_replies: int = 0


_COLUMNS = (inbox.c.id, inbox.c.channel, inbox.c.sender, inbox.c.text, inbox.c.received_at,
            inbox.c.ussd_op, inbox.c.ussd_session)


_QUEUE_REPLIES = Bulk(lambda _dialect: insert(outbox))
_MARK_DONE = Bulk(lambda _dialect: update(inbox).where(inbox.c.id == bindparam("row_id")).values(
    state=InboxState.DONE, outcome=bindparam("kind"), handled_at=bindparam("at")))


def claim(conn: Connection, limit: int, urgent: bool) -> list[Row]:
    """The next new inbox rows of one lane, skipped by other nodes while we hold them."""
    query = (select(*_COLUMNS)
             .where(inbox.c.state == InboxState.NEW, (inbox.c.priority > 0) if urgent
                    else (inbox.c.priority == 0))
             .order_by(inbox.c.id)
             .limit(limit))
    return conn.execute(skip_locked(conn, query)).all()


def urgent_waiting(engine: Engine) -> bool:
    with engine.connect().execution_options(readonly=True) as conn:
        return conn.scalar(select(inbox.c.id).where(inbox.c.state == InboxState.NEW,
                                                    inbox.c.priority > 0).limit(1)) is not None


class Dispatcher:
    """Turns stored messages into decisions and queued replies.

    Officers' and USSD messages have a lane of their own: a check at a checkpoint waits for
    one small transaction, not a flood's batch. After a full batch of the fast lane the slow
    lane gets a turn, so a looping USSD gateway cannot starve residents either. Where the
    database takes several writers at once (PostgreSQL), a second dispatcher takes the fast
    lane alone (`urgent_only`): a check then never waits for a residents' batch in progress
    (200-300 ms for 500 requests on one node there; officers' p99 in the SMPP flood)."""

    def __init__(self, engine: Engine, rules: Rules, *, ussd: UssdSessions | None = None,
                 batch_size: int = 500, clock: Clock = utc_now,
                 urgent_only: bool = False) -> None:
        self.engine, self.rules, self.batch_size, self.clock = engine, rules, batch_size, clock
        self.urgent_only = urgent_only  # the fast lane alone, beside a dispatcher of both
        self.ussd = ussd or UssdSessions.configured(rules, UssdSettings())
        self._urgent_was_full = False
        self._urgent_stored = threading.Event()
        self._urgent_stored.set()  # whatever was left from before the start
        self._next_look = 0.0

    def expect_urgent(self) -> None:
        """An officer's or a USSD message may be waiting (this node's inbox has just stored
        one, or messages came from elsewhere): the next batch looks at the fast lane first."""
        self._urgent_stored.set()

    def _urgent_first(self) -> bool:
        """Whether to claim the fast lane first: at once when told to expect something there,
        else after a look at the table now and then."""
        if self._urgent_was_full:
            return False
        if self._urgent_stored.is_set():
            self._urgent_stored.clear()  # before the claim: a store after it sets it again
            return True
        if time.monotonic() < self._next_look:
            return False
        self._next_look = time.monotonic() + _LOOK_FOR_URGENT_SECONDS
        return urgent_waiting(self.engine)

    def run_once(self) -> BatchResult:
        if self.urgent_only:
            return self._turn(True) or BatchResult(0, 0)
        urgent_first = self._urgent_first()
        for turn_urgent in (urgent_first, not urgent_first):
            result = self._turn(turn_urgent)
            if result is not None:
                return result
        self._urgent_was_full = False
        return BatchResult(0, 0)

    def _turn(self, urgent: bool) -> BatchResult | None:
        """One batch of a lane (or of the fast lane, see `_claim`); None if it had nothing."""
        lane_urgent = urgent
        try:
            with transaction(self.engine, urgent=urgent) as conn:
                rows, lane_urgent = self._claim(conn, urgent)
                if not rows:
                    return None
                self._urgent_was_full = lane_urgent and len(rows) >= self.batch_size
                if self._urgent_was_full:
                    self._urgent_stored.set()  # more of them after the slow lane's turn
                return self.dispatch(conn, rows)
        except Exception:
            log.exception("a batch failed; deciding its messages one by one")
            return self._one_by_one(lane_urgent)

    def _claim(self, conn: Connection, urgent: bool) -> tuple[list[Row], bool]:
        """The rows of a lane, and which lane they are from. An officer's message committed
        while this transaction waited for its turn goes before the slow lane's batch."""
        if not urgent and self._urgent_stored.is_set():
            self._urgent_stored.clear()
            rows = claim(conn, self.batch_size, urgent=True)
            if rows:
                return rows, True
        return claim(conn, self.batch_size, urgent), urgent

    def _one_by_one(self, urgent: bool) -> BatchResult:
        """After a failed batch: each message alone, so one bad message stops nothing else;
        one that fails alone goes to the quarantine, for an operator to look at and release."""
        total = BatchResult(0, 0)
        with self.engine.connect().execution_options(readonly=True) as conn:
            ids = conn.scalars(select(inbox.c.id).where(
                inbox.c.state == InboxState.NEW, (inbox.c.priority > 0) if urgent
                else (inbox.c.priority == 0)).order_by(inbox.c.id).limit(self.batch_size)).all()
        for row_id in ids:
            try:
                with transaction(self.engine, urgent=urgent) as conn:
                    rows = conn.execute(skip_locked(conn, select(*_COLUMNS).where(
                        inbox.c.id == row_id, inbox.c.state == InboxState.NEW))).all()
                    done = self.dispatch(conn, rows) if rows else BatchResult(0, 0)
            except Exception as exc:
                if isinstance(exc, SQLAlchemyError) and not is_content_failure(exc):
                    # The database itself (gone, deadlock, serialization): not the message's
                    # fault. It stays waiting, with the rest, for the next turn.
                    log.warning("inbox message %d not decided now (%s); tried again later",
                                row_id, store_failure(exc))
                    break
                with transaction(self.engine) as conn:
                    moved = quarantine.take_from_inbox(
                        conn, row_id, f"could not be decided: {type(exc).__name__}: {exc}",
                        self.clock())
                if moved:
                    log.exception("inbox message %d cannot be handled; moved to the quarantine",
                                  row_id)
                done = BatchResult(int(moved), 0)
            total = BatchResult(total.messages + done.messages, total.replies + done.replies,
                                total.urgent_replies + done.urgent_replies)
        return total

    def dispatch(self, conn: Connection, rows: Sequence[Row]) -> BatchResult:
        now = self.clock()
        ussd = [r for r in rows if r.ussd_op is not None]
        sms = [r for r in rows if r.ussd_op is None]
        copies = repeated(conn, sms, now)  # asked again before the answer left: answered once
        sms = [r for r in sms if r.id not in copies]
        if copies:
            log.info("%d repeated request(s) whose answer has not left yet: no second answer",
                     len(copies))
        messages = [Inbound(r.sender, r.text, r.channel, r.received_at) for r in sms]
        outcomes = self.rules.handle(conn, messages, now) if sms else []
        replies = _outbox_rows(sms, outcomes, now) + self.ussd.handle(conn, ussd, now)
        if replies:
            _QUEUE_REPLIES.run(conn, replies)
            notify(conn, OUTBOX)
        handled = [{"row_id": r.id, "kind": o.recorded, "at": now}
                   for r, o in zip(sms, outcomes, strict=True)]
        handled += [{"row_id": r.id, "kind": "ussd", "at": now} for r in ussd]
        handled += [{"row_id": row_id, "kind": DUPLICATE, "at": now} for row_id in copies]
        _MARK_DONE.run(conn, handled)
        return BatchResult(len(rows), len(replies), sum(1 for r in replies if r["priority"] > 0))


def _outbox_rows(rows: Sequence[Row], outcomes: Sequence[Outcome],
                 now: dt.datetime) -> list[dict]:
    return [new_row(row.id, row.channel, reply.to, reply.text, now, priority=reply.priority,
                    expires_at=reply.expires_at, permit_id=reply.permit_id,
                    ussd_session=row.ussd_session)
            for row, outcome in zip(rows, outcomes, strict=True) for reply in outcome.replies]
