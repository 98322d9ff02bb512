"""The durable inbox: what a transport hands over is committed before it may acknowledge.

Single messages go straight to `inbox` (deduplicated by the transport's identity, where it
gives one); parts of concatenated ones go through `reassembly` first. Officers' messages are
marked for the dispatcher's fast lane.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Sequence

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError

from sms_gateway.clock import Clock, utc_now
from sms_gateway.pipeline.notify import INBOX, notify
from sms_gateway.pipeline.officers import OfficerNumbers
from sms_gateway.pipeline.reassembly import Reassembly
from sms_gateway.pipeline.store_errors import StoreOutage, store_failure
from sms_gateway.transport import DeliveryReceipt, InboundPart, LinkHealth, StoreError
from storage.bulk import Bulk
from storage.db import transaction
from storage.dialect import insert_for
from storage.tables.messages import inbox

log = logging.getLogger(__name__)
# A message stored twice (a transport's redelivery with the same dedup key) is kept once.
_INSERT = Bulk(lambda dialect: insert_for(dialect, inbox).on_conflict_do_nothing())


class Inbox:
    """The pipeline's `InboundSink`: stores batches, then wakes the dispatcher."""

    def __init__(self, engine: Engine, *, clock: Clock = utc_now,
                 on_stored: Callable[[], None] = lambda: None,
                 expect_urgent: Callable[[], None] = lambda: None,
                 on_receipts: Callable[[Connection, Sequence[DeliveryReceipt]], None] | None = None,
                 on_health: Callable[[LinkHealth], None] = lambda health: None) -> None:
        self.engine, self.clock = engine, clock
        self.officers = OfficerNumbers(clock)
        self.reassembly = Reassembly(self._store_message)
        self._on_stored, self._on_receipts, self._on_health = on_stored, on_receipts, on_health
        self._expect_urgent = expect_urgent
        self._outage = StoreOutage()

    def store(self, parts: Sequence[InboundPart]) -> None:
        """Commit every part in one transaction; raise StoreError if that failed."""
        if not parts:
            return
        try:
            urgent = any(self.is_urgent(part.sender) for part in parts[:50])
            with transaction(self.engine, urgent=urgent) as conn:
                if self.store_in(conn, parts):
                    # Told before COMMIT, while this transaction holds the write turn: a
                    # dispatcher waiting for it then claims the fast lane first.
                    self._expect_urgent()
        except SQLAlchemyError as exc:
            reason = store_failure(exc)
            self._outage.failed(len(parts), reason)
            raise StoreError(reason) from exc
        self._outage.recovered()
        self._on_stored()

    def store_in(self, conn: Connection, parts: Sequence[InboundPart]) -> bool:
        """Store on `conn`; True when something for the fast lane was among the parts."""
        now = self.clock()
        notify(conn, INBOX)
        rows = [self._row(conn, p, p.text, p.raw, p.dedup_key, now)
                for p in parts if p.concat is None or p.concat.total <= 1]
        self._insert_messages(conn, rows)
        urgent = any(row["priority"] for row in rows)
        for part in parts:
            if part.concat is not None and part.concat.total > 1:
                self.reassembly.store_part(conn, part, now)
                urgent = urgent or bool(self._priority(conn, part))
        return urgent

    def receipts(self, receipts: Sequence[DeliveryReceipt]) -> None:
        if not receipts or self._on_receipts is None:
            return
        try:
            with self.engine.begin() as conn:
                self._on_receipts(conn, receipts)
        except SQLAlchemyError as exc:
            raise StoreError(store_failure(exc)) from exc

    def link_health(self, health: LinkHealth) -> None:
        self._on_health(health)

    def is_urgent(self, sender: str) -> bool:
        return self.officers.includes_now(self.engine, sender)

    def _row(self, conn: Connection, part: InboundPart, text: str, raw: bytes,
             dedup_key: str | None, now: dt.datetime) -> dict:
        return {
            "channel": part.channel, "sender": part.sender[:32], "text": text, "raw": raw,
            "received_at": part.received_at, "stored_at": now, "dedup_key": dedup_key,
            "priority": self._priority(conn, part), "state": "new",
            "ussd_op": part.ussd_op, "ussd_session": part.ussd_session,
        }

    def _priority(self, conn: Connection, part: InboundPart) -> int:
        """1 for the dispatcher's fast lane: officers' and USSD messages."""
        return 1 if part.ussd_op is not None or self.officers.includes(conn, part.sender) else 0

    @staticmethod
    def _insert_messages(conn: Connection, rows: list[dict]) -> None:
        _INSERT.run(conn, rows)

    def _store_message(self, conn: Connection, part: InboundPart, text: str, raw: bytes,
                       dedup_key: str | None, now: dt.datetime) -> None:
        self._insert_messages(conn, [self._row(conn, part, text, raw, dedup_key, now)])


