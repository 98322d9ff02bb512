"""Requests end to end through the durable pipeline with the loopback transport.

    python bench/pipeline.py [--residents 50000] [--history 1000000] [--requests 20000]
                             [--database URL]

Each request is stored (committed) by a transport-like producer in batches, decided by the
dispatcher and handed to the transport by the sender. Prints requests per second end to end,
p50/p99 from store to the reply handed to the transport, officers' p99 during the flood, and
peak memory. A figure, not a test: nothing here passes or fails on time.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import resource
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._ledger import fill, officer_phone, resident_phone
from sms_gateway import migrate
from sms_gateway.config import from_dict
from sms_gateway.gateway import Gateway
from sms_gateway.loopback import LoopbackTransport
from sms_gateway.transport import InboundPart, OutboundMessage
from storage.db import checkpoint, make_engine

TEXTS = ("ВЫХОД магазин", "EXIT shop", "vyhod 2", "Выход*3", "выход в аптеку")


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--residents", type=int, default=50_000)
    parser.add_argument("--history", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=100, help="messages per transport read")
    parser.add_argument("--officer-every", type=int, default=500)
    parser.add_argument("--dispatch-batch", type=int, default=500)
    parser.add_argument("--database", help="an SQLAlchemy URL (default: a temporary SQLite)")
    parser.add_argument("--ledger-cache", type=Path,
                        help="an SQLite file: copied as the ledger if it exists, else built and "
                             "kept there for the next run (saves the minute of building)")
    args = parser.parse_args()

    path = Path(tempfile.mkdtemp(prefix="bench-")) / "permits.db"
    url = args.database or f"sqlite:///{path}"
    started = time.perf_counter()
    if args.ledger_cache and args.ledger_cache.exists() and not args.database:
        shutil.copyfile(args.ledger_cache, path)
        with path.open("rb+") as copy:
            os.fsync(copy.fileno())  # flushed now, not by the flood's first checkpoint
        engine = make_engine(url)
        migrate.upgrade(engine)  # a cache built before the latest migration catches up
    else:
        engine = make_engine(url)
        migrate.upgrade(engine)
        fill(engine, args.residents, args.history)
        checkpoint(engine)  # the ledger at rest: its WAL copied in before the flood begins
        if args.ledger_cache and not args.database:
            engine.dispose()  # a checkpointed file, without its WAL
            shutil.copyfile(path, args.ledger_cache)
    print(f"ledger: {args.residents} residents, {args.history} permits in history "
          f"({time.perf_counter() - started:.1f} s to build or copy)")

    handed: dict[str, float] = {}
    lock = threading.Lock()

    def on_send(messages: Sequence[OutboundMessage]) -> None:
        now = time.perf_counter()
        with lock:
            for message in messages:
                handed.setdefault(message.to, now)

    config = from_dict({"database": {"url": url}, "permits": {"replies_per_hour": 1000},
                        "pipeline": {"batch_size": args.dispatch_batch}}, base=Path.cwd())
    transport = LoopbackTransport("bench", on_send=on_send)
    gateway = Gateway(config, engine, [transport])
    gateway.start()

    stored: dict[str, float] = {}
    officers: set[str] = set()
    count = min(args.requests, args.residents)
    flood_started = time.perf_counter()
    officer_n = 0
    for start in range(0, count, args.batch):
        parts = []
        for n in range(start, min(start + args.batch, count)):
            parts.append(InboundPart(transport.channel, resident_phone(n),
                                     TEXTS[n % len(TEXTS)], dt.datetime.now(dt.UTC)))
            if n % args.officer_every == 0:
                phone = officer_phone(officer_n % 10) if officer_n < 10 else None
                if phone and phone not in officers:
                    officers.add(phone)
                    parts.append(InboundPart(transport.channel, phone, "ПРОВЕРКА K7MQ-3DXA",
                                             dt.datetime.now(dt.UTC)))
                officer_n += 1
        now = time.perf_counter()
        transport.inject_parts(parts)
        for part in parts:
            stored[part.sender] = now
    expected = set(stored)
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        with lock:
            if expected <= handed.keys():
                break
        time.sleep(0.01)
    finished = max(handed.values())
    gateway.stop()

    citizens = [handed[s] - stored[s] for s in stored if s not in officers]
    checks = [handed[s] - stored[s] for s in officers]
    elapsed = finished - flood_started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"database: {engine.dialect.name}; every message committed before acknowledgement")
    print(f"requests: {len(citizens)} from {len(citizens)} residents, "
          f"{len(checks)} officers' checks mixed in")
    print(f"throughput: {len(stored) / elapsed:,.0f} requests/s end to end "
          f"({elapsed:.2f} s from first store to last reply handed over)")
    print(f"latency store -> reply handed over: p50 {percentile(citizens, .5) * 1000:.0f} ms, "
          f"p99 {percentile(citizens, .99) * 1000:.0f} ms")
    print(f"officers' checks during the flood: p50 {percentile(checks, .5) * 1000:.0f} ms, "
          f"p99 {percentile(checks, .99) * 1000:.0f} ms")
    print(f"peak memory: {peak_mb:.0f} MB")


if __name__ == "__main__":
    main()
