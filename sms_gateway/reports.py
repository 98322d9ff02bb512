"""The daily report, per district and reason: permits issued, refused by cause, trips that
needed none, and officers' checks by outcome; the same for the command line and the console.

A day is read from where its rows are: handled requests (`outcomes`) and checks
(`verifications`) while the retention period keeps them, the per-day counts (`daily_counts`)
the purge folds them into after that. Each row is in exactly one of those places (the purge
moves them in one transaction), so the sums are right whichever the day. Checks are counted
under the district and reason of the permit checked; a check of a code nobody holds has
neither.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from sqlalchemy import Connection, func, select

from permits import localtime
from permits.retention import CHECK_KIND
from storage.tables.ledger import daily_counts, outcomes, permits, residents, verifications

# Outcome kinds as report columns ("district_off": what registry-only was called before
# regimes, still found in old counts).
_REQUESTS = {"issued": "issued", "repeated": "repeated", "exempt": "exempt",
             "no_regime": "no_regime", "quota": "refused_quota",
             "not_resident": "refused_not_resident", "registry_only": "refused_registry_only",
             "district_off": "refused_registry_only"}
_CHECKS = ("valid", "expired", "not_yet_valid", "revoked", "unknown", "typo", "format",
           "refused", "slowed")
COLUMNS = (*dict.fromkeys(_REQUESTS.values()), *(f"checks_{o}" for o in _CHECKS))


@dataclass(frozen=True)
class Row:
    district_id: str | None  # None: no district (a check of an unknown code, a stranger)
    reason: int | None
    counts: Counter[str] = field(default_factory=Counter)


@dataclass(frozen=True)
class DailyReport:
    day: dt.date
    rows: tuple[Row, ...]

    def total(self) -> Counter[str]:
        return sum((row.counts for row in self.rows), Counter())


def daily(conn: Connection, day: dt.date, zone: dt.tzinfo) -> DailyReport:
    """The report of local day `day` in `zone` (localtime.OutOfRange at the calendar's
    ends)."""
    found: dict[tuple[str | None, int | None], Counter[str]] = {}

    def add(district: str | None, reason: int | None, column: str, count: int) -> None:
        key = (district or None, reason or None)
        found.setdefault(key, Counter())[column] += count

    for district, reason, kind, count in conn.execute(
            select(outcomes.c.district_id, outcomes.c.reason, outcomes.c.kind, func.count())
            .where(outcomes.c.local_day == day, outcomes.c.kind.in_(list(_REQUESTS)))
            .group_by(outcomes.c.district_id, outcomes.c.reason, outcomes.c.kind)):
        add(district, reason, _REQUESTS[kind], count)
    for district, reason, kind, count in conn.execute(
            select(daily_counts.c.district_id, daily_counts.c.reason, daily_counts.c.kind,
                   daily_counts.c.count).where(daily_counts.c.local_day == day)):
        column = _column(kind)
        if column:
            add(district, reason, column, count)
    start, end = localtime.day_bounds(day, zone)
    for district, reason, outcome, count in conn.execute(
            select(residents.c.district_id, permits.c.reason, verifications.c.outcome,
                   func.count())
            .select_from(verifications)
            .outerjoin(permits, permits.c.id == verifications.c.permit_id)
            .outerjoin(residents, residents.c.id == permits.c.resident_id)
            .where(verifications.c.checked_at >= start, verifications.c.checked_at < end)
            .group_by(residents.c.district_id, permits.c.reason, verifications.c.outcome)):
        if outcome in _CHECKS:
            add(district, reason, f"checks_{outcome}", count)
    rows = tuple(Row(district, reason, counts) for (district, reason), counts
                 in sorted(found.items(), key=lambda item: (item[0][0] is None, item[0][0] or "",
                                                            item[0][1] or 0)))
    return DailyReport(day, rows)


def _column(kind: str) -> str | None:
    if kind.startswith(CHECK_KIND):
        outcome = kind[len(CHECK_KIND):]
        return f"checks_{outcome}" if outcome in _CHECKS else None
    return _REQUESTS.get(kind)


def as_csv(report: DailyReport, district_name: Callable[[str], str],
           reason_name: Callable[[int], str]) -> str:
    """One line per district and reason, every column, ids beside names (for spreadsheets).
    Lines end in CRLF (RFC 4180): the csv module then quotes a lone CR inside a name too,
    which would otherwise end the row in a spreadsheet."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["date", "district_id", "district", "reason", "reason_name", *COLUMNS])
    for row in report.rows:
        writer.writerow([report.day.isoformat(), _cell(row.district_id or ""),
                         _cell(district_name(row.district_id) if row.district_id else ""),
                         row.reason or "", _cell(reason_name(row.reason) if row.reason else ""),
                         *(row.counts[c] for c in COLUMNS)])
    return out.getvalue()


# What a spreadsheet reads as the start of a formula (OWASP, "CSV injection"). The names come
# from the configuration and the districts' table, which operators other than the reader edit.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(text: str) -> str:
    """A text cell that a spreadsheet shows and never runs: an apostrophe before a formula's
    first character (a one-line rule, so no csv-wrapping library for it)."""
    return f"'{text}" if text.startswith(_FORMULA_START) else text


def as_text(report: DailyReport, district_name: Callable[[str], str],
            reason_name: Callable[[int], str], words: Mapping[str, str]) -> str:
    """For a terminal: a line per district and reason with the counts that are not zero."""
    lines = []
    for row in report.rows:
        where = district_name(row.district_id) if row.district_id else "—"
        what = f"{row.reason} {reason_name(row.reason)}" if row.reason else "—"
        lines.append(f"{where}, {what}: {_counts(row.counts, words)}")
    lines.append(f"total: {_counts(report.total(), words) or 'nothing'}")
    return "\n".join(lines)


def _counts(counts: Counter[str], words: Mapping[str, str]) -> str:
    return ", ".join(f"{words[c]} {counts[c]}" for c in COLUMNS if counts[c])
