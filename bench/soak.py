"""Real requests mixed with garbage for N minutes, over SMPP and a GSM modem (issue 12).

    python bench/soak.py --minutes 2 [--postgresql] [--rate 20] [--modem-rate 1]
                         [--garbage 0.25] [--seed 12]

One running gateway (SQLite, or a durable PostgreSQL started for the run) with an SMPP link
to a simulated SMSC that keeps every deliver_sm until it is answered ESME_ROK (as a real one
does) and a simulated modem on a real pty. Each second `--rate` residents ask for a permit
over SMPP and `--modem-rate` over the modem, each from a phone of their own; `--garbage` as
many again are hostile: a NUL in a UCS2 text and a 60 KB message_payload (both must still be
answered), SAR references beyond 32 and 64 bits, a USSD session id longer than its column,
odd-length UCS2, receipts with 5,000-digit ids, random bodies, random PDUs on the SIM.
Officers send a check twice a second over SMPP. Afterwards (and a drain of at most a minute)
it prints requests answered, lost (no reply: must be 0), what was quarantined, deliver_sm
left unacknowledged or refused with 0x64, and officers' latency. Figures, not a test.
"""

from __future__ import annotations

import argparse
import atexit
import itertools
import logging
import random
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import create_engine, func, select, text

from bench._ledger import fill, officer_phone, resident_phone
from bench._nodes_pg import BenchPostgres
from sms_gateway import migrate
from sms_gateway.config import from_dict
from sms_gateway.gateway import Gateway
from sms_gateway.smpp import pdu
from sms_gateway.smpp.pdu import ShortMessage, Tag
from sms_gateway.smpp.transport import SmppTransport
from storage.db import make_engine
from storage.tables.messages import quarantine
from tests.faults_support import KeepingSmsc, Request
from tests.modem_gateway_rig import pool_transport, replies_of
from tools.sim_modem import SimModem
from tools.simsmsc.kit import local_settings
from tools.simsmsc.messages import mo_messages

REAL = (("ВЫХОД магазин", "ucs2"), ("EXIT shop", "gsm7"), ("vyhod apteka", "gsm7"))
# Officers take turns at a check every half second: each asks under its hourly reply cap
# (300) for runs of up to 25 minutes.
OFFICERS = 10


class SoakSmsc(KeepingSmsc):
    """A keeping SMSC that notes when each reply reached it, and takes hostile deliver_sm."""

    def __init__(self) -> None:
        super().__init__()
        self.replies_at: dict[str, list[float]] = defaultdict(list)

    def _submit(self, connection, frame: pdu.Pdu) -> bytes:  # type: ignore[no-untyped-def]
        before = len(self.submits)
        answer = super()._submit(connection, frame)
        if len(self.submits) > before:  # one reply (or one part of it) taken
            phone = "+" + self.submits[-1].to.lstrip("+")
            with self._books:
                self.replies_at[phone].append(time.monotonic())
        return answer

    def send_message(self, phone: str, message: ShortMessage) -> None:
        """A hostile deliver_sm, kept and delivered again like any other until answered OK."""
        with self._books:
            request = Request(len(self.requests), phone, message)
            self.requests.append(request)
            self._of_message[id(message)] = request
        self._deliver(request)


def hostile_smpp(rng: random.Random, phone: str) -> tuple[ShortMessage, bool]:
    """A hostile deliver_sm and whether it must still be answered (it holds a real request)."""
    source = phone.lstrip("+")
    kind = rng.randrange(7)
    if kind == 0:  # NUL in UCS2: cleaned by the gate, answered
        [message] = mo_messages(phone, "377", "ВЫ\0ХОД магазин\0", encoding="ucs2")
        return message, True
    if kind == 1:  # 60 KB of words: cut and parsed by its first SMS's worth, answered
        words = ("EXIT " + "слово " * 10_000).encode("utf-16-be")[:60_000]
        return ShortMessage(source, "377", source_addr_ton=1, data_coding=8,
                            tlvs={Tag.MESSAGE_PAYLOAD: words}), True
    if kind == 2:  # a SAR reference beyond a column's range
        ref = rng.choice([b"\x80\0\0\0", b"\x7f" + b"\0" * 8])
        return ShortMessage(source, "377", b"EXIT 1", source_addr_ton=1, tlvs={
            Tag.SAR_MSG_REF_NUM: ref, Tag.SAR_TOTAL_SEGMENTS: b"\x02",
            Tag.SAR_SEGMENT_SEQNUM: b"\x01"}), False
    if kind == 3:  # a USSD session id of 40 octets (80 hex digits, the column holds 64)
        return ShortMessage(source, "377", b"*377#", source_addr_ton=1, tlvs={
            Tag.USSD_SERVICE_OP: b"\x01", Tag.ITS_SESSION_INFO: rng.randbytes(40)}), False
    if kind == 4:  # odd-length UCS2: undecodable
        return ShortMessage(source, "377", b"\x04\x1f\x00", source_addr_ton=1,
                            data_coding=8), False
    if kind == 5:  # a receipt with a 5,000-digit id
        return ShortMessage(source, "377", source_addr_ton=1, esm_class=0x04, tlvs={
            Tag.RECEIPTED_MESSAGE_ID: b"7" * 5000 + b"\0", Tag.MESSAGE_STATE: b"\x02"}), False
    return ShortMessage(source, "377", rng.randbytes(rng.randrange(1, 140)), source_addr_ton=1,
                        data_coding=rng.choice([0, 4, 8, 0xF0]),
                        tlvs={0x1400: rng.randbytes(rng.randrange(0, 50))}), False


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else float("nan")


