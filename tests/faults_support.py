"""Shared rig for the fault tests (`tests/test_faults_*.py`); it holds no tests itself.

* `KeepingSmsc`: the simulated SMSC that behaves like a real one when the ESME misbehaves:
  a deliver_sm is kept until it is answered ESME_ROK. Refused ones (ESME_RX_T_APPN) are
  retried without a cap (a real SMSC retries for hours, `SimSmsc` gives up after five tries),
  and the ones whose connection ended unanswered are delivered again right after the next
  bind (as `SimSmsc` does). Every request is tracked, so a test can tell "stored twice because
  its acknowledgement was lost" (allowed: SMPP gives a deliver_sm no identity) from "stored
  twice" (a bug).
* Gateway nodes as child processes (`permit-gateway run --node NAME --no-web`), logging to a
  file, never to a pipe (a full pipe would block the child).
* The ledger read back per phone, and the checks every fault test ends with.
* `Scale`: the short form CI runs by default and the full form (`-m slow` or `FAULTS_FULL=1`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict, deque
from collections.abc import Iterable
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, insert, select

from sms_gateway.smpp import pdu
from sms_gateway.smpp.constants import Status
from storage.tables.ledger import districts, permits, residents
from storage.tables.messages import inbox, outbox
from tests.pg_server import PostgresServer
from tools import waiting
from tools.simsmsc.messages import mo_messages
from tools.simsmsc.simulator import SimSmsc, _Connection

ROOT = Path(__file__).resolve().parent.parent
TEXTS = (("ВЫХОД магазин", "ucs2"), ("EXIT shop", "gsm7"), ("vyhod apteka", "gsm7"))


# -- short and full forms ------------------------------------------------------------------


def full_requested(config: pytest.Config) -> bool:
    """`FAULTS_FULL=1`, or a `-m` expression that asks for slow tests."""
    expression = config.getoption("markexpr", "") or ""
    return bool(os.environ.get("FAULTS_FULL")) or (
        "slow" in expression and "not slow" not in expression
    )


FORMS = ["short", pytest.param("full", marks=pytest.mark.slow)]


def form(request: pytest.FixtureRequest) -> str:
    """The parametrized form; the full one is skipped unless it was asked for."""
    name = request.param
    if name == "full" and not full_requested(request.config):
        pytest.skip("full form: run with -m slow or FAULTS_FULL=1")
    return name


# -- waiting ---------------------------------------------------------------------------------


# Fault tests wait for whole floods and restarts: a generous deadline, ended when it holds.
wait_for = functools.partial(waiting.wait_for, timeout=120.0, interval=0.05)


# -- the SMSC --------------------------------------------------------------------------------


@dataclasses.dataclass
class Request:
    """One phone's message as the SMSC keeps it until the ESME says ESME_ROK."""

    number: int
    phone: str
    message: pdu.ShortMessage
    deliveries: int = 0
    refused: int = 0  # answered with an error (the ESME did not commit it)
    unanswered: int = 0  # the connection ended before any answer (committed or not)
    acknowledged: bool = False
    first_delivered: float | None = None  # monotonic time of the first deliver_sm


