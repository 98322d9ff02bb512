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
import weakref
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

log = logging.getLogger(__name__)
READ_ONLY = {"readonly": True}
_BUSY_TIMEOUT_SECONDS = 30
# Pages of WAL after which a commit checkpoints by itself: SQLite's default, and much more
# once a thread of the process checkpoints in the background (`checkpoint_in_background`).
_AUTOCHECKPOINT_PAGES = 1_000
_AUTOCHECKPOINT_PAGES_WITH_HELPER = 20_000
# A WAL that grew during a flood is cut back to this size once it has been copied.
_WAL_SIZE_LIMIT_BYTES = 64 * 1024 * 1024
# Per SQLite engine: the autocheckpoint its connections should have.
_autocheckpoint: weakref.WeakKeyDictionary[Engine, int] = weakref.WeakKeyDictionary()


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

    First come, first served, urgent writers (officers' work) before the others, and the turn
    is handed straight to the next writer: a thread that has just committed cannot take it
    back before the ones that waited (SQLite's own busy handler polls with sleeps of up to
    100 ms and lets the luckiest win). The holder is a DBAPI connection, which gives the turn
    back once its COMMIT or ROLLBACK is done; the pool covers every other end (a connection
    invalidated or dropped mid-transaction)."""

    def __init__(self, timeout: float) -> None:
        # Re-entrant: a connection dropped without closing is rolled back by the garbage
        # collector, which may run in a thread that is inside acquire or release already.
        self._lock = threading.RLock()
        self._holder: int | None = None
        self._waiting: tuple[deque, deque] = (deque(), deque())  # urgent, others
        self._timeout = timeout

    def acquire(self, holder: int, urgent: bool) -> None:
        turn = (holder, threading.Event())
        queue = self._waiting[0 if urgent else 1]
        with self._lock:
            queue.append(turn)
            if self._holder is None:
                self._hand_over()
        if turn[1].wait(self._timeout):
            return
        with self._lock:
            if turn[1].is_set():  # handed over just as the wait timed out
                return
            queue.remove(turn)
        log.error("no turn at the SQLite write lock in %.0f s", self._timeout)
        raise OperationalError("BEGIN IMMEDIATE", None,
                               sqlite3.OperationalError("database is locked"))

    def release(self, holder: int) -> None:
        with self._lock:
            if self._holder == holder:
                self._holder = None
                self._hand_over()

    def _hand_over(self) -> None:
        for queue in self._waiting:
            if queue:
                self._holder, handed = queue.popleft()
                handed.set()
                return


class _TurnReturningConnection(sqlite3.Connection):
    """Gives the writer turn back only when COMMIT or ROLLBACK has finished: handed over
    earlier, the next writer's BEGIN IMMEDIATE would meet SQLite's busy handler, whose first
    sleeps (1, 2, 5 ms) cost more than most commits."""

    end_of_turn: Callable[[], None] = staticmethod(lambda: None)

    def commit(self) -> None:
        try:
            super().commit()
        finally:
            self.end_of_turn()

    def rollback(self) -> None:
        try:
            super().rollback()
        finally:
            self.end_of_turn()


def checkpoint_in_background(engine: Engine) -> None:
    """From now on a thread of this process calls `checkpoint` every few tens of milliseconds:
    commits only append to the WAL (and fsync it) instead of one of them now and then paying
    for the whole copy. SQLite's own checkpoint after a commit stays, much later, as the
    safety net should that thread fall behind."""
    if engine in _autocheckpoint:
        _autocheckpoint[engine] = _AUTOCHECKPOINT_PAGES_WITH_HELPER


def checkpoint(engine: Engine) -> None:
    """Copy the WAL's committed pages into the database file, without blocking anyone."""
    if engine.dialect.name != "sqlite":
        return
    raw = engine.raw_connection()
    try:
        raw.cursor().execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
    finally:
        raw.close()


def _sqlite_engine(url: str, database: str | None, echo: bool) -> Engine:
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, echo=echo, hide_parameters=True, connect_args={
        "timeout": _BUSY_TIMEOUT_SECONDS, "check_same_thread": False,
        "factory": _TurnReturningConnection,
    })
    writer = WriterTurns(timeout=_BUSY_TIMEOUT_SECONDS)

    @event.listens_for(engine, "connect")
    def _configure(dbapi_connection, _record) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={_BUSY_TIMEOUT_SECONDS * 1000}")
        cursor.execute(f"PRAGMA journal_size_limit={_WAL_SIZE_LIMIT_BYTES}")
        cursor.close()
        dbapi_connection.end_of_turn = partial(writer.release, id(dbapi_connection))

    _autocheckpoint[engine] = _AUTOCHECKPOINT_PAGES

    @event.listens_for(engine, "checkout")
    def _set_autocheckpoint(dbapi_connection, record, _proxy) -> None:
        pages = _autocheckpoint.get(engine, _AUTOCHECKPOINT_PAGES)
        if record.info.get("autocheckpoint") != pages:
            dbapi_connection.execute(f"PRAGMA wal_autocheckpoint={pages}")
            record.info["autocheckpoint"] = pages

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        options = conn.get_execution_options()
        if options.get("readonly", False):
            conn.exec_driver_sql("BEGIN")
            return
        holder = id(conn.connection.dbapi_connection)
        writer.acquire(holder, urgent=options.get("urgent", False))
        try:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            writer.release(holder)
            raise

    def _released_by_pool(dbapi_connection, *_args) -> None:
        writer.release(id(dbapi_connection))

    event.listen(engine.pool, "checkin", _released_by_pool)
    event.listen(engine.pool, "invalidate", _released_by_pool)
    return engine
