"""The running service: transports, inbox, dispatcher, senders and the scheduler, wired once."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence

from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import Connection, Engine, select

from permits.service import Rules
from permits.ussd import UssdMenu
from sms_gateway import health, outbox
from sms_gateway.clock import Clock, utc_now
from sms_gateway.config import Config
from sms_gateway.dispatcher import Dispatcher
from sms_gateway.inbox import Inbox
from sms_gateway.schema import inbox_parts
from sms_gateway.sender import Sender
from sms_gateway.transport import DeliveryReceipt, Transport
from sms_gateway.ussd_sessions import UssdSessions
from sms_gateway.worker import Worker

log = logging.getLogger(__name__)


class Gateway:
    """Everything that moves messages, for one node."""

    def __init__(self, config: Config, engine: Engine, transports: Sequence[Transport], *,
                 node: str = "local", clock: Clock = utc_now) -> None:
        self.config, self.engine, self.node, self.clock = config, engine, node, clock
        self.transports = list(transports)
        self.rules = Rules(config.rules)
        self.board = health.HealthBoard()
        ussd = UssdSessions(UssdMenu(self.rules, config.ussd["service_code"]),
                            config.ussd["session_seconds"])
        self.dispatcher = Dispatcher(engine, self.rules, batch_size=config.pipeline.batch_size,
                                     clock=clock, ussd=ussd)
        self.senders = [Sender(engine, t, config.pipeline, node=node, clock=clock)
                        for t in self.transports]
        self._sender_workers = [Worker(f"send-{s.transport.channel}", s.run_once)
                                for s in self.senders]
        self._dispatch_worker = Worker("dispatch", self._dispatch_step)
        self.inbox = Inbox(engine, clock=clock, on_stored=self._dispatch_worker.wake,
                           on_receipts=self._receipts, on_health=self.board.report)
        self.scheduler = BackgroundScheduler(timezone="UTC")

    def start(self) -> None:
        for worker in (self._dispatch_worker, *self._sender_workers):
            worker.start()
        for transport in self.transports:
            transport.start(self.inbox)
        self._schedule()
        self.scheduler.start()
        log.info("gateway %s started with %s", self.node,
                 ", ".join(t.channel for t in self.transports) or "no transports")

    def stop(self) -> None:
        """Stop taking messages first, then finish the work in hand."""
        if self.scheduler.running:
            self.scheduler.shutdown(wait=True)
        for transport in self.transports:
            transport.stop()
        for worker in (self._dispatch_worker, *self._sender_workers):
            worker.stop()
        for sender in self.senders:
            sender.flush()
        log.info("gateway %s stopped", self.node)

    def _dispatch_step(self) -> int:
        result = self.dispatcher.run_once()
        if result.replies:
            for worker in self._sender_workers:
                worker.wake()
        return result.messages

    def _receipts(self, conn: Connection, receipts: Sequence[DeliveryReceipt]) -> None:
        outbox.apply_receipts(conn, receipts, self.clock())

    def _schedule(self) -> None:
        jobs = ((self.maintain, 5), (self.snapshot_health, 10))
        for job, seconds in jobs:
            self.scheduler.add_job(job, "interval", seconds=seconds, max_instances=1,
                                   coalesce=True, id=job.__name__)

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
            moved = outbox.reroute(conn, healthy, now, dt.timedelta(seconds=30))
            closed = self.close_stale_parts(conn, now)
        if recovered or expired or moved or closed:
            log.info("maintenance: %d recovered, %d expired, %d rerouted, %d reassembly timeouts",
                     recovered, expired, moved, closed)
            self._dispatch_worker.wake()
            for worker in self._sender_workers:
                worker.wake()

    def close_stale_parts(self, conn: Connection, now: dt.datetime) -> int:
        """Parts whose siblings never came: handle what arrived after the timeout."""
        limit = now - dt.timedelta(seconds=self.config.pipeline.reassembly_timeout_seconds)
        groups = conn.execute(
            select(inbox_parts.c.sender, inbox_parts.c.reference, inbox_parts.c.total)
            .where(~inbox_parts.c.assembled, inbox_parts.c.stored_at < limit).distinct()).all()
        for sender, reference, total in groups:
            self.inbox.assemble(conn, (inbox_parts.c.sender == sender)
                                & (inbox_parts.c.reference == reference)
                                & (inbox_parts.c.total == total), now)
        return len(groups)

    def snapshot_health(self) -> None:
        reports = {h.channel: h for h in self.board.snapshot()}
        for transport in self.transports:
            reports[transport.channel] = transport.health()
        with self.engine.begin() as conn:
            health.save(conn, reports.values(), self.node, self.clock())