class KeepingSmsc(SimSmsc):
    """A `SimSmsc` that loses no MO message, whatever the ESME does (see the module doc)."""

    def __init__(self, **options: object) -> None:
        super().__init__(**options)  # type: ignore[arg-type]
        self.requests: list[Request] = []
        self._of_message: dict[int, Request] = {}  # id(ShortMessage) -> its request
        self._pending: deque[Request] = deque()
        self._books = threading.Lock()  # bookkeeping only: never held during socket I/O
        self.answers: list[tuple[float, int, int]] = []  # (monotonic, request, status)

    # -- what tests call --------------------------------------------------------------------

    def send_mo(self, phone: str, text: str, encoding: str = "gsm7") -> Request:
        """A phone sends one (single-part) message; delivered now or on the next bind."""
        [message] = mo_messages(phone, "377", text, encoding=encoding)
        with self._books:
            request = Request(len(self.requests), phone, message)
            self.requests.append(request)
            self._of_message[id(message)] = request
        self._deliver(request)
        return request

    def acknowledged(self) -> int:
        return sum(1 for r in self.requests if r.acknowledged)

    def all_acknowledged(self) -> bool:
        return all(r.acknowledged for r in self.requests)

    def refusals(self) -> int:
        return sum(r.refused for r in self.requests)

    def replied_phones(self) -> Counter[str]:
        with self._changed:
            return Counter("+" + s.to.lstrip("+") for s in self.submits)

    def replies_by_phone(self) -> dict[str, list[str]]:
        found: dict[str, list[str]] = defaultdict(list)
        with self._changed:
            for submit in self.submits:
                found["+" + submit.to.lstrip("+")].append(submit.text)
        return found

    # -- delivery ---------------------------------------------------------------------------

    def _deliver(self, request: Request) -> None:
        with self._books:  # one step with the flush's pop: none is parked after a bind's flush
            receivers = [c for c in self._snapshot() if c.bind in ("transceiver", "receiver")]
            if not receivers:
                self._pending.append(request)
                return
        connection = receivers[next(self._turns) % len(receivers)]
        with self._books:
            request.deliveries += 1
            if request.first_delivered is None:
                request.first_delivered = time.monotonic()
        connection.deliver(request.message)  # taken back by `unanswered` if it ended

    def unanswered(self, message: pdu.ShortMessage, attempt: int) -> None:
        """A delivery left unanswered on a connection that ended goes round again."""
        request = self._of_message[id(message)]
        with self._books:
            request.unanswered += 1
        self._deliver(request)

    def start(self) -> KeepingSmsc:
        super().start()
        threading.Thread(target=self._retry_pending, name="smsc-retry", daemon=True).start()
        return self

    def _retry_pending(self) -> None:
        """What waits for a receiver is offered again now and then, as SMSCs retry."""
        while self._running:
            time.sleep(0.25)
            self._flush_pending()

    def bound(self, connection: _Connection) -> None:
        """Right after the bind_resp, what waited for a receiver is delivered."""
        self._flush_pending()

    def _flush_pending(self) -> None:
        while True:
            with self._books:
                if not self._pending:
                    return
                request = self._pending.popleft()
            self._deliver(request)
            if not [c for c in self._snapshot() if c.bind in ("transceiver", "receiver")]:
                return

    def _delivery_answered(self, connection: _Connection, frame: pdu.Pdu) -> None:
        entry = connection.waiting.pop(frame.sequence, None)
        if entry is None:
            return
        request = self._of_message[id(entry[0])]
        with self._books:
            self.answers.append((time.monotonic(), request.number, frame.status))
            if frame.status == Status.OK:
                request.acknowledged = True
            else:
                request.refused += 1
        with self._changed:
            self.deliver_answers.append((frame.sequence, frame.status))
            self._changed.notify_all()
        if frame.status != Status.OK:
            delay = min(0.05 * 2 ** min(request.refused, 6), 1.0)
            threading.Timer(delay, self._deliver, (request,)).start()


