"""The whole gateway over real sockets: SMSC -> SmppTransport -> inbox -> rules -> outbox -> SMSC.

Nothing is faked between the SMSC's socket and the ledger: the real `Gateway`, a real
`SmppTransport`, the simulated SMSC on loopback, and SQLite or a real PostgreSQL. These tests
wait for outcomes (bounded, a hang is a failure); none of them measures a speed.
"""

from __future__ import annotations

import dataclasses
import io
import re
import threading
from collections.abc import Iterator

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from permits import registry
from sms_encoding import segments
from sms_gateway.config import Config
from sms_gateway.gateway import Gateway
from sms_gateway.smpp import pdu
from sms_gateway.smpp.constants import Command, Status
from sms_gateway.smpp.pdu import Tag
from sms_gateway.smpp.transport import SmppTransport
from storage.tables.ledger import permits, verifications
from storage.tables.messages import inbox, inbox_parts, outbox, quarantine
from tests.conftest import NEIGHBOUR, OFFICER, RESIDENT
from tools.simsmsc.kit import local_settings
from tools.simsmsc.messages import SubmitRecord, mo_messages
from tools.simsmsc.simulator import SimSmsc, _Connection
from tools.waiting import wait_for

CODE = re.compile(r"\b([2-9A-Z]{4}-[2-9A-Z]{4})\b")
_BINDS = (Command.BIND_TRANSCEIVER, Command.BIND_TRANSMITTER, Command.BIND_RECEIVER)


def count(engine, table, *where) -> int:
    with engine.connect() as conn:
        return conn.scalar(select(func.count()).select_from(table).where(*where))


def replies_to(smsc: SimSmsc, phone: str) -> list[SubmitRecord]:
    return [record for record in smsc.submits if record.to == phone.lstrip("+")]


def code_in(record: SubmitRecord) -> str:
    found = CODE.search(record.text)
    assert found, f"no permit code in {record.text!r}"
    return found[1]


@pytest.fixture
def quick_config(config: Config) -> Config:
    """Retries after a lost link come within a tenth of a second instead of five."""
    return dataclasses.replace(
        config, pipeline=dataclasses.replace(config.pipeline, retry_base_seconds=0.05)
    )


def start_gateway(config: Config, engine, port: int, **overrides: object) -> Gateway:
    transport = SmppTransport(local_settings(port, **overrides))
    gateway = Gateway(config, engine, [transport])
    gateway.start()
    wait_for(lambda: transport.health().up)
    return gateway


@pytest.fixture
def smsc() -> Iterator[SimSmsc]:
    with SimSmsc() as sim:
        yield sim


@pytest.fixture
def gateway(quick_config, engine, people, smsc) -> Iterator[Gateway]:
    gateway = start_gateway(quick_config, engine, smsc.port)
    yield gateway
    gateway.stop()


def add_residents(engine, clock, phones: list[str]) -> None:
    csv = "phone,name,district\n" + "".join(f"{p},Житель {i},kinel\n" for i, p in enumerate(phones))
    with engine.begin() as conn:
        registry.import_residents(conn, io.StringIO(csv), "RU", clock())


# -- alphabets -----------------------------------------------------------------------------------


def test_cyrillic_and_latin_requests_get_permits_in_their_own_alphabet(gateway, smsc, engine):
    smsc.inject(RESIDENT, "ВЫХОД магазин", encoding="ucs2")
    smsc.inject(NEIGHBOUR, "EXIT {shop} €", encoding="gsm7")
    smsc.wait(lambda: len(smsc.submits) == 2)
    [russian], [latin] = replies_to(smsc, RESIDENT), replies_to(smsc, NEIGHBOUR)
    assert russian.text.startswith("ПРОПУСК ") and russian.data_coding == 8
    assert latin.text.startswith("PERMIT ") and latin.data_coding == 0
    assert russian.validity_period and russian.registered_delivery == 1
    with engine.connect() as conn:
        stored = set(conn.scalars(select(inbox.c.text)))
        codes = set(conn.scalars(select(permits.c.code)))
    assert stored == {"ВЫХОД магазин", "EXIT {shop} €"}
    assert {code_in(russian).replace("-", ""), code_in(latin).replace("-", "")} == codes


# -- long messages ------------------------------------------------------------------------------


