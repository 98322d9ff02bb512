"""Concatenated SMS put back together in the database, so a restart loses no half message.

Parts wait in `inbox_parts`, keyed by sender, reference and part count (never by
destination: many phones write to one short number). Parts that carry a transport identity
(a modem's SIM messages) stay as `assembled` markers after reassembly, so reading the same SIM
message again after a crash stores nothing twice.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from sqlalchemy import ColumnElement, Connection, delete, func, select, text, update

from sms_gateway.transport import InboundPart
from storage.dialect import insert_for
from storage.tables.messages import inbox_parts

StoreMessage = Callable[[Connection, InboundPart, str, bytes, "str | None", dt.datetime], None]


class Reassembly:
    """Parts in, whole messages out through `store_message` (the inbox's own insert)."""

    def __init__(self, store_message: StoreMessage) -> None:
        self._store_message = store_message

    def store_part(self, conn: Connection, part: InboundPart, now: dt.datetime) -> None:
        """Keep one part; when it completes its message, store the message."""
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
        conn.execute(insert_for(conn.dialect, inbox_parts).on_conflict_do_nothing().values(
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
        self._store_message(conn, message, "".join(r.text for r in rows),
                            b"".join(r.raw or b"" for r in rows),
                            f"concat:{min(keys)}"[:120] if keys else None, now)
        conn.execute(update(inbox_parts).where(group, inbox_parts.c.dedup_key.is_not(None))
                     .values(assembled=True, text="", raw=None))
        conn.execute(delete(inbox_parts).where(group, inbox_parts.c.dedup_key.is_(None)))


def _lock_group(conn: Connection, sender: str, reference: int, total: int) -> None:
    """On PostgreSQL, nodes storing parts of one message take turns (count, then assemble):
    otherwise two nodes each holding one part would both wait for the other's."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(:key))"),
                     {"key": f"parts:{sender}:{reference}:{total}"})
