"""A flood of permit requests over SMPP, end to end, against a bare smpplib echo client.

    python bench/smpp_flood.py [--requests 10000] [--db sqlite|postgresql://...] [--officers 5]
                               [--check-interval 0.05] [--window 50] [--no-baseline]

A temporary SQLite ledger (or the given, empty, PostgreSQL database) gets N residents; the
real `Gateway` runs here with an `SmppTransport` bound to a flooding SMSC in another process
(bench/_flood_smsc.py), which sends one request per resident at once, Cyrillic and Latin mixed,
while a few officers check permits. Every message is committed before it is acknowledged, as
in production (SQLite WAL, synchronous=FULL). The SMSC measures: requests/s from the first
deliver_sm to the last reply, p50/p99 from each deliver_sm to its reply, officers' p99.
Then the same SMSC floods `bench/smpp_echo_baseline.py`, and the ratio is printed.
A figure, not a test: nothing here passes or fails on time.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select, text  # noqa: E402

from bench import _flood_ledger  # noqa: E402
from permits.service import Rules  # noqa: E402
from sms_gateway import migrate  # noqa: E402
from sms_gateway.config import Config, from_dict  # noqa: E402
from sms_gateway.gateway import Gateway  # noqa: E402
from sms_gateway.smpp.settings import SmppSettings  # noqa: E402
from sms_gateway.smpp.transport import SmppTransport  # noqa: E402
from storage.db import make_engine  # noqa: E402
from storage.tables import metadata  # noqa: E402
from storage.tables.ledger import permits  # noqa: E402
from storage.tables.messages import inbox, outbox  # noqa: E402

SMSC = Path(__file__).with_name("_flood_smsc.py")
ECHO = Path(__file__).with_name("smpp_echo_baseline.py")


class FloodSmsc:
    """bench/_flood_smsc.py in a subprocess, driven by JSON lines."""

    def __init__(self, plan: Path, *extra: str, script: Path = SMSC) -> None:
        self.process = subprocess.Popen(
            [sys.executable, str(script), str(plan), *extra],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            encoding="utf-8",
        )
        self.port = self.expect("listening")["port"]

    def expect(self, event: str) -> dict:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            message = json.loads(line)
            if message["event"] == event:
                return message
        raise RuntimeError(f"flood SMSC ended before {event!r}")

    def start(self) -> None:
        """Flood now."""
        assert self.process.stdin is not None
        self.process.stdin.write("go\n")
        self.process.stdin.flush()

    def go(self) -> dict:
        """Flood now; the result once every request and check was answered."""
        self.start()
        return self.expect("result")

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(30)


def memory_kib(field: str) -> int:
    """VmRSS (now) or VmHWM (peak) of this process, the gateway's, in KiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def gateway_config(url: str, batch: int) -> Config:
    return from_dict(
        {
            "database": {"url": url},
            "districts": [{"id": "kinel", "name": "Кинель", "enabled": True}],
            "pipeline": {"batch_size": batch},
        },
        base=ROOT,
    )


def run_gateway(url: str, plan: Path, args: argparse.Namespace) -> dict:
    """The flood against the real gateway; the SMSC's figures plus the ledger's and memory."""
    engine = make_engine(url)
    smsc = FloodSmsc(plan)
    settings = SmppSettings(
        name="flood",
        host="127.0.0.1",
        port=smsc.port,
        system_id="gateway",
        password="secret",
        source_addr="377",
        source_ton=3,
        window=args.window,
        response_timeout_seconds=30.0,
    )
    gateway = Gateway(gateway_config(url, args.batch), engine, [SmppTransport(settings)])
    gateway.start()
    smsc.expect("bound")
    rss_before = memory_kib("VmRSS")
    try:
        result = smsc.go()
    finally:
        gateway.stop()
        smsc.close()
    with engine.connect() as conn:
        result["permits"] = conn.scalar(select(func.count()).select_from(permits)) - args.officers
        result["inbox"] = conn.scalar(select(func.count()).select_from(inbox))
        result["outbox_sent"] = conn.scalar(
            select(func.count()).select_from(outbox).where(outbox.c.state == "sent")
        )
    engine.dispose()
    peak = memory_kib("VmHWM")
    return result | {"rss_before_mib": rss_before / 1024, "rss_peak_mib": peak / 1024}


def run_baseline(plan: Path) -> dict:
    smsc = FloodSmsc(plan)
    echo = subprocess.Popen([sys.executable, str(ECHO), "--port", str(smsc.port)])
    try:
        smsc.expect("bound")
        return smsc.go()
    finally:
        smsc.close()
        echo.terminate()
        echo.wait(10)


def ms(seconds: float | None) -> str:
    return "n/a" if seconds is None else f"{seconds * 1000:.0f} ms"


def median(rounds: list[dict], key: str) -> float:
    return statistics.median(r[key] for r in rounds if r[key] is not None)


def report_round(number: int, gateway: dict, baseline: dict | None) -> None:
    echo = f", echo {baseline['rate']:.0f}/s" if baseline else ""
    print(
        f"  round {number}: {gateway['rate']:.0f} requests/s, p50 {ms(gateway['p50'])},"
        f" p99 {ms(gateway['p99'])}, officers p99 {ms(gateway['check_p99'])}"
        f" ({gateway['checks']}), {gateway['permit_replies']} permit replies,"
        f" {gateway['permits']} permits{echo}",
        flush=True,
    )


