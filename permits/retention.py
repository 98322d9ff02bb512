"""Forgetting on schedule: old permits and checks go, only daily counts stay.

Rows are claimed by `DELETE ... RETURNING`, so two nodes purging at once never count a
request twice in `daily_counts`.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter

from sqlalchemy import Connection, delete, select, update

from storage.dialect import insert_for
from storage.tables.ledger import daily_counts, outcomes, permits, verifications

CHUNK = 20_000


def _oldest(table, column, before, limit: int):
    return select(table.c.id).where(column < before).limit(limit).scalar_subquery()


def fold_outcomes(conn: Connection, before_day: dt.date, limit: int = CHUNK) -> int:
    """Turn handled-request rows older than `before_day` into per-day counts."""
    gone = conn.execute(delete(outcomes).where(
        outcomes.c.id.in_(_oldest(outcomes, outcomes.c.local_day, before_day, limit)))
        .returning(outcomes.c.local_day, outcomes.c.kind, outcomes.c.reason,
                   outcomes.c.district_id)).all()
    counts = Counter((day, kind, reason or 0, district or "") for day, kind, reason, district
                     in gone)
    if counts:
        stmt = insert_for(conn.dialect, daily_counts)
        conn.execute(stmt.on_conflict_do_update(
            index_elements=[daily_counts.c.local_day, daily_counts.c.kind,
                            daily_counts.c.reason, daily_counts.c.district_id],
            set_={"count": daily_counts.c.count + stmt.excluded.count}),
            [{"local_day": d, "kind": k, "reason": r, "district_id": s, "count": n}
             for (d, k, r, s), n in counts.items()])
    return len(gone)


def purge_permits(conn: Connection, before_day: dt.date, before: dt.datetime,
                  limit: int = CHUNK) -> int:
    """Delete checks before `before` and permits of local days before `before_day`."""
    conn.execute(delete(verifications).where(verifications.c.id.in_(
        _oldest(verifications, verifications.c.checked_at, before, limit))))
    old = select(permits.c.id).where(permits.c.local_day < before_day).limit(limit)
    ids = list(conn.scalars(old))
    if not ids:
        return 0
    conn.execute(update(verifications).where(verifications.c.permit_id.in_(ids))
                 .values(permit_id=None))
    conn.execute(delete(permits).where(permits.c.id.in_(ids)))
    return len(ids)
