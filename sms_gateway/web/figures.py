"""The message figures the status page and /metrics show (queues, replies, outcomes, latency),
read from the database at request time so any node answers the same. Each query is a range
over an index (today's rows, waiting rows), never a scan of the whole ledger. Links, modems and
nodes are in `links_and_nodes`."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, case, func, select

from permits.phones import mask
from storage.sqltime import epoch_seconds, minute_of
from storage.tables.ledger import outcomes, verifications
from storage.tables.messages import InboxState, OutboxState, inbox, outbox

WAITING = {"inbox": (InboxState.NEW,), "outbox": (OutboxState.PENDING, OutboxState.SENDING)}
FINISHED_OUT = (OutboxState.SENT, OutboxState.DELIVERED, OutboxState.FAILED, OutboxState.EXPIRED)
SENT_OUT = (OutboxState.SENT, OutboxState.DELIVERED)
REFUSALS = ("quota", "not_resident", "registry_only")
# Channels whose replies leave the machine for a phone network; replies on any other channel
# (the loopback of `permit-gateway simulate` and of tests) never reach a phone.
NETWORK_KINDS = ("modem", "smpp")
THROUGHPUT_WINDOW = dt.timedelta(minutes=5)


def replies_waiting(conn: Connection) -> dict[str, int]:
    """Replies pending or being sent, per channel they wait for (a range of the queue index)."""
    return dict(conn.execute(select(outbox.c.channel, func.count())
                             .where(outbox.c.state.in_(WAITING["outbox"]))
                             .group_by(outbox.c.channel)).all())


def queue_depths(conn: Connection) -> dict[str, dict[str, int]]:
    """Waiting rows per queue and state (a few rows each; the index finds them)."""
    depths = {}
    for name, table in (("inbox", inbox), ("outbox", outbox)):
        counted = dict(conn.execute(select(table.c.state, func.count())
                                    .where(table.c.state.in_(WAITING[name]))
                                    .group_by(table.c.state)).all())
        depths[name] = {state: counted.get(state, 0) for state in WAITING[name]}
    return depths


def oldest_waiting(conn: Connection, now: dt.datetime) -> dict[str, float | None]:
    """Age in seconds of the oldest message each queue still holds (None: the queue is empty)."""
    oldest = {
        "inbox": conn.scalar(select(func.min(inbox.c.stored_at))
                             .where(inbox.c.state.in_(WAITING["inbox"]))),
        "outbox": conn.scalar(select(func.min(outbox.c.created_at))
                              .where(outbox.c.state.in_(WAITING["outbox"]))),
    }
    return {name: None if at is None else max((now - _aware(at)).total_seconds(), 0.0)
            for name, at in oldest.items()}


def _aware(value: dt.datetime) -> dt.datetime:
    """min() comes back as the raw column type on some dialects: naive UTC."""
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def outbox_finished(conn: Connection, since: dt.datetime) -> list[tuple[str, str, int]]:
    """(channel, state, count) of replies that reached a final state since `since`."""
    return [tuple(r) for r in conn.execute(
        select(outbox.c.channel, outbox.c.state, func.count())
        .where(outbox.c.state.in_(FINISHED_OUT), outbox.c.updated_at >= since)
        .group_by(outbox.c.channel, outbox.c.state))]


@dataclass(frozen=True)
class Replies:
    """Replies that reached a final state since a moment, by how far they got.

    `sent` is every reply a phone network took (delivered, still without a receipt, or
    reported undeliverable afterwards), so `delivered` <= `sent` by construction. Replies on
    channels that reach no network (the loopback of `simulate`) are `local`, never `sent`."""

    sent: int = 0
    delivered: int = 0
    undelivered: int = 0
    refused: int = 0  # the network would not take it, after every attempt
    expired: int = 0  # its permit ended before a network took it
    local: int = 0


def replies(conn: Connection, since: dt.datetime) -> Replies:
    taken = outbox.c.transport_message_id.is_not(None)
    rows = conn.execute(
        select(outbox.c.channel, outbox.c.state, taken, func.count())
        .where(outbox.c.state.in_(FINISHED_OUT), outbox.c.updated_at >= since)
        .group_by(outbox.c.channel, outbox.c.state, taken))
    counts: Counter[str] = Counter()
    for channel, state, was_taken, count in rows:
        if channel.split(":", 1)[0] not in NETWORK_KINDS:
            counts["local"] += count
        elif state == "failed":
            counts["undelivered" if was_taken else "refused"] += count
            counts["sent"] += count if was_taken else 0
        elif state == "expired":
            counts["expired"] += count
        else:
            counts["sent"] += count
            counts["delivered"] += count if state == "delivered" else 0
    return Replies(**counts)


def throughput(conn: Connection, now: dt.datetime,
               window: dt.timedelta = THROUGHPUT_WINDOW) -> dict[str, tuple[float, float]]:
    """Per channel, messages a minute in (stored) and out (taken by the network) over the
    last `window`."""
    since, minutes = now - window, window.total_seconds() / 60
    received = dict(conn.execute(select(inbox.c.channel, func.count())
                                 .where(inbox.c.stored_at >= since)
                                 .group_by(inbox.c.channel)).all())
    sent = dict(conn.execute(select(outbox.c.channel, func.count())
                             .where(outbox.c.state.in_(SENT_OUT), outbox.c.updated_at >= since)
                             .group_by(outbox.c.channel)).all())
    return {channel: (received.get(channel, 0) / minutes, sent.get(channel, 0) / minutes)
            for channel in {*received, *sent}}


def inbox_handled(conn: Connection, since: dt.datetime) -> list[tuple[str, str, int]]:
    """(channel, outcome, count) of messages stored since `since` and already decided
    (waiting ones are in `queue_depths`, so each count only ever grows)."""
    return [tuple(r) for r in conn.execute(
        select(inbox.c.channel, inbox.c.outcome, func.count())
        .where(inbox.c.stored_at >= since, inbox.c.outcome.is_not(None))
        .group_by(inbox.c.channel, inbox.c.outcome))]


def per_minute(conn: Connection, since: dt.datetime) -> tuple[dict[int, int], dict[int, int]]:
    """Messages in (stored) and out (sent or delivered), keyed by minute since the epoch."""
    minute_in = minute_of(conn, inbox.c.stored_at)
    received = conn.execute(select(minute_in, func.count()).where(inbox.c.stored_at >= since)
                            .group_by(minute_in)).all()
    minute_out = minute_of(conn, outbox.c.updated_at)
    sent = conn.execute(select(minute_out, func.count())
                        .where(outbox.c.state.in_(SENT_OUT), outbox.c.updated_at >= since)
                        .group_by(minute_out)).all()
    return dict(received), dict(sent)


@dataclass(frozen=True)
class DayOutcomes:
    """Today's requests by what the rules decided, by district and by reason."""

    rows: tuple[tuple[str, str | None, int | None, int], ...]  # kind, district, reason, count

    def by_kind(self) -> Counter[str]:
        total = Counter({kind: 0 for kind in ("issued", *REFUSALS, "capped", "duplicate")})
        for kind, _district, _reason, count in self.rows:
            total[kind] += count
        return total

    def by_district(self) -> dict[str, Counter[str]]:
        return self._table(lambda kind, district, reason: district or "—")

    def by_reason(self) -> dict[int | None, Counter[str]]:
        return self._table(lambda kind, district, reason: reason)

    def _table(self, key) -> dict:
        table: dict = {}
        for kind, district, reason, count in self.rows:
            if kind == "issued" or kind in REFUSALS or kind in ("exempt", "repeated"):
                table.setdefault(key(kind, district, reason), Counter())[kind] += count
        return dict(sorted(table.items(), key=lambda item: _in_order(item[0])))