def test_concatenated_requests_in_any_order_make_one_permit_each(gateway, smsc, engine):
    smsc.inject(
        RESIDENT,
        "ВЫХОД в магазин за продуктами",
        encoding="ucs2",
        split="udh",
        parts=3,
        order=[2, 0, 1],
    )
    smsc.inject(NEIGHBOUR, "EXIT pharmacy {now}", split="sar", parts=2, order=[1, 0])
    smsc.wait(lambda: len(smsc.submits) == 2)
    assert replies_to(smsc, RESIDENT)[0].text.startswith("ПРОПУСК ")
    assert replies_to(smsc, NEIGHBOUR)[0].text.startswith("PERMIT ")
    with engine.connect() as conn:
        stored = set(conn.scalars(select(inbox.c.text)))
    assert stored == {"ВЫХОД в магазин за продуктами", "EXIT pharmacy {now}"}
    assert count(engine, permits) == 2 and count(engine, inbox_parts) == 0


def test_a_long_reply_leaves_in_parts_that_join_up(gateway, smsc, engine):
    smsc.inject(RESIDENT, "ПОМОЩЬ", encoding="ucs2")
    wait_for(lambda: count(engine, outbox, outbox.c.state == "sent") == 1)
    parts = sorted(smsc.submits, key=lambda record: record.concat.seq)
    expected = gateway.rules.texts(english=False).help(gateway.rules.settings.reasons)
    assert len(parts) == len(segments.plan(expected).parts) > 1
    assert [p.concat.seq for p in parts] == list(range(1, len(parts) + 1))
    assert {(p.concat.reference, p.concat.total, p.data_coding) for p in parts} == {
        (parts[0].concat.reference, len(parts), 8)
    }
    assert "".join(p.text for p in parts) == expected


# -- receipts -----------------------------------------------------------------------------------


def test_delivery_receipts_record_delivered_and_failed(gateway, smsc, engine):
    smsc.inject(RESIDENT, "ВЫХОД 1", encoding="ucs2")
    smsc.inject(NEIGHBOUR, "EXIT 2")
    wait_for(lambda: count(engine, outbox, outbox.c.state == "sent") == 2)
    [delivered], [undelivered] = replies_to(smsc, RESIDENT), replies_to(smsc, NEIGHBOUR)
    smsc.receipt(delivered.message_id, "DELIVRD", recipient=delivered.to)
    smsc.receipt(undelivered.message_id, "UNDELIV", recipient=undelivered.to, form="text")
    wait_for(lambda: count(engine, outbox, outbox.c.state.in_(("delivered", "failed"))) == 2)
    with engine.connect() as conn:
        states = dict(conn.execute(select(outbox.c.recipient, outbox.c.state)).all())
    assert states == {RESIDENT: "delivered", NEIGHBOUR: "failed"}
    assert [status for _, status in smsc.deliver_answers] == [Status.OK] * 4


# -- faults -------------------------------------------------------------------------------------


class DroppingSmsc(SimSmsc):
    """Drops the link when the `drop_at`-th submit_sm arrives; whatever deliver_sm it left
    unacknowledged comes again right after the next bind (as every `SimSmsc` does)."""

    def __init__(self, drop_at: int) -> None:
        super().__init__()
        self.drop_at = drop_at
        self.dropped = threading.Event()

    def handle(self, connection: _Connection, frame: pdu.Pdu) -> bytes:
        if (
            frame.command_id == Command.SUBMIT_SM
            and not self.dropped.is_set()
            and len(self.submits) + 1 >= self.drop_at
        ):
            self.dropped.set()
            self.drop()
            return b""
        return super().handle(connection, frame)


def test_a_dropped_link_is_rebound_and_every_request_answered(quick_config, engine, people, clock):
    phones = [f"+7927555{n:04d}" for n in range(30)]
    add_residents(engine, clock, phones)
    with DroppingSmsc(drop_at=6) as smsc:
        gateway = start_gateway(quick_config, engine, smsc.port, window=2)
        try:
            for phone in phones[:20]:
                smsc.inject(phone, "ВЫХОД 1", encoding="ucs2")
            smsc.wait(lambda: len(smsc.binds) == 2 and smsc.bound_count() == 1)
            for phone in phones[20:]:
                smsc.inject(phone, "EXIT 2")
            smsc.wait(lambda: all(replies_to(smsc, phone) for phone in phones), timeout=20)
        finally:
            gateway.stop()
    # At least once: a reply whose submit_sm_resp was lost is sent again, but never a new permit.
    for phone in phones:
        assert len({code_in(record) for record in replies_to(smsc, phone)}) == 1
    assert count(engine, permits) == 30 and count(engine, inbox) == 30


