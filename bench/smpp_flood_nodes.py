"""The SMPP flood on PostgreSQL with one gateway node, then with two, on one server.

    python bench/smpp_flood_nodes.py [--requests 10000] [--rounds 3] [--window 50]
                                     [--batch 500] [--no-fsync]

Each round makes a fresh ledger (N residents in Kinel) on a PostgreSQL server this script
starts (fsync on, as in production), then runs `permit-gateway run --node NAME --no-web` once
as one process and once as two, each node bound to the flooding SMSC (bench/_nodes_smsc.py,
its own process) with one transceiver of the same connection group `smpp:flood`. The SMSC
writes one request per resident at once, spread over the binds, and measures requests/s from
the first deliver_sm to the last reply. CPU seconds of every part (nodes, PostgreSQL, SMSC)
and the machine's idle time are sampled around the flood, so the figure says where the
machine's cores went. A figure, not a test: nothing here passes or fails on time.
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

from sqlalchemy import create_engine, func, select, text  # noqa: E402

from bench import _flood_ledger  # noqa: E402
from bench._nodes_pg import BenchPostgres  # noqa: E402
from bench._processes import FloodSmsc, machine_busy, own_cpu, tree_cpu  # noqa: E402
from permits.service import Rules  # noqa: E402
from sms_gateway import migrate  # noqa: E402
from sms_gateway.config import from_dict  # noqa: E402
from storage.db import make_engine  # noqa: E402
from storage.tables.ledger import permits  # noqa: E402
from storage.tables.messages import inbox, nodes  # noqa: E402

SMSC = Path(__file__).with_name("_nodes_smsc.py")


def flood_smsc(plan: Path, binds: int) -> FloodSmsc:
    """bench/_nodes_smsc.py in a subprocess, driven by JSON lines like the one-node flood."""
    return FloodSmsc(plan, str(binds), script=SMSC)


def node_config(workdir: Path, url: str, port: int, args: argparse.Namespace) -> Path:
    path = workdir / "node.toml"
    path.write_text(
        f'[database]\nurl = "{url}"\n[pipeline]\nbatch_size = {args.batch}\n'
        '[[districts]]\nid = "kinel"\nname = "Кинель"\nenabled = true\n'
        f'[[smpp]]\nname = "flood"\nhost = "127.0.0.1"\nport = {port}\nsystem_id = "gateway"\n'
        f'password = "secret"\nsource_addr = "377"\nsource_ton = 3\nwindow = {args.window}\n'
        'response_timeout_seconds = 30.0\n', encoding="utf-8")
    return path


def prepare(server: BenchPostgres, args: argparse.Namespace, workdir: Path) -> tuple[str, Path]:
    """A fresh database with N residents, and the SMSC's plan."""
    admin = create_engine(server.url(), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text("DROP DATABASE IF EXISTS flood WITH (FORCE)"))
        conn.execute(text("CREATE DATABASE flood"))
    admin.dispose()
    url = server.url("flood")
    engine = make_engine(url)
    migrate.upgrade(engine)
    config = from_dict({"database": {"url": url},
                        "districts": [{"id": "kinel", "name": "Кинель", "enabled": True}]},
                       base=ROOT)
    # One officer (fill needs at least one); the multi-bind SMSC sends no checks, so the
    # figure is the flood alone. The officer's checked resident holds one permit already.
    traffic = _flood_ledger.fill(engine, Rules(config.rules), args.requests, 1,
                                 dt.datetime.now(dt.UTC))
    engine.dispose()
    plan = workdir / "plan.json"
    plan.write_text(json.dumps({**dataclasses.asdict(traffic), "chunk": 64,
                                "timeout": args.timeout}, ensure_ascii=False), encoding="utf-8")
    return url, plan


