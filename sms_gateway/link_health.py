"""Link health: kept in memory as transports report it, snapshotted into the database.

Each report also says since when a link has been down, so the status page and /metrics show
how long an outage has lasted and the scheduler moves replies only off a link that has been
down for a while (a flap of a second moves nothing). A channel (`smpp:op`) may run on several
nodes: it is down only while no node has it up.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from sqlalchemy import Connection, select

from sms_gateway.clock import Clock, utc_now
from sms_gateway.transport import LinkHealth
from storage.dialect import upsert
from storage.tables.messages import link_health


class HealthBoard:
    """The latest word on each link, from the transports themselves, and each outage's start."""

    def __init__(self, clock: Clock = utc_now,
                 on_up: Callable[[str], None] = lambda channel: None) -> None:
        self._on_up = on_up
        self._latest: dict[str, LinkHealth] = {}
        self._down_since: dict[str, dt.datetime] = {}
        self._clock = clock
        self._lock = threading.Lock()

    def seed(self, down_since: Mapping[str, dt.datetime]) -> None:
        """Outages this node saw before a restart: a restart does not make them shorter."""
        with self._lock:
            for channel, since in down_since.items():
                if channel not in self._latest:
                    self._down_since.setdefault(channel, since)

    def report(self, health: LinkHealth) -> None:
        """Note a link's state (transports report every change); one that has just come up
        is announced to `on_up` (its senders have work)."""
        with self._lock:
            before = self._latest.get(health.channel)
            self._latest[health.channel] = health
            if health.up:
                self._down_since.pop(health.channel, None)
            else:
                self._down_since.setdefault(health.channel, self._clock())
        if health.up and (before is None or not before.up):
            self._on_up(health.channel)

    def snapshot(self) -> list[LinkHealth]:
        with self._lock:
            return list(self._latest.values())

    def down_since(self) -> dict[str, dt.datetime]:
        with self._lock:
            return dict(self._down_since)


def save(conn: Connection, reports: Iterable[LinkHealth], node: str, now: dt.datetime,
         down_since: Mapping[str, dt.datetime] | None = None) -> None:
    """Upsert this node's reports; a link down with no known start is down from `now`."""
    since = down_since or {}
    rows = [{"channel": h.channel, "node": node, "kind": h.kind, "up": h.up,
             "details": json.dumps(h.details, default=str, ensure_ascii=False), "updated_at": now,
             "down_since": None if h.up else since.get(h.channel, now)}
            for h in reports]
    if rows:
        upsert(conn, link_health, rows, ["channel", "node"], ["kind", "up", "details",
                                                              "updated_at", "down_since"])


def load(conn: Connection) -> list[dict]:
    rows = conn.execute(select(link_health).order_by(link_health.c.channel)).mappings()
    return [dict(row) | {"details": json.loads(row["details"])} for row in rows]


def recent_outages(conn: Connection, node: str, now: dt.datetime,
                   fresh: dt.timedelta) -> dict[str, dt.datetime]:
    """This node's links that were down when it last reported, lately (a quick restart)."""
    return dict(conn.execute(select(link_health.c.channel, link_health.c.down_since).where(
        link_health.c.node == node, ~link_health.c.up, link_health.c.down_since.is_not(None),
        link_health.c.updated_at > now - fresh)).all())


@dataclass(frozen=True)
class Report:
    """One node's word on one channel, from memory or from the table."""

    channel: str
    kind: str
    up: bool
    updated_at: dt.datetime
    down_since: dt.datetime | None


@dataclass(frozen=True)
class ChannelState:
    """A channel over every node: up on one of them now (`down_since` None), or down
    everywhere since the last moment any node had it up."""

    channel: str
    kind: str
    down_since: dt.datetime | None

    def down_for(self, now: dt.datetime) -> dt.timedelta:
        return dt.timedelta(0) if self.down_since is None else max(now - self.down_since,
                                                                   dt.timedelta(0))


def reports(conn: Connection, *, except_node: str | None = None) -> list[Report]:
    """Every node's stored reports (but one node's, whose word the caller has in memory)."""
    query = select(link_health.c.channel, link_health.c.kind, link_health.c.up,
                   link_health.c.updated_at, link_health.c.down_since)
    if except_node is not None:
        query = query.where(link_health.c.node != except_node)
    return [Report(*row) for row in conn.execute(query)]


def channel_states(found: Iterable[Report], now: dt.datetime,
                   fresh: dt.timedelta) -> dict[str, ChannelState]:
    """Per channel: up if a recent report says so; else down since the latest moment a node
    last had it up (a stale report, from a node gone silent, speaks for its last update)."""
    up: set[str] = set()
    last_up: dict[str, tuple[str, dt.datetime]] = {}
    for report in found:
        if report.up and now - report.updated_at <= fresh:
            up.add(report.channel)
        moment = report.down_since if not report.up and report.down_since else report.updated_at
        kind, latest = last_up.get(report.channel, (report.kind, moment))
        last_up[report.channel] = (kind, max(latest, moment))
    return {channel: ChannelState(channel, kind, None if channel in up else since)
            for channel, (kind, since) in last_up.items()}


def own_reports(board: HealthBoard, now: dt.datetime) -> list[Report]:
    """This node's current word, from memory."""
    since = board.down_since()
    return [Report(h.channel, h.kind, h.up, now, None if h.up else since.get(h.channel, now))
            for h in board.snapshot()]