def database(postgresql: bool) -> str:
    if not postgresql:
        return f"sqlite:///{Path(tempfile.mkdtemp(prefix='soak-')) / 'permits.db'}"
    server = BenchPostgres().start()
    atexit.register(server.stop)
    admin = create_engine(server.url(), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text("CREATE DATABASE soak"))
    admin.dispose()
    return server.url("soak")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=2.0)
    parser.add_argument("--postgresql", action="store_true")
    parser.add_argument("--rate", type=float, default=20.0, help="SMPP requests per second")
    parser.add_argument("--modem-rate", type=float, default=1.0, help="modem requests per second")
    parser.add_argument("--garbage", type=float, default=0.25,
                        help="hostile messages per real request")
    parser.add_argument("--seed", type=int, default=12)
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)  # the gate's warnings are the point of the run
    rng = random.Random(args.seed)

    url = database(args.postgresql)
    engine = make_engine(url)
    atexit.register(engine.dispose)
    migrate.upgrade(engine)
    seconds = args.minutes * 60
    population = int((args.rate + args.modem_rate) * (1 + args.garbage) * seconds * 1.2) + 100
    fill(engine, population, 0, officers_count=OFFICERS)
    config = from_dict({"database": {"url": url}, "permits": {"replies_per_hour": 1000}},
                       base=Path.cwd())

    smsc = SoakSmsc().start()
    sim = SimModem(Path(tempfile.mkdtemp(prefix="soak-modem-")) / "modem", seed=args.seed,
                   capacity=200).start()
    smpp = SmppTransport(local_settings(smsc.port, name="soak"))
    modem = pool_transport([sim.device])
    gateway = Gateway(config, engine, [smpp, modem])
    gateway.start()
    deadline = time.monotonic() + 30
    while not (smpp.health().up and modem.health().up) and time.monotonic() < deadline:
        time.sleep(0.05)

    phones = iter(range(population))
    expected: dict[str, str] = {}  # phone -> transport, for every message that wants a reply
    sent: Counter[str] = Counter()
    checks: dict[str, list[float]] = defaultdict(list)
    owed = 0.0
    started = time.monotonic()
    for tick in itertools.count():  # every half second
        if time.monotonic() - started >= seconds:
            break
        owed += args.rate / 2
        while owed >= 1:
            owed -= 1
            phone = resident_phone(next(phones))
            smsc.send_mo(phone, *REAL[tick % len(REAL)])
            expected[phone] = "smpp"
            sent["smpp real"] += 1
            if rng.random() < args.garbage:
                other = resident_phone(next(phones))
                message, wants_reply = hostile_smpp(rng, other)
                smsc.send_message(other, message)
                sent["smpp hostile"] += 1
                if wants_reply:
                    expected[other] = "smpp"
        if rng.random() < args.modem_rate / 2:
            phone = resident_phone(next(phones))
            sim.inject(phone, "ВЫ\0ХОД магазин" if rng.random() < args.garbage
                       else REAL[tick % len(REAL)][0])
            expected[phone] = "modem"
            sent["modem real"] += 1
            if rng.random() < args.garbage * 2:
                sim.inject_pdu(rng.randbytes(rng.randrange(4, 60)).hex().upper())
                sent["modem hostile"] += 1
        officer = officer_phone(tick % OFFICERS)
        checks[officer].append(time.monotonic())
        smsc.send_mo(officer, "ПРОВЕРКА K7MQ-3DXA", "ucs2")
        time.sleep(max(0.0, started + (tick + 1) / 2 - time.monotonic()))
    flooding = time.monotonic() - started

    def answered() -> set[str]:
        modem_phones = {reply.to for reply in replies_of([sim])}
        return {p for p, via in expected.items()
                if (p in smsc.replies_at if via == "smpp" else p in modem_phones)}

    drain = time.monotonic() + 60
    while time.monotonic() < drain and (len(answered()) < len(expected)
                                        or not smsc.all_acknowledged()):
        time.sleep(0.2)
    gateway.stop()
    smsc.stop()
    sim.stop()

    with engine.connect() as conn:
        held = dict(conn.execute(select(quarantine.c.channel, func.count())
                                 .group_by(quarantine.c.channel)).all())
    got = answered()
    print(f"database: {engine.dialect.name}; {flooding / 60:.1f} minutes; SMPP {args.rate:g}/s,"
          f" modem {args.modem_rate:g}/s, hostile {args.garbage:g} per request")
    print(f"sent: {sent['smpp real']} + {sent['modem real']} requests (SMPP + modem),"
          f" {sent['smpp hostile']} + {sent['modem hostile']} hostile")
    print(f"answered: {len(got)} of {len(expected)} that want a reply;"
          f" lost: {len(expected) - len(got)}")
    print(f"quarantined: {sum(held.values())} ({', '.join(f'{k} {v}' for k, v in held.items())})")
    print(f"deliver_sm: {smsc.acknowledged()} of {len(smsc.requests)} acknowledged,"
          f" {smsc.refusals()} answered 0x64 (each delivered again)")
    print(f"link: {smpp.health().details['reconnects']} reconnects,"
          f" {smpp.health().details['refused_pdus']} PDUs refused")
    waits = [reply - asked for officer, times in checks.items()
             for asked, reply in zip(times, smsc.replies_at.get(officer, []), strict=False)]
    print(f"officers' checks: {len(waits)} of {sum(map(len, checks.values()))} answered,"
          f" p50 {percentile(waits, .5) * 1000:.0f} ms, p99 {percentile(waits, .99) * 1000:.0f}"
          f" ms, longest {max(waits, default=0) * 1000:.0f} ms")


if __name__ == "__main__":
    main()
