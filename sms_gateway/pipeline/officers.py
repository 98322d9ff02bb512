"""Officers' numbers, cached: officers' messages are stored and handled ahead of the rest."""

from __future__ import annotations

import logging
import threading

from sqlalchemy import Connection, Engine, select
from sqlalchemy.exc import SQLAlchemyError

from sms_gateway.clock import Clock
from sms_gateway.pipeline.store_errors import store_failure
from storage.tables.ledger import officers

log = logging.getLogger(__name__)


def digits_key(number: str) -> str:
    """The last ten digits: enough to recognise an officer's number in any spelling."""
    return "".join(ch for ch in number if ch.isdigit())[-10:]


class OfficerNumbers:
    """A periodically refreshed set of officers' numbers, for queue priority only."""

    def __init__(self, clock: Clock, refresh_seconds: float = 5.0) -> None:
        self._clock, self._refresh = clock, refresh_seconds
        self._numbers: frozenset[str] = frozenset()
        self._refreshing = False
        self._loaded_at = None
        self._lock = threading.Lock()

    def includes(self, conn: Connection, sender: str) -> bool:
        """Whether `sender` is an officer, refreshing the set on `conn` when it is stale."""
        with self._lock:
            if self._stale():
                self._load(conn)
        return digits_key(sender) in self._numbers

    def includes_now(self, engine: Engine, sender: str) -> bool:
        """The same, outside any transaction.

        Transports ask this on their reader threads (the SMPP reader, a modem's thread), so it
        never waits for the database nor raises when it is away: a stale set is refreshed in
        the background while the set in hand answers."""
        with self._lock:
            if self._stale() and not self._refreshing:
                self._refreshing = True
                threading.Thread(target=self._refresh_from, args=(engine,), daemon=True,
                                 name="officer-numbers").start()
        return digits_key(sender) in self._numbers

    def _refresh_from(self, engine: Engine) -> None:
        try:
            with engine.connect().execution_options(readonly=True) as conn:
                phones = list(conn.scalars(select(officers.c.phone).where(officers.c.active)))
            with self._lock:
                self._numbers = frozenset(digits_key(p) for p in phones)
                self._loaded_at = self._clock()
        except SQLAlchemyError as exc:
            with self._lock:
                self._loaded_at = self._clock()  # not on every message: after the interval
            log.warning("officers' numbers not refreshed (%s)", store_failure(exc))
        finally:
            self._refreshing = False

    def _stale(self) -> bool:
        return (self._loaded_at is None
                or (self._clock() - self._loaded_at).total_seconds() > self._refresh)

    def _load(self, conn: Connection) -> None:
        phones = conn.scalars(select(officers.c.phone).where(officers.c.active))
        self._numbers = frozenset(digits_key(p) for p in phones)
        self._loaded_at = self._clock()
