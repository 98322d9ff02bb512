"""An operator's bad day over SMPP: the SMSC goes away for a while, then the link flaps.

    python bench/outage.py [--residents 3000] [--away 90] [--retry-base 0.5]
                           [--flood 8000] [--flood-seconds 10] [--flap 1.0,0.7]
                           [--database URL]

The gateway runs as `permit-gateway run` in a child process, on a fresh SQLite ledger (or the
given empty PostgreSQL database, wiped between runs), against the simulated SMSC in this
process, which keeps what phones send while no ESME is bound and, as real SMSCs do, delivers
again a deliver_sm left unanswered when its connection ended.

* outage: every resident asks once and is stored; the SMSC goes away for `--away` seconds
  (with `--retry-base` 0.5 s instead of the default 5 s, 90 s stand for 15 minutes of the
  production retry policy), then returns.
* flap: `--flood` residents ask over `--flood-seconds` while the SMSC drops the link every
  `--flap` seconds (one run per value).

Each run prints requests answered, replies failed, requests delivered again and answered once
(`duplicate`), residents answered more than once, and the time from the link's return (or the
flood's end) to the last first answer. A figure, not a test: nothing here passes or fails.
"""

from __future__ import annotations

import argparse
import collections
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import MetaData, func, select  # noqa: E402

from bench._ledger import fill, resident_phone  # noqa: E402
from sms_gateway import migrate  # noqa: E402
from storage.db import make_engine  # noqa: E402
from storage.tables.messages import inbox, outbox  # noqa: E402
from tools.simsmsc.simulator import SimError, SimSmsc  # noqa: E402

TEXTS = (("ВЫХОД магазин", "ucs2"), ("EXIT shop", "gsm7"), ("vyhod apteka", "gsm7"))


