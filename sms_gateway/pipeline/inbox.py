"""The durable inbox: what a transport hands over is committed before it may acknowledge.

Every batch passes the gate first (`gate`: text normalised, every value checked against its
column) and is written by the `guarded.GuardedWriter`, so a message the database refuses for
what it holds is quarantined and stops no other (rule 8). Single messages go straight to
`inbox` (deduplicated by the transport's identity, where it gives one); parts of concatenated
ones go through `reassembly` first. Officers' messages are marked for the dispatcher's fast
lane, and the dispatcher is told (`Listener`).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Sequence
from typing import Protocol

from sqlalchemy import Connection, Engine

from sms_gateway.clock import Clock, utc_now
from sms_gateway.pipeline import gate, quarantine
from sms_gateway.pipeline.gate import Refused
from sms_gateway.pipeline.guarded import GuardedWriter
from sms_gateway.pipeline.notify import INBOX, notify
from sms_gateway.pipeline.officers import OfficerNumbers
from sms_gateway.pipeline.reassembly import Reassembly
from sms_gateway.pipeline.store_errors import is_content_failure, store_failure
from sms_gateway.transport import InboundPart, Unreadable
from storage.bulk import Bulk
from storage.db import transaction
from storage.dialect import insert_for
from storage.tables.messages import InboxState, inbox

log = logging.getLogger(__name__)
# A message stored twice (a transport's redelivery with the same dedup key) is kept once.
_INSERT = Bulk(lambda dialect: insert_for(dialect, inbox).on_conflict_do_nothing())


class Listener(Protocol):
    """Who wants to know what the inbox stored: the dispatcher of this node."""

    def stored(self) -> None:
        """Messages were committed (after COMMIT)."""

    def urgent_coming(self) -> None:
        """An officer's or USSD message is about to be committed (before COMMIT, while the
        inbox holds SQLite's write turn: a dispatcher waiting for it claims the fast lane)."""


class _Nobody:
    def stored(self) -> None:
        pass

    def urgent_coming(self) -> None:
        pass


class Inbox:
    """Stores batches of inbound parts (and what could not be decoded), then tells the
    dispatcher. The messages' part of the pipeline's `InboundSink` (see `sink`)."""

    def __init__(self, engine: Engine, *, clock: Clock = utc_now,
                 listener: Listener | None = None,
                 writer: GuardedWriter | None = None) -> None:
        self.engine, self.clock = engine, clock
        self.officers = OfficerNumbers(clock)
        self.reassembly = Reassembly(self._store_message)
        self._listener = listener or _Nobody()
        self.writer = writer or GuardedWriter(engine, clock)
        self.writer.told_urgent = self._listener.urgent_coming

    def store(self, parts: Sequence[InboundPart]) -> list[Refused]:
        """Commit every part in one transaction; returns what was quarantined instead. Raises
        StoreError only when the database itself failed (then nothing was committed)."""
        if not parts:
            return []
        admitted, refused = gate.screen_parts(parts)
        urgent = any(self.is_urgent(part.sender) for part in admitted[:50])
        refused += self.writer.commit(admitted, refused, self._store_in, urgent=urgent,
                                      count=len(parts))
        self._listener.stored()
        return refused

    def set_aside(self, items: Sequence[Unreadable]) -> None:
        """Quarantine what a transport could not decode; StoreError if that failed."""
        if items:
            self.writer.commit([], list(items), self._store_in, urgent=False, count=len(items))

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
        self._listener.stored()

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


