"""How long the console's residents list takes on a large registry: pages in name order (by
key, never OFFSET) and each kind of search, read as the page reads them (web.roster).

    python bench/residents_list.py --residents 1000000 [--url postgresql://...]

Prints figures; passes or fails nothing. The registry is imported through
permits.registry.import_residents, as an operator's CSV would be.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from permits import registry
from sms_gateway import migrate
from sms_gateway.web import roster
from storage.db import READ_ONLY, make_engine

SURNAMES = ("Иванов", "Смирнов", "Кузнецов", "Попов", "Васильев", "Петров", "Соколов",
            "Михайлов", "Новиков", "Фёдоров", "Морозов", "Волков", "Алексеев", "Лебедев")
GIVEN = ("Иван", "Пётр", "Анна", "Ольга", "Сергей", "Мария", "Дмитрий", "Елена")
DISTRICTS = {"kinel": ("Кинель", "Kinel"), "samara": ("Самара", "Samara"),
             "tolyatti": ("Тольятти", "Tolyatti")}


def build(url: str, count: int) -> None:
    engine = make_engine(url)
    migrate.upgrade(engine)
    now = dt.datetime.now(dt.UTC)
    with engine.begin() as conn:
        registry.sync_districts(conn, [(i, n[0], True) for i, n in DISTRICTS.items()],
                                dt.datetime.now(dt.UTC))
    ids = list(DISTRICTS)
    for start in range(0, count, 100_000):
        rows = "".join(
            f"+7927{i:07d},{SURNAMES[i % 14]} {GIVEN[i // 14 % 8]} {i:07d},{ids[i % 3]}\n"
            for i in range(start, min(start + 100_000, count)))
        with engine.begin() as conn:
            registry.import_residents(conn, io.StringIO("phone,name,district\n" + rows), "RU",
                                      now)
    engine.dispose()


def timed(engine, wanted: roster.Wanted, after: int | None = None,
          repeat: int = 5) -> tuple[float, int]:
    times, found = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        with engine.connect().execution_options(**READ_ONLY) as conn, conn.begin():
            found = roster.residents_page(conn, wanted, "RU", DISTRICTS, after)
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000, len(found.rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--residents", type=int, default=1_000_000)
    parser.add_argument("--url", help="a database to fill (default: a temporary SQLite file)")
    args = parser.parse_args()
    url = args.url or f"sqlite:///{tempfile.mkdtemp()}/residents.db"
    started = time.perf_counter()
    build(url, args.residents)
    print(f"imported {args.residents:,} residents in {time.perf_counter() - started:.0f} s")
    engine = make_engine(url)
    middle = args.residents // 2
    cases = [
        ("first page, all", roster.Wanted(), None),
        ("a page in the middle", roster.Wanted(), middle),
        ("first page, one district", roster.Wanted(district="samara"), None),
        ("a whole phone number", roster.Wanted(f"+7927{middle:07d}"), None),
        ("a common name (one in 14)", roster.Wanted("смирнов"), None),
        ("a name that no one has (reads every name)", roster.Wanted("Щукин"), None),
        ("last digits of a number", roster.Wanted(f"{middle:07d}"[-5:]), None),
    ]
    print("| list or search | ms (median of 5) | rows |")
    print("|---|---|---|")
    for label, wanted, after in cases:
        ms, rows = timed(engine, wanted, after)
        print(f"| {label} | {ms:.1f} | {rows} |")


if __name__ == "__main__":
    main()
