"""The durable inbox: what a transport hands over is committed before it may acknowledge.

Every batch passes the gate first (`gate`: text normalised, every value checked against its
column). Single messages go straight to `inbox` (deduplicated by the transport's identity,
where it gives one); parts of concatenated ones go through `reassembly` first. Officers'
messages are marked for the dispatcher's fast lane.

No message stops the others (rule 8): a batch the database refuses for what one of its items
holds is stored again in a fresh transaction, halving it under savepoints until the culprits
stand alone; they go to the quarantine in that same transaction and the call returns as if
all were stored. Only a failure of the database itself raises StoreError. Savepoints rather
than a transaction per half: the good items still commit together (one fsync), and SQLite's
write lock is taken once; a batch of 1,000 with one culprit costs about 20 savepoints
(bench/RESULTS.md, "poison batch").
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Sequence

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError

from sms_gateway.clock import Clock, utc_now
from sms_gateway.pipeline import gate, quarantine
from sms_gateway.pipeline.gate import Refused
from sms_gateway.pipeline.notify import INBOX, notify
from sms_gateway.pipeline.officers import OfficerNumbers
from sms_gateway.pipeline.reassembly import Reassembly
from sms_gateway.pipeline.store_errors import StoreOutage, is_content_failure, store_failure
from sms_gateway.transport import (
    DeliveryReceipt,
    InboundPart,
    LinkHealth,
    StoreError,
    Unreadable,
)
from storage.bulk import Bulk
from storage.db import transaction
from storage.dialect import insert_for
from storage.tables.messages import InboxState, inbox

log = logging.getLogger(__name__)
# A message stored twice (a transport's redelivery with the same dedup key) is kept once.
_INSERT = Bulk(lambda dialect: insert_for(dialect, inbox).on_conflict_do_nothing())
Item = InboundPart | DeliveryReceipt
# Writes a batch on a connection; True when something for the dispatcher's fast lane was in it.
Write = Callable[[Connection, Sequence], bool]


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

    def store(self, parts: Sequence[InboundPart]) -> list[Refused]:
        """Commit every part in one transaction; returns what was quarantined instead. Raises
        StoreError only when the database itself failed (then nothing was committed)."""
        if not parts:
            return []
        admitted, refused = gate.screen_parts(parts)
        urgent = any(self.is_urgent(part.sender) for part in admitted[:50])
        refused += self._commit(admitted, refused, self._store_in, urgent, len(parts))
        self._on_stored()
        return refused

    def receipts(self, receipts: Sequence[DeliveryReceipt]) -> None:
        """Record receipts like `store` records parts (a receipt no column holds is
        quarantined); without a receipt handler they are dropped."""
        if not receipts or self._on_receipts is None:
            return
        admitted, refused = gate.screen_receipts(receipts)
        self._commit(admitted, refused, self._record_receipts, False, len(receipts))

    def set_aside(self, items: Sequence[Unreadable]) -> None:
        """Quarantine what a transport could not decode; StoreError if that failed."""
        if items:
            self._commit([], list(items), self._store_in, False, len(items))

    def release(self, entry_id: int, also: Callable[[Connection], None] = lambda conn: None
                ) -> None:
        """An operator's release: the quarantined message goes through the gate into the inbox,
        its entry is marked released and `also` (the audit record) runs, in one transaction.
        Raises QuarantineError when it is not a held message or is refused again."""
        with self.engine.connect() as conn:
            part = quarantine.held_message(conn, entry_id)
        admitted, refused = gate.screen_parts([part])
        if refused:
            raise quarantine.QuarantineError(f"entry #{entry_id} is still refused:"
                                             f" {refused[0].why}")
        try:
            with transaction(self.engine) as conn:
                quarantine.resolve(conn, entry_id, quarantine.State.RELEASED, self.clock())
                self._store_in(conn, admitted)
                also(conn)
        except Exception as exc:
            if not is_content_failure(exc):
                raise
            raise quarantine.QuarantineError(f"entry #{entry_id} is still refused:"
                                             f" {store_failure(exc)}") from exc
        self._on_stored()

    def _commit(self, items: Sequence[Item], refused: list, write: Write, urgent: bool,
                count: int) -> list[Refused]:
        """Write `items` and quarantine `refused` in one transaction; when the items' content
        fails, again with the culprits split off. Returns the culprits."""
        try:
            try:
                self._transaction(urgent, lambda conn: write(conn, items), refused)
                culprits: list[Refused] = []
            except Exception as exc:
                if not items or not is_content_failure(exc):
                    raise
                log.warning("inbox: a batch of %d was refused for what it holds (%s); storing"
                            " it again without the culprits", len(items), store_failure(exc))
                culprits = []
                self._transaction(urgent, lambda conn: self._halves(conn, items, write,
                                                                    culprits), refused, culprits)
        except SQLAlchemyError as exc:
            reason = store_failure(exc)
            self._outage.failed(count, reason)
            raise StoreError(reason) from exc
        self._outage.recovered()
        return culprits

    def _transaction(self, urgent: bool, write: Callable[[Connection], bool],
                     *quarantined: list) -> None:
        with transaction(self.engine, urgent=urgent) as conn:
            if write(conn):
                # Told before COMMIT, while this transaction holds the write turn: a
                # dispatcher waiting for it then claims the fast lane first.
                self._expect_urgent()
            for held in quarantined:
                quarantine.hold(conn, held, self.clock())

    def _split(self, conn: Connection, items: Sequence[Item], write: Write,
               culprits: list[Refused]) -> bool:
        """Write what can be written, each half under a savepoint; a lone item that still
        fails joins `culprits`. Raises what is not about the content."""
        if not items:
            return False
        try:
            with conn.begin_nested():
                return write(conn, items)
        except Exception as exc:
            if not is_content_failure(exc):
                raise
            if len(items) == 1:
                culprits.append(Refused(items[0], f"the database refused it:"
                                                  f" {store_failure(exc)}"))
                return False
        return self._halves(conn, items, write, culprits)

    def _halves(self, conn: Connection, items: Sequence[Item], write: Write,
                culprits: list[Refused]) -> bool:
        """`_split` each half of a batch known to fail as a whole."""
        middle = len(items) // 2
        first = self._split(conn, items[:middle], write, culprits)
        return self._split(conn, items[middle:], write, culprits) or first

    def _store_in(self, conn: Connection, parts: Sequence[InboundPart]) -> bool:
        """Store on `conn`; True when something for the fast lane was among the parts."""
        if not parts:
            return False
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

    def _record_receipts(self, conn: Connection, receipts: Sequence[DeliveryReceipt]) -> bool:
        if receipts and self._on_receipts is not None:
            self._on_receipts(conn, receipts)
        return False

    def link_health(self, health: LinkHealth) -> None:
        self._on_health(health)

    def is_urgent(self, sender: str) -> bool:
        return self.officers.includes_now(self.engine, sender)

    def _row(self, conn: Connection, part: InboundPart, text: str, raw: bytes,
             dedup_key: str | None, now: dt.datetime) -> dict:
        return {
            "channel": part.channel, "sender": part.sender[:32], "text": text, "raw": raw,
            "received_at": part.received_at, "stored_at": now, "dedup_key": dedup_key,
            "priority": self._priority(conn, part), "state": InboxState.NEW,
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


