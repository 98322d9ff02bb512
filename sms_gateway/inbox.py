"""The durable inbox: what a transport hands over is committed before it may acknowledge.

Single messages go straight to `inbox`; parts of concatenated ones wait in `inbox_parts`
(keyed by sender, reference and part count, never by destination) until the last one arrives.
Parts with a transport identity (a modem's SIM messages) stay as `assembled` markers after
reassembly, so reading the same SIM message again after a crash stores nothing twice.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable, Sequence

from sqlalchemy import ColumnElement, Connection, Engine, delete, func, select, text, update
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from permits.ledger import dialect_insert
from permits.schema import officers
from sms_gateway.clock import Clock, utc_now
from sms_gateway.db import transaction
from sms_gateway.notify import INBOX, notify
from sms_gateway.schema import inbox, inbox_parts
from sms_gateway.transport import DeliveryReceipt, InboundPart, LinkHealth, StoreError

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


def store_failure(exc: SQLAlchemyError) -> str:
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


class Inbox:
    """The pipeline's `InboundSink`: stores batches, then wakes the dispatcher."""

    def __init__(self, engine: Engine, *, clock: Clock = utc_now,
                 on_stored: Callable[[], None] = lambda: None,
                 on_receipts: Callable[[Connection, Sequence[DeliveryReceipt]], None] | None = None,
                 on_health: Callable[[LinkHealth], None] = lambda health: None) -> None:
        self.engine, self.clock = engine, clock
        self.officers = OfficerNumbers(clock)
        self._on_stored, self._on_receipts, self._on_health = on_stored, on_receipts, on_health
        self._outage = StoreOutage()

    def store(self, parts: Sequence[InboundPart]) -> None:
        """Commit every part in one transaction; raise StoreError if that failed."""
        if not parts:
            return
        try:
            urgent = any(self.is_urgent(part.sender) for part in parts[:50])
            with transaction(self.engine, urgent=urgent) as conn:
                self.store_in(conn, parts)
        except SQLAlchemyError as exc:
            reason = store_failure(exc)
            self._outage.failed(len(parts), reason)
            raise StoreError(reason) from exc
        self._outage.recovered()
        self._on_stored()

    def store_in(self, conn: Connection, parts: Sequence[InboundPart]) -> None:
        now = self.clock()
        notify(conn, INBOX)
        singles = [p for p in parts if p.concat is None or p.concat.total <= 1]
        if singles:
            self._insert_messages(conn, [self._row(conn, p, p.text, p.raw, p.dedup_key, now)
                                         for p in singles])
        for part in parts:
            if part.concat is not None and part.concat.total > 1:
                self._store_part(conn, part, now)

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
            "priority": 1 if part.ussd_op is not None or self.officers.includes(conn, part.sender)
            else 0, "state": "new",
            "ussd_op": part.ussd_op, "ussd_session": part.ussd_session,
        }

    @staticmethod
    def _insert_messages(conn: Connection, rows: list[dict]) -> None:
        conn.execute(dialect_insert(conn, inbox).on_conflict_do_nothing(), rows)

    def _store_part(self, conn: Connection, part: InboundPart, now: dt.datetime) -> None:
        concat = part.concat
        assert concat is not None
        group = ((inbox_parts.c.sender == part.sender) & (inbox_parts.c.reference ==
                 concat.reference) & (inbox_parts.c.total == concat.total))
        _lock_group(conn, part.sender, concat.reference, concat.total)
        existing = conn.execute(select(inbox_parts.c.dedup_key, inbox_parts.c.assembled)
                                .where(group, inbox_parts.c.seq == concat.seq)).first()
        if existing is not None:
            same = part.dedup_key is None or existing.dedup_key == part.dedup_key
            if same or not existing.assembled:
                return  # the same part seen again
            # A new message reusing the reference of one already assembled: only the old
            # markers go, never the new message's parts that are already waiting.
            conn.execute(delete(inbox_parts).where(group, inbox_parts.c.assembled))
        conn.execute(dialect_insert(conn, inbox_parts).on_conflict_do_nothing().values(
            channel=part.channel, sender=part.sender[:32], reference=concat.reference,
            total=concat.total, seq=concat.seq, text=part.text, raw=part.raw,
            received_at=part.received_at, stored_at=now, dedup_key=part.dedup_key,
            assembled=False))
        waiting = conn.scalar(select(func.count()).select_from(inbox_parts)
                              .where(group, ~inbox_parts.c.assembled))
        if waiting == concat.total:
            self.assemble(conn, group, now)

    def assemble_late(self, conn: Connection, sender: str, reference: int, total: int,
                      now: dt.datetime) -> None:
        """The reassembly timeout: handle the parts of this group that did arrive."""
        _lock_group(conn, sender, reference, total)
        self.assemble(conn, (inbox_parts.c.sender == sender)
                      & (inbox_parts.c.reference == reference)
                      & (inbox_parts.c.total == total), now)

    def assemble(self, conn: Connection, group: ColumnElement[bool], now: dt.datetime) -> None:
        """Join a group's waiting parts (all of them, or what the timeout left) into a message."""
        rows = conn.execute(select(inbox_parts).where(group, ~inbox_parts.c.assembled)
                            .order_by(inbox_parts.c.seq)).all()
        if not rows:
            return
        first = rows[0]
        keys = [r.dedup_key for r in rows if r.dedup_key]
        message = InboundPart(channel=first.channel, sender=first.sender, text="",
                              received_at=max(r.received_at for r in rows))
        self._insert_messages(conn, [self._row(
            conn, message, "".join(r.text for r in rows), b"".join(r.raw or b"" for r in rows),
            f"concat:{min(keys)}"[:120] if keys else None, now)])
        conn.execute(update(inbox_parts).where(group, inbox_parts.c.dedup_key.is_not(None))
                     .values(assembled=True, text="", raw=None))
        conn.execute(delete(inbox_parts).where(group, inbox_parts.c.dedup_key.is_(None)))


def _lock_group(conn: Connection, sender: str, reference: int, total: int) -> None:
    """On PostgreSQL, nodes storing parts of one message take turns (count, then assemble):
    otherwise two nodes each holding one part would both wait for the other's."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(:key))"),
                     {"key": f"parts:{sender}:{reference}:{total}"})
