"""Registrations by SMS in progress (`registrations`): read and written by the dialogue in a
batch, decided by operators in the console.

One row per number, in one of three states (storage.tables.ledger.RegistrationState): waiting
for the resident's ДА to store their entry (expires after `CONSENT_MINUTES`), waiting for an
operator (when `[permits] registration_approval` is on), or waiting for the ДА that confirms a
СТОП (expires too). Before consent a row holds only what the ДА needs: the number, the surname
and the district the resident sent, and it is gone within the hour whatever happens.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, replace

from sqlalchemy import Connection, delete, func, or_, select

from permits import ledger
from permits.ledger import Person
from storage.dialect import upsert
from storage.tables.ledger import RegistrationState, districts, registrations

CONSENT_MINUTES = 60  # how long a question waits for its ДА; also the attempts' window
ATTEMPTS = 3  # РЕГ requests one number may make in that window


class RegistrationError(ValueError):
    """An operator's decision on a registration that is not waiting for one."""


@dataclass(frozen=True)
class Pending:
    phone: str
    name: str
    district_id: str
    state: RegistrationState
    language: str
    channel: str
    attempts: int
    asked_at: dt.datetime
    expires_at: dt.datetime | None


_COLUMNS = (registrations.c.phone, registrations.c.name, registrations.c.district_id,
            registrations.c.state, registrations.c.language, registrations.c.channel,
            registrations.c.attempts, registrations.c.asked_at, registrations.c.expires_at)


def _pending(row) -> Pending:
    return Pending(*row[:3], RegistrationState(row[3]), *row[4:])


def _live(now: dt.datetime):
    return or_(registrations.c.expires_at.is_(None), registrations.c.expires_at > now)


def of_numbers(conn: Connection, phones: Iterable[str], now: dt.datetime) -> dict[str, Pending]:
    """The live registrations of these numbers (an expired question is as good as gone)."""
    wanted = sorted(set(phones))
    if not wanted:
        return {}
    rows = conn.execute(select(*_COLUMNS).where(registrations.c.phone.in_(wanted), _live(now)))
    return {row[0]: _pending(row) for row in rows}


def save(conn: Connection, changed: Mapping[str, Pending | None]) -> None:
    """A batch's changes: a row per number stored, or removed (None)."""
    gone = [phone for phone, pending in changed.items() if pending is None]
    kept = [asdict(pending) for pending in changed.values() if pending is not None]
    if gone:
        conn.execute(delete(registrations).where(registrations.c.phone.in_(gone)))
    if kept:
        upsert(conn, registrations, kept, ["phone"],
               [c.name for c in _COLUMNS if c.name != "phone"])


def waiting(conn: Connection, limit: int = 200) -> list[dict]:
    """Registrations waiting for an operator, oldest first, with their district's name."""
    rows = conn.execute(
        select(registrations.c.id, *_COLUMNS, districts.c.name.label("district_name"))
        .join(districts, districts.c.id == registrations.c.district_id)
        .where(registrations.c.state == RegistrationState.APPROVAL)
        .order_by(registrations.c.asked_at, registrations.c.phone).limit(limit)).mappings()
    return [dict(row) for row in rows]


def waiting_count(conn: Connection) -> int:
    """How many wait in all: the page says so when it shows only the oldest."""
    return conn.scalar(select(func.count()).select_from(registrations)
                       .where(registrations.c.state == RegistrationState.APPROVAL)) or 0


@dataclass(frozen=True)
class Decision:
    """An operator's decision, and where its SMS goes (the channel the ДА came in on)."""

    phone: str
    channel: str
    english: bool
    person: Person | None  # the new entry, when approved (or the entry kept, see `kept`)
    kept: bool = False  # approved, but the number was on the registry already: left as it was


def waiting_one(conn: Connection, registration_id: int) -> Pending | None:
    row = conn.execute(select(*_COLUMNS).where(
        registrations.c.id == registration_id,
        registrations.c.state == RegistrationState.APPROVAL)).first()
    return None if row is None else _pending(row)


def decide(conn: Connection, registration_id: int, approve: bool, now: dt.datetime,
           today: dt.date) -> Decision:
    """Approve (the entry is stored) or reject (nothing is kept) a waiting registration. Two
    operators deciding at once: the second finds nothing waiting. A number the administration
    put on the registry while it waited keeps that entry."""
    pending = waiting_one(conn, registration_id)
    deleted = conn.execute(delete(registrations).where(
        registrations.c.id == registration_id,
        registrations.c.state == RegistrationState.APPROVAL)).rowcount
    if pending is None or deleted != 1:
        raise RegistrationError("no registration waiting for a decision")
    decision = Decision(pending.phone, pending.channel, pending.language == "en", None)
    if not approve:
        return decision
    try:
        person = ledger.register(conn, pending.phone, pending.name, pending.district_id, now,
                                 today)
    except ledger.AlreadyRegistered as exc:
        return replace(decision, person=exc.person, kept=True)
    return replace(decision, person=person)


def purge(conn: Connection, now: dt.datetime) -> int:
    """Questions nobody answered: gone once they expire."""
    return conn.execute(delete(registrations).where(registrations.c.expires_at <= now)).rowcount
