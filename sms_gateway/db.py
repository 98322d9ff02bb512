"""Engines for the ledger: SQLite in WAL mode with immediate write transactions, or PostgreSQL.

Several processes may share one SQLite file (`simulate` runs side by side): every transaction
begins with BEGIN IMMEDIATE so writers queue on the busy timeout instead of failing half-way,
except on connections marked read-only, which must never hold the write lock.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url

READ_ONLY = {"readonly": True}
_BUSY_TIMEOUT_SECONDS = 30


def make_engine(url: str, *, echo: bool = False) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(url, parsed.database, echo)
    if parsed.get_backend_name() == "postgresql" and parsed.drivername == "postgresql":
        url = str(parsed.set(drivername="postgresql+psycopg"))
    return create_engine(url, echo=echo, pool_pre_ping=True, pool_size=10, max_overflow=10)


@contextmanager
def transaction(engine: Engine, *, urgent: bool = False) -> Iterator[Connection]:
    """`engine.begin()`, marked urgent (officers' work) when it should jump the writers' queue."""
    with engine.connect().execution_options(urgent=urgent) as conn, conn.begin():
        yield conn


class WriterTurns:
    """The order in which one process's threads get SQLite's single write lock.

    Waiters are woken at once when it is free (SQLite's own busy handler polls with sleeps of
    up to 100 ms, which starves the unlucky), and urgent writers go before the others, so an
    officer's check waits at most for the transaction in progress."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._held = False
        self._urgent_waiting = 0

    def acquire(self, urgent: bool) -> None:
        with self._changed:
            self._urgent_waiting += urgent
            try:
                self._changed.wait_for(
                    lambda: not self._held and (urgent or not self._urgent_waiting))
            finally:
                self._urgent_waiting -= urgent
            self._held = True

    def release(self) -> None:
        with self._changed:
            self._held = False
            self._changed.notify_all()


def _sqlite_engine(url: str, database: str | None, echo: bool) -> Engine:
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, echo=echo, connect_args={
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

    writer = WriterTurns()

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        options = conn.get_execution_options()
        if options.get("readonly", False):
            conn.exec_driver_sql("BEGIN")
            return
        writer.acquire(urgent=options.get("urgent", False))
        conn.info["holds_writer"] = True
        try:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            _release(conn)
            raise

    def _release(conn: Connection) -> None:
        if conn.info.pop("holds_writer", False):
            writer.release()

    event.listen(engine, "commit", _release)
    event.listen(engine, "rollback", _release)
    return engine