def run(server: BenchPostgres, count: int, args: argparse.Namespace) -> dict:
    """One flood against `count` nodes; the SMSC's figures plus CPU seconds per part."""
    workdir = Path(tempfile.mkdtemp(prefix=f"nodes-{count}-"))
    url, plan = prepare(server, args, workdir)
    smsc = flood_smsc(plan, count)
    config = node_config(workdir, url, smsc.port, args)
    gateways = []
    for n in range(count):
        log = (workdir / f"node{n + 1}.log").open("w")
        gateways.append(subprocess.Popen(
            [sys.executable, "-m", "sms_gateway.cli", "--config", str(config), "run",
             "--node", f"node{n + 1}", "--no-web"],
            cwd=ROOT, stdin=subprocess.DEVNULL, stdout=log, stderr=log))
    try:
        smsc.expect("bound")
        time.sleep(1.0)  # let start-up (scheduler, LISTEN, first heartbeats) settle
        busy_before = machine_busy()
        result = smsc.go({"nodes": own_cpu(*(g.pid for g in gateways)),
                          "postgres": lambda: tree_cpu(server.postmaster_pid())})
        busy_after = machine_busy()
        cpu = result["cpu"] | {"smsc": result["smsc_cpu"]}
    finally:
        for gateway in gateways:
            gateway.terminate()
        for gateway in gateways:
            gateway.wait(60)
        smsc.close()
    engine = make_engine(url)
    with engine.connect() as conn:
        result["permits"] = conn.scalar(select(func.count()).select_from(permits)) - 1
        result["inbox"] = conn.scalar(select(func.count()).select_from(inbox))
        result["nodes_seen"] = sorted(conn.scalars(select(nodes.c.name)))
    engine.dispose()
    busy, total = (a - b for a, b in zip(busy_after, busy_before, strict=True))
    result["cpu"] = cpu
    result["machine_busy"] = busy / total if total else 0.0
    return result


def report_round(number: int, count: int, result: dict) -> None:
    cpu = result["cpu"]
    print(f"  round {number}, {count} node(s): {result['rate']:.0f} requests/s"
          f" ({result['answered']}/{result['requests']} answered, {result['permits']} permits,"
          f" {result['duplicates']} duplicate replies, per bind {result['per_bind']});"
          f" CPU s: nodes {cpu['nodes']:.1f}, postgres {cpu['postgres']:.1f},"
          f" smsc {cpu['smsc']:.1f} in {result['elapsed']:.1f} s;"
          f" machine busy {result['machine_busy']:.0%}", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3, help="one node and two, alternated")
    parser.add_argument("--window", type=int, default=50, help="SMPP submit window per node")
    parser.add_argument("--batch", type=int, default=500, help="[pipeline] batch_size")
    parser.add_argument("--timeout", type=float, default=600.0)
    parser.add_argument("--no-fsync", action="store_true", help="PostgreSQL with fsync=off")
    args = parser.parse_args(argv)
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())},"
          f" {os.cpu_count()} CPUs")
    server = BenchPostgres(fsync=not args.no_fsync).start()
    results: dict[int, list[dict]] = {1: [], 2: []}
    try:
        for number in range(1, args.rounds + 1):
            for count in (1, 2):
                results[count].append(run(server, count, args))
                report_round(number, count, results[count][-1])
    finally:
        server.stop()
    one = statistics.median(r["rate"] for r in results[1])
    two = statistics.median(r["rate"] for r in results[2])
    complete = all(r["complete"] and r["permits"] == args.requests
                   for rs in results.values() for r in rs)
    print(f"\nSMPP flood on PostgreSQL (fsync {'off' if args.no_fsync else 'on'}):"
          f" {args.requests} requests, window {args.window}, batch {args.batch},"
          f" median of {args.rounds} rounds; every resident answered with one permit: {complete}")
    print(f"  one node:  {one:.0f} requests/s")
    print(f"  two nodes: {two:.0f} requests/s")
    print(f"  two / one: {two / one:.2f}x (target >= 1.6x)")
    return 0 if complete else 1


if __name__ == "__main__":
    sys.exit(main())