def report(args: argparse.Namespace, db: str, gateways: list[dict], baselines: list[dict]) -> None:
    n, last = gateways[0]["requests"], gateways[-1]
    print(
        f"\nSMPP flood: {n} requests from {n} residents at once, {db}, window {args.window},"
        f" batch {args.batch}, {os.cpu_count()} CPUs, median of {len(gateways)} rounds"
    )
    complete = all(g["complete"] and g["permits"] == g["permit_replies"] == n for g in gateways)
    print(
        f"  every resident got a permit in every round: {complete}"
        f" (last round: {last['permit_replies']} PROPUSK/PERMIT replies, {last['permits']}"
        f" permits, {last['inbox']} inbox rows, {last['outbox_sent']} outbox rows sent,"
        f" {last['refused']} refused and redelivered, {last['duplicates']} duplicates)"
    )
    print(
        f"  throughput:          {median(gateways, 'rate'):.0f} requests/s"
        f" (first deliver_sm -> last reply; range {min(g['rate'] for g in gateways):.0f}"
        f"-{max(g['rate'] for g in gateways):.0f})"
    )
    print(
        f"  latency p50 / p99:   {ms(median(gateways, 'p50'))} / {ms(median(gateways, 'p99'))}"
        " (deliver_sm written -> its submit_sm read, at the SMSC)"
    )
    print(
        f"  officers' checks:    p50 {ms(median(gateways, 'check_p50'))},"
        f" p99 {ms(median(gateways, 'check_p99'))}"
        f" ({last['checks']} checks in the last round; e.g. {last['check_sample']})"
    )
    print(
        f"  gateway RSS:         peak {max(g['rss_peak_mib'] for g in gateways):.0f} MiB"
        f" ({gateways[0]['rss_before_mib']:.0f} MiB before the first flood)"
    )
    if baselines:
        ratios = [g["rate"] / b["rate"] for g, b in zip(gateways, baselines, strict=True)]
        print(
            f"  bare smpplib echo:   {median(baselines, 'rate'):.0f} requests/s"
            f" (p50 {ms(median(baselines, 'p50'))}, p99 {ms(median(baselines, 'p99'))})"
        )
        print(
            f"  gateway / echo:      {statistics.median(ratios):.0%}"
            f" (range {min(ratios):.0%}-{max(ratios):.0%})"
        )


def prepare(args: argparse.Namespace, workdir: Path) -> tuple[str, Path]:
    """A fresh ledger (a new SQLite file, or the PostgreSQL schema dropped and made again)
    and the SMSC's plan for it."""
    if args.db == "sqlite":
        url = f"sqlite:///{workdir / 'permits.db'}"
    else:
        url = args.db
        engine = make_engine(url)
        metadata.drop_all(engine)
        with engine.begin() as conn:
            conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
        engine.dispose()
    engine = make_engine(url)
    migrate.upgrade(engine)
    rules = Rules(gateway_config(url, args.batch).rules)
    traffic = _flood_ledger.fill(
        engine, rules, args.requests, args.officers, dt.datetime.now(dt.UTC)
    )
    engine.dispose()
    plan = workdir / "plan.json"
    plan.write_text(
        json.dumps(
            {
                **dataclasses.asdict(traffic),
                "check_interval": args.check_interval,
                "chunk": args.chunk,
                "timeout": args.timeout,
            },
            ensure_ascii=False,
        ),
        encoding="utf-8",
    )
    return url, plan


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument(
        "--db",
        default="sqlite",
        help="sqlite (a temporary file), or the URL of a throwaway PostgreSQL"
        " database: its tables are dropped and made again every round",
    )
    parser.add_argument("--rounds", type=int, default=3, help="gateway and echo runs, alternated")
    parser.add_argument("--officers", type=int, default=5)
    parser.add_argument(
        "--check-interval",
        type=float,
        default=0.05,
        help="seconds between two officers' checks during the flood",
    )
    parser.add_argument("--window", type=int, default=50, help="SMPP submit window")
    parser.add_argument("--batch", type=int, default=500, help="[pipeline] batch_size")
    parser.add_argument("--chunk", type=int, default=64, help="deliver_sm per SMSC write")
    parser.add_argument("--timeout", type=float, default=600.0)
    parser.add_argument("--no-baseline", action="store_true")
    args = parser.parse_args(argv)

    started = time.perf_counter()
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    gateways, baselines = [], []
    for number in range(1, args.rounds + 1):
        url, plan = prepare(args, Path(tempfile.mkdtemp(prefix="smpp-flood-")))
        gateways.append(run_gateway(url, plan, args))
        if not args.no_baseline:
            baselines.append(run_baseline(plan))
        report_round(number, gateways[-1], baselines[-1] if baselines else None)
    report(
        args,
        "SQLite (WAL, synchronous=FULL)" if args.db == "sqlite" else "PostgreSQL",
        gateways,
        baselines,
    )
    print(f"  (bench wall time {time.perf_counter() - started:.0f} s; last ledger: {url})")
    return 0 if all(g["complete"] for g in gateways) else 1


if __name__ == "__main__":
    sys.exit(main())
