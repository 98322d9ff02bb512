"""Who may use the service: residents imported from the registry, officers, districts."""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TextIO

from sqlalchemy import Connection, select, update

from permits import phones
from storage.dialect import upsert
from storage.tables.ledger import districts, officers, residents

REQUIRED_COLUMNS = ("phone", "name", "district")
_CHUNK = 5000


class RegistryError(ValueError):
    """A registry change that cannot be made (unknown district, unknown officer...)."""


@dataclass
class ImportReport:
    """How an import went: rows kept, and each rejected line with why."""

    imported: int = 0
    rejected: list[tuple[int, str]] = field(default_factory=list)


def sync_districts(conn: Connection, configured: Iterable[tuple[str, str, bool]]) -> None:
    """Add districts the config names; an existing district keeps its on/off state."""
    known = set(conn.scalars(select(districts.c.id)))
    rows = [{"id": i, "name": n, "enabled": e} for i, n, e in configured if i not in known]
    if rows:
        conn.execute(districts.insert(), rows)


def set_district(conn: Connection, district_id: str, enabled: bool) -> None:
    result = conn.execute(update(districts).where(districts.c.id == district_id)
                          .values(enabled=enabled))
    if result.rowcount != 1:
        raise RegistryError(f"no district {district_id!r}")


def import_residents(conn: Connection, source: TextIO, country: str,
                     now: dt.datetime) -> ImportReport:
    """Import `phone,name,district[,document]` rows; bad rows are reported, good ones kept."""
    reader = csv.DictReader(source)
    missing = [c for c in REQUIRED_COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise RegistryError(f"the header must name {', '.join(REQUIRED_COLUMNS)}"
                            f" (missing: {', '.join(missing)})")
    known = set(conn.scalars(select(districts.c.id)))
    report, batch, seen = ImportReport(), [], set()
    for row in reader:
        line = reader.line_num
        try:
            batch.append(_resident_row(row, known, country, now))
        except RegistryError as exc:
            report.rejected.append((line, str(exc)))
            continue
        if batch[-1]["phone"] in seen:
            report.rejected.append((line, f"phone {phones.mask(batch.pop()['phone'])} repeated"))
            continue
        seen.add(batch[-1]["phone"])
        if len(batch) >= _CHUNK:
            report.imported += _store_residents(conn, batch)
            batch = []
    report.imported += _store_residents(conn, batch)
    return report


def _resident_row(row: dict, known: set[str], country: str, now: dt.datetime) -> dict:
    try:
        phone = phones.normalize(row.get("phone") or "", country)
    except phones.PhoneError as exc:
        raise RegistryError(str(exc)) from exc
    name = " ".join((row.get("name") or "").split())
    if not name or len(name) > 200:
        raise RegistryError("name is empty or longer than 200 characters")
    district = (row.get("district") or "").strip()
    if district not in known:
        raise RegistryError(f"unknown district {district!r}")
    document = (row.get("document") or "").strip() or None
    return {"phone": phone, "name": name, "district_id": district, "document": document,
            "self_registered": False, "created_at": now}


def _store_residents(conn: Connection, rows: Sequence[dict]) -> int:
    if rows:
        upsert(conn, residents, rows, ["phone"], ["name", "district_id", "document"])
    return len(rows)


def add_officer(conn: Connection, phone: str, name: str, country: str,
                now: dt.datetime) -> str:
    number = phones.normalize(phone, country)
    name = " ".join(name.split())
    if not name or len(name) > 200:
        raise RegistryError("an officer needs a name of 1 to 200 characters")
    upsert(conn, officers, [{"phone": number, "name": name, "active": True, "created_at": now}],
           ["phone"], ["name", "active"])
    return number


def deactivate_officer(conn: Connection, phone: str, country: str) -> None:
    number = phones.normalize(phone, country)
    result = conn.execute(update(officers).where(officers.c.phone == number).values(active=False))
    if result.rowcount != 1:
        raise RegistryError(f"no officer {phones.mask(number)}")
