"""What hostile input costs at the boundary (issue 12), on SQLite or PostgreSQL.

    python bench/boundary.py batch  [--postgresql] [--size 1000] [--rounds 5]
    python bench/boundary.py texts  [--postgresql] [--texts 40]
    python bench/boundary.py import [--rows 350000]

* `batch`: storing a batch of `--size` parts of which 0, 1 or 10 are refused by the database
  (a CHECK constraint stands in for a refusal the gate did not foresee): the split under
  savepoints the inbox does, next to splitting into fresh transactions (one per half).
* `texts`: one dispatcher batch holding `--texts` requests of "EXIT" plus 9,000 words (60 KB)
  and an officer's check: how long the batch holds the write transaction.
* `import`: a registry import of `--rows` residents (SQLite) while a transport stores one SMS
  every 10 ms: the longest and p99 wait of those stores, the import in chunks (as the CLI and
  the console run it) and in one transaction (as before).

Figures, not tests: nothing here passes or fails on time.
"""

from __future__ import annotations

import argparse
import atexit
import datetime as dt
import io
import logging
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import Engine, create_engine, text

from bench._ledger import fill, officer_phone, resident_phone
from bench._nodes_pg import BenchPostgres
from permits import registry
from permits.service import Rules
from sms_gateway import migrate
from sms_gateway.config import from_dict
from sms_gateway.pipeline.dispatcher import Dispatcher
from sms_gateway.pipeline.gate import Refused
from sms_gateway.pipeline.inbox import Inbox
from sms_gateway.pipeline.store_errors import is_content_failure
from sms_gateway.transport import InboundPart
from storage.db import make_engine, transaction

CHANNEL = "loopback:bench"


def fresh(postgresql: bool = False) -> Engine:
    """A migrated database: a temporary SQLite file, or a durable PostgreSQL of its own."""
    if postgresql:
        server = BenchPostgres().start()
        atexit.register(server.stop)
        admin = create_engine(server.url(), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text("CREATE DATABASE bench"))
        url = server.url("bench")
    else:
        url = f"sqlite:///{Path(tempfile.mkdtemp(prefix='bench-')) / 'permits.db'}"
    engine = make_engine(url)
    atexit.register(engine.dispose)  # before the server stops (atexit runs in reverse)
    migrate.upgrade(engine)
    return engine


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


# -- batch -----------------------------------------------------------------------------------


def split_in_transactions(inbox: Inbox, parts: list[InboundPart]) -> list[Refused]:
    """The alternative to savepoints: every half in a transaction (and an fsync) of its own."""
    try:
        with transaction(inbox.engine) as conn:
            inbox._store_in(conn, parts)
        return []
    except Exception as exc:
        if not is_content_failure(exc):
            raise
        if len(parts) == 1:
            return [Refused(parts[0], "refused")]
    middle = len(parts) // 2
    return (split_in_transactions(inbox, parts[:middle])
            + split_in_transactions(inbox, parts[middle:]))


