"""The running service: transports, inbox, dispatcher, senders and the scheduler, wired once."""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence

from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import Engine

from permits.service import Rules
from sms_gateway import link_health
from sms_gateway.clock import Clock, utc_now
from sms_gateway.config import Config
from sms_gateway.pipeline import notify
from sms_gateway.pipeline.dispatcher import BatchResult, Dispatcher
from sms_gateway.pipeline.inbox import Inbox
from sms_gateway.pipeline.maintenance import Maintenance
from sms_gateway.pipeline.notify import Listener
from sms_gateway.pipeline.receipts import Receipts
from sms_gateway.pipeline.sender import Sender
from sms_gateway.pipeline.sink import PipelineSink
from sms_gateway.pipeline.worker import Worker
from sms_gateway.transport import Transport
from sms_gateway.ussd.sessions import UssdSessions
from storage import db

log = logging.getLogger(__name__)
# How often a gateway on SQLite copies its WAL into the database file (see `db.checkpoint`).
_CHECKPOINT_SECONDS = 0.05
# How long a thread may hold the GIL while another waits for it (Python's default: 5 ms). An
# officer's check passes through five threads (SMPP reader, committer, dispatcher, sender,
# reader again), each of which takes the GIL back after every database call, behind the
# residents' dispatcher busy in Python: at 5 ms a hand-over, its p99 in the SMPP flood was
# 84-189 ms on SQLite, at 1 ms 54-87 ms with the same rate (bench/RESULTS.md).
SWITCH_INTERVAL_SECONDS = 0.001


class Gateway:
    """Everything that moves messages, for one node."""

    def __init__(self, config: Config, engine: Engine, transports: Sequence[Transport], *,
                 node: str = "local", clock: Clock = utc_now) -> None:
        self.config, self.engine, self.node, self.clock = config, engine, node, clock
        self.transports = list(transports)
        self.rules = Rules(config.rules)
        self.board = link_health.HealthBoard(clock, on_up=self._link_up)
        ussd = UssdSessions.configured(self.rules, config.ussd)
        self.dispatcher = Dispatcher(engine, self.rules, batch_size=config.pipeline.batch_size,
                                     clock=clock, ussd=ussd)
        # A modem pool sends one SMS per modem at a time: one sender per modem, one message
        # each, keeps every modem busy; a transport with a send window takes whole batches.
        self.senders = [Sender(engine, t, config.pipeline, node=node, clock=clock,
                               batch_size=200 if t.send_concurrency == 1 else 1)
                        for t in self.transports for _ in range(t.send_concurrency)]
        # Officers' and USSD replies have a sender of their own: they never wait behind a
        # flood's batch that is still in the network.
        self.urgent_senders = [Sender(engine, t, config.pipeline, node=node, clock=clock,
                                      batch_size=20, min_priority=1) for t in self.transports]
        poll = config.pipeline.poll_seconds
        self._sender_workers = [Worker(f"send-{s.transport.channel}-{n}", s.run_once, poll)
                                for n, s in enumerate(self.senders)]
        self._urgent_workers = [Worker(f"send-urgent-{s.transport.channel}", s.run_once, poll)
                                for s in self.urgent_senders]
        self._senders_of: dict[str, list[Worker]] = {}
        for sender, worker in zip([*self.senders, *self.urgent_senders],
                                  [*self._sender_workers, *self._urgent_workers], strict=True):
            self._senders_of.setdefault(sender.transport.channel, []).append(worker)
        self._dispatch_worker = Worker("dispatch", self._dispatch_step, poll)
        self._dispatch_workers = [self._dispatch_worker]
        if engine.dialect.name != "sqlite":  # several writers at once: checks need not wait
            fast_lane = Dispatcher(engine, self.rules, batch_size=config.pipeline.batch_size,
                                   clock=clock, ussd=ussd, urgent_only=True)
            self._dispatch_workers.append(Worker(
                "dispatch-urgent", lambda: self._dispatched(fast_lane.run_once()), poll))
        self._workers = [*self._dispatch_workers, *self._sender_workers, *self._urgent_workers]
        if engine.dialect.name == "sqlite":
            db.checkpoint_in_background(engine)
            self._workers.append(Worker("checkpoint", self._checkpoint, _CHECKPOINT_SECONDS))
        self.inbox = Inbox(engine, clock=clock, listener=self)
        self.sink = PipelineSink(self.inbox, Receipts(self.inbox.writer), self.board)
        self.maintenance = Maintenance(config, engine, self.rules, self.inbox, self.transports,
                                       self.board, node=node, clock=clock, wake=self._wake_all)
        self.listener = Listener(engine, {notify.INBOX: self._wake_dispatcher,
                                          notify.OUTBOX: self._wake_senders})
        self.scheduler = BackgroundScheduler(timezone="UTC")

    def start(self) -> None:
        sys.setswitchinterval(SWITCH_INTERVAL_SECONDS)  # the whole process's: see above
        for worker in self._workers:
            worker.start()
        self.listener.start()
        self.maintenance.heartbeat()
        self.maintenance.resume_outages()
        for transport in self.transports:
            transport.start(self.sink)
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
        for worker in self._workers:
            worker.stop()
        for sender in (*self.senders, *self.urgent_senders):
            sender.flush()
        self.listener.stop()
        log.info("gateway %s stopped", self.node)

    def _dispatch_step(self) -> int:
        return self._dispatched(self.dispatcher.run_once())

    def _dispatched(self, result: BatchResult) -> int:
        """After a batch: wake the senders that have replies to take (an urgent sender woken
        for nothing would still take a turn at the write lock)."""
        if result.replies > result.urgent_replies:
            for worker in self._sender_workers:
                worker.wake()
        if result.urgent_replies:
            for worker in self._urgent_workers:
                worker.wake()
        return result.messages

    def _checkpoint(self) -> int:
        db.checkpoint(self.engine)
        return 0  # then sleep: the WAL needs copying every so often, not in a busy loop

    def stored(self) -> None:
        """The inbox committed messages (the inbox's `Listener`)."""
        for worker in self._dispatch_workers:
            worker.wake()

    def urgent_coming(self) -> None:
        """An officer's message is about to be committed (the inbox's `Listener`)."""
        self.dispatcher.expect_urgent()

    def _link_up(self, channel: str) -> None:
        """A link came up: its senders go at once (the replies that waited for it go out now,
        not at the next poll)."""
        for worker in self._senders_of.get(channel, ()):
            worker.wake()

    def _wake_senders(self) -> None:
        for worker in (*self._sender_workers, *self._urgent_workers):
            worker.wake()

    def _wake_dispatcher(self) -> None:
        """Messages stored elsewhere (another node, a reassembly timing out): any of them may
        be an officer's, so the fast lane is looked at first (at worst one empty claim)."""
        self.dispatcher.expect_urgent()
        for worker in self._dispatch_workers:
            worker.wake()

    def _wake_all(self) -> None:
        self._wake_dispatcher()
        self._wake_senders()

    def _schedule(self) -> None:
        for job, seconds in self.maintenance.jobs():
            self.scheduler.add_job(job, "interval", seconds=seconds, max_instances=1,
                                   coalesce=True, id=job.__name__)
