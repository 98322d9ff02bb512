"""Every figure the status page and /metrics show, read from the database at request time so
any node answers the same. Each query is a range over an index (today's rows, waiting rows),
never a scan of the whole ledger."""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, case, func, select

from permits.phones import mask
from sms_gateway import link_health as health
from storage.sqltime import epoch_seconds, minute_of
from storage.tables.ledger import outcomes, verifications
from storage.tables.messages import inbox, link_health, outbox
from storage.tables.messages import nodes as node_table

WAITING = {"inbox": ("new",), "outbox": ("pending", "sending")}
FINISHED_OUT = ("sent", "delivered", "failed", "expired")
SENT_OUT = ("sent", "delivered")
REFUSALS = ("quota", "not_resident", "district_off")
STALE_AFTER = dt.timedelta(seconds=60)  # nodes write link health every 10 s
# What an operator looks at first for each kind of link; other kinds show all their scalars.
_SUMMARY_KEYS = {
    "modem": ("signal_dbm", "registration", "last_seen", "error"),
    "smpp": ("bind_state", "last_enquire_link", "window_in_use", "window", "last_error"),
}


@dataclass(frozen=True)
class Link:
    channel: str
    node: str
    kind: str
    up: bool
    stale: bool
    updated_at: dt.datetime
    summary: tuple[tuple[str, str], ...]
    down_seconds: float | None = None  # how long this node has had it down, when it says so

    @property
    def healthy(self) -> bool:
        """Up by a report recent enough to believe (a dead node's last word was "up")."""
        return self.up and not self.stale


def links(conn: Connection, now: dt.datetime) -> list[Link]:
    rows = conn.execute(select(link_health).order_by(link_health.c.channel, link_health.c.node))
    return [Link(r.channel, r.node, r.kind, r.up, now - r.updated_at > STALE_AFTER, r.updated_at,
                 _summary(r.kind, r.details),
                 None if r.up or r.down_since is None
                 else max((now - r.down_since).total_seconds(), 0.0)) for r in rows]


def channels_down(conn: Connection, now: dt.datetime) -> dict[str, float]:
    """Per channel, seconds since any node last had it up (0 while one has it up now)."""
    states = health.channel_states(health.reports(conn), now, STALE_AFTER)
    return {channel: states[channel].down_for(now).total_seconds() for channel in sorted(states)}


def replies_waiting(conn: Connection) -> dict[str, int]:
    """Replies pending or being sent, per channel they wait for (a range of the queue index)."""
    return dict(conn.execute(select(outbox.c.channel, func.count())
                             .where(outbox.c.state.in_(WAITING["outbox"]))
                             .group_by(outbox.c.channel)).all())


def _summary(kind: str, details_json: str) -> tuple[tuple[str, str], ...]:
    try:
        details = json.loads(details_json)
    except ValueError:
        return ()
    if not isinstance(details, dict):
        return ()
    keys = _SUMMARY_KEYS.get(kind) or [k for k, v in details.items()
                                       if not isinstance(v, dict | list)][:6]
    return tuple((k, str(details[k])) for k in keys if details.get(k) not in (None, ""))


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
        total = Counter({kind: 0 for kind in ("issued", *REFUSALS)})
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
        return dict(sorted(table.items(), key=lambda item: str(item[0])))


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
    failed = conn.execute(select(*columns).where(outbox.c.state == "failed")
                          .order_by(outbox.c.updated_at.desc()).limit(limit)).all()
    retrying = conn.execute(select(*columns).where(outbox.c.state == "pending",
                                                   outbox.c.last_error.is_not(None))
                            .order_by(outbox.c.updated_at.desc()).limit(limit)).all()
    rows = sorted([*failed, *retrying], key=lambda r: r.updated_at, reverse=True)[:limit]
    return [dict(r._mapping) | {"recipient": mask(r.recipient)} for r in rows]


@dataclass(frozen=True)
class Node:
    name: str
    heartbeat_at: dt.datetime
    transports: tuple[str, ...]
    alive: bool


def nodes(conn: Connection, now: dt.datetime) -> list[Node]:
    """Gateway nodes by their heartbeats; one silent for over a minute is shown as down."""
    rows = conn.execute(select(node_table.c.name, node_table.c.heartbeat_at,
                               node_table.c.transports).order_by(node_table.c.name))
    return [Node(r.name, _aware(r.heartbeat_at), tuple(json.loads(r.transports or "[]")),
                 now - _aware(r.heartbeat_at) <= STALE_AFTER) for r in rows]
