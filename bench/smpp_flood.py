"""A flood of permit requests over SMPP, end to end, against Kannel and a bare smpplib echo.

    python bench/smpp_flood.py [--requests 10000] [--history 0] [--db sqlite[,postgresql]]
                               [--rounds 3] [--window 50] [--smsc-window 200]
                               [--no-kannel] [--no-echo] [--profile DIR]

Each round, for each database: a fresh ledger with N residents (and `--history` permits of
theirs on earlier days), the real `Gateway` running in this process with an `SmppTransport`
bound to a flooding SMSC in another process (bench/_flood_smsc.py), which sends one request
per resident, Cyrillic and Latin mixed, with at most `--smsc-window` deliver_sm unanswered,
while five officers check permits. Every message is committed before it is acknowledged, as
in production (SQLite WAL, synchronous=FULL; PostgreSQL with fsync and synchronous_commit
on). `postgresql` is a server this bench starts (bench/_nodes_pg.py); a URL names a
throwaway database instead. Then, on the same plan and the same SMSC program: Kannel's echo
(bench/kannel.py) and `bench/smpp_echo_baseline.py`. Printed for each: requests/s from the
first deliver_sm to the last reply, p50/p99 at the SMSC, CPU seconds per 1,000 requests; for
the gateway also the officers' p50/p99, its peak RSS and the time to drain once the SMSC has
written its last request; then the ratios of the same round. `--profile DIR` records each
gateway flood with py-spy (bench/profile_threads.py summarises it per thread).
A figure, not a test: nothing here passes or fails on time.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import itertools
import json
import multiprocessing
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, func, select, text  # noqa: E402

from bench import _flood_ledger, kannel  # noqa: E402
from bench._nodes_pg import BenchPostgres  # noqa: E402
from bench._processes import (  # noqa: E402
    FloodSmsc,
    own_cpu,
    peak_rss_mib,
    reset_peak_rss,
    tree_cpu,
)
from permits.service import Rules  # noqa: E402
from sms_gateway import migrate  # noqa: E402
from sms_gateway.config import Config, from_dict  # noqa: E402
from sms_gateway.gateway import Gateway  # noqa: E402
from sms_gateway.smpp.settings import SmppSettings  # noqa: E402
from sms_gateway.smpp.transport import SmppTransport  # noqa: E402
from storage.db import checkpoint, make_engine  # noqa: E402
from storage.tables.ledger import permits  # noqa: E402
from storage.tables.messages import inbox, outbox  # noqa: E402

ECHO = Path(__file__).with_name("smpp_echo_baseline.py")
OWN_SERVER = "postgresql"  # --db: a PostgreSQL server started by this bench


def gateway_config(url: str, batch: int) -> Config:
    return from_dict(
        {
            "database": {"url": url},
            "districts": [{"id": "kinel", "name": "Кинель", "enabled": True}],
            "pipeline": {"batch_size": batch},
        },
        base=ROOT,
    )


def run_gateway(url: str, plan: Path, args: argparse.Namespace, server: BenchPostgres | None,
                profile: Path | None) -> dict:
    """The flood against the real gateway; the SMSC's figures plus the ledger's, the CPU of
    this process (and of the bench's PostgreSQL server) and this process's peak memory."""
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
    reset_peak_rss()  # this flood's peak, not an earlier one's
    meters = {"gateway": own_cpu(os.getpid())}
    if server and url.startswith(server.url("")):
        meters["postgres"] = lambda: tree_cpu(server.postmaster_pid())
    spy = start_profile(profile) if profile else None
    try:
        result = smsc.go(meters)
    finally:
        if spy:
            spy.send_signal(signal.SIGINT)
            spy.wait(60)
        gateway.stop()
        smsc.close()
    with engine.connect() as conn:
        result["permits"] = conn.scalar(select(func.count()).select_from(permits)) - args.officers
        result["permits"] -= args.history
        result["history"] = args.history
        result["inbox"] = conn.scalar(select(func.count()).select_from(inbox))
        result["outbox_sent"] = conn.scalar(
            select(func.count()).select_from(outbox).where(outbox.c.state == "sent")
        )
    engine.dispose()
    return result | {"rss_peak_mib": peak_rss_mib()}


def start_profile(path: Path) -> subprocess.Popen:
    """py-spy sampling this process, every thread apart, until SIGINT."""
    spy = subprocess.Popen(
        [str(Path(sys.executable).with_name("py-spy")), "record", "--pid", str(os.getpid()),
         "--threads", "--gil", "--rate", "250", "--format", "raw", "--nonblocking",
         "--output",
         str(path)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1.0)  # attached before the flood starts
    return spy


def run_echo(plan: Path) -> dict:
    smsc = FloodSmsc(plan)
    echo = subprocess.Popen([sys.executable, str(ECHO), "--port", str(smsc.port)])
    try:
        smsc.expect("bound")
        return smsc.go({"echo": own_cpu(echo.pid)})
    finally:
        smsc.close()
        echo.terminate()
        echo.wait(10)


def prepare(url: str, args: argparse.Namespace, workdir: Path) -> Path:
    """A fresh ledger and the SMSC's plan for it. Run in a process of its own, so that the
    bench's peak memory is the gateway's, not the million permits it wrote beforehand."""
    engine = make_engine(url)
    migrate.upgrade(engine)
    rules = Rules(gateway_config(url, args.batch).rules)
    traffic = _flood_ledger.fill(
        engine, rules, args.requests, args.officers, dt.datetime.now(dt.UTC), args.history
    )
    if engine.dialect.name == "sqlite":
        checkpoint(engine)  # the ledger at rest before the flood: its WAL copied in
    else:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
    engine.dispose()
    plan = workdir / "plan.json"
    plan.write_text(
        json.dumps(
            {
                **dataclasses.asdict(traffic),
                "check_interval": args.check_interval,
                "chunk": args.chunk,
                "window": args.smsc_window,
                "timeout": args.timeout,
            },
            ensure_ascii=False,
        ),
        encoding="utf-8",
    )
    return plan


def fresh_database(db: str, server: BenchPostgres | None, workdir: Path) -> str:
    """The URL of an empty ledger: a new SQLite file, or a PostgreSQL database made anew."""
    if db == "sqlite":
        return f"sqlite:///{workdir / 'permits.db'}"
    if db != OWN_SERVER:
        return db
    assert server is not None
    admin = create_engine(server.url(), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text("DROP DATABASE IF EXISTS flood WITH (FORCE)"))
        conn.execute(text("CREATE DATABASE flood"))
    admin.dispose()
    return server.url("flood")


# -- the report ------------------------------------------------------------------------------


def ms(seconds: float | None) -> str:
    return "n/a" if seconds is None else f"{seconds * 1000:.0f} ms"


def median(rounds: list[dict], key: str) -> float:
    return statistics.median(r[key] for r in rounds if r[key] is not None)


def spread(rounds: list[dict], key: str = "rate") -> str:
    values = [r[key] for r in rounds]
    return f"{statistics.median(values):,.0f}/s ({min(values):,.0f}-{max(values):,.0f})"


def cpu_per_1000(result: dict) -> str:
    """CPU seconds per 1,000 requests, each party apart."""
    parts = [f"{name} {seconds / result['answered'] * 1000:.2f}"
             for name, seconds in result["cpu"].items()]
    return ", ".join(parts) + f" (SMSC {result['smsc_cpu'] / result['answered'] * 1000:.2f})"


def report_round(number: int, parties: dict[str, dict]) -> None:
    for name, result in parties.items():
        officers = (f", officers p99 {ms(result['check_p99'])} ({result['checks']})"
                    if name.startswith("gateway") else "")
        print(f"  round {number}, {name}: {result['rate']:,.0f} requests/s,"
              f" p50 {ms(result['p50'])}, p99 {ms(result['p99'])}{officers},"
              f" CPU s per 1,000: {cpu_per_1000(result)}", flush=True)


def report_gateway(name: str, rounds: list[dict]) -> None:
    last, n = rounds[-1], rounds[-1]["requests"]
    checks = [g["check_p99"] for g in rounds]
    complete = all(g["complete"] and g["permits"] == g["permit_replies"] == n for g in rounds)
    print(f"\n{name}: {n:,} requests, {last['history']:,} permits in the ledger before")
    print(
        f"  every resident got a permit in every round: {complete}"
        f" (last round: {last['permit_replies']} PROPUSK/PERMIT replies, {last['permits']}"
        f" permits, {last['inbox']} inbox rows, {last['outbox_sent']} outbox rows sent,"
        f" {last['refused']} refused and redelivered, {last['duplicates']} duplicates)"
    )
    print(f"  throughput:          {spread(rounds)} (first deliver_sm -> last reply)")
    print(
        f"  latency p50 / p99:   {ms(median(rounds, 'p50'))} / {ms(median(rounds, 'p99'))}"
        " (deliver_sm written -> its submit_sm read, at the SMSC)"
    )
    print(
        f"  officers' checks:    p50 {ms(median(rounds, 'check_p50'))},"
        f" p99 {ms(median(rounds, 'check_p99'))}"
        f" (p99 {ms(min(checks))}-{ms(max(checks))};"
        f" {last['checks']} checks answered in the last round,"
        f" {sum(g['checks_unanswered'] for g in rounds)} unanswered in all rounds)"
    )
    drains = [g["elapsed"] - g["flood_written"] for g in rounds]
    print(f"  time to drain:       {median(rounds, 'elapsed'):.1f} s in all,"
          f" {statistics.median(drains):.1f} s after the SMSC's last request")
    print(f"  CPU s per 1,000:     {cpu_per_1000(last)} (last round)")
    print(f"  gateway peak RSS:    {max(g['rss_peak_mib'] for g in rounds):.0f} MiB")


def report_yardstick(name: str, rounds: list[dict]) -> None:
    print(f"\n{name}")
    print(f"  throughput:          {spread(rounds)}")
    print(f"  latency p50 / p99:   {ms(median(rounds, 'p50'))} / {ms(median(rounds, 'p99'))}")
    print(f"  CPU s per 1,000:     {cpu_per_1000(rounds[-1])} (last round)")


def ratio(name: str, over: list[dict], under: list[dict], target: str) -> None:
    ratios = [a["rate"] / b["rate"] for a, b in zip(over, under, strict=True)]
    print(f"  {name:<34} {statistics.median(ratios):.2f}x"
          f" (rounds {', '.join(f'{r:.2f}' for r in ratios)}); target {target}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--history", type=int, default=0,
                        help="permits already in the ledger, of the same residents")
    parser.add_argument(
        "--db",
        default="sqlite",
        help="comma-separated: sqlite (a temporary file), postgresql (a durable server the"
        " bench starts), or the URL of a throwaway PostgreSQL database",
    )
    parser.add_argument("--rounds", type=int, default=3, help="every party once a round")
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
    parser.add_argument(
        "--smsc-window",
        type=int,
        default=200,
        help="deliver_sm the SMSC leaves unanswered at most (0: the whole flood at once)",
    )
    parser.add_argument("--timeout", type=float, default=600.0)
    parser.add_argument("--no-kannel", action="store_true")
    parser.add_argument("--no-echo", action="store_true")
    parser.add_argument("--profile", type=Path, help="a folder for py-spy's records")
    parser.add_argument("--keep", action="store_true",
                        help="keep each flood's folder (ledger, plan) to look into afterwards")
    parser.add_argument(
        "--scale",
        action="store_true",
        help="two floods a round on each database: 10,000 requests on an empty ledger, then"
        " 100,000 residents' over 1,000,000 permits (--requests and --history), no yardsticks",
    )
    args = parser.parse_args(argv)
    databases = args.db.split(",")
    floods = [(args.requests, args.history)]
    if args.scale:
        args.no_kannel = args.no_echo = True
        if (args.requests, args.history) == (10_000, 0):
            args.requests, args.history = 100_000, 1_000_000
        floods = [(10_000, 0), (args.requests, args.history)]
    with_kannel = not args.no_kannel and kannel.installed()
    if not args.no_kannel and not with_kannel:
        print(f"Kannel is not installed (run {kannel.SETUP}): measured without it")

    started = time.perf_counter()
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())},"
          f" {os.cpu_count()} CPUs")
    server = BenchPostgres().start() if OWN_SERVER in databases else None
    results: dict[str, list[dict]] = {}
    spawn = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"))
    try:
        for number in range(1, args.rounds + 1):
            parties, workdirs = {}, []
            for db, (requests, history) in itertools.product(databases, floods):
                flood = argparse.Namespace(**vars(args) | {"requests": requests,
                                                           "history": history})
                workdir = Path(tempfile.mkdtemp(prefix="smpp-flood-"))
                workdirs.append(workdir)
                url = fresh_database(db, server, workdir)
                plan = spawn.submit(prepare, url, flood, workdir).result()
                name = f"gateway, {db.split(':')[0]}"
                if args.scale:
                    name += f", {requests:,} requests over {history:,} permits"
                profile = (args.profile / f"{name.replace(', ', '-').replace(' ', '_')}"
                           f"-{number}.txt") if args.profile else None
                parties[name] = run_gateway(url, plan, flood, server, profile)
            if with_kannel:
                parties["Kannel echo"] = kannel.run(plan, args.window)
            if not args.no_echo:
                parties["smpplib echo"] = run_echo(plan)
            report_round(number, parties)
            for workdir in workdirs if not args.keep else ():  # a ledger is up to 1 GB
                shutil.rmtree(workdir, ignore_errors=True)
            for name, result in parties.items():
                results.setdefault(name, []).append(result)
    finally:
        spawn.shutdown()
        if server:
            server.stop()

    print(f"\nSMPP flood: each request from its own resident; submit window {args.window},"
          f" SMSC window {args.smsc_window or 'none'}, batch {args.batch};"
          f" median of {args.rounds} rounds (range)")
    for name, rounds in results.items():
        if name.startswith("gateway"):
            report_gateway(name, rounds)
        else:
            report_yardstick(name, rounds)
    print("\nratios, round by round")
    for name in (n for n in results if n.startswith("gateway")):
        if with_kannel:
            ratio(f"{name} / Kannel", results[name], results["Kannel echo"], ">= 0.5x (0.4x)")
        if not args.no_echo:
            ratio(f"{name} / smpplib echo", results[name], results["smpplib echo"], "-")
    if args.scale:
        for db in databases:
            kind = db.split(":")[0]
            small, large = (results[n] for n in results if n.startswith(f"gateway, {kind},"))
            ratio(f"{kind}: {args.requests:,} over {args.history:,} / 10,000 on none", large,
                  small, ">= 0.8x, peak RSS < 200 MB")
    if {"gateway, sqlite", "gateway, postgresql"} <= results.keys():
        ratio("PostgreSQL / SQLite", results["gateway, postgresql"], results["gateway, sqlite"],
              ">= 0.8x")
    print(f"\nload average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())};"
          f" bench wall time {time.perf_counter() - started:.0f} s")
    return 0 if all(r["complete"] for rounds in results.values() for r in rounds) else 1


if __name__ == "__main__":
    sys.exit(main())
