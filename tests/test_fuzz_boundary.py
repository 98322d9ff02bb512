"""Hostile input through the real boundary, on SQLite and PostgreSQL (rule 8 and rule 9).

Mutated deliver_sm through the SMPP session and the store; random PDUs and notification lines
through a simulated modem on a real pty and the running gateway; random texts through
`simulate`. Each asserts that nothing escapes, the link stays up, and the valid messages of
the same batch are stored and answered once. Short by default (CI); the full form with
`-m slow` or `FAULTS_FULL=1`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
import struct
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from permits.replies import sms_parts
from sms_encoding import gsm7
from sms_encoding.segments import measure
from sms_gateway.modem import pdu as modem_pdu
from sms_gateway.pipeline.dispatcher import Dispatcher
from sms_gateway.pipeline.sink import standalone
from sms_gateway.simulate import simulate
from sms_gateway.smpp import durable, pdu
from sms_gateway.smpp.constants import Command, Status
from sms_gateway.smpp.events import Received
from sms_gateway.smpp.pdu import ShortMessage, Tag
from sms_gateway.smpp.session import Session
from sms_gateway.smpp.states import BindKind, State
from storage.tables.messages import inbox, outbox
from tests.conftest import RESIDENT
from tests.faults_support import FORMS, form
from tests.modem_gateway_rig import service
from tools.sim_modem import SimModem
from tools.simsmsc.kit import FakeClock, local_settings
from tools.waiting import wait_for

EXAMPLES = {"short": 12, "full": 300}
MODEM_EXAMPLES = {"short": 3, "full": 40}


def fuzz(examples: int, shrink: bool = True) -> settings:
    """Examples that each touch the database or a pty: no deadline, fixtures shared; no
    shrinking where each example costs seconds (a failure is reported as found)."""
    phases = [Phase.explicit, Phase.reuse, Phase.generate] + ([Phase.shrink] if shrink else [])
    return settings(max_examples=examples, deadline=None, phases=phases, suppress_health_check=[
        HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


_numbers = itertools.count(1)  # a fresh sender for every valid message of every example


@pytest.fixture(params=FORMS)
def size(request: pytest.FixtureRequest) -> str:
    return form(request)


def fresh_phone() -> str:
    return f"+7926{next(_numbers):07d}"


# -- what hostile deliver_sm are made of ------------------------------------------------------

TAGS = st.sampled_from([Tag.RECEIPTED_MESSAGE_ID, Tag.MESSAGE_STATE, Tag.NETWORK_ERROR_CODE,
                        Tag.MESSAGE_PAYLOAD, Tag.SAR_MSG_REF_NUM, Tag.SAR_TOTAL_SEGMENTS,
                        Tag.SAR_SEGMENT_SEQNUM, Tag.USSD_SERVICE_OP, Tag.ITS_SESSION_INFO, 0x1400])
VALUES = st.one_of(st.binary(max_size=12), st.binary(min_size=60, max_size=400),
                   st.integers(1, 6000).map(lambda n: b"9" * n + b"\0"),
                   st.sampled_from([b"\x80\0\0\0", b"\x7f" + b"\0" * 8, b"\xff\xff", b"\0"]))
TEXTS = st.one_of(st.binary(max_size=140), st.text(max_size=70).map(
    lambda t: t.encode("utf-16-be", "surrogatepass")), st.just(b"\0\0\0E\0X\0I\0T"))


@st.composite
def structured(draw: st.DrawFn) -> bytes:
    """A deliver_sm body with every field drawn: odd data codings, UDH flags, receipts, TLVs."""
    message = ShortMessage(
        source_addr=draw(st.text("0123456789+abc", max_size=20)), destination_addr="377",
        short_message=draw(TEXTS), source_addr_ton=draw(st.sampled_from([0, 1, 5])),
        esm_class=draw(st.sampled_from([0, 0x04, 0x40, 0x44, 0x20])),
        data_coding=draw(st.sampled_from([0, 1, 3, 4, 8, 0xF0, 0x11])),
        tlvs=draw(st.dictionaries(TAGS, VALUES, max_size=4)))
    try:
        return pdu.encode_short_message("deliver_sm", 1, message)[16:]
    except pdu.PduError:
        return draw(st.binary(max_size=200))


@st.composite
def spliced(draw: st.DrawFn) -> bytes:
    """A valid deliver_sm body with a slice replaced by random bytes."""
    body = valid_body("+79990000000", "EXIT spliced")
    start = draw(st.integers(0, len(body)))
    end = draw(st.integers(start, len(body)))
    return body[:start] + draw(st.binary(max_size=40)) + body[end:]




def _known(text: bytes = b"EXIT 1", **fields: object) -> bytes:
    message = ShortMessage("79990000002", "377", text, source_addr_ton=1, **fields)
    return pdu.encode_short_message("deliver_sm", 1, message)[16:]


_SAR = {Tag.SAR_TOTAL_SEGMENTS: b"\x02", Tag.SAR_SEGMENT_SEQNUM: b"\x01"}
# What each used to stop a whole group (issue 12): drawn first, so every short run meets them.
KNOWN = st.sampled_from([
    _known("ВЫ\0ХОД 1".encode("utf-16-be"), data_coding=8),
    _known(tlvs={**_SAR, Tag.SAR_MSG_REF_NUM: b"\x80\0\0\0"}),
    _known(tlvs={**_SAR, Tag.SAR_MSG_REF_NUM: b"\x7f" + b"\0" * 8}),
    _known(b"*377#", tlvs={Tag.USSD_SERVICE_OP: b"\x01", Tag.ITS_SESSION_INFO: bytes(40)}),
    _known(b"", esm_class=0x04, tlvs={Tag.RECEIPTED_MESSAGE_ID: b"1" * 5000 + b"\0",
                                      Tag.MESSAGE_STATE: b"\x02"}),
    _known(tlvs={Tag.MESSAGE_PAYLOAD: ("EXIT " + "слово " * 5000).encode("utf-16-be")[:60000]},
           data_coding=8),
    _known(b"\xd8", data_coding=8),
])
HOSTILE = st.lists(st.one_of(KNOWN, structured(), spliced(), st.binary(max_size=300)),
                   min_size=1, max_size=8)


def valid_body(sender: str, text: str) -> bytes:
    message = ShortMessage(source_addr=sender.lstrip("+"), destination_addr="377",
                           source_addr_ton=1, short_message=gsm7.encode(text))
    return pdu.encode_short_message("deliver_sm", 1, message)[16:]


def framed(body: bytes, sequence: int) -> bytes:
    return struct.pack(">IIII", 16 + len(body), Command.DELIVER_SM, 0, sequence) + body


def bound_session() -> Session:
    session = Session(local_settings(2775), BindKind.TRANSCEIVER, FakeClock(), "smpp:fuzz")
    session.start()
    session.data_to_send()
    session.receive_data(pdu.encode(Command.BIND_TRANSCEIVER_RESP, 1, 0, b"SMSC\0"))
    assert session.state is State.BOUND
    return session


def answered_once(engine, rules, phones: list[str]) -> None:
    """Dispatch everything stored: no message fails in the rules, each phone gets one reply."""
    dispatcher = Dispatcher(engine, rules, batch_size=200)
    while dispatcher.run_once().messages:
        pass
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(inbox)
                           .where(inbox.c.state != "done")) == 0
        for phone in phones:
            assert conn.scalar(select(func.count()).select_from(outbox)
                               .where(outbox.c.recipient == phone)) == 1, phone


def test_mutated_deliver_sm_through_the_session_and_the_store(engine, rules, size):
    @fuzz(EXAMPLES[size])
    @given(hostile=HOSTILE, valid_count=st.integers(1, 4), seed=st.randoms())
    def run(hostile: list[bytes], valid_count: int, seed) -> None:
        phones = [fresh_phone() for _ in range(valid_count)]
        bodies = [(body, None) for body in hostile] + [
            (valid_body(phone, "EXIT shop"), phone) for phone in phones]
        seed.shuffle(bodies)
        session = bound_session()
        data = b"".join(framed(body, 100 + n) for n, (body, _) in enumerate(bodies))
        events = session.receive_data(data)  # one read: stored as one group, as a link does
        assert session.state is State.BOUND
        received = [event for event in events if isinstance(event, Received)]
        statuses = durable.store(standalone(engine), received)
        assert set(statuses) <= {Status.OK}, "a content failure was answered as an outage"
        valid_sequences = {100 + n for n, (_, phone) in enumerate(bodies) if phone}
        assert valid_sequences <= {event.sequence for event in received}
        with engine.connect() as conn:
            for phone in phones:
                assert conn.scalar(select(func.count()).select_from(inbox)
                                   .where(inbox.c.sender == phone)) == 1
        answered_once(engine, rules, phones)

    run()


# -- random texts through simulate -------------------------------------------------------------

PIECES = st.sampled_from(["\0", "\ud800", "\udfff", "\r\n", "\x1b", "€", "`", "😀", "၂", "-1",
                          "ВЫХОД", "EXIT", "2", " ", "我要", "магазин"])
ANY_TEXT = st.one_of(
    st.lists(st.one_of(PIECES, st.text(max_size=8)), max_size=30).map("".join),
    st.sampled_from(["ВЫХОД ", "EXIT ", "ПРОВЕРКА ", "СТАТУС"]).flatmap(
        lambda command: st.text(max_size=60).map(lambda rest: command + rest)),
    st.integers(200, 20_000).map(lambda n: "EXIT " + "слово " * (n // 6)),
)


def test_random_texts_through_simulate_get_one_reply_that_fits(engine, config, people, size):
    config = dataclasses.replace(config, rules=dataclasses.replace(
        config.rules, replies_per_hour=1_000_000))

    @fuzz(EXAMPLES[size])
    @given(text=ANY_TEXT)
    def run(text: str) -> None:
        result = simulate(engine, config, RESIDENT, text)
        assert len(result.replies) == 1
        if result.outcome == "help":  # HELP alone may take two
            assert sms_parts(result.replies[0]) <= 2
        else:
            assert measure(result.replies[0]).fits_one_sms

    run()


# -- random PDUs and notifications through a real modem ----------------------------------------

NOW = dt.datetime(2026, 11, 25, 9, 0, tzinfo=dt.UTC)
GOOD_PDU = modem_pdu.encode_deliver("+79990000001", "EXIT mutated", timestamp=NOW)
PDUS = st.one_of(
    st.binary(min_size=1, max_size=120).map(lambda data: data.hex().upper()),
    st.tuples(st.integers(0, len(GOOD_PDU) - 2), st.binary(min_size=1, max_size=6)).map(
        lambda cut: GOOD_PDU[: cut[0]] + cut[1].hex().upper()),
    st.text("0123456789ABCDEFGXYZ", min_size=1, max_size=80),
)
LINES = st.one_of(st.just('+CMTI: "SM",' + "9" * 5000), st.text("+CMTIDS:\",0123456789 ",
                                                                 max_size=40))


def test_random_pdus_on_the_sim_never_stop_the_modem(tmp_path: Path, config, engine, size,
                                                     caplog):
    sim = SimModem(tmp_path / "fuzz-modem", seed=1, capacity=60).start()
    try:
        with service(tmp_path, config, engine, sims=[sim]) as running:

            @fuzz(MODEM_EXAMPLES[size], shrink=False)
            @given(pdus=st.lists(PDUS, min_size=1, max_size=6),
                   lines=st.lists(LINES, max_size=3))
            def run(pdus: list[str], lines: list[str]) -> None:
                phone = fresh_phone()
                for hex_pdu in pdus:
                    sim.inject_pdu(hex_pdu)
                for line in lines:
                    sim.state.notify(line)
                sim.inject(phone, "EXIT shop")
                wait_for(lambda: running.replies_to(phone), 10, "the valid SMS answered")
                wait_for(lambda: not sim.sim_messages(), 10, "the SIM emptied")
                assert len(running.replies_to(phone)) == 1
                assert running.modem_status("m0")["state"] == "up"

            run()
    finally:
        sim.stop()
    assert "reopening" not in caplog.text and "unexpected failure" not in caplog.text