class Phones:
    """Residents sending one request each, in chunks over `seconds`, retrying while no ESME
    is bound (a phone's SMS waits at the SMSC)."""

    def __init__(self, smsc: SimSmsc, numbers: list[str], seconds: float = 0.0) -> None:
        self.smsc, self.numbers, self.seconds = smsc, numbers, seconds
        self.thread = threading.Thread(target=self._run, name="phones", daemon=True)

    def start(self) -> Phones:
        self.thread.start()
        return self

    def _run(self) -> None:
        chunk = 100
        pause = self.seconds / max(1, len(self.numbers) // chunk)
        for start in range(0, len(self.numbers), chunk):
            for n in range(start, min(start + chunk, len(self.numbers))):
                text, encoding = TEXTS[n % len(TEXTS)]
                while True:
                    try:
                        self.smsc.inject(self.numbers[n], text, encoding=encoding)
                        break
                    except SimError:  # between a drop and the rebind
                        time.sleep(0.02)
            time.sleep(pause)


class Run:
    """One fresh ledger, one gateway node, one simulated SMSC."""

    def __init__(self, args: argparse.Namespace, residents: int, work: Path) -> None:
        self.args, self.work = args, work
        work.mkdir(parents=True)
        self.url = args.database or f"sqlite:///{work / 'permits.db'}"
        self.engine = make_engine(self.url)
        if args.database:
            _wipe(self.engine)
        migrate.upgrade(self.engine)
        fill(self.engine, residents, history=0)
        self.numbers = [resident_phone(n) for n in range(residents)]
        self.smsc = SimSmsc(redeliver_delay=0.05).start()
        config = work / "node.toml"
        config.write_text(
            f'[database]\nurl = "{self.url}"\n[permits]\nreplies_per_hour = 1000\n'
            f"[pipeline]\nretry_base_seconds = {args.retry_base}\n"
            '[[districts]]\nid = "kinel"\nname = "Кинель"\nenabled = true\n'
            f'[[smpp]]\nname = "op"\nhost = "127.0.0.1"\nport = {self.smsc.port}\n'
            'system_id = "gw"\npassword = "x"\nsource_addr = "377"\nwindow = 50\n'
            "reconnect_min_seconds = 0.05\nreconnect_max_seconds = 0.5\n", encoding="utf-8")
        with (work / "node.log").open("a") as log:
            self.node = subprocess.Popen(
                [sys.executable, "-m", "sms_gateway.cli", "--config", str(config), "run",
                 "--node", "bench", "--no-web"], cwd=ROOT, stdin=subprocess.DEVNULL,
                stdout=log, stderr=log)
        wait(lambda: self.smsc.bound_count() >= 1, 60)

    def answered(self) -> collections.Counter[str]:
        with self.smsc._changed:
            return collections.Counter("+" + s.to for s in self.smsc.submits)

    def all_answered(self) -> bool:
        return len(self.answered()) >= len(self.numbers)

    def drain(self, since: float) -> float | None:
        """Seconds from `since` until every resident had an answer (None: not in time)."""
        done = wait(self.all_answered, self.args.timeout)
        return time.monotonic() - since if done else None

    def report(self, name: str, drained: float | None, note: str) -> None:
        wait(self._settled, 30)
        answered = self.answered()
        with self.engine.connect() as conn:
            states = dict(conn.execute(select(outbox.c.state, func.count())
                                       .group_by(outbox.c.state)).all())
            copies = conn.scalar(select(func.count()).select_from(inbox)
                                 .where(inbox.c.outcome == "duplicate"))
        twice = sum(1 for n in answered.values() if n > 1)
        drain = f"{drained:.1f} s" if drained is not None else f"> {self.args.timeout:.0f} s"
        print(f"{name}: {note}")
        print(f"  answered {len(answered)} of {len(self.numbers)}, failed "
              f"{states.get('failed', 0)}, still waiting {states.get('pending', 0)}; "
              f"delivered again and answered once {copies}; residents answered more than "
              f"once {twice} ({sum(answered.values()) - len(answered)} extra replies); "
              f"last first answer {drain} after the link returned / the flood ended")

    def close(self) -> None:
        self.node.terminate()
        self.node.wait(60)
        self.smsc.stop()
        self.engine.dispose()

    def _settled(self) -> bool:
        """No reply on the wire (what waits for a retry may wait)."""
        with self.engine.connect() as conn:
            return not conn.scalar(select(func.count()).select_from(outbox)
                                   .where(outbox.c.state == "sending"))


def wait(condition: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def outage(args: argparse.Namespace, work: Path) -> None:
    run = Run(args, args.residents, work)
    try:
        Phones(run.smsc, run.numbers).start().thread.join()
        wait(lambda: len(run.smsc.deliver_answers) >= len(run.numbers), 120)
        before = len(run.answered())
        run.smsc.go_away()
        time.sleep(args.away)
        run.smsc.come_back()
        drained = run.drain(time.monotonic())
        run.report("outage", drained, f"{args.residents} requests stored, {before} answered "
                   f"before the SMSC went away for {args.away:.0f} s "
                   f"(retry_base_seconds {args.retry_base})")
    finally:
        run.close()


def flap(args: argparse.Namespace, every: float, work: Path) -> None:
    run = Run(args, args.flood, work)
    try:
        phones = Phones(run.smsc, run.numbers, args.flood_seconds).start()
        drops = 0
        phones.thread.join(every)
        while phones.thread.is_alive():  # a drop every `every` seconds while phones send
            run.smsc.drop()
            drops += 1
            phones.thread.join(every)
        drained = run.drain(time.monotonic())
        run.report(f"flap every {every} s", drained, f"{args.flood} requests over "
                   f"{args.flood_seconds:.0f} s, {drops} drops "
                   f"(retry_base_seconds {args.retry_base})")
    finally:
        run.close()


def _wipe(engine) -> None:
    """An empty PostgreSQL database for the next run (the bench owns it)."""
    metadata = MetaData()
    metadata.reflect(engine)
    metadata.drop_all(engine)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--residents", type=int, default=3000)
    parser.add_argument("--away", type=float, default=90.0)
    parser.add_argument("--retry-base", type=float, default=0.5)
    parser.add_argument("--flood", type=int, default=8000)
    parser.add_argument("--flood-seconds", type=float, default=10.0)
    parser.add_argument("--flap", default="1.0,0.7", help="seconds between drops, per run")
    parser.add_argument("--timeout", type=float, default=300.0)
    parser.add_argument("--database", help="an empty PostgreSQL database (default: SQLite)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-outage-") as folder:
        outage(args, Path(folder) / "outage")
        for n, every in enumerate(float(v) for v in args.flap.split(",")):
            flap(args, every, Path(folder) / f"flap{n}")


if __name__ == "__main__":
    main()