def _in_order(key: str | int | None) -> tuple:
    """Reasons by number (2 before 10), districts by id, the unknown one last."""
    if key is None or key == "—":
        return (2, 0, "")
    return (0, key, "") if isinstance(key, int) else (1, 0, str(key))


def day_outcomes(conn: Connection, day: dt.date) -> DayOutcomes:
    rows = conn.execute(
        select(outcomes.c.kind, outcomes.c.district_id, outcomes.c.reason, func.count())
        .where(outcomes.c.local_day == day)
        .group_by(outcomes.c.kind, outcomes.c.district_id, outcomes.c.reason))
    return DayOutcomes(tuple(tuple(r) for r in rows))


def verification_outcomes(conn: Connection, since: dt.datetime) -> dict[str, int]:
    return dict(conn.execute(select(verifications.c.outcome, func.count())
                             .where(verifications.c.checked_at >= since)
                             .group_by(verifications.c.outcome)).all())


@dataclass(frozen=True)
class Latency:
    """Cumulative counts per upper bound in seconds, as a Prometheus histogram wants them."""

    buckets: tuple[tuple[float, int], ...]
    count: int
    total_seconds: float


def handling_latency(conn: Connection, since: dt.datetime,
                     bounds: Sequence[float]) -> Latency:
    """From stored to handled, for messages stored since `since`, in one pass."""
    seconds = epoch_seconds(conn, inbox.c.handled_at) - epoch_seconds(conn, inbox.c.stored_at)
    columns = [func.count(), func.coalesce(func.sum(seconds), 0.0)] + [
        func.coalesce(func.sum(case((seconds <= bound, 1), else_=0)), 0) for bound in bounds]
    row = conn.execute(select(*columns).where(inbox.c.stored_at >= since,
                                              inbox.c.handled_at.is_not(None))).one()
    count, total, *cumulative = row
    return Latency(tuple(zip(bounds, (int(c) for c in cumulative), strict=True)), int(count),
                   float(total))


def recent_errors(conn: Connection, limit: int = 20) -> list[dict]:
    """Replies that failed for good, and ones being retried after an error, newest first."""
    columns = (outbox.c.id, outbox.c.channel, outbox.c.recipient, outbox.c.state,
               outbox.c.attempts, outbox.c.last_error, outbox.c.updated_at)
    failed = conn.execute(select(*columns).where(outbox.c.state == OutboxState.FAILED)
                          .order_by(outbox.c.updated_at.desc()).limit(limit)).all()
    retrying = conn.execute(select(*columns).where(outbox.c.state == OutboxState.PENDING,
                                                   outbox.c.last_error.is_not(None))
                            .order_by(outbox.c.updated_at.desc()).limit(limit)).all()
    rows = sorted([*failed, *retrying], key=lambda r: r.updated_at, reverse=True)[:limit]
    return [dict(r._mapping) | {"recipient": mask(r.recipient)} for r in rows]