def bench_batch(args: argparse.Namespace) -> None:
    engine = fresh(args.postgresql)
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("ALTER TABLE inbox ADD CONSTRAINT poison CHECK (text <> 'POISON')"))
        else:
            conn.execute(text("CREATE TRIGGER poison BEFORE INSERT ON inbox WHEN NEW.text ="
                              " 'POISON' BEGIN SELECT RAISE(ABORT, 'poison'); END"))
    inbox = Inbox(engine)
    print(f"database: {engine.dialect.name}; a batch of {args.size} parts, median of "
          f"{args.rounds} rounds")
    serial = iter(range(10**9))
    for culprits in (0, 1, 10):
        for name, store in (("savepoints", inbox.store),
                            ("fresh transactions", lambda p: split_in_transactions(inbox, p))):
            times = []
            for _ in range(args.rounds):
                poison = set(range(0, args.size, args.size // culprits)) if culprits else set()
                parts = [InboundPart(CHANNEL, resident_phone(next(serial)),
                                     "POISON" if n in poison else "EXIT 1",
                                     dt.datetime.now(dt.UTC)) for n in range(args.size)]
                started = time.perf_counter()
                store(parts)
                times.append(time.perf_counter() - started)
            print(f"  {culprits:>2} refused, {name:<18}: {statistics.median(times) * 1000:7.1f} ms")
            if not culprits:
                break  # no split: both are the same single transaction


# -- texts -----------------------------------------------------------------------------------


def bench_texts(args: argparse.Namespace) -> None:
    engine = fresh(args.postgresql)
    fill(engine, 1000, 0)
    config = from_dict({"database": {"url": engine.url.render_as_string(False)}},
                       base=Path.cwd())
    inbox = Inbox(engine)
    flood = "EXIT " + " ".join(f"слово{n}" for n in range(9000))
    now = dt.datetime.now(dt.UTC)
    # Each text its own (a flood of one text is parsed once and cached).
    inbox.store([InboundPart(CHANNEL, resident_phone(n), f"{flood} {n}", now)
                 for n in range(args.texts)]
                + [InboundPart(CHANNEL, officer_phone(0), "ПРОВЕРКА K7MQ-3DXA", now)])
    dispatcher = Dispatcher(engine, Rules(config.rules), batch_size=500)
    started = time.perf_counter()
    handled = dispatcher.run_once().messages + dispatcher.run_once().messages
    elapsed = time.perf_counter() - started
    print(f"database: {engine.dialect.name}; {args.texts} texts of {len(flood.encode()):,} bytes"
          f" and an officer's check: {handled} handled in {elapsed * 1000:.0f} ms")


# -- import ----------------------------------------------------------------------------------


def bench_import(args: argparse.Namespace) -> None:
    rows = "phone,name,district\n" + "".join(
        f"{resident_phone(n)},Житель {n},kinel\n" for n in range(args.rows))
    print(f"database: sqlite; {args.rows:,} rows ({len(rows) / 1e6:.1f} MB) while one SMS is"
          " stored every 10 ms")
    for form in ("in chunks", "one transaction"):
        engine = fresh()
        fill(engine, 0, 0)
        waits: list[float] = []
        done = threading.Event()

        def sms(engine: Engine = engine, waits: list[float] = waits,
                done: threading.Event = done) -> None:
            inbox, n = Inbox(engine), 0
            while not done.is_set():
                started = time.perf_counter()
                inbox.store([InboundPart(CHANNEL, officer_phone(n % 10), "EXIT 1",
                                         dt.datetime.now(dt.UTC))])
                waits.append(time.perf_counter() - started)
                n += 1
                time.sleep(0.01)

        thread = threading.Thread(target=sms)
        thread.start()
        started = time.perf_counter()
        if form == "in chunks":
            registry.import_residents(engine, io.StringIO(rows), "RU", dt.datetime.now(dt.UTC))
        else:
            with engine.begin() as conn:
                registry.import_residents(conn, io.StringIO(rows), "RU", dt.datetime.now(dt.UTC))
        elapsed = time.perf_counter() - started
        done.set()
        thread.join()
        print(f"  {form:<15}: import {elapsed:5.1f} s; {len(waits)} SMS stored meanwhile, wait "
              f"p50 {percentile(waits, .5) * 1000:.0f} ms, p99 {percentile(waits, .99) * 1000:.0f}"
              f" ms, longest {max(waits) * 1000:.0f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", choices=("batch", "texts", "import"))
    parser.add_argument("--postgresql", action="store_true",
                        help="a durable PostgreSQL started for the run (default: SQLite)")
    parser.add_argument("--size", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--texts", type=int, default=40)
    parser.add_argument("--rows", type=int, default=350_000)
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)  # the gate's and the inbox's warnings are expected
    {"batch": bench_batch, "texts": bench_texts, "import": bench_import}[args.what](args)


if __name__ == "__main__":
    main()
