"""SmppTransport against the simulated SMSC over real loopback sockets: messages and faults."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator

import pytest

from sms_gateway.smpp import pdu
from sms_gateway.smpp.constants import Status
from sms_gateway.smpp.pdu import ShortMessage
from sms_gateway.smpp.transport import SmppTransport
from sms_gateway.transport import DeliveryReceipt, OutboundMessage
from tools.simsmsc.kit import RecordingSink, local_settings
from tools.simsmsc.simulator import SimSmsc
from tools.waiting import wait_for

PHONE = "+79161234567"
RUSSIAN = "Пропуск 7KQ-2M выдан: выход в магазин до 14:30. Покажите код полиции."


@pytest.fixture
def smsc() -> Iterator[SimSmsc]:
    with SimSmsc() as sim:
        yield sim


def connect(smsc: SimSmsc, **overrides: object) -> tuple[SmppTransport, RecordingSink]:
    transport = SmppTransport(local_settings(smsc.port, **overrides))
    sink = RecordingSink()
    transport.start(sink)
    wait_for(lambda: transport.health().up)
    return transport, sink


@pytest.fixture
def link(smsc: SimSmsc) -> Iterator[tuple[SmppTransport, RecordingSink]]:
    transport, sink = connect(smsc)
    yield transport, sink
    transport.stop()


def reply(text: str, number: int = 1, **fields: object) -> OutboundMessage:
    return OutboundMessage(id=number, to=PHONE, text=text, **fields)


def joined(smsc: SimSmsc) -> str:
    records = sorted(smsc.submits, key=lambda record: record.concat.seq if record.concat else 0)
    return "".join(record.text for record in records)


# -- replies -----------------------------------------------------------------------------------


def test_gsm7_reply_keeps_braces_and_euro(smsc, link):
    transport, _ = link
    [result] = transport.send([reply("Code {AB-12} costs 0 €")])
    [record] = smsc.submits
    assert result.ok and result.transport_message_id == record.message_id.lower()
    assert (record.text, record.data_coding, record.to) == ("Code {AB-12} costs 0 €", 0, PHONE[1:])
    assert record.registered_delivery == 1


def test_cyrillic_reply_goes_as_ucs2(smsc, link):
    transport, _ = link
    [result] = transport.send([reply("Пропуск выдан")])
    assert result.ok
    assert [(r.text, r.data_coding) for r in smsc.submits] == [("Пропуск выдан", 8)]


@pytest.mark.parametrize("mode", ["udh", "sar"])
def test_long_reply_is_split_into_concatenated_parts(smsc, mode):
    transport, _ = connect(smsc, long_messages=mode)
    text = RUSSIAN * 2
    [result] = transport.send([reply(text)])
    transport.stop()
    assert result.ok
    parts = smsc.submits
    assert [p.concat.seq for p in parts] == [1, 2, 3]
    assert {(p.concat.total, p.concat.reference) for p in parts} == {(3, parts[0].concat.reference)}
    assert joined(smsc) == text
    assert result.transport_message_id == parts[0].message_id.lower()


def test_long_reply_as_one_message_payload(smsc):
    transport, _ = connect(smsc, long_messages="payload")
    [result] = transport.send([reply(RUSSIAN * 2)])
    transport.stop()
    [record] = smsc.submits
    assert result.ok and record.via_payload and record.text == RUSSIAN * 2


def test_long_gsm7_reply_never_splits_an_escape(smsc, link):
    transport, _ = link
    text = "x" * 152 + "€" + "y" * 100
    [result] = transport.send([reply(text)])
    assert result.ok and joined(smsc) == text
    assert smsc.submits[0].text == "x" * 152


def test_validity_period_follows_expiry(smsc, link):
    transport, _ = link
    expires = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
    transport.send([reply("ok", expires_at=expires)])
    assert smsc.submits[0].validity_period == expires.strftime("%y%m%d%H%M%S") + "000+"


def test_expired_reply_fails_permanently_without_sending(smsc, link):
    transport, _ = link
    [result] = transport.send([reply("late", expires_at=dt.datetime(2020, 1, 1, tzinfo=dt.UTC))])
    assert not result.ok and result.permanent and smsc.submits == []


def test_ussd_reply_carries_service_op_and_session(smsc, link):
    transport, _ = link
    [result] = transport.send([reply("Valid until 14:30", ussd_op=17, ussd_session="0a01")])
    [record] = smsc.submits
    assert result.ok and (record.ussd_op, record.ussd_session) == (17, "0a01")


def test_batch_larger_than_the_window_gets_every_result(smsc, link):
    transport, _ = link
    results = transport.send([reply(f"n{n}", n) for n in range(50)])
    assert [r.id for r in results] == list(range(50)) and all(r.ok for r in results)
    assert len({r.transport_message_id for r in results}) == 50


# -- mobile-originated -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("encoding", "text"),
    [("gsm7", "EXIT shop {now} €5"), ("ucs2", "ВЫХОД магазин"), ("latin1", "EXIT café")],
)
def test_mo_text_in_each_alphabet(smsc, link, encoding, text):
    _, sink = link
    smsc.inject(PHONE, text, encoding=encoding)
    sink.wait_for(lambda: sink.parts)
    [part] = sink.parts
    assert (part.sender, part.text, part.concat, part.channel) == (PHONE, text, None, "smpp:test")
    smsc.wait(lambda: smsc.deliver_answers)
    assert smsc.deliver_answers[0][1] == Status.OK


@pytest.mark.parametrize("split", ["udh", "sar"])
def test_three_parts_out_of_order_reach_the_sink_with_concat(smsc, link, split):
    _, sink = link
    text = "ВЫХОД " * 40
    smsc.inject(PHONE, text, encoding="ucs2", split=split, parts=3, order=[2, 0, 1])
    sink.wait_for(lambda: len(sink.parts) == 3)
    assert [p.concat.seq for p in sink.parts] == [3, 1, 2]
    assert len({(p.concat.reference, p.concat.total) for p in sink.parts}) == 1
    ordered = sorted(sink.parts, key=lambda p: p.concat.seq)
    assert "".join(p.text for p in ordered) == text


def test_mo_in_message_payload(smsc, link):
    _, sink = link
    smsc.inject(PHONE, "EXIT " * 60, split="payload")
    sink.wait_for(lambda: sink.parts)
    assert sink.parts[0].text == "EXIT " * 60


def test_ussd_mo_carries_service_op_and_session(smsc, link):
    _, sink = link
    smsc.inject(PHONE, "*377#", ussd_op=1, ussd_session="1b00")
    sink.wait_for(lambda: sink.parts)
    assert (sink.parts[0].ussd_op, sink.parts[0].ussd_session, sink.parts[0].text) == (
        1,
        "1b00",
        "*377#",
    )


STATES = ["DELIVRD", "UNDELIV", "EXPIRED", "REJECTD", "DELETED", "ACCEPTD", "UNKNOWN", "ENROUTE"]


@pytest.mark.parametrize("form", ["tlv", "text", "both"])
def test_receipts_of_every_state_match_the_submit_id(smsc, link, form):
    transport, sink = link
    results = transport.send([reply(f"m{n}", n) for n in range(len(STATES))])
    for record, state in zip(smsc.submits, STATES, strict=True):
        text_id = str(int(record.message_id, 16))  # the receipt text writes the id in decimal
        smsc.receipt(record.message_id, state, form=form, text_id=text_id)
    sink.wait_for(lambda: len(sink.receipts_seen) == len(STATES))
    assert sink.receipts_seen == [
        DeliveryReceipt("smpp:test", r.transport_message_id, state)
        for r, state in zip(results, STATES, strict=True)
    ]


def test_receipt_error_code_is_kept(smsc, link):
    _, sink = link
    smsc.receipt("1F0AB", "UNDELIV", form="text", err="034")
    sink.wait_for(lambda: sink.receipts_seen)
    assert sink.receipts_seen[0].error == "034"


def test_store_failure_answers_rx_t_appn_and_the_redelivery_is_kept(smsc, link):
    _, sink = link
    sink.fail_next = 1
    smsc.inject(PHONE, "EXIT 2")
    sink.wait_for(lambda: sink.parts)
    smsc.wait(lambda: len(smsc.deliver_answers) == 2)
    assert [status for _, status in smsc.deliver_answers] == [Status.TEMPORARY_APP_ERROR, 0]
    assert [p.text for p in sink.parts] == ["EXIT 2"]


def test_undecodable_mo_is_set_aside_acknowledged_and_the_link_goes_on(smsc, link):
    _, sink = link
    odd_ucs2 = ShortMessage("79161234567", "377", b"\xd8", source_addr_ton=1, data_coding=8)
    smsc.send_raw(pdu.encode_short_message("deliver_sm", 4242, odd_ucs2))
    smsc.wait(lambda: any(seq == 4242 for seq, _ in smsc.deliver_answers))
    assert dict(smsc.deliver_answers)[4242] == Status.OK
    [unreadable] = sink.set_aside_seen
    assert unreadable.sender == "+79161234567" and "odd length" in unreadable.reason
    smsc.inject(PHONE, "after")
    sink.wait_for(lambda: [p.text for p in sink.parts] == ["after"])


# -- faults ------------------------------------------------------------------------------------


def test_rebinds_after_the_smsc_drops_the_link(smsc, link):
    transport, _ = link
    smsc.drop()
    wait_for(lambda: transport.health().details["reconnects"] >= 1 and transport.health().up)
    assert smsc.binds == ["transceiver", "transceiver"]
    assert transport.send([reply("again")])[0].ok


def test_half_open_link_is_detected_by_enquire_link(smsc):
    transport, sink = connect(smsc, enquire_link_seconds=0.2, response_timeout_seconds=0.3)
    smsc.faults.silent = True
    sink.wait_for(
        lambda: any(
            not h.up and "enquire_link" in str(h.details["last_error"]) for h in sink.health
        )
    )
    smsc.faults.silent = False
    wait_for(lambda: transport.health().up)
    transport.stop()


def test_unanswered_submit_times_out_for_retry(smsc):
    transport, _ = connect(smsc, response_timeout_seconds=0.3)
    smsc.faults.silent = True
    [result] = transport.send([reply("lost")])
    transport.stop()
    assert not result.ok and not result.permanent and "submit_sm_resp" in result.error


def test_throttling_slows_down_instead_of_failing(smsc, link):
    transport, _ = link
    smsc.faults.throttle = 3
    results = transport.send([reply("a", 1), reply("b", 2)])
    assert all(r.ok for r in results) and smsc.faults.throttle == 0
    assert sorted(r.text for r in smsc.submits) == ["a", "b"]
    assert transport.health().up


def test_generic_nack_is_a_temporary_failure(smsc, link):
    transport, _ = link
    smsc.faults.nack = 1
    [result] = transport.send([reply("nacked")])
    assert not result.ok and not result.permanent
    assert transport.send([reply("fine")])[0].ok


def test_unbind_from_the_smsc_is_answered_and_followed_by_a_rebind(smsc, link):
    transport, _ = link
    smsc.unbind()
    wait_for(lambda: len(smsc.binds) == 2 and transport.health().up)
    assert transport.send([reply("back")])[0].ok


def test_a_link_to_an_smsc_that_went_away_is_not_ready_and_its_sends_are_no_attempt(smsc):
    transport, sink = connect(smsc)
    assert transport.ready()
    smsc.go_away()
    sink.wait_for(lambda: not sink.health[-1].up)
    assert not transport.ready()
    [result] = transport.send([reply("waits")])
    assert not result.ok and result.deferred and not result.permanent
    smsc.come_back()
    sink.wait_for(lambda: sink.health[-1].up)  # reported: the pipeline wakes its senders
    assert transport.ready() and transport.send([reply("now")])[0].ok
    transport.stop()
    assert [record.text for record in smsc.submits] == ["now"]


def test_submits_on_the_wire_when_the_link_drops_come_back_as_maybe_sent_no_attempt(smsc):
    transport, _ = connect(smsc, response_timeout_seconds=30)
    smsc.faults.silent = True  # the submit_sm_resp never comes
    results: list = []
    sending = threading.Thread(target=lambda: results.extend(transport.send([reply("lost")])))
    sending.start()
    wait_for(lambda: transport.health().details["window_in_use"] == 1)
    smsc.drop()
    sending.join(10)
    smsc.faults.silent = False
    transport.stop()
    [result] = results
    assert result.deferred and result.uncertain and not result.permanent


def test_a_deliver_sm_whose_answer_was_lost_in_a_drop_comes_again_after_the_next_bind(smsc, link):
    _, sink = link
    smsc.faults.drop_on_answer = 1  # the link drops as our deliver_sm_resp arrives, unread
    smsc.inject(PHONE, "EXIT shop")
    sink.wait_for(lambda: len(sink.parts) == 2)
    smsc.wait(lambda: smsc.deliver_answers)
    assert [part.text for part in sink.parts] == ["EXIT shop", "EXIT shop"]
    assert [status for _, status in smsc.deliver_answers] == [Status.OK]
    assert smsc.binds == ["transceiver", "transceiver"]


def test_wrong_password_keeps_the_link_down_and_says_why():
    with SimSmsc(credentials=("gateway", "other")) as smsc:
        transport = SmppTransport(local_settings(smsc.port))
        transport.start(RecordingSink())
        wait_for(lambda: transport.health().details["last_error"])
        health = transport.health()
        [result] = transport.send([reply("no")])
        transport.stop()
    assert not health.up and "bind refused" in health.details["last_error"]
    assert not result.ok and not result.permanent


def test_stop_unbinds_cleanly(smsc, link):
    transport, _ = link
    transport.stop()
    wait_for(lambda: smsc.bound_count() == 0)
    assert not transport.health().up


def test_transmitter_receiver_pair(smsc):
    transport, sink = connect(smsc, bind_mode="pair")
    assert sorted(smsc.binds) == ["receiver", "transmitter"]
    assert transport.send([reply("via tx")])[0].ok
    smsc.inject(PHONE, "via rx")
    sink.wait_for(lambda: sink.parts)
    details = transport.health().details
    transport.stop()
    assert details["bind_state"] == "transmitter:bound receiver:bound"


def test_health_reports_link_figures(smsc, link):
    transport, sink = link
    health = transport.health()
    assert health.up and health.kind == "smpp" and health.channel == "smpp:test"
    assert {"bind_state", "last_enquire_link", "window_in_use", "queued", "reconnects"} <= set(
        health.details
    )
    assert any(h.up for h in sink.health)


def test_a_receipt_with_a_5000_digit_id_neither_drops_the_link_nor_comes_back(smsc):
    transport, sink = connect(smsc, message_id_format="decimal")
    try:
        receipt = ShortMessage("79161234567", "377", source_addr_ton=1, esm_class=0x04,
                               tlvs={pdu.Tag.RECEIPTED_MESSAGE_ID: b"4" * 5000 + b"\0",
                                     pdu.Tag.MESSAGE_STATE: b"\x02"})
        smsc.send_raw(pdu.encode_short_message("deliver_sm", 777, receipt))
        smsc.inject(PHONE, "after")
        sink.wait_for(lambda: [p.text for p in sink.parts] == ["after"])
        smsc.wait(lambda: any(seq == 777 for seq, _ in smsc.deliver_answers))
        assert dict(smsc.deliver_answers)[777] == Status.OK
        assert transport.health().details["reconnects"] == 0
    finally:
        transport.stop()
