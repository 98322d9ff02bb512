"""Sending: claim due replies of one transport's channel, hand them over, record outcomes.

The outcomes of one batch are written in the same transaction that claims the next, so a
busy sender commits once per batch; `flush` writes the last outcomes when stopping.
Nothing is claimed while the transport is not ready (its link down, not bound yet, throttled):
the replies wait in the outbox, and the sender is woken when the link comes up.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import replace

from sqlalchemy import Connection, Engine

from sms_gateway.clock import Clock, utc_now
from sms_gateway.config import PipelineSettings
from sms_gateway.pipeline import outbox
from sms_gateway.transport import SendResult, Transport
from storage.db import transaction

log = logging.getLogger(__name__)


class Sender:
    """Moves one transport's pending replies to the network."""

    def __init__(self, engine: Engine, transport: Transport, settings: PipelineSettings, *,
                 node: str = "local", batch_size: int = 200, clock: Clock = utc_now,
                 min_priority: int = 0) -> None:
        self.engine, self.transport, self.settings = engine, transport, settings
        self.node, self.batch_size, self.clock = node, batch_size, clock
        self.min_priority = min_priority
        self.retry = outbox.RetryPolicy(settings.send_attempts, settings.retry_base_seconds,
                                        settings.retry_max_seconds)
        self._unrecorded: list[SendResult] = []
        self._lock = threading.Lock()

    def run_once(self) -> int:
        with self._lock:
            if not self.transport.ready():
                self._flush()  # what the link handed back as it went down
                return 0
            with transaction(self.engine, urgent=self.min_priority > 0) as conn:
                self._record(conn)
                messages = outbox.claim(conn, [self.transport.channel], self.batch_size,
                                        self.clock(), self.node, self.min_priority)
            self._unrecorded = []  # written: the transaction above committed
            if not messages:
                return 0
            try:
                results = self.transport.send(messages)
            except Exception as exc:  # a transport bug must not strand the claimed rows
                log.exception("%s: send failed", self.transport.channel)
                results = [SendResult(m.id, False, error=f"transport error: {exc}"[:200],
                                      uncertain=True) for m in messages]
            # A USSD session lives seconds: refused, it is over (waiting for the link, it
            # expires with its session instead).
            ussd = {m.id for m in messages if m.ussd_op}
            results = [replace(r, permanent=True) if r.id in ussd and not (r.ok or r.deferred)
                       else r for r in results]
            answered = {r.id for r in results}
            self._unrecorded = results + [SendResult(m.id, False, error="no result from transport")
                                          for m in messages if m.id not in answered]
            return len(messages)

    def flush(self) -> None:
        """Write outcomes not yet recorded (called when stopping)."""
        with self._lock:
            self._flush()

    def _flush(self) -> None:
        if self._unrecorded:
            with transaction(self.engine) as conn:
                self._record(conn)
            self._unrecorded = []

    def _record(self, conn: Connection) -> None:
        if self._unrecorded:
            outbox.record_results(conn, self._unrecorded, self.clock(), self.retry)
