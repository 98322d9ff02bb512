"""No message stops the others at the inbox (rule 8): the gate, the split batch, the quarantine.

Every test stores a batch in which one message carries what used to fail the whole batch's
transaction, on SQLite and on PostgreSQL, and checks that the others are stored, the culprit
is kept in the quarantine and the call returns (so the transport acknowledges everything).
"""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select, text

from sms_gateway.pipeline import quarantine as q
from sms_gateway.pipeline.inbox import Inbox
from sms_gateway.pipeline.sink import standalone
from sms_gateway.transport import Concat, DeliveryReceipt, InboundPart, StoreError, Unreadable
from storage.tables.messages import delivery_receipts, inbox, inbox_parts, quarantine
from tests.conftest import NEIGHBOUR, RESIDENT


def part(clock, text: str = "ВЫХОД 1", sender: str = RESIDENT, **extra) -> InboundPart:
    return InboundPart("smpp:test", sender, text, clock(), **extra)


def rows(engine, table, *columns):
    with engine.connect() as conn:
        return conn.execute(select(*columns).select_from(table).order_by(table.c.id)).all()


def held(engine) -> list:
    with engine.connect() as conn:
        return conn.execute(select(quarantine).order_by(quarantine.c.id)).all()


def test_a_nul_in_a_text_is_dropped_and_the_batch_is_stored(engine, clock):
    Inbox(engine, clock=clock).store([part(clock, "EXIT 1"), part(clock, "ВЫ\0ХОД\x00 2\r\n"),
                                      part(clock, "EXIT\tshop", NEIGHBOUR)])
    assert [r.text for r in rows(engine, inbox, inbox.c.text)] == [
        "EXIT 1", "ВЫХОД 2\n", "EXIT shop"]
    assert held(engine) == []


def test_a_lone_surrogate_from_a_ucs2_decode_becomes_a_replacement_char(engine, clock):
    Inbox(engine, clock=clock).store([part(clock, "EXIT \ud83d 1"), part(clock, "EXIT 2")])
    assert [r.text for r in rows(engine, inbox, inbox.c.text)] == ["EXIT \ufffd 1", "EXIT 2"]


@pytest.mark.parametrize("concat, why", [
    (Concat(2**31, 2, 1), "reference of 32 bits"),  # a 4-byte sar_msg_ref_num
    (Concat(2**71, 2, 1), "reference of 72 bits"),  # a 9-byte one: beyond SQLite's 64 bits
    (Concat(5, 2**40, 1), "total of 41 bits"),
])
def test_a_concatenation_value_out_of_its_column_range_is_quarantined(engine, clock, concat, why):
    refused = Inbox(engine, clock=clock).store([part(clock, "EXIT 1"),
                                                part(clock, "ВЫХОД 2", concat=concat),
                                                part(clock, "EXIT 3", NEIGHBOUR)])
    assert [r.text for r in rows(engine, inbox, inbox.c.text)] == ["EXIT 1", "EXIT 3"]
    assert rows(engine, inbox_parts, inbox_parts.c.id) == []
    [entry] = held(engine)
    assert why in entry.reason and why in refused[0].why
    assert (entry.kind, entry.state, entry.sender, entry.channel) == (
        "message", "held", RESIDENT, "smpp:test")
    assert json.loads(entry.content)["text"] == "ВЫХОД 2"


def test_a_ussd_session_longer_than_its_column_is_quarantined(engine, clock):
    session = bytes(range(40)).hex()  # its_session_info of 40 octets: 80 hex digits
    Inbox(engine, clock=clock).store([part(clock, "*377#", ussd_op=1, ussd_session=session),
                                      part(clock, "*377#", NEIGHBOUR, ussd_op=1,
                                           ussd_session="0a0b")])
    assert [r.ussd_session for r in rows(engine, inbox, inbox.c.ussd_session)] == ["0a0b"]
    [entry] = held(engine)
    assert "ussd_session is 80 characters long, at most 64 fit" in entry.reason
    assert json.loads(entry.content)["ussd_session"] == session


def test_a_sender_or_dedup_key_that_cannot_be_stored_is_quarantined(engine, clock):
    Inbox(engine, clock=clock).store([part(clock, sender="+7" + "9" * 40),
                                      part(clock, sender="+79\x0027"),
                                      part(clock, dedup_key="k" * 121),
                                      part(clock, "EXIT 3", NEIGHBOUR, dedup_key="ok")])
    assert [r.sender for r in rows(engine, inbox, inbox.c.sender)] == [NEIGHBOUR]
    reasons = [entry.reason for entry in held(engine)]
    assert reasons == ["sender is 42 characters long, at most 32 fit", "sender holds U+0000",
                       "dedup_key is 121 characters long, at most 120 fit"]
    assert held(engine)[1].sender == "+7927"  # shown without the NUL


def test_a_text_longer_than_255_parts_is_cut_to_them(engine, clock, caplog):
    words = "EXIT " + "слово " * 9000  # 54 KB of UCS2: what one message_payload carries
    Inbox(engine, clock=clock).store([part(clock, words), part(clock, "a" * 40000)])
    stored = [r.text for r in rows(engine, inbox, inbox.c.text)]
    assert stored[0] == words[:255 * 67] and stored[1] == "a" * (255 * 153)
    assert "cut from 54005 to 17085 characters" in caplog.text


def test_a_part_is_cut_to_its_share_so_the_whole_message_fits_255_parts(engine, clock):
    inbox_ = Inbox(engine, clock=clock)
    inbox_.store([part(clock, "x" * 40000, concat=Concat(7, 3, seq)) for seq in (1, 2, 3)])
    [message] = rows(engine, inbox, inbox.c.text)
    assert len(message.text) == 3 * 85 * 153 <= 255 * 153