def flood(smsc: KeepingSmsc, numbers: list[str], seconds: float = 0.0,
          chunk: int = 50) -> threading.Thread:
    """One request per phone, Cyrillic (UCS2) and Latin (GSM-7) mixed, in chunks spread evenly
    over `seconds` (so a fault lands in the middle of it), from a thread of its own; it goes on
    while the gateway is away, as phones do."""
    pause = seconds / max(1, len(numbers) // chunk)

    def run() -> None:
        for start in range(0, len(numbers), chunk):
            for n in range(start, min(start + chunk, len(numbers))):
                smsc.send_mo(numbers[n], *TEXTS[n % len(TEXTS)])
            time.sleep(pause)

    thread = threading.Thread(target=run, name="flood", daemon=True)
    thread.start()
    return thread


# -- the ledger --------------------------------------------------------------------------------


def phones(count: int, prefix: str = "+7927") -> list[str]:
    return [f"{prefix}{n:07d}" for n in range(count)]


def add_residents(engine: Engine, numbers: Iterable[str]) -> None:
    """Residents of Kinel (switched on), with one Core executemany: set-up is not under test."""
    now = dt.datetime.now(dt.UTC)
    with engine.begin() as conn:
        if not conn.scalar(select(func.count()).select_from(districts)
                           .where(districts.c.id == "kinel")):
            conn.execute(insert(districts), [{"id": "kinel", "name": "Кинель", "enabled": True}])
        conn.execute(insert(residents), [
            {"phone": p, "name": f"Житель {p[-4:]}", "district_id": "kinel", "document": None,
             "self_registered": False, "created_at": now} for p in numbers])


@dataclasses.dataclass(frozen=True)
class Ledger:
    """What the database holds, per phone."""

    inbox_rows: Counter[str]
    inbox_undone: int
    permits: dict[str, list[str]]
    outbox_states: Counter[str]
    outcomes: Counter[str]  # inbox rows by what became of them (issued, duplicate, ...)
    attempts: Counter[int]  # replies by how many of their sends the network answered

    @classmethod
    def read(cls, engine: Engine) -> Ledger:
        with engine.connect() as conn:
            rows = Counter(conn.scalars(select(inbox.c.sender)))
            undone = conn.scalar(select(func.count()).select_from(inbox)
                                 .where(inbox.c.state != "done"))
            held: dict[str, list[str]] = defaultdict(list)
            for phone, code in conn.execute(select(residents.c.phone, permits.c.code).join(
                    permits, permits.c.resident_id == residents.c.id)):
                held[phone].append(code)
            states = Counter(dict(conn.execute(
                select(outbox.c.state, func.count()).group_by(outbox.c.state)).all()))
            outcomes = Counter(dict(conn.execute(
                select(inbox.c.outcome, func.count()).group_by(inbox.c.outcome)).all()))
            attempts = Counter(dict(conn.execute(
                select(outbox.c.attempts, func.count()).group_by(outbox.c.attempts)).all()))
        return cls(rows, int(undone or 0), held, states, outcomes, attempts)

    @property
    def settled(self) -> bool:
        """Nothing waits: every message decided, no reply pending or in flight."""
        return (self.inbox_undone == 0 and not self.outbox_states.get("pending")
                and not self.outbox_states.get("sending"))


def check_smpp_flood(engine: Engine, smsc: KeepingSmsc, numbers: list[str]) -> Ledger:
    """The invariants every SMPP fault test ends with.

    Every request was acknowledged and answered; every resident holds exactly one permit and
    every reply to them names it; a request has one inbox row, or more only when a delivery
    of it ended unanswered (committed, but the ESME_ROK never reached the SMSC: SMPP cannot
    tell that redelivery from a resend, and the rules made it harmless).
    """
    ledger = Ledger.read(engine)
    assert smsc.all_acknowledged()
    assert ledger.settled, (ledger.inbox_undone, ledger.outbox_states)
    assert not ledger.outbox_states.get("failed") and not ledger.outbox_states.get("expired")
    replies = smsc.replies_by_phone()
    unanswered = {r.phone: r.unanswered for r in smsc.requests}
    bad_rows = {p: (ledger.inbox_rows[p], unanswered[p]) for p in numbers
                if not 1 <= ledger.inbox_rows[p] <= 1 + unanswered[p]}
    assert not bad_rows, f"inbox rows vs unanswered deliveries: {dict(list(bad_rows.items())[:5])}"
    two = {p: c for p, c in ledger.permits.items() if len(c) != 1}
    assert not two, f"residents without exactly one permit: {dict(list(two.items())[:5])}"
    missing = [p for p in numbers if len(ledger.permits.get(p, [])) != 1]
    assert not missing, f"{len(missing)} residents got no permit, e.g. {missing[:5]}"
    for phone in numbers:
        [code] = ledger.permits[phone]
        texts = replies.get(phone)
        assert texts, f"{phone} got no reply"
        shown = f"{code[:4]}-{code[4:]}"
        assert all(shown in t for t in texts), (phone, code, texts)
    return ledger


# -- gateway nodes in child processes ----------------------------------------------------------


def node_config(path: Path, database_url: str, *, smpp_port: int | None = None,
                modems: Iterable[str] = (), pipeline: dict[str, object] | None = None,
                smpp: dict[str, object] | None = None) -> Path:
    """A node's TOML: fast recovery (claim timeout 2 s), a generous reply cap."""
    settings = {"claim_timeout_seconds": 2, "retry_base_seconds": 0.5, "poll_seconds": 0.3,
                **(pipeline or {})}
    text = (f'[database]\nurl = "{database_url}"\n'
            '[permits]\nreplies_per_hour = 1000\n'
            '[pipeline]\n' + "".join(f"{k} = {v}\n" for k, v in settings.items())
            + '[[districts]]\nid = "kinel"\nname = "Кинель"\nenabled = true\n')
    if smpp_port is not None:
        text += ('[[smpp]]\nname = "op"\nhost = "127.0.0.1"\n'
                 f'port = {smpp_port}\nsystem_id = "gw"\npassword = "x"\nsource_addr = "377"\n'
                 'reconnect_min_seconds = 0.05\nreconnect_max_seconds = 0.5\nwindow = 50\n'
                 + "".join(f"{k} = {v}\n" for k, v in (smpp or {}).items()))
    for number, port in enumerate(modems):
        text += (f'[[modems]]\nname = "m{number}"\nport = "{port}"\npoll_seconds = 0.3\n'
                 'command_timeout = 2.0\nprompt_timeout = 2.0\nsend_timeout = 5.0\n'
                 'reconnect_min_seconds = 0.05\nreconnect_max_seconds = 0.4\n')
    path.write_text(text, encoding="utf-8")
    return path


class Node:
    """`permit-gateway run --node NAME --no-web` in a child process, logging to a file."""

    def __init__(self, config: Path, name: str, log: Path) -> None:
        self.name, self.log = name, log
        with log.open("a") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "sms_gateway.cli", "--config", str(config), "run",
                 "--node", name, "--no-web"],
                cwd=ROOT, stdin=subprocess.DEVNULL, stdout=out, stderr=out)

    def kill(self) -> None:
        """SIGKILL: no unbind, no flush, no goodbye: a power cut."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(30)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                self.kill()

    def log_text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")


# -- a database that goes away -------------------------------------------------------------------


class StoppablePostgres(PostgresServer):
    """A PostgreSQL server of the test's own, which a test may stop and start again (same data,
    same port), so an outage never touches the server the other tests share."""

    def _options(self) -> str:
        return (f"-c listen_addresses=127.0.0.1 -c port={self.port} "
                f"-c unix_socket_directories={self.folder} -c fsync=off "
                f"-c max_connections=200 -c shared_buffers=128MB")

    def go_away(self) -> None:
        """Stop now, disconnecting every client (`pg_ctl stop -m fast`), keeping the data."""
        self._run(self.pg_ctl, "-D", str(self.folder / "data"), "-m", "fast", "-w", "stop")

    def come_back(self) -> None:
        self._run(self.pg_ctl, "-D", str(self.folder / "data"), "-o", self._options(), "-l",
                  str(self.folder / "log"), "-w", "-t", "60", "start")


# -- a disk that fills ---------------------------------------------------------------------------


class SmallDisk:
    """A small tmpfs for a SQLite ledger, filled to the last byte and emptied on demand.

    Needs root and a kernel that lets us mount (containers may not): `mount()` says whether
    it worked; the caller falls back to `PRAGMA max_page_count` when it did not."""

    def __init__(self, where: Path, megabytes: int = 32) -> None:
        self.where, self.megabytes = where, megabytes
        self.filler = where / "filler"
        self.mounted = False

    def mount(self) -> bool:
        self.where.mkdir(parents=True, exist_ok=True)
        if os.geteuid() != 0:
            return False
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={self.megabytes}m",
                               "tmpfs", str(self.where)], capture_output=True)
        self.mounted = done.returncode == 0
        return self.mounted

    def fill(self) -> int:
        """Write a file until the disk refuses another byte; the bytes written."""
        written = 0
        with self.filler.open("wb", buffering=0) as out:
            for block in (1 << 16, 1 << 12, 1 << 9, 1):
                data = b"\0" * block
                while True:
                    try:
                        written += out.write(data)
                    except OSError:
                        break
        return written

    def free(self) -> None:
        self.filler.unlink(missing_ok=True)

    def unmount(self) -> None:
        if self.mounted:
            subprocess.run(["umount", "-l", str(self.where)], capture_output=True)
            self.mounted = False
