"""Bench set-up: a ledger with many residents and a long permit history, written fast."""

from __future__ import annotations

import datetime as dt
import random

from sqlalchemy import Engine, insert

from permits import codes
from storage.tables.ledger import districts, officers, permits, residents

CHUNK = 20_000


def resident_phone(n: int) -> str:
    return f"+7927{n:07d}"


def officer_phone(n: int) -> str:
    return f"+7937{n:07d}"


def fill(engine: Engine, residents_count: int, history: int, officers_count: int = 10) -> None:
    """`residents_count` residents in Kinel and `history` permits spread over the past year."""
    now = dt.datetime.now(dt.UTC)
    with engine.begin() as conn:
        conn.execute(insert(districts), [{"id": "kinel", "name": "Кинель", "regime": "on"}])
        for start in range(0, residents_count, CHUNK):
            conn.execute(insert(residents), [
                {"phone": resident_phone(n), "name": f"Житель {n}", "district_id": "kinel",
                 "document": None, "self_registered": False, "created_at": now}
                for n in range(start, min(start + CHUNK, residents_count))])
        conn.execute(insert(officers), [
            {"phone": officer_phone(n), "name": f"Офицер {n}", "active": True, "created_at": now}
            for n in range(officers_count)])
    fill_history(engine, residents_count, history, now)


def fill_history(engine: Engine, residents_count: int, history: int, now: dt.datetime) -> None:
    """`history` permits of residents 1..`residents_count` (by id), two a day on the days
    before today, written a chunk per transaction."""
    rng = random.Random(7)
    seen: set[str] = set()
    for start in range(0, history, CHUNK):
        rows = []
        for index in range(start, min(start + CHUNK, history)):
            code = codes.generate()
            while code in seen:
                code = codes.generate()
            seen.add(code)
            # the day first, then a time within it: a time counted back from `now` could
            # fall on the day before and give a resident that day's slot twice
            day = now.date() - dt.timedelta(days=1 + index // (residents_count * 2))
            issued = (dt.datetime.combine(day, dt.time(8), dt.UTC)
                      + dt.timedelta(minutes=rng.randrange(600)))
            rows.append({"code": code, "keypad": codes.keypad(code),
                         "resident_id": 1 + index % residents_count,
                         "local_day": day, "slot": 1 + (index // residents_count) % 2,
                         "reason": 1 + index % 5, "issued_at": issued, "valid_from": issued,
                         "valid_until": issued + dt.timedelta(hours=1), "state": "issued",
                         "issued_by": "sms"})
        with engine.begin() as conn:
            conn.execute(insert(permits), rows)
