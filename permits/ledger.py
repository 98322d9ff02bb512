"""All SQL of the rules: one batch is read with a handful of queries, written with executemany."""

from __future__ import annotations

import datetime as dt
import functools
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from sqlalchemy import (
    ColumnElement,
    Connection,
    Table,
    delete,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.engine import Dialect

from permits.codes import keypad as code_keypad
from storage.bulk import Bulk
from storage.dialect import among, insert_for
from storage.tables.ledger import (
    PermitState,
    Regime,
    districts,
    officers,
    permits,
    reply_counts,
    residents,
    verifications,
)

MISS_OUTCOMES = ("unknown", "typo")


@dataclass(frozen=True)
class Person:
    id: int
    phone: str
    name: str
    district_id: str
    district_name: str
    regime: Regime
    self_registered: bool = False


@dataclass(frozen=True)
class District:
    id: str
    name: str
    regime: Regime


@dataclass(frozen=True)
class Permit:
    id: int
    code: str
    resident_id: int
    local_day: dt.date
    slot: int | None
    reason: int
    valid_from: dt.datetime
    valid_until: dt.datetime
    state: str

    def is_active(self, now: dt.datetime) -> bool:
        """Issued and not over: asking again returns it instead of spending a slot."""
        return self.state == PermitState.ISSUED and now < self.valid_until


@dataclass
class Snapshot:
    """What a batch of messages needs from the ledger, read up front."""

    residents: dict[str, Person] = field(default_factory=dict)
    officers: set[str] = field(default_factory=set)
    permits: dict[int, list[Permit]] = field(default_factory=lambda: defaultdict(list))
    reply_counts: dict[str, int] = field(default_factory=dict)
    misses: dict[str, int] = field(default_factory=dict)


_PERMIT_COLUMNS = (permits.c.id, permits.c.code, permits.c.resident_id, permits.c.local_day,
                   permits.c.slot, permits.c.reason, permits.c.valid_from, permits.c.valid_until,
                   permits.c.state)


def hour_of(now: dt.datetime) -> dt.datetime:
    return now.replace(minute=0, second=0, microsecond=0)


def read_snapshot(conn: Connection, phones: Sequence[str], *, today: dt.date, now: dt.datetime,
                  miss_since: dt.datetime, running_since: dt.date) -> Snapshot:
    snap = Snapshot()
    unique = sorted(set(phones))
    for person in _people(conn, unique, today):
        snap.residents[person.phone] = person
    snap.officers = set(conn.scalars(
        select(officers.c.phone).where(among(conn.dialect, officers.c.phone, unique),
                                        officers.c.active)))
    ids = [p.id for p in snap.residents.values()]
    if ids:
        for permit in permits_of(conn, ids, today, now, running_since):
            snap.permits[permit.resident_id].append(permit)
    snap.reply_counts = dict(conn.execute(
        select(reply_counts.c.phone, reply_counts.c.count)
        .where(among(conn.dialect, reply_counts.c.phone, unique),
               reply_counts.c.hour == hour_of(now))
    ).all())
    if snap.officers:
        snap.misses = dict(conn.execute(
            select(verifications.c.officer_phone, func.count())
            .where(verifications.c.officer_phone.in_(sorted(snap.officers)),
                   verifications.c.checked_at >= miss_since,
                   verifications.c.outcome.in_(MISS_OUTCOMES))
            .group_by(verifications.c.officer_phone)
        ).all())
    return snap


def registered_on(day: dt.date) -> ColumnElement[bool]:
    """Residents on the registry on `day`: a temporary one up to their last day, included."""
    return or_(residents.c.until.is_(None), residents.c.until >= day)


class AlreadyRegistered(Exception):
    """The number has a current entry (imported by the administration, or stored meanwhile by
    another message or node): `register` leaves it as it is; `person` is that entry."""

    def __init__(self, person: Person) -> None:
        super().__init__("the number is on the registry already")
        self.person = person


def register(conn: Connection, phone: str, name: str, district_id: str, now: dt.datetime,
             today: dt.date) -> Person | None:
    """A self-registered resident; None if the district is unknown. A number whose temporary
    entry has ended is registered again in its place; a current entry is never replaced (the
    ON CONFLICT's condition decides it in the same statement, so a race decides it too):
    raises AlreadyRegistered with it."""
    district = conn.execute(select(districts.c.name, districts.c.regime)
                            .where(districts.c.id == district_id)).first()
    if district is None:
        return None
    stmt = insert_for(conn.dialect, residents).values(
        phone=phone, name=name, district_id=district_id, document=None, self_registered=True,
        created_at=now, until=None)
    resident_id = conn.scalar(stmt.on_conflict_do_update(
        index_elements=[residents.c.phone],
        set_={c: stmt.excluded[c] for c in ("name", "district_id", "document",
                                            "self_registered", "until")},
        where=~registered_on(today)).returning(residents.c.id))
    if resident_id is None:
        raise AlreadyRegistered(_people(conn, [phone], today)[0])
    return Person(resident_id, phone, name, district_id, district.name, Regime(district.regime),
                  self_registered=True)


def _people(conn: Connection, phones: Sequence[str], today: dt.date) -> list[Person]:
    """The entries of these numbers on the registry on `today`."""
    rows = conn.execute(
        select(residents.c.id, residents.c.phone, residents.c.name, residents.c.district_id,
               districts.c.name, districts.c.regime, residents.c.self_registered)
        .join(districts, districts.c.id == residents.c.district_id)
        .where(among(conn.dialect, residents.c.phone, phones), registered_on(today)))
    return [Person(*row[:5], Regime(row[5]), row[6]) for row in rows]


def unregister(conn: Connection, resident_id: int, today: dt.date) -> None:
    """A resident leaves the registry at once. One who holds permits stays in the ledger (it
    keeps whose each permit was) as an entry that ended yesterday, unknown from now on."""
    if conn.scalar(select(permits.c.id).where(permits.c.resident_id == resident_id).limit(1)):
        conn.execute(update(residents).where(residents.c.id == resident_id)
                     .values(until=today - dt.timedelta(days=1)))
    else:
        conn.execute(delete(residents).where(residents.c.id == resident_id))


def all_districts(conn: Connection) -> list[District]:
    """Every district, by name: a batch reads them only when a message needs them."""
    rows = conn.execute(select(districts.c.id, districts.c.name, districts.c.regime)
                        .order_by(districts.c.name, districts.c.id))
    return [District(i, name, Regime(state)) for i, name, state in rows]


def permits_of(conn: Connection, resident_ids: Iterable[int], today: dt.date,
               now: dt.datetime, running_since: dt.date) -> list[Permit]:
    """Today's permits (they hold the slots) and any still running from an earlier day.

    `running_since` is the first local day a permit still running can be from: the range
    keeps the read on the (resident, day, slot) index instead of a resident's whole history."""
    rows = conn.execute(
        select(*_PERMIT_COLUMNS).where(
            among(conn.dialect, permits.c.resident_id, sorted(set(resident_ids))),
            permits.c.local_day >= running_since,
            or_(permits.c.local_day == today, permits.c.valid_until > now),
        )
    )
    return [Permit(*row) for row in rows]


@dataclass(frozen=True)
class Found:
    """A permit found by code, with what an officer needs to match its holder."""

    permit: Permit
    name: str
    phone: str
    district_name: str


def find_by_codes(conn: Connection, codes: Sequence[str]) -> dict[str, Found]:
    if not codes:
        return {}
    rows = conn.execute(
        select(*_PERMIT_COLUMNS, residents.c.name, residents.c.phone, districts.c.name)
        .join(residents, residents.c.id == permits.c.resident_id)
        .join(districts, districts.c.id == residents.c.district_id)
        .where(_keypads_of(conn.dialect, codes))
    )
    wanted = set(codes)
    return {row[1]: Found(Permit(*row[:9]), row[9], row[10], row[11]) for row in rows
            if row[1] in wanted}


def _keypads_of(dialect: Dialect, codes: Iterable[str]) -> ColumnElement[bool]:
    """The permits whose codes share keypad digits with `codes`: a probe of the (keypad, code)
    index per code, a few more rows than asked for, which the caller drops by code. (Adding
    `code IN (...)` would make SQLite probe every keypad with every code.)"""
    return among(dialect, permits.c.keypad, sorted({code_keypad(c) for c in codes}))


def insert_permits(conn: Connection, rows: list[dict]) -> dict[str, int]:
    """Insert new permits; returns code -> id for those inserted.

    A row that hits a unique constraint (its slot taken meanwhile by another process, or its
    code already another permit's) is skipped: read back, only a permit with the row's own
    code, resident, day and slot is ours."""
    if not rows:
        return {}
    _INSERT_PERMITS.run(conn, rows)
    ours = {(r["code"], r["resident_id"], r["local_day"], r["slot"]) for r in rows}
    found = conn.execute(select(permits.c.id, permits.c.code, permits.c.resident_id,
                                permits.c.local_day, permits.c.slot)
                         .where(_keypads_of(conn.dialect, (r["code"] for r in rows))))
    return {code: pid for pid, code, *key in found if (code, *key) in ours}


_INSERT_PERMITS = Bulk(lambda dialect: insert_for(dialect, permits).on_conflict_do_nothing())


def _add_to_reply_counts(dialect: Dialect):
    stmt = insert_for(dialect, reply_counts)
    return stmt.on_conflict_do_update(
        index_elements=[reply_counts.c.phone, reply_counts.c.hour],
        set_={"count": reply_counts.c.count + stmt.excluded.count})


_ADD_REPLY_COUNTS = Bulk(_add_to_reply_counts)


def add_reply_counts(conn: Connection, counts: dict[str, int], now: dt.datetime) -> None:
    """Rows in phone order: dispatchers side by side then lock shared rows in one order and
    cannot deadlock on them."""
    hour = hour_of(now)
    _ADD_REPLY_COUNTS.run(conn, [{"phone": p, "hour": hour, "count": counts[p]}
                                 for p in sorted(counts)])


@functools.cache
def _insert_into(table: Table) -> Bulk:
    return Bulk(lambda _dialect: insert(table))


def record(conn: Connection, table_rows: list[tuple[Table, list[dict]]]) -> None:
    """executemany for each (table, rows) pair that has rows."""
    for table, rows in table_rows:
        _insert_into(table).run(conn, rows)


def refund(conn: Connection, permit_ids: Sequence[int]) -> int:
    """Give the day's slot back: the permit's reply never reached its holder."""
    if not permit_ids:
        return 0
    result = conn.execute(
        update(permits)
        .where(permits.c.id.in_(list(permit_ids)), permits.c.state == PermitState.ISSUED)
        .values(state=PermitState.REFUNDED, slot=None)
    )
    return result.rowcount


def revoke(conn: Connection, code: str, now: dt.datetime) -> bool:
    """Revoke by canonical code; the slot stays spent."""
    result = conn.execute(
        update(permits)
        .where(permits.c.keypad == code_keypad(code), permits.c.code == code,
               permits.c.state == PermitState.ISSUED)
        .values(state=PermitState.REVOKED, revoked_at=now)
    )
    return result.rowcount == 1
