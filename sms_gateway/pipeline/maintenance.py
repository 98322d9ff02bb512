"""What the scheduler runs: recovery, expiry, rerouting, reassembly timeouts, link health,
the node's heartbeat, the regime's scheduled changes and the retention purge."""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import socket
from collections.abc import Callable, Sequence

from sqlalchemy import Connection, Engine, select

from permits import regime
from permits.service import Rules
from sms_gateway import audit, link_health
from sms_gateway.clock import Clock
from sms_gateway.config import Config
from sms_gateway.pipeline import outbox, purge, reroute
from sms_gateway.pipeline.inbox import Inbox
from sms_gateway.transport import Transport
from storage.db import READ_ONLY
from storage.dialect import upsert
from storage.tables.messages import inbox_parts, nodes

log = logging.getLogger(__name__)
LINK_FRESH = dt.timedelta(seconds=60)  # other nodes snapshot link health every 10 s
REGIME_SECONDS = 5  # a scheduled change of regime applies at most this late


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
                (self.apply_regimes, REGIME_SECONDS), (self.purge, 3600)]

    def maintain(self) -> None:
        """Recover stuck sends, expire late replies, reroute, close timed-out reassemblies."""
        now = self.clock()
        settings = self.config.pipeline
        timeout = dt.timedelta(seconds=settings.claim_timeout_seconds)
        self.observe_links()
        with self.engine.begin() as conn:
            recovered = outbox.recover(conn, now, timeout)
            expired = outbox.expire_due(conn, now)
            outbox.apply_stranded_receipts(conn, now)
            found = [*link_health.reports(conn, except_node=self.node),
                     *link_health.own_reports(self.board, now)]
            states = link_health.channel_states(found, now, LINK_FRESH)
            moved = reroute.reroute(conn, states, now,
                                    dt.timedelta(seconds=settings.reroute_after_seconds),
                                    settings.fallback_to_modem)
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

    def observe_links(self) -> None:
        """Ask each transport how its link is (a change it did not report is noted too: the
        board wakes the senders of a link that came up)."""
        for transport in self.transports:
            self.board.report(transport.health())

    def snapshot_health(self) -> None:
        self.observe_links()
        with self.engine.begin() as conn:
            link_health.save(conn, self.board.snapshot(), self.node, self.clock(),
                             self.board.down_since())

    def resume_outages(self) -> None:
        """At start: links that were down when this node last ran (a restart) stay down since
        then, as far as the status page and rerouting are concerned."""
        with self.engine.connect() as conn:
            self.board.seed(link_health.recent_outages(conn, self.node, self.clock(), LINK_FRESH))

    def heartbeat(self) -> None:
        """This node is alive; the status page lists nodes and when each was last heard of."""
        with self.engine.begin() as conn:
            upsert(conn, nodes, [{
                "name": self.node, "host": socket.gethostname(), "pid": os.getpid(),
                "started_at": self.started_at, "heartbeat_at": self.clock(),
                "transports": json.dumps([t.channel for t in self.transports]),
            }], ["name"], ["host", "pid", "started_at", "heartbeat_at", "transports"])

    def apply_regimes(self) -> None:
        """Scheduled changes of regime that are due (or over), on every node: whichever
        node's update changes a district writes the audit entry (permits.regime.apply)."""
        now = self.clock()
        with self.engine.connect().execution_options(**READ_ONLY) as conn:
            if not regime.due(conn, now):
                return
        with self.engine.begin() as conn:
            applied = regime.apply(conn, now)
            for district_id, state in applied:
                audit.record(conn, f"scheduler:{self.node}", "regime_applied", now,
                             district=district_id, state=regime.spelled(state))
        for district_id, state in applied:
            log.info("regime of district %s is now %s (scheduled)", district_id, state)

    def purge(self) -> None:
        purge.purge(self.engine, self.rules, self.config.retain_days, self.clock())
