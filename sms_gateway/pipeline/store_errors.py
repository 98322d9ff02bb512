"""When the database refuses inbound messages: whose fault it is, a short reason, and an
outage logged once.

A batch fails for one of two causes, told apart here and nowhere else: what a message holds
(a value the database refuses: the batch is split and the culprit quarantined, rule 8), or
the database itself (down, locked, disk full, read-only, schema missing: nothing is
acknowledged and the transports are asked to deliver again later).
"""

from __future__ import annotations

import logging
import threading
import time

from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, SQLAlchemyError, StatementError

log = logging.getLogger(__name__)
# PostgreSQL SQLSTATE classes a value causes: data exception, integrity constraint violation,
# program limit exceeded (an index row too large). Anything else is the database's own state.
_CONTENT_SQLSTATE_CLASSES = ("22", "23", "54")
# What the drivers raise while binding a value they cannot convert (a lone surrogate, an
# integer beyond 64 bits on SQLite), before the database sees the statement.
_BINDING_ERRORS = (ValueError, TypeError, OverflowError)


def is_content_failure(exc: BaseException) -> bool:
    """True when what the rows hold made the write fail, so a batch without the culprit would
    pass; False when the database cannot take anything now (or we cannot tell: refusing a
    batch loses nothing, the transport delivers it again, while quarantining everything on
    a schema or connection fault would hide every message from the rules)."""
    if isinstance(exc, DBAPIError):
        state = getattr(exc.orig, "sqlstate", None)
        if state:
            return state[:2] in _CONTENT_SQLSTATE_CLASSES
        return isinstance(exc, DataError | IntegrityError)
    if isinstance(exc, StatementError):  # a driver-independent error while building it
        return isinstance(exc.orig, _BINDING_ERRORS)
    return isinstance(exc, _BINDING_ERRORS) and not isinstance(exc, SQLAlchemyError)


def store_failure(exc: BaseException) -> str:
    """The database's own reason, first line only ("database or disk is full", "connection
    refused"): never the statement or its parameters, which hold message texts and numbers."""
    cause = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    lines = str(cause).strip().splitlines() or [""]
    return f"{type(cause).__name__}: {lines[0]}"[:200]


class StoreOutage:
    """One clear log line when storing starts to fail, one now and then while it goes on, and
    one when it works again, instead of a line per refused batch (an SMSC redelivers many
    times a second, and each is refused while the database is away or the disk is full)."""

    REPEAT_SECONDS = 30.0

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._since: float | None = None
        self._logged_at = 0.0
        self._batches = self._messages = 0

    def failed(self, messages: int, reason: str) -> None:
        with self._lock:
            now = time.monotonic()
            self._batches += 1
            self._messages += messages
            if self._since is None:
                self._since = self._logged_at = now
                log.error("inbound messages cannot be stored (%s): they are not acknowledged;"
                          " SMSCs deliver them again, modems keep them on the SIM", reason)
            elif now - self._logged_at >= self.REPEAT_SECONDS:
                self._logged_at = now
                log.error("inbound messages still cannot be stored (%s): %d batches (%d"
                          " messages) refused in %.0f s", reason, self._batches, self._messages,
                          now - self._since)

    def recovered(self) -> None:
        if self._since is None:  # the usual case, without taking the lock
            return
        with self._lock:
            if self._since is None:
                return
            log.warning("inbound messages are stored again, after %.0f s in which %d batches"
                        " (%d messages) were refused", time.monotonic() - self._since,
                        self._batches, self._messages)
            self._since, self._batches, self._messages = None, 0, 0
