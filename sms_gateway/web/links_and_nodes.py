"""Links, modems and nodes as the status page and /metrics show them: each node's last report
in `link_health` and `nodes`, read at request time so any node answers the same. A report older
than STALE_AFTER is not believed (a dead node's last word was "up")."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass

from sqlalchemy import Connection, select

from sms_gateway import link_health as health
from storage.tables.messages import link_health
from storage.tables.messages import nodes as node_table

STALE_AFTER = dt.timedelta(seconds=60)  # nodes write link health every 10 s


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
    return [_node(r.name, r.heartbeat_at, r.transports, now) for r in rows]

def _node(name: str, heartbeat_at: dt.datetime, transports: str | None,
          now: dt.datetime) -> Node:
    silent = now - heartbeat_at
    return Node(name, heartbeat_at, tuple(json.loads(transports or "[]")),
                silent <= STALE_AFTER, max(silent.total_seconds(), 0.0))
