"""What the scheduler runs: recovery, expiry, rerouting, reassembly timeouts, link health,
the node's heartbeat and the retention purge."""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import socket
from collections.abc import Callable, Sequence

from sqlalchemy import Connection, Engine, select

from permits.service import Rules
from sms_gateway import link_health
from sms_gateway.clock import Clock
from sms_gateway.config import Config
from sms_gateway.pipeline import outbox, purge
from sms_gateway.pipeline.inbox import Inbox
from sms_gateway.transport import Transport
from storage.dialect import upsert
from storage.tables.messages import inbox_parts, nodes

log = logging.getLogger(__name__)
REROUTE_AFTER = dt.timedelta(seconds=30)
LINK_FRESH = dt.timedelta(seconds=60)  # other nodes snapshot link health every 10 s


class Maintenance:
    """Periodic jobs of one node; each is safe to run on every node at once."""

    def __init__(self, config: Config, engine: Engine, rules: Rules, inbox: Inbox,
                 transports: Sequence[Transport], board: link_health.HealthBoard, *, node: str,
                 clock: Clock, wake: Callable[[], None]) -> None:
        self.config, self.engine, self.rules, self.inbox = config, engine, rules, inbox
        self.transports, self.board, self.node = transports, board, node
        self.clock, self.wake = clock, wake
        self.started_at = clock()

    def jobs(self) -> list[tuple[Callable[[], object], float]]:
        """(job, interval in seconds) pairs for the scheduler."""
        return [(self.maintain, 5), (self.heartbeat, 5), (self.snapshot_health, 10),
                (self.purge, 3600)]

    def maintain(self) -> None:
        """Recover stuck sends, expire late replies, reroute, close timed-out reassemblies."""
        now = self.clock()
        timeout = dt.timedelta(seconds=self.config.pipeline.claim_timeout_seconds)
        healthy: dict[str, list[str]] = {}
        for transport in self.transports:
            healthy.setdefault(transport.kind, [])
            if transport.health().up:
                healthy[transport.kind].append(transport.channel)
        with self.engine.begin() as conn:
            recovered = outbox.recover(conn, now, timeout)
            expired = outbox.expire_due(conn, now)
            outbox.apply_stranded_receipts(conn, now)
            everywhere = outbox.healthy_channels(conn, healthy, now, LINK_FRESH)
            moved = outbox.reroute(conn, everywhere, now, REROUTE_AFTER)
            closed = self.close_stale_parts(conn, now)
        if recovered or expired or moved or closed:
            log.info("maintenance: %d recovered, %d expired, %d rerouted, %d reassembly timeouts",
                     recovered, expired, moved, closed)
            self.wake()

    def close_stale_parts(self, conn: Connection, now: dt.datetime) -> int:
        """Parts whose siblings never came: handle what arrived after the timeout."""
        limit = now - dt.timedelta(seconds=self.config.pipeline.reassembly_timeout_seconds)
        groups = conn.execute(
            select(inbox_parts.c.sender, inbox_parts.c.reference, inbox_parts.c.total)
            .where(~inbox_parts.c.assembled, inbox_parts.c.stored_at < limit).distinct()).all()
        for sender, reference, total in groups:
            self.inbox.reassembly.assemble_late(conn, sender, reference, total, now)
        return len(groups)

    def snapshot_health(self) -> None:
        reports = {h.channel: h for h in self.board.snapshot()}
        for transport in self.transports:
            reports[transport.channel] = transport.health()
        with self.engine.begin() as conn:
            link_health.save(conn, reports.values(), self.node, self.clock())

    def heartbeat(self) -> None:
        """This node is alive; the status page lists nodes and when each was last heard of."""
        with self.engine.begin() as conn:
            upsert(conn, nodes, [{
                "name": self.node, "host": socket.gethostname(), "pid": os.getpid(),
                "started_at": self.started_at, "heartbeat_at": self.clock(),
                "transports": json.dumps([t.channel for t in self.transports]),
            }], ["name"], ["host", "pid", "started_at", "heartbeat_at", "transports"])

    def purge(self) -> None:
        purge.purge(self.engine, self.rules, self.config.retain_days, self.clock())
