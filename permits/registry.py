"""Who may use the service: residents imported from the registry, officers, districts.

An import reports every bad row by its line and keeps the good ones: a line too long for any
resident (read with a bound, so a file of one endless line costs no memory), a field the
csv module refuses, a value its column cannot hold (a NUL, an oversized name or document),
a phone that is no phone. Given an engine, it commits every `CHUNK` rows in a transaction of
their own, so the SMS path never waits long for SQLite's write lock (one transaction of
350,000 rows held it for 11 s; bench/RESULTS.md, "registry import").
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import itertools
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TextIO

from sqlalchemy import Connection, Engine, select, update

from permits import phones, regime
from storage.db import transaction
from storage.dialect import upsert
from storage.tables.ledger import Regime, districts, officers, residents
from storage.values import problem

REQUIRED_COLUMNS = ("phone", "name", "district")
# Optional: `document`, and `until` (YYYY-MM-DD), a temporary resident's last day. A file
# without an `until` column leaves the entries' end dates as they are; an empty cell makes
# the entry permanent.
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
CHUNK = 1000  # rows per transaction: tens of milliseconds of SQLite's write lock
MAX_LINE = 4096  # characters: a phone, a 200-character name, a district and a document fit
_CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f]")


class RegistryError(ValueError):
    """A registry change that cannot be made (unknown district, unknown officer...)."""


@dataclass
class ImportReport:
    """How an import went: rows kept, and each rejected line with why."""

    imported: int = 0
    rejected: list[tuple[int, str]] = field(default_factory=list)


def sync_districts(conn: Connection, configured: Iterable[tuple[str, str, bool]],
                   now: dt.datetime) -> None:
    """Add districts the config names, `enabled` ones on and the others registry-only (as
    `districts enable|disable` switch them); an existing district keeps its regime."""
    known = set(conn.scalars(select(districts.c.id)))
    rows = [{"id": i, "name": n, "regime": Regime.ON if e else Regime.REGISTRY_ONLY}
            for i, n, e in configured if i not in known]
    if rows:
        conn.execute(districts.insert(), rows)
        regime.first_states(conn, [(r["id"], r["regime"]) for r in rows], "config", now)


def import_residents(into: Engine | Connection, source: TextIO, country: str,
                     now: dt.datetime) -> ImportReport:
    """Import `phone,name,district[,document][,until]` rows; bad rows are reported, good
    ones kept.

    On an Engine every CHUNK rows commit on their own (an import cut short keeps what it
    committed; importing the file again is harmless); on a Connection everything goes in the
    caller's transaction."""
    report = ImportReport()
    numbered = _Lines(source, report)
    reader = csv.DictReader(numbered)
    missing = [c for c in REQUIRED_COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise RegistryError(f"the header must name {', '.join(REQUIRED_COLUMNS)}"
                            f" (missing: {', '.join(missing)})")
    with _turn(into) as conn:
        known = set(conn.scalars(select(districts.c.id)))
    with_until = "until" in (reader.fieldnames or [])
    rows = _good_rows(reader, numbered, known, country, now, report)
    while chunk := list(itertools.islice(rows, CHUNK)):
        with _turn(into) as conn:
            report.imported += _store_residents(conn, chunk, with_until)
    return report


class _Lines:
    """The source's lines for the csv reader, each read with a bound; a longer one is
    reported and skipped. `number` is the line last read (csv's own count skips those)."""

    def __init__(self, source: TextIO, report: ImportReport) -> None:
        self.source, self.report, self.number = source, report, 0

    def __iter__(self) -> Iterator[str]:
        while line := self.source.readline(MAX_LINE + 1):
            self.number += 1
            if len(line) <= MAX_LINE or line.endswith("\n"):
                yield line
                continue
            while line and not line.endswith("\n"):  # the rest of the long line
                line = self.source.readline(MAX_LINE + 1)
            self.report.rejected.append((self.number, f"longer than {MAX_LINE} characters"))


def _good_rows(reader: csv.DictReader, lines: _Lines, known: set[str], country: str,
               now: dt.datetime, report: ImportReport) -> Iterator[dict]:
    seen: set[str] = set()
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:  # e.g. a quoted field running over many lines
            report.rejected.append((lines.number, str(exc)))
            continue
        try:
            resident = _resident_row(row, known, country, now)
        except RegistryError as exc:
            report.rejected.append((lines.number, str(exc)))
            continue
        if resident["phone"] in seen:
            report.rejected.append((lines.number, f"phone {phones.mask(resident['phone'])}"
                                                  " repeated"))
            continue
        seen.add(resident["phone"])
        yield resident


@contextlib.contextmanager
def _turn(into: Engine | Connection) -> Iterator[Connection]:
    if isinstance(into, Connection):
        yield into
    else:
        with transaction(into) as conn:
            yield conn


def _resident_row(row: dict, known: set[str], country: str, now: dt.datetime) -> dict:
    try:
        phone = phones.normalize(row.get("phone") or "", country)
    except phones.PhoneError as exc:
        raise RegistryError(str(exc)) from exc
    name = " ".join((row.get("name") or "").split())
    if not name:
        raise RegistryError("name is empty")
    district = (row.get("district") or "").strip()
    if district not in known:
        raise RegistryError(f"unknown district {district[:40]!r}")
    document = (row.get("document") or "").strip() or None
    for column, value in ((residents.c.name, name), (residents.c.document, document)):
        why = problem(column, value) or _control(column.name, value)
        if why:
            raise RegistryError(why)
    return {"phone": phone, "name": name, "district_id": district, "document": document,
            "self_registered": False, "created_at": now, "until": _until(row.get("until"))}


def _until(text: str | None) -> dt.date | None:
    """A temporary resident's last day (`2026-12-31`), or None for a permanent one."""
    text = (text or "").strip()
    if not text:
        return None
    try:
        if _DATE.fullmatch(text):
            return dt.date.fromisoformat(text)
    except ValueError:
        pass
    raise RegistryError(f"until must be a date such as 2026-12-31, not {text[:20]!r}")


def _control(name: str, value: str | None) -> str | None:
    found = _CONTROLS.search(value or "")
    return None if found is None else f"{name} holds the control character U+{ord(found[0]):04X}"


def _store_residents(conn: Connection, rows: Sequence[dict], with_until: bool) -> int:
    if rows:
        upsert(conn, residents, rows, ["phone"],  # an imported number is the administration's
               ["name", "district_id", "document", "self_registered",
                *(["until"] if with_until else [])])
    return len(rows)


def set_until(conn: Connection, resident_id: int, until: dt.date | None) -> None:
    """A resident's last day on the registry (None: permanent), as the console sets it."""
    result = conn.execute(update(residents).where(residents.c.id == resident_id)
                          .values(until=until))
    if result.rowcount != 1:
        raise RegistryError("no such resident")


def add_officer(conn: Connection, phone: str, name: str, country: str,
                now: dt.datetime) -> str:
    number = phones.normalize(phone, country)
    name = " ".join(name.split())
    if not name or problem(officers.c.name, name) or _control("name", name):
        raise RegistryError("an officer needs a name of 1 to 200 characters, without"
                            " control characters")
    upsert(conn, officers, [{"phone": number, "name": name, "active": True, "created_at": now}],
           ["phone"], ["name", "active"])
    return number


def deactivate_officer(conn: Connection, phone: str, country: str) -> None:
    number = phones.normalize(phone, country)
    result = conn.execute(update(officers).where(officers.c.phone == number).values(active=False))
    if result.rowcount != 1:
        raise RegistryError(f"no officer {phones.mask(number)}")
