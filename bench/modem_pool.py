"""Replies per minute through a GSM modem pool of 1, 4 and 16 simulated modems.

    python bench/modem_pool.py [--requests 60] [--send-delay 3] [--pools 1,4,16]

For each pool size: a fresh ledger with `--requests` residents, the real `Gateway` and
`ModemTransport` over real ptys to `SimModem`s that each take `--send-delay` seconds per SMS
(a real network's pace), and a burst of requests injected round-robin over the modems' SIMs.
The clock runs from the first injection until the last reply reached a simulator.  A modem
sends one SMS at a time, so the ceiling is `modems * 60 / send-delay` replies a minute; the
scaling ratio compares each pool with one modem.  Figures, not a test: nothing fails on time.

The gateway runs one sender per modem, each claiming one reply at a time, so no modem idles
while replies wait.
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

# Run as a script: make `bench`, `sms_gateway` and `tools` importable.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._ledger import fill, resident_phone
from sms_gateway import migrate
from sms_gateway.config import from_dict
from sms_gateway.gateway import Gateway
from sms_gateway.modem.settings import ModemPoolSettings, ModemSettings
from sms_gateway.modem.transport import ModemTransport
from storage.db import make_engine
from tools.sim_modem import SimModem
from tools.waiting import wait_for

ROOT = Path(__file__).resolve().parent.parent
TEXTS = ("ВЫХОД магазин", "EXIT shop", "vyhod 2", "Выход*3", "выход в аптеку")


@dataclass(frozen=True)
class Run:
    modems: int
    requests: int
    first_reply: float  # seconds from the first injection
    elapsed: float  # seconds until the last reply reached a simulator
    busiest: int  # most SMS one modem sent
    idlest: int  # fewest SMS one modem sent

    @property
    def per_minute(self) -> float:
        return self.requests / self.elapsed * 60



def database(workdir: Path, modems: int, residents: int) -> str:
    """A fresh SQLite ledger per pool size, so no run sees another's permits."""
    url = f"sqlite:///{workdir / f'permits-{modems}.db'}"
    engine = make_engine(url)
    migrate.upgrade(engine)
    fill(engine, residents, 0)
    engine.dispose()
    return url


def run_pool(modems: int, args: argparse.Namespace, workdir: Path) -> Run:
    url = database(workdir, modems, args.requests)
    config = from_dict({"database": {"url": url}, "permits": {"replies_per_hour": 1000}}, base=ROOT)
    capacity = max(30, args.requests)  # a burst on one SIM must not be rejected as "full"
    sims = [
        SimModem(
            workdir / f"pool{modems}-modem{i}",
            capacity=capacity,
            send_delay=args.send_delay,
            seed=i,
        ).start()
        for i in range(modems)
    ]
    settings = ModemPoolSettings(
        "pool",
        tuple(ModemSettings(f"m{i}", sim.device, poll_seconds=5.0) for i, sim in enumerate(sims)),
    )
    transport = ModemTransport(settings)
    engine = make_engine(url)
    gateway = Gateway(config, engine, [transport])
    try:
        gateway.start()
        wait_for(lambda: transport.health().details.get("healthy") == modems, 30, "modems up")
        started = time.perf_counter()
        for n in range(args.requests):
            sims[n % modems].inject(resident_phone(n), TEXTS[n % len(TEXTS)])
        first: list[float] = []

        def sent() -> int:
            total = sum(len(sim.sent()) for sim in sims)
            if total and not first:
                first.append(time.perf_counter() - started)
            return total

        ceiling = args.requests * (args.send_delay + 1) * 2 + 60
        wait_for(lambda: sent() >= args.requests, ceiling, "every reply")
        elapsed = time.perf_counter() - started
        counts = [len(sim.sent()) for sim in sims]
    finally:
        gateway.stop()
        engine.dispose()
        for sim in sims:
            sim.stop()
    return Run(
        modems, args.requests, first[0] if first else elapsed, elapsed, max(counts), min(counts)
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=60)
    parser.add_argument("--send-delay", type=float, default=3.0, help="seconds per SMS sent")
    parser.add_argument("--pools", default="1,4,16", help="pool sizes, comma separated")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    sizes = [int(size) for size in args.pools.split(",")]
    print(
        f"{args.requests} requests per pool, {args.send_delay:g} s per SMS sent, "
        "SQLite, one single-part reply each, one sender per modem"
    )
    print(
        f"{'modems':>6} {'seconds':>8} {'1st reply':>9} {'replies/min':>11} "
        f"{'ceiling/min':>11} {'of ceiling':>10} {'per modem':>10} {'vs first':>8}"
    )
    runs: list[Run] = []
    with tempfile.TemporaryDirectory(prefix="bench-modem-") as tmp:
        for size in sizes:
            run = run_pool(size, args, Path(tmp))
            runs.append(run)
            ceiling = size * 60 / args.send_delay
            base = runs[0].per_minute
            print(
                f"{size:>6} {run.elapsed:>8.1f} {run.first_reply:>8.1f}s "
                f"{run.per_minute:>11.1f} {ceiling:>11.1f} {run.per_minute / ceiling:>9.0%} "
                f"{run.idlest:>4}-{run.busiest:<5} {run.per_minute / base:>7.1f}x",
                flush=True,
            )
    if len(runs) > 1:
        first, last = runs[0], runs[-1]
        print(
            f"scaling {first.modems} -> {last.modems} modems: "
            f"{last.per_minute / first.per_minute:.1f}x "
            f"(ideal {last.modems / first.modems:.0f}x)"
        )


if __name__ == "__main__":
    main()