def forbid_poison(engine) -> None:
    """A database that refuses one text the gate lets through (as a constraint we did not
    foresee would): a CHECK on PostgreSQL, a trigger on SQLite."""
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("ALTER TABLE inbox ADD CONSTRAINT no_poison"
                              " CHECK (text <> 'POISON')"))
        else:
            conn.execute(text("CREATE TRIGGER no_poison BEFORE INSERT ON inbox WHEN NEW.text ="
                              " 'POISON' BEGIN SELECT RAISE(ABORT, 'no poison'); END"))


def allow_poison(engine) -> None:
    with engine.begin() as conn:
        conn.execute(text("ALTER TABLE inbox DROP CONSTRAINT no_poison"
                          if engine.dialect.name == "postgresql" else "DROP TRIGGER no_poison"))


@pytest.fixture
def poisonous(engine):
    forbid_poison(engine)
    return engine


def test_a_batch_refused_for_what_two_messages_hold_stores_the_others(poisonous, clock):
    batch = [part(clock, "POISON" if n in (7, 31) else f"EXIT {n}", f"+7927000{n:04d}")
             for n in range(50)]
    refused = Inbox(poisonous, clock=clock).store(batch)
    assert len(rows(poisonous, inbox, inbox.c.id)) == 48
    assert [r.item.sender for r in refused] == ["+79270000007", "+79270000031"]
    entries = held(poisonous)
    assert [e.sender for e in entries] == ["+79270000007", "+79270000031"]
    assert all(e.reason.startswith("the database refused it: ") for e in entries)


def test_a_part_that_completes_a_refused_message_is_quarantined_its_sibling_waits(
        poisonous, clock):
    parts = [part(clock, "POI", concat=Concat(9, 2, 1)), part(clock, "SON", concat=Concat(9, 2, 2)),
             part(clock, "EXIT 1", NEIGHBOUR)]
    Inbox(poisonous, clock=clock).store(parts)
    assert [r.sender for r in rows(poisonous, inbox, inbox.c.sender)] == [NEIGHBOUR]
    assert [r.text for r in rows(poisonous, inbox_parts, inbox_parts.c.text)] == ["POI"]
    [entry] = held(poisonous)  # the reassembly timeout handles "POI" alone later
    assert json.loads(entry.content)["concat"] == [9, 2, 2]


def test_the_database_itself_failing_still_raises_and_quarantines_nothing(engine, clock):
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE inbox_parts"))
    with pytest.raises(StoreError):
        Inbox(engine, clock=clock).store([part(clock), part(clock, concat=Concat(1, 2, 1))])
    assert held(engine) == [] and rows(engine, inbox, inbox.c.id) == []


def test_a_receipt_whose_id_cannot_be_stored_is_quarantined_the_others_recorded(engine, clock):
    standalone(engine, clock=clock).receipts([
        DeliveryReceipt("smpp:test", "1" * 5000, "DELIVRD"),
        DeliveryReceipt("smpp:test", "ab\0cd", "DELIVRD"),
        DeliveryReceipt("smpp:test", "42", "UNDELIV", error="\0err 034"),
    ])
    [kept] = rows(engine, delivery_receipts, delivery_receipts.c.message_id,
                  delivery_receipts.c.error)
    assert tuple(kept) == ("42", "err 034")
    assert [(e.kind, e.reason) for e in held(engine)] == [
        ("receipt", "message_id is 5000 characters long, at most 80 fit"),
        ("receipt", "message_id holds U+0000")]


def test_what_a_transport_cannot_decode_is_set_aside_with_its_bytes(engine, clock):
    Inbox(engine, clock=clock).set_aside([Unreadable("modem:test", b"\x07\x91\xff", "bad DCS",
                                                     clock(), sender="+79270000001")])
    [entry] = held(engine)
    assert (entry.kind, entry.raw, entry.reason, entry.sender) == (
        "unreadable", b"\x07\x91\xff", "bad DCS", RESIDENT)


def test_a_released_message_goes_through_the_gate_into_the_inbox(poisonous, clock):
    inbox_ = Inbox(poisonous, clock=clock)
    inbox_.store([part(clock, "POISON", dedup_key="sim|1")])
    [entry] = held(poisonous)
    with pytest.raises(q.QuarantineError, match="still refused: "):
        inbox_.release(entry.id)
    allow_poison(poisonous)
    inbox_.release(entry.id)
    [stored] = rows(poisonous, inbox, inbox.c.text, inbox.c.dedup_key, inbox.c.state)
    assert tuple(stored) == ("POISON", "sim|1", "new")
    assert [e.state for e in held(poisonous)] == ["released"]
    with pytest.raises(q.QuarantineError, match="no held entry"):
        inbox_.release(entry.id)


def test_only_messages_can_be_released_and_a_deleted_entry_is_erased(engine, clock):
    inbox_ = Inbox(engine, clock=clock)
    inbox_.set_aside([Unreadable("modem:test", b"\x00\x01", "bad PDU", clock())])
    inbox_.store([part(clock, concat=Concat(2**70, 2, 1))])
    unreadable, too_large = held(engine)
    with pytest.raises(q.QuarantineError, match="only messages can be released"):
        inbox_.release(unreadable.id)
    with pytest.raises(q.QuarantineError, match="integer too large to restore"):
        inbox_.release(too_large.id)
    with engine.begin() as conn:
        q.resolve(conn, unreadable.id, q.State.DELETED, clock())
        assert q.held_by_channel(conn) == [("smpp:test", 1)]
    erased = held(engine)[0]
    assert (erased.state, erased.content, erased.raw) == ("deleted", "", None)
