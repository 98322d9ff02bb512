"""Forgetting on schedule: old permits and checks go, only daily counts stay.

Handled requests are counted by local day, kind, reason and district; officers' checks by
local day, outcome (`check_<outcome>`), and the reason and district of the permit checked
(0 and "" when there was none), so a day's report reads the same after its rows are gone.
Rows are claimed by `DELETE ... RETURNING`, so two nodes purging at once never count a
request twice in `daily_counts`. Temporary residents leave the registry once their last
day is as old as the rest, and they hold no permit the ledger still keeps.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable

from sqlalchemy import Connection, delete, exists, select, update

from storage.dialect import insert_for
from storage.tables.ledger import daily_counts, outcomes, permits, residents, verifications

CHUNK = 20_000
CHECK_KIND = "check_"  # daily_counts.kind of an officer's check: check_valid, check_typo...


def _oldest(table, column, before, limit: int):
    return select(table.c.id).where(column < before).limit(limit).scalar_subquery()


def fold_outcomes(conn: Connection, before_day: dt.date, limit: int = CHUNK) -> int:
    """Turn handled-request rows older than `before_day` into per-day counts."""
    gone = conn.execute(delete(outcomes).where(
        outcomes.c.id.in_(_oldest(outcomes, outcomes.c.local_day, before_day, limit)))
        .returning(outcomes.c.local_day, outcomes.c.kind, outcomes.c.reason,
                   outcomes.c.district_id)).all()
    _count(conn, Counter((day, kind, reason or 0, district or "")
                         for day, kind, reason, district in gone))
    return len(gone)


def purge_permits(conn: Connection, before_day: dt.date, before: dt.datetime,
                  local_day: Callable[[dt.datetime], dt.date],
                  limit: int = CHUNK) -> tuple[int, int]:
    """Fold checks before `before` into per-day counts, and delete permits of local days
    before `before_day`; returns how many of each went."""
    checked = conn.execute(delete(verifications).where(verifications.c.id.in_(
        _oldest(verifications, verifications.c.checked_at, before, limit)))
        .returning(verifications.c.checked_at, verifications.c.outcome,
                   verifications.c.permit_id)).all()
    whose = _reasons_and_districts(conn, {p for _, _, p in checked if p is not None})
    _count(conn, Counter((local_day(at), CHECK_KIND + outcome, *whose.get(permit_id, (0, "")))
                         for at, outcome, permit_id in checked))
    old = select(permits.c.id).where(permits.c.local_day < before_day).limit(limit)
    ids = list(conn.scalars(old))
    if ids:
        conn.execute(update(verifications).where(verifications.c.permit_id.in_(ids))
                     .values(permit_id=None))
        conn.execute(delete(permits).where(permits.c.id.in_(ids)))
    return len(checked), len(ids)


def remove_ended_residents(conn: Connection, before_day: dt.date, limit: int = CHUNK) -> int:
    """Temporary entries whose last day is before `before_day` and that no permit names."""
    ended = (select(residents.c.id)
             .where(residents.c.until < before_day,
                    ~exists().where(permits.c.resident_id == residents.c.id))
             .limit(limit).scalar_subquery())
    return conn.execute(delete(residents).where(residents.c.id.in_(ended))).rowcount


def _reasons_and_districts(conn: Connection, permit_ids: set[int]) -> dict[int, tuple[int, str]]:
    if not permit_ids:
        return {}
    rows = conn.execute(select(permits.c.id, permits.c.reason, residents.c.district_id)
                        .join(residents, residents.c.id == permits.c.resident_id)
                        .where(permits.c.id.in_(sorted(permit_ids))))
    return {permit_id: (reason, district) for permit_id, reason, district in rows}


def _count(conn: Connection, counts: Counter) -> None:
    if not counts:
        return
    stmt = insert_for(conn.dialect, daily_counts)
    conn.execute(stmt.on_conflict_do_update(
        index_elements=[daily_counts.c.local_day, daily_counts.c.kind,
                        daily_counts.c.reason, daily_counts.c.district_id],
        set_={"count": daily_counts.c.count + stmt.excluded.count}),
        [{"local_day": d, "kind": k, "reason": r, "district_id": s, "count": n}
         for (d, k, r, s), n in counts.items()])
