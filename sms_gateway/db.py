"""Engines for the ledger: SQLite in WAL mode with immediate write transactions, or PostgreSQL.

Several processes may share one SQLite file (`simulate` runs side by side): every transaction
begins with BEGIN IMMEDIATE, so writers of different processes queue on the busy timeout
instead of failing half-way, and threads of one process queue in `WriterTurns`. Connections
marked read-only never take the write lock.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

log = logging.getLogger(__name__)
READ_ONLY = {"readonly": True}
_BUSY_TIMEOUT_SECONDS = 30


def make_engine(url: str, *, echo: bool = False) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(url, parsed.database, echo)
    if parsed.get_backend_name() == "postgresql" and parsed.drivername == "postgresql":
        url = str(parsed.set(drivername="postgresql+psycopg"))
    return create_engine(url, echo=echo, pool_pre_ping=True, pool_size=10, max_overflow=10,
                         hide_parameters=True)  # errors must not carry numbers and texts


@contextmanager
def transaction(engine: Engine, *, urgent: bool = False) -> Iterator[Connection]:
    """`engine.begin()`, marked urgent (officers' work) when it should jump the writers' queue."""
    with engine.connect().execution_options(urgent=urgent) as conn, conn.begin():
        yield conn


class WriterTurns:
    """The order in which one process's threads get SQLite's single write lock.

    Waiters are woken at once when it is free (SQLite's own busy handler polls with sleeps of
    up to 100 ms, which starves the unlucky), and urgent writers go before the others, so an
    officer's check waits at most for the transaction in progress. The holder is a DBAPI
    connection: the pool hands it back on every path (commit, rollback, invalidation, a
    connection dropped mid-transaction), and each of those releases it."""

    def __init__(self, timeout: float) -> None:
        self._changed = threading.Condition()
        self._holder: int | None = None
        self._urgent_waiting = 0
        self._timeout = timeout

    def acquire(self, holder: int, urgent: bool) -> None:
        with self._changed:
            self._urgent_waiting += urgent
            try:
                free = self._changed.wait_for(
                    lambda: self._holder is None and (urgent or not self._urgent_waiting),
                    self._timeout)
            finally:
                self._urgent_waiting -= urgent
            if not free:
                log.error("no turn at the SQLite write lock in %.0f s", self._timeout)
                raise OperationalError("BEGIN IMMEDIATE", None,
                                       sqlite3.OperationalError("database is locked"))
            self._holder = holder

    def release(self, holder: int) -> None:
        with self._changed:
            if self._holder == holder:
                self._holder = None
                self._changed.notify_all()


def _sqlite_engine(url: str, database: str | None, echo: bool) -> Engine:
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, echo=echo, hide_parameters=True, connect_args={
        "timeout": _BUSY_TIMEOUT_SECONDS, "check_same_thread": False,
    })

    @event.listens_for(engine, "connect")
    def _configure(dbapi_connection, _record) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={_BUSY_TIMEOUT_SECONDS * 1000}")
        cursor.close()

    writer = WriterTurns(timeout=_BUSY_TIMEOUT_SECONDS)
    holders: dict[int, int] = {}  # id(Connection) -> id(DBAPI connection) holding the turn

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        options = conn.get_execution_options()
        if options.get("readonly", False):
            conn.exec_driver_sql("BEGIN")
            return
        holder = id(conn.connection.dbapi_connection)
        writer.acquire(holder, urgent=options.get("urgent", False))
        holders[id(conn)] = holder
        try:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            _release(conn)
            raise

    def _release(conn: Connection) -> None:
        # Fires just before the COMMIT itself: the next writer's BEGIN waits that long in
        # SQLite's busy handler (its first sleep is 1 ms), which is cheaper than holding on.
        holder = holders.pop(id(conn), None)
        if holder is not None:
            writer.release(holder)

    def _released_by_pool(dbapi_connection, *_args) -> None:
        writer.release(id(dbapi_connection))

    event.listen(engine, "commit", _release)
    event.listen(engine, "rollback", _release)
    event.listen(engine.pool, "checkin", _released_by_pool)
    event.listen(engine.pool, "invalidate", _released_by_pool)
    return engine
