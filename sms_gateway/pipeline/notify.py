"""Waking other nodes on PostgreSQL: NOTIFY when work is queued, LISTEN for it elsewhere.

Notifications are lost while a listening connection is down, so they only shorten waits:
every worker still polls. On SQLite (one process) there is nothing to do.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from sqlalchemy import Connection, Engine

log = logging.getLogger(__name__)
INBOX = "permit_gateway_inbox"
OUTBOX = "permit_gateway_outbox"


def notify(conn: Connection, channel: str) -> None:
    """Queue a notification, delivered when (and only if) the transaction commits."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(f"NOTIFY {channel}")


class Listener:
    """A thread holding one LISTEN connection, calling `wake[channel]()` on each notification."""

    def __init__(self, engine: Engine, wake: dict[str, Callable[[], None]]) -> None:
        self._engine, self._wake = engine, wake
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="listen", daemon=True)

    @property
    def needed(self) -> bool:
        return self._engine.dialect.name == "postgresql"

    def start(self) -> None:
        if self.needed:
            self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join(5)

    def _run(self) -> None:
        delay = 0.5
        while not self._stopping.is_set():
            try:
                self._listen()
                delay = 0.5
            except Exception as exc:  # the database went away: poll until it is back
                log.warning("LISTEN connection lost (%s); retrying in %.1f s",
                            exc.__class__.__name__, delay)
                self._stopping.wait(delay)
                delay = min(delay * 2, 30.0)

    def _listen(self) -> None:
        raw = self._engine.raw_connection()
        try:
            driver = raw.driver_connection
            driver.autocommit = True
            for channel in self._wake:
                driver.execute(f"LISTEN {channel}")
            while not self._stopping.is_set():
                for note in driver.notifies(timeout=1.0):
                    self._wake.get(note.channel, lambda: None)()
        finally:
            raw.invalidate()