def test_a_store_failure_is_refused_and_the_redelivery_handled_once(
    gateway, smsc, engine, monkeypatch
):
    insert = gateway.inbox._insert_messages
    failures = [OperationalError("INSERT INTO inbox", {}, OSError("disk I/O error"))]

    def insert_or_fail(conn, rows):
        if failures:
            raise failures.pop()
        insert(conn, rows)

    monkeypatch.setattr(gateway.inbox, "_insert_messages", insert_or_fail)
    smsc.inject(RESIDENT, "ВЫХОД магазин", encoding="ucs2")
    wait_for(lambda: count(engine, outbox, outbox.c.state == "sent") == 1)
    statuses = [status for _, status in smsc.deliver_answers]
    assert statuses == [Status.TEMPORARY_APP_ERROR, Status.OK]
    assert len(smsc.submits) == 1 and smsc.submits[0].text.startswith("ПРОПУСК ")
    assert count(engine, inbox) == 1 and count(engine, permits) == 1


# -- officers -----------------------------------------------------------------------------------


def test_an_officers_check_is_answered_with_the_permit(gateway, smsc, engine):
    smsc.inject(RESIDENT, "ВЫХОД аптека", encoding="ucs2")
    smsc.wait(lambda: replies_to(smsc, RESIDENT))
    code = code_in(replies_to(smsc, RESIDENT)[0])
    smsc.inject(OFFICER, f"проверка {code.lower()}", encoding="ucs2")
    smsc.wait(lambda: replies_to(smsc, OFFICER))
    [answer] = replies_to(smsc, OFFICER)
    assert answer.text.startswith("ДЕЙСТВУЕТ ") and answer.data_coding == 8
    assert "Иванов И.И." in answer.text
    with engine.connect() as conn:
        assert conn.scalar(select(verifications.c.outcome)) == "valid"
    with engine.connect() as conn:
        priority = conn.scalar(select(outbox.c.priority).where(outbox.c.recipient == OFFICER))
    assert priority > 0


# -- no message stops the others (rule 8) ------------------------------------------------------


def poisoned_group() -> bytes:
    """Six deliver_sm in one write, so the gateway stores them in one group: two requests and
    four messages that each used to fail the whole group's transaction."""
    ucs2 = {"encoding": "ucs2"}
    [resident] = mo_messages(RESIDENT, "377", "ВЫХОД магазин", **ucs2)
    [nul] = mo_messages(NEIGHBOUR, "377", "EXIT\0 shop", **ucs2)
    [sar] = mo_messages("+79270000011", "377", "EXIT 1")
    [ussd] = mo_messages("+79270000012", "377", "*377#", ussd_op=1,
                         ussd_session=bytes(range(40)).hex())
    sar_tlvs = {Tag.SAR_TOTAL_SEGMENTS: b"\x02", Tag.SAR_SEGMENT_SEQNUM: b"\x01"}
    wide = dataclasses.replace(sar, tlvs={**sar_tlvs, Tag.SAR_MSG_REF_NUM: b"\x80\0\0\0"})
    huge = dataclasses.replace(sar, tlvs={**sar_tlvs, Tag.SAR_MSG_REF_NUM: b"\x7f" + b"\0" * 8})
    return b"".join(pdu.encode_short_message("deliver_sm", 900 + n, message)
                    for n, message in enumerate((resident, nul, wide, huge, ussd, sar)))


def test_one_group_of_deliver_sm_with_poison_is_acknowledged_and_the_rest_answered(
        gateway, smsc, engine):
    smsc.send_raw(poisoned_group())
    smsc.wait(lambda: len([s for s, _ in smsc.deliver_answers if s >= 900]) == 6)
    assert {status for seq, status in smsc.deliver_answers if seq >= 900} == {Status.OK}
    smsc.wait(lambda: len(smsc.submits) == 3)
    assert replies_to(smsc, RESIDENT)[0].text.startswith("ПРОПУСК ")
    assert replies_to(smsc, NEIGHBOUR)[0].text.startswith("PERMIT ")
    assert count(engine, permits) == 2
    with engine.connect() as conn:
        reasons = conn.scalars(select(quarantine.c.reason).order_by(quarantine.c.id)).all()
    assert reasons == ["reference of 32 bits is out of range -2147483648..2147483647",
                       "reference of 71 bits is out of range -2147483648..2147483647",
                       "ussd_session is 80 characters long, at most 64 fit"]
    assert all(status == Status.OK for _, status in smsc.deliver_answers)  # none came back
