"""The outbox's state changes: claim for sending, record results and receipts, recover.

pending -> sending -> sent -> delivered | failed;  pending -> expired (slot refunded).
Sending is at-least-once: a row left in `sending` by a crash is sent again. `attempts` counts
the network's answers only: a link that could not carry a reply hands it back (`deferred`)
as it was, so an outage fails nothing and the reply keeps its place in the queue.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, Connection, Row, bindparam, select, update

from permits import ledger
from sms_gateway.transport import DeliveryReceipt, OutboundMessage, SendResult
from storage.bulk import Bulk
from storage.dialect import among
from storage.tables.messages import OutboxState, delivery_receipts, outbox

FINAL_RECEIPT_STATES = {"DELIVRD": OutboxState.DELIVERED, "UNDELIV": OutboxState.FAILED,
                        "EXPIRED": OutboxState.FAILED, "REJECTD": OutboxState.FAILED,
                        "DELETED": OutboxState.FAILED}


def new_row(inbox_id: int | None, channel: str, recipient: str, text: str, now: dt.datetime,
            *, priority: int = 0, expires_at: dt.datetime | None = None,
            permit_id: int | None = None, ussd_op: int | None = None,
            ussd_session: str | None = None) -> dict:
    """A reply as the dispatcher queues it: pending, due now, on the channel it came in on
    (`inbox_id` None: a message no request asked for, such as an operator's decision)."""
    return {"inbox_id": inbox_id, "channel": channel, "recipient": recipient, "text": text,
            "priority": priority, "state": OutboxState.PENDING, "attempts": 0, "maybe_sent": False,
            "next_attempt_at": now, "created_at": now, "updated_at": now,
            "expires_at": expires_at, "permit_id": permit_id, "ussd_op": ussd_op,
            "ussd_session": ussd_session}


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how soon a reply the network refused is tried again."""

    attempts: int = 8
    base_seconds: float = 5.0
    max_seconds: float = 60.0

    def delay(self, tries: int) -> dt.timedelta:
        """After the `tries`-th refusal: doubling from the base up to the cap, +-20% jitter
        so refused rows do not all come back in the same claim."""
        seconds = min(self.max_seconds, self.base_seconds * 2 ** min(tries - 1, 30))
        return dt.timedelta(seconds=seconds * random.uniform(0.8, 1.2))


# Only rows still `sending`: a result arriving after the row was recovered or expired must not
# overwrite what happened since.
_STILL_SENDING = (outbox.c.id == bindparam("row_id")) & (outbox.c.state == OutboxState.SENDING)
_MARK_SENT = Bulk(lambda _dialect: update(outbox).where(_STILL_SENDING).values(
    state=OutboxState.SENT, transport_message_id=bindparam("mid"), updated_at=bindparam("now"),
    sent_at=bindparam("now"), attempts=outbox.c.attempts + 1))
_MARK_RETRY = Bulk(lambda _dialect: update(outbox).where(_STILL_SENDING).values(
    state=OutboxState.PENDING, last_error=bindparam("error"), next_attempt_at=bindparam("at"),
    maybe_sent=outbox.c.maybe_sent | bindparam("maybe"), updated_at=bindparam("now"),
    attempts=outbox.c.attempts + 1))
_MARK_FAILED = Bulk(lambda _dialect: update(outbox).where(_STILL_SENDING).values(
    state=OutboxState.FAILED, last_error=bindparam("error"), updated_at=bindparam("now"),
    attempts=outbox.c.attempts + 1))
# Handed back by a link that could not carry it: pending again with its place in the queue
# (next_attempt_at unchanged: the oldest go first when the link returns), no attempt counted.
_MARK_DEFERRED = Bulk(lambda _dialect: update(outbox).where(_STILL_SENDING).values(
    state=OutboxState.PENDING, last_error=bindparam("error"),
    maybe_sent=outbox.c.maybe_sent | bindparam("maybe"), updated_at=bindparam("now")))


def claim(conn: Connection, channels: Sequence[str], limit: int, now: dt.datetime,
          node: str, min_priority: int = 0) -> list[OutboundMessage]:
    """Mark the next due rows of `channels` as sending; expire the ones too late to matter.

    Urgent rows first, then the rest: each query follows the (state, channel, priority,
    next_attempt_at) index in order, where one ORDER BY priority DESC would sort every
    pending row of a flood on each claim."""
    rows = _due(conn, channels, limit, now, outbox.c.priority > 0)
    if min_priority == 0 and len(rows) < limit:
        rows += _due(conn, channels, limit - len(rows), now, outbox.c.priority == 0)
    late = [r for r in rows if r.expires_at is not None and r.expires_at <= now]
    expire(conn, late, now)
    due = [r for r in rows if r.expires_at is None or r.expires_at > now]
    if due:
        conn.execute(update(outbox).where(among(conn.dialect, outbox.c.id, [r.id for r in due]))
                     .values(state=OutboxState.SENDING, claimed_by=node, updated_at=now))
    return [OutboundMessage(r.id, r.recipient, r.text, r.expires_at, r.ussd_op, r.ussd_session)
            for r in due]


def _due(conn: Connection, channels: Sequence[str], limit: int, now: dt.datetime,
         lane: ColumnElement[bool]) -> list[Row]:
    query = (select(outbox.c.id, outbox.c.recipient, outbox.c.text, outbox.c.expires_at,
                    outbox.c.permit_id, outbox.c.ussd_op, outbox.c.ussd_session)
             .where(outbox.c.state == OutboxState.PENDING, outbox.c.channel.in_(list(channels)),
                    lane, outbox.c.next_attempt_at <= now)
             .order_by(outbox.c.next_attempt_at)
             .limit(limit))
    if conn.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    return list(conn.execute(query).all())


def expire(conn: Connection, rows: Sequence[Row], now: dt.datetime) -> None:
    """A permit reply that can no longer reach its holder in time: drop it, and give the slot
    back unless an earlier attempt may have reached the phone after all."""
    if not rows:
        return
    refundable = conn.execute(
        update(outbox).where(outbox.c.id.in_([r.id for r in rows]),
                             outbox.c.state == OutboxState.PENDING)
        .values(state=OutboxState.EXPIRED, updated_at=now)
        .returning(outbox.c.permit_id, outbox.c.maybe_sent)).all()
    ledger.refund(conn, [permit for permit, maybe_sent in refundable
                         if permit and not maybe_sent])


def record_results(conn: Connection, results: Iterable[SendResult], now: dt.datetime,
                   retry: RetryPolicy) -> None:
    """Write each send's outcome. The network's answer is an attempt: sent, tried again after
    a backoff, or failed for good on the last try; a deferred send is none (see the module)."""
    sent, again, failed, deferred = [], [], [], []
    results = list(results)
    refused = [r.id for r in results if not (r.ok or r.permanent or r.deferred)]
    attempts = dict(conn.execute(select(outbox.c.id, outbox.c.attempts)
                                 .where(outbox.c.id.in_(refused))).all()) if refused else {}
    for result in results:
        error = (result.error or "")[:200]
        if result.ok:
            sent.append({"row_id": result.id, "mid": result.transport_message_id, "now": now})
        elif result.permanent:
            failed.append({"row_id": result.id, "error": error, "now": now})
        elif result.deferred:
            deferred.append({"row_id": result.id, "error": error, "maybe": result.uncertain,
                             "now": now})
        elif (tries := attempts.get(result.id, 0) + 1) >= retry.attempts:
            failed.append({"row_id": result.id, "error": error, "now": now})
        else:
            again.append({"row_id": result.id, "error": error, "maybe": result.uncertain,
                          "now": now, "at": now + retry.delay(tries)})
    _MARK_SENT.run(conn, sent)
    _apply_early_receipts(conn, [row["mid"] for row in sent if row["mid"]], now)
    _MARK_RETRY.run(conn, again)
    _MARK_FAILED.run(conn, failed)
    _MARK_DEFERRED.run(conn, deferred)


def apply_receipts(conn: Connection, receipts: Sequence[DeliveryReceipt],
                   now: dt.datetime) -> int:
    """Delivery receipts: the network's real word (DELIVRD is delivered, UNDELIV is not).

    Every receipt is kept, so one that overtakes our own record of the send (a fast SMSC)
    is applied when `record_results` writes the message id."""
    if not receipts:
        return 0
    conn.execute(delivery_receipts.insert(), [
        {"channel": r.channel, "message_id": r.message_id[:80], "state": r.state[:10],
         "error": (r.error or "")[:200], "received_at": now} for r in receipts])
    return _apply(conn, receipts, now)


def _apply(conn: Connection, receipts: Sequence[DeliveryReceipt], now: dt.datetime) -> int:
    rows = [{"mid": r.message_id, "via": r.channel, "dstate": r.state[:10],
             "outcome": FINAL_RECEIPT_STATES.get(r.state, OutboxState.SENT),
             "error": (r.error or r.state)[:200]} for r in receipts]
    result = conn.execute(
        update(outbox)
        .where(outbox.c.transport_message_id == bindparam("mid"),
               outbox.c.channel == bindparam("via"),
               outbox.c.state != OutboxState.PENDING, outbox.c.state != OutboxState.EXPIRED,
               outbox.c.state != OutboxState.DELIVERED)
        .values(state=bindparam("outcome"), delivery_state=bindparam("dstate"),
                last_error=bindparam("error"), updated_at=now),
        rows,
    )
    return result.rowcount


def apply_stranded_receipts(conn: Connection, now: dt.datetime,
                            window: dt.timedelta = dt.timedelta(hours=1)) -> int:
    """Final receipts whose message is still only `sent`: on PostgreSQL a receipt stored while
    the sender was recording its send can be missed by both transactions (neither sees the
    other's uncommitted row); the scheduler applies it here."""
    rows = conn.execute(
        select(delivery_receipts.c.channel, delivery_receipts.c.message_id,
               delivery_receipts.c.state, delivery_receipts.c.error)
        .join(outbox, (outbox.c.transport_message_id == delivery_receipts.c.message_id)
              & (outbox.c.channel == delivery_receipts.c.channel))
        .where(outbox.c.state == OutboxState.SENT, delivery_receipts.c.received_at > now - window,
               delivery_receipts.c.state.in_(list(FINAL_RECEIPT_STATES)))
        .order_by(delivery_receipts.c.id)).all()
    return _apply(conn, [DeliveryReceipt(*row) for row in rows], now) if rows else 0


def _apply_early_receipts(conn: Connection, message_ids: list[str], now: dt.datetime) -> None:
    if not message_ids:
        return
    early = conn.execute(select(delivery_receipts.c.channel, delivery_receipts.c.message_id,
                                delivery_receipts.c.state, delivery_receipts.c.error)
                         .where(among(conn.dialect, delivery_receipts.c.message_id, message_ids))
                         .order_by(delivery_receipts.c.id)).all()
    if early:
        _apply(conn, [DeliveryReceipt(*row) for row in early], now)


def recover(conn: Connection, now: dt.datetime, claim_timeout: dt.timedelta) -> int:
    """Rows a crashed (or stuck) sender left in `sending` go back to pending: sent again."""
    result = conn.execute(
        update(outbox)
        .where(outbox.c.state == OutboxState.SENDING, outbox.c.updated_at < now - claim_timeout)
        .values(state=OutboxState.PENDING, next_attempt_at=now, claimed_by=None, updated_at=now,
                maybe_sent=True))
    return result.rowcount


def expire_due(conn: Connection, now: dt.datetime) -> int:
    """Pending permit replies whose permit is over, even if no sender is running for them."""
    rows = conn.execute(select(outbox.c.id, outbox.c.permit_id).where(
        outbox.c.state == OutboxState.PENDING, outbox.c.expires_at <= now)).all()
    expire(conn, rows, now)
    return len(rows)
