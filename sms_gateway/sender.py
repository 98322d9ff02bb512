"""Sending: claim due replies of one transport's channel, hand them over, record outcomes."""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy import Engine

from sms_gateway import outbox
from sms_gateway.clock import Clock, utc_now
from sms_gateway.config import PipelineSettings
from sms_gateway.transport import SendResult, Transport

log = logging.getLogger(__name__)


class Sender:
    """Moves one transport's pending replies to the network."""

    def __init__(self, engine: Engine, transport: Transport, settings: PipelineSettings, *,
                 node: str = "local", batch_size: int = 200, clock: Clock = utc_now) -> None:
        self.engine, self.transport, self.settings = engine, transport, settings
        self.node, self.batch_size, self.clock = node, batch_size, clock

    def run_once(self) -> int:
        with self.engine.begin() as conn:
            messages = outbox.claim(conn, [self.transport.channel], self.batch_size,
                                    self.clock(), self.node)
        if not messages:
            return 0
        try:
            results = self.transport.send(messages)
        except Exception as exc:  # a transport bug must not strand the claimed rows
            log.exception("%s: send failed", self.transport.channel)
            results = [SendResult(m.id, False, error=f"transport error: {exc}"[:200])
                       for m in messages]
        answered = {r.id for r in results}
        results += [SendResult(m.id, False, error="no result from transport")
                    for m in messages if m.id not in answered]
        with self.engine.begin() as conn:
            outbox.record_results(conn, results, self.clock(), self.settings.send_attempts,
                                  self.settings.retry_base_seconds)
        return len(messages)

    def recover(self, claim_timeout: dt.timedelta) -> int:
        with self.engine.begin() as conn:
            return outbox.recover(conn, self.clock(), claim_timeout)
