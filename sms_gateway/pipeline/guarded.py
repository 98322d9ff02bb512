"""Writing what came from outside so that no item stops the others (rule 8).

A batch the database refuses for what one of its items holds is written again in a fresh
transaction, halving it under savepoints until the culprits stand alone; they go to the
quarantine in that same transaction and the call returns as if all were written. Only a
failure of the database itself raises StoreError (logged once per outage, not per batch).
Savepoints rather than a transaction per half: the good items still commit together (one
fsync), and SQLite's write lock is taken once; a batch of 1,000 with one culprit costs about
20 savepoints (bench/RESULTS.md, "poison batch"). The inbox and the receipts share one.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError

from sms_gateway.clock import Clock
from sms_gateway.pipeline import quarantine
from sms_gateway.pipeline.gate import Refused
from sms_gateway.pipeline.store_errors import StoreOutage, is_content_failure, store_failure
from sms_gateway.transport import DeliveryReceipt, InboundPart, StoreError
from storage.db import transaction

log = logging.getLogger(__name__)
Item = InboundPart | DeliveryReceipt
# Writes a batch on a connection; True when something for the dispatcher's fast lane was in it.
Write = Callable[[Connection, Sequence], bool]


class GuardedWriter:
    """Commits batches from outside with their culprits split off and quarantined."""

    def __init__(self, engine: Engine, clock: Clock,
                 told_urgent: Callable[[], None] = lambda: None) -> None:
        self.engine, self.clock = engine, clock
        self.told_urgent = told_urgent
        self._outage = StoreOutage()

    def commit(self, items: Sequence[Item], refused: list, write: Write, *, urgent: bool,
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
                log.warning("a batch of %d was refused for what it holds (%s); storing"
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
                self.told_urgent()
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
