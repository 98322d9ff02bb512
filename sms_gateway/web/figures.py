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
from storage.tables.messages import InboxState, OutboxState, inbox, link_health, outbox
from storage.tables.messages import nodes as node_table

WAITING = {"inbox": (InboxState.NEW,), "outbox": (OutboxState.PENDING, OutboxState.SENDING)}
FINISHED_OUT = (OutboxState.SENT, OutboxState.DELIVERED, OutboxState.FAILED, OutboxState.EXPIRED)
SENT_OUT = (OutboxState.SENT, OutboxState.DELIVERED)
REFUSALS = ("quota", "not_resident", "district_off")
STALE_AFTER = dt.timedelta(seconds=60)  # nodes write link health every 10 s
# Channels whose replies leave the machine for a phone network; replies on any other channel
# (the loopback of `permit-gateway simulate` and of tests) never reach a phone.
NETWORK_KINDS = ("modem", "smpp")
THROUGHPUT_WINDOW = dt.timedelta(minutes=5)


@dataclass(frozen=True)
class Modem:
    """One modem of a pool, as its driver last reported it (sms_gateway.modem.snapshot)."""

    name: str
    state: str
    healthy: bool
    signal_dbm: int | None
    registration: str | None
    network: str
    sim_used: int | None
    sim_total: int | None
    last_seen: str | None
    error: str | None
    sent: int
    failed: int
    received: int
    model: str

    @property
    def sim_full(self) -> bool:
        return self.sim_used is not None and self.sim_used == self.sim_total


@dataclass(frozen=True)
class Smpp:
    """An SMPP connection group's session figures (sms_gateway.smpp.transport.health)."""

    bind_state: str
    window_in_use: int
    window: int
    queued: int
    reconnects: int
    last_enquire_link: str | None
    last_error: str | None
    refused_pdus: int = 0  # PDUs the session could not handle (answered, link kept)


@dataclass(frozen=True)
class Link:
    channel: str
    node: str
    kind: str
    up: bool
    stale: bool
    updated_at: dt.datetime
    modems: tuple[Modem, ...] = ()
    smpp: Smpp | None = None
    down_seconds: float | None = None  # how long this node has had it down, when it says so

    @property
    def healthy(self) -> bool:
        """Up by a report recent enough to believe (a dead node's last word was "up")."""
        return self.up and not self.stale


def links(conn: Connection, now: dt.datetime) -> list[Link]:
    rows = conn.execute(select(link_health).order_by(link_health.c.channel, link_health.c.node))
    return [_link(r, now) for r in rows]


def channels_down(conn: Connection, now: dt.datetime) -> dict[str, float]:
    """Per channel, seconds since any node last had it up (0 while one has it up now)."""
    states = health.channel_states(health.reports(conn), now, STALE_AFTER)
    return {channel: states[channel].down_for(now).total_seconds() for channel in sorted(states)}


def replies_waiting(conn: Connection) -> dict[str, int]:
    """Replies pending or being sent, per channel they wait for (a range of the queue index)."""
    return dict(conn.execute(select(outbox.c.channel, func.count())
                             .where(outbox.c.state.in_(WAITING["outbox"]))
                             .group_by(outbox.c.channel)).all())


def _link(row, now: dt.datetime) -> Link:
    try:
        details = json.loads(row.details)
    except ValueError:
        details = {}
    details = details if isinstance(details, dict) else {}
    modems = details.get("modems") if row.kind == "modem" else None
    return Link(row.channel, row.node, row.kind, row.up, now - row.updated_at > STALE_AFTER,
                row.updated_at,
                modems=tuple(_modem(name, values) for name, values in sorted(modems.items())
                             if isinstance(values, dict)) if isinstance(modems, dict) else (),
                smpp=_smpp(details) if row.kind == "smpp" else None,
                down_seconds=None if row.up or row.down_since is None
                else max((now - row.down_since).total_seconds(), 0.0))


def _modem(name: str, d: dict) -> Modem:
    return Modem(name, str(d.get("state") or "unknown"), bool(d.get("healthy")),
                 _int(d.get("signal_dbm")), d.get("registration") or None,
                 str(d.get("network") or ""), _int(d.get("sim_used")), _int(d.get("sim_total")),
                 d.get("last_seen") or None, d.get("error") or None, _int(d.get("sent")) or 0,
                 _int(d.get("failed")) or 0, _int(d.get("received")) or 0,
                 str(d.get("model") or ""))


def _smpp(d: dict) -> Smpp:
    return Smpp(str(d.get("bind_state") or ""), _int(d.get("window_in_use")) or 0,
                _int(d.get("window")) or 0, _int(d.get("queued")) or 0,
                _int(d.get("reconnects")) or 0, d.get("last_enquire_link") or None,
                d.get("last_error") or None, _int(d.get("refused_pdus")) or 0)


def _int(value: object) -> int | None:
    """A figure from another node's JSON: a whole number, or None for anything else."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None


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


@dataclass(frozen=True)
class Node:
    name: str
    heartbeat_at: dt.datetime
    transports: tuple[str, ...]
    alive: bool
    heartbeat_age_seconds: float  # how long the node has been silent (0 if its clock is ahead)


def nodes(conn: Connection, now: dt.datetime) -> list[Node]:
    """Gateway nodes by their heartbeats; one silent for over a minute is shown as down."""
    rows = conn.execute(select(node_table.c.name, node_table.c.heartbeat_at,
                               node_table.c.transports).order_by(node_table.c.name))
    return [_node(r.name, _aware(r.heartbeat_at), r.transports, now) for r in rows]


def _node(name: str, heartbeat_at: dt.datetime, transports: str | None,
          now: dt.datetime) -> Node:
    silent = now - heartbeat_at
    return Node(name, heartbeat_at, tuple(json.loads(transports or "[]")),
                silent <= STALE_AFTER, max(silent.total_seconds(), 0.0))
