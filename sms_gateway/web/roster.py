"""The residents' list: search by name, phone or district, a district filter, and pages in name
order read by key (the (name, id) indexes of migration 0007), never by OFFSET.

What is typed is read as, in this order: a whole phone number (one resident, by the unique
index), some digits of a number (matched anywhere in it), a district's name or id (in either
language), else a part of a name. Names match in any of the cases a registry writes them and
an operator types them (as typed, lower, upper, Title): SQLite folds only ASCII letters and
PostgreSQL under a C locale none beyond them, so case folding in SQL would miss Cyrillic.

Residents removed from the registry are gone from `residents`; what the audit log kept of
them (masked number, district, who and when) is listed by `removed`.

Temporary residents (those with a last day, `until`) can be listed alone; each row shows the
last day, so an entry that has ended (its number is unknown to the rules) is plain to see.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, Connection, and_, or_, select, tuple_

from permits import phones
from sms_gateway import audit
from storage.tables.console import audit_log
from storage.tables.ledger import districts, residents

PAGE = 50
_DIGITS = re.compile(r"[\d\s()+-]+")
_MIN_DIGITS = 3


@dataclass(frozen=True)
class Wanted:
    """What the operator asked for: typed text and a district id (both may be empty), and
    whether only temporary residents."""

    text: str = ""
    district: str = ""
    temporary: bool = False


@dataclass(frozen=True)
class Found:
    rows: tuple[dict, ...]
    after: int | None  # the id to continue after, when there may be more


def residents_page(conn: Connection, wanted: Wanted, country: str,
                   district_names: Mapping[str, Sequence[str]], after: int | None = None,
                   limit: int = PAGE) -> Found:
    """One page of residents matching `wanted`, in name order, after resident `after`.
    `district_names` gives each district id its names in every language."""
    conditions = _matching(wanted, country, district_names)
    if conditions is None:
        return Found((), None)
    if after is not None:
        last = conn.execute(select(residents.c.name, residents.c.id)
                            .where(residents.c.id == after)).first()
        if last is None:  # removed meanwhile: that page cannot be continued
            return Found((), None)
        conditions.append(tuple_(residents.c.name, residents.c.id) > tuple_(*last))
    rows = conn.execute(
        select(residents.c.id, residents.c.phone, residents.c.name, residents.c.district_id,
               districts.c.name.label("district_name"), residents.c.self_registered,
               residents.c.created_at, residents.c.until)
        .join(districts, districts.c.id == residents.c.district_id)
        .where(*conditions).order_by(residents.c.name, residents.c.id).limit(limit + 1)
    ).mappings().all()
    more = len(rows) > limit
    shown = tuple(dict(r) for r in rows[:limit])
    return Found(shown, shown[-1]["id"] if more else None)


def _matching(wanted: Wanted, country: str,
              district_names: Mapping[str, Sequence[str]]) -> list[ColumnElement] | None:
    """The WHERE conditions for `wanted`; None when nothing can match."""
    conditions: list[ColumnElement] = []
    if wanted.district:
        conditions.append(residents.c.district_id == wanted.district)
    if wanted.temporary:
        conditions.append(residents.c.until.is_not(None))
    text = " ".join(wanted.text.split())
    if not text:
        return conditions
    if _DIGITS.fullmatch(text):
        return [*conditions, _phone_condition(text, country)]
    named = district_by_name(text, district_names)
    if named is not None:
        if wanted.district and named != wanted.district:
            return None
        return [*conditions, residents.c.district_id == named]
    names = (residents.c.name.contains(variant, autoescape=True)
             for variant in case_variants(text))
    return [*conditions, or_(*names)]


def _phone_condition(text: str, country: str) -> ColumnElement:
    try:
        return residents.c.phone == phones.normalize(text, country)
    except phones.PhoneError:
        digits = "".join(c for c in text if c.isdigit())
        if len(digits) < _MIN_DIGITS:
            return residents.c.id.is_(None)  # too few digits to mean anything
        return residents.c.phone.contains(digits, autoescape=True)


def district_by_name(text: str, district_names: Mapping[str, Sequence[str]]) -> str | None:
    folded = text.casefold()
    for district_id, names in district_names.items():
        if folded == district_id.casefold() or folded in (n.casefold() for n in names if n):
            return district_id
    return None


def case_variants(text: str) -> tuple[str, ...]:
    """The spellings a name may be stored in: as typed, lower, upper, Title Case."""
    return tuple(dict.fromkeys((text, text.lower(), text.upper(), text.title(),
                                text.capitalize())))


@dataclass(frozen=True)
class Removed:
    rows: tuple[dict, ...]  # audit id, when, who, and the entry's facts
    before: int | None  # the audit id to continue before, when there may be more


def removed(conn: Connection, wanted: Wanted, country: str,
            district_names: Mapping[str, Sequence[str]], before: int | None = None,
            limit: int = PAGE) -> Removed:
    """Residents removed from the registry, newest first, as the audit log recorded them.

    Entries carry the district's id and a masked number only, so a search finds them by
    district or by a whole phone number (compared masked), not by name."""
    conditions = [audit_log.c.action == "resident_removed"]
    district = wanted.district
    text = " ".join(wanted.text.split())
    if text:
        named = district_by_name(text, district_names)
        if named is not None and district and named != district:
            return Removed((), None)
        if named is not None:
            district = named
        else:
            try:
                conditions.append(_fact("phone", phones.mask(phones.normalize(text, country))))
            except phones.PhoneError:
                return Removed((), None)
    if district:
        conditions.append(_fact("district", district))
    if before is not None:
        conditions.append(audit_log.c.id < before)
    rows = conn.execute(select(audit_log).where(and_(*conditions))
                        .order_by(audit_log.c.id.desc()).limit(limit + 1)).mappings().all()
    shown = tuple(dict(r) | {"facts": audit.facts(r["detail"]) or {"text": r["detail"]}}
                  for r in rows[:limit])
    return Removed(shown, shown[-1]["id"] if len(rows) > limit else None)


def _fact(key: str, value: str) -> ColumnElement:
    """Entries whose JSON facts hold key: value (sms_gateway.audit writes them with sorted keys and
    json's default separators, so the pair is always spelt this way)."""
    return audit_log.c.detail.contains(json.dumps({key: value}, ensure_ascii=False)[1:-1],
                                       autoescape=True)
