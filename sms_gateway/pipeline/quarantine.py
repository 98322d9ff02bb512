"""The quarantine: what the inbox could not take, kept for an operator (rule 8).

A message whose values no column holds, one the database refused for what it holds, a
receipt with an impossible id, a PDU nothing decodes: each is written here (in the same
transaction as the rest of its batch), so the transport can acknowledge the whole batch and
is never handed the same failure again. Every value is stored escaped (JSON, ASCII only), so
whatever made the inbox refuse it cannot make the quarantine refuse it too. An operator
releases a message (it goes through the gate into the inbox again, `Inbox.release`) or
deletes it (its text and bytes are erased at once); the retention purge removes old entries.
A stored message the rules fail on, alone, is moved here from the inbox too (`take_from_inbox`),
so a bug in the rules is seen, counted and can be retried once fixed.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import Connection, delete, func, insert, select, update

from sms_gateway.pipeline.gate import Refused, clean_text
from sms_gateway.transport import Concat, DeliveryReceipt, InboundPart, Unreadable
from storage.dialect import skip_locked
from storage.tables.messages import InboxState, inbox, quarantine

PAGE = 100
_INT64 = 2**63


class Kind(StrEnum):
    MESSAGE = "message"  # an SMS or USSD message (or a part of one): can be released
    RECEIPT = "receipt"
    UNREADABLE = "unreadable"  # a transport could not decode it: raw bytes only


class State(StrEnum):
    HELD = "held"
    RELEASED = "released"
    DELETED = "deleted"


class QuarantineError(Exception):
    """An entry that cannot be released or deleted: unknown, no longer held, refused again."""


@dataclass(frozen=True)
class Entry:
    """One quarantined item as operators see it (the sender still unmasked: mask to show)."""

    id: int
    channel: str
    sender: str
    kind: str
    reason: str
    state: str
    quarantined_at: dt.datetime
    content: str
    raw: bytes


def hold(conn: Connection, refused: Sequence[Refused | Unreadable], now: dt.datetime) -> None:
    """Quarantine items on `conn` (the transaction that stores the rest of their batch)."""
    if refused:
        conn.execute(insert(quarantine), [_row(item, now) for item in refused])


def take_from_inbox(conn: Connection, row_id: int, why: str, now: dt.datetime) -> bool:
    """Move a waiting inbox message here (the dispatcher failed on it alone): released, it
    enters the inbox again as it first came. A row another dispatcher holds (and may be
    answering) is left to it. True when the message was moved."""
    row = conn.execute(skip_locked(conn, select(inbox).where(
        inbox.c.id == row_id, inbox.c.state == InboxState.NEW))).first()
    if row is None:
        return False
    hold(conn, [Refused(InboundPart(
        channel=row.channel, sender=row.sender, text=row.text, received_at=row.received_at,
        dedup_key=row.dedup_key, raw=row.raw or b"", ussd_op=row.ussd_op,
        ussd_session=row.ussd_session), why)], now)
    conn.execute(delete(inbox).where(inbox.c.id == row_id, inbox.c.state == InboxState.NEW))
    return True


def held_by_channel(conn: Connection) -> list[tuple[str, int]]:
    """(channel, entries held) for the status page and /metrics."""
    return [tuple(row) for row in conn.execute(
        select(quarantine.c.channel, func.count()).where(quarantine.c.state == State.HELD)
        .group_by(quarantine.c.channel).order_by(quarantine.c.channel))]


def entries(conn: Connection, *, before_id: int | None = None, limit: int = PAGE
            ) -> list[Entry]:
    """Held entries, newest first, paged by id."""
    query = (select(quarantine).where(quarantine.c.state == State.HELD)
             .order_by(quarantine.c.id.desc()).limit(limit))
    if before_id is not None:
        query = query.where(quarantine.c.id < before_id)
    return [Entry(row.id, row.channel, row.sender, row.kind, row.reason, row.state,
                  row.quarantined_at, row.content, row.raw or b"") for row in conn.execute(query)]


def held_message(conn: Connection, entry_id: int) -> InboundPart:
    """The message an entry holds, as its transport handed it over; QuarantineError if the
    entry is not a held message or its values cannot be restored."""
    row = conn.execute(select(quarantine).where(quarantine.c.id == entry_id)).first()
    if row is None or row.state != State.HELD:
        raise QuarantineError(f"no held entry #{entry_id}")
    if row.kind != Kind.MESSAGE:
        raise QuarantineError(f"entry #{entry_id} is a {row.kind}: only messages can be"
                              " released, the others only deleted")
    data = json.loads(row.content)
    numbers = [*(data["concat"] or ()), data["ussd_op"]]
    if not all(n is None or isinstance(n, int) for n in numbers):
        raise QuarantineError(f"entry #{entry_id} holds an integer too large to restore")
    return InboundPart(
        channel=row.channel, sender=data["sender"], text=data["text"],
        received_at=dt.datetime.fromisoformat(data["received_at"]),
        dedup_key=data["dedup_key"], raw=row.raw or b"",
        concat=Concat(*data["concat"]) if data["concat"] else None,
        ussd_op=data["ussd_op"], ussd_session=data["ussd_session"])


def resolve(conn: Connection, entry_id: int, state: State, now: dt.datetime) -> None:
    """Mark a held entry released or deleted (a deleted one's text and bytes are erased)."""
    erased = {"content": "", "raw": None} if state is State.DELETED else {}
    done = conn.execute(update(quarantine).where(quarantine.c.id == entry_id,
                                                 quarantine.c.state == State.HELD)
                        .values(state=state, resolved_at=now, **erased))
    if done.rowcount != 1:
        raise QuarantineError(f"no held entry #{entry_id}")


def _row(refused: Refused | Unreadable, now: dt.datetime) -> dict:
    if isinstance(refused, Unreadable):
        item, why = refused, refused.reason
    else:
        item, why = refused.item, refused.why
    kind, sender, content, raw = _described(item)
    return {"channel": _plain(item.channel, 60), "sender": _plain(sender, 32), "kind": kind,
            "content": json.dumps(content, ensure_ascii=True), "raw": raw,
            "reason": _plain(why, 200), "state": State.HELD, "quarantined_at": now}


def _described(item: InboundPart | DeliveryReceipt | Unreadable
               ) -> tuple[Kind, str, dict, bytes | None]:
    if isinstance(item, InboundPart):
        concat = item.concat
        return Kind.MESSAGE, item.sender, {
            "sender": item.sender, "text": item.text,
            "received_at": item.received_at.isoformat(), "dedup_key": item.dedup_key,
            "concat": [_int(concat.reference), _int(concat.total), _int(concat.seq)]
            if concat else None,
            "ussd_op": _int(item.ussd_op), "ussd_session": item.ussd_session}, bytes(item.raw)
    if isinstance(item, DeliveryReceipt):
        return Kind.RECEIPT, "", {"message_id": item.message_id, "state": item.state,
                                  "error": item.error}, None
    return Kind.UNREADABLE, item.sender, {"sender": item.sender,
                                          "received_at": item.received_at.isoformat()}, item.raw


def _int(value: int | None) -> int | str | None:
    """JSON cannot hold every integer (Python refuses to print one of over 4300 digits)."""
    if value is None or -_INT64 <= value < _INT64:
        return value
    return f"integer of {value.bit_length()} bits"


def _plain(text: str, limit: int) -> str:
    return clean_text(text)[:limit]
