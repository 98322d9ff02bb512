"""The SMPP session state machine, byte by byte, with a fake clock (no sockets, no threads)."""

from __future__ import annotations

import struct
from dataclasses import replace

import pytest

from sms_encoding import gsm7
from sms_gateway.smpp import pdu
from sms_gateway.smpp.constants import Command, Status
from sms_gateway.smpp.durable import store_and_acknowledge
from sms_gateway.smpp.events import (
    BindRefused,
    Bound,
    LinkDead,
    Received,
    Refused,
    SubmitAccepted,
    SubmitFailed,
    Unbound,
)
from sms_gateway.smpp.pdu import ShortMessage, Tag
from sms_gateway.smpp.session import Session
from sms_gateway.smpp.states import BindKind, State
from sms_gateway.smpp.window import THROTTLE_ATTEMPTS, THROTTLE_PAUSE_MIN
from sms_gateway.transport import DeliveryReceipt, InboundPart, Unreadable
from tools.simsmsc.kit import FakeClock, RecordingSink, local_settings

SETTINGS = local_settings(2775, window=2, response_timeout_seconds=10, enquire_link_seconds=30)
REPLY = ShortMessage(source_addr="377", destination_addr="79161234567", short_message=b"ok")


def frames(data: bytes) -> list[pdu.Pdu]:
    return pdu.FrameBuffer().feed(data)


def resp(command: Command, sequence: int, status: int = 0, body: bytes = b"") -> bytes:
    return pdu.encode(command, sequence, status, body)


def deliver(sequence: int, text: str = "EXIT shop", **fields: object) -> bytes:
    message = ShortMessage(
        source_addr="79161234567",
        destination_addr="377",
        source_addr_ton=1,
        short_message=gsm7.encode(text),
        **fields,
    )
    return pdu.encode_short_message("deliver_sm", sequence, message)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def bind(clock: FakeClock, settings=SETTINGS, kind=BindKind.TRANSCEIVER) -> Session:
    session = Session(settings, kind, clock, "smpp:test")
    session.start()
    [request] = frames(session.data_to_send())
    assert request.command_id == kind.command
    events = session.receive_data(resp(kind.command | 0x80000000, request.sequence, 0, b"SMSC\0"))
    assert events == [Bound("SMSC")]
    return session


def submitted(session: Session) -> list[pdu.Pdu]:
    sent = frames(session.data_to_send())
    assert all(frame.command_id == Command.SUBMIT_SM for frame in sent)
    return sent


# -- binding -----------------------------------------------------------------------------------


def test_bind_transceiver_carries_credentials_and_interface_version(clock):
    session = Session(SETTINGS, BindKind.TRANSCEIVER, clock, "smpp:test")
    session.start()
    [request] = frames(session.data_to_send())
    assert request.command_id == Command.BIND_TRANSCEIVER
    assert request.body == b"gateway\0secret\0\0\x34\0\0\0"
    assert session.state is State.BINDING


def test_bound_after_bind_resp_ok(clock):
    session = bind(clock)
    assert session.state is State.BOUND


@pytest.mark.parametrize("kind", [BindKind.TRANSMITTER, BindKind.RECEIVER])
def test_pair_binds_use_their_own_commands(clock, kind):
    assert bind(clock, kind=kind).state is State.BOUND


def test_bind_refused_is_reported(clock):
    session = Session(SETTINGS, BindKind.TRANSCEIVER, clock, "smpp:test")
    session.start()
    [request] = frames(session.data_to_send())
    events = session.receive_data(resp(Command.BIND_TRANSCEIVER_RESP, request.sequence, 0x0E))
    assert events == [BindRefused(0x0E)]


def test_unanswered_bind_kills_the_link(clock):
    session = Session(SETTINGS, BindKind.TRANSCEIVER, clock, "smpp:test")
    session.start()
    clock.advance(9.9)
    assert session.tick() == []
    clock.advance(0.2)
    assert [type(event) for event in session.tick()] == [LinkDead]


# -- submit window -----------------------------------------------------------------------------


def test_window_holds_back_submits_until_responses_free_it(clock):
    session = bind(clock)
    assert session.submit([(n, REPLY) for n in range(3)]) == []
    first, second = submitted(session)
    assert session.window_in_use == 2 and session.queued == 1
    events = session.receive_data(resp(Command.SUBMIT_SM_RESP, first.sequence, 0, b"0A1B\0"))
    assert events == [SubmitAccepted(0, "a1b")]
    [third] = submitted(session)
    assert len({first.sequence, second.sequence, third.sequence}) == 3


def test_submit_sm_fields_decode_back(clock):
    session = bind(clock)
    message = replace(REPLY, tlvs={Tag.USSD_SERVICE_OP: b"\x11"})
    session.submit([("a", message)])
    [frame] = submitted(session)
    assert pdu.decode_short_message("submit_sm", frame) == message


def test_submit_timeout_reports_for_retry_and_frees_the_window(clock):
    session = bind(clock)
    session.submit([("late", REPLY)])
    [frame] = submitted(session)
    clock.advance(10)
    assert session.tick() == [SubmitFailed("late", "no submit_sm_resp in time", uncertain=True)]
    assert session.window_in_use == 0
    assert session.receive_data(resp(Command.SUBMIT_SM_RESP, frame.sequence, 0, b"1\0")) == []


def test_several_responses_in_one_read(clock):
    session = bind(clock)
    session.submit([("a", REPLY), ("b", REPLY)])
    a, b = submitted(session)
    data = resp(Command.SUBMIT_SM_RESP, b.sequence, 0, b"2\0") + resp(
        Command.SUBMIT_SM_RESP, a.sequence, 0, b"1\0"
    )
    assert session.receive_data(data) == [SubmitAccepted("b", "2"), SubmitAccepted("a", "1")]


@pytest.mark.parametrize(
    ("status", "permanent"),
    [(0x0B, True), (0x45, False), (0x08, False), (0x62, True), (0x64, False), (0x66, True)],
)
def test_refusals_are_permanent_or_temporary_by_status(clock, status, permanent):
    session = bind(clock)
    session.submit([("m", REPLY)])
    [frame] = submitted(session)
    [event] = session.receive_data(resp(Command.SUBMIT_SM_RESP, frame.sequence, status))
    assert isinstance(event, SubmitFailed) and event.permanent is permanent
    assert f"0x{status:08x}" in event.error


def test_submit_before_bind_is_handed_back_at_once_as_no_attempt(clock):
    session = Session(SETTINGS, BindKind.TRANSCEIVER, clock, "smpp:test")
    session.start()
    assert session.submit([("m", REPLY)]) == [SubmitFailed("m", "link binding", deferred=True)]


def test_a_closed_link_hands_back_its_submits_in_flight_ones_as_maybe_delivered(clock):
    session = bind(clock)
    session.submit([(n, REPLY) for n in range(3)])  # a window of 2: one waits in the queue
    submitted(session)
    assert session.close("link lost") == [
        SubmitFailed(0, "link lost", uncertain=True, deferred=True),
        SubmitFailed(1, "link lost", uncertain=True, deferred=True),
        SubmitFailed(2, "link lost", deferred=True),
    ]


def test_receiver_bind_cannot_submit(clock):
    session = bind(clock, kind=BindKind.RECEIVER)
    assert session.submit([("m", REPLY)]) == [SubmitFailed("m", "receiver bind")]


def test_unencodable_submit_fails_permanently(clock):
    session = bind(clock)
    too_long = replace(REPLY, destination_addr="1" * 30)
    [event] = session.submit([("m", too_long)])
    assert isinstance(event, SubmitFailed) and event.permanent


# -- throttling and the rate cap ---------------------------------------------------------------


@pytest.mark.parametrize("status", [Status.THROTTLED, Status.MESSAGE_QUEUE_FULL])
def test_throttling_pauses_then_resends(clock, status):
    session = bind(clock)
    session.submit([("m", REPLY)])
    [frame] = submitted(session)
    assert session.receive_data(resp(Command.SUBMIT_SM_RESP, frame.sequence, status)) == []
    assert session.data_to_send() == b""
    assert session.throttled  # not ready: the sender claims nothing more meanwhile
    assert session.next_deadline() == pytest.approx(clock.monotonic() + THROTTLE_PAUSE_MIN)
    clock.advance(THROTTLE_PAUSE_MIN)
    assert not session.throttled
    assert session.tick() == []
    [again] = submitted(session)
    assert again.sequence != frame.sequence and again.body == frame.body
    events = session.receive_data(resp(Command.SUBMIT_SM_RESP, again.sequence, 0, b"ff\0"))
    assert events == [SubmitAccepted("m", "ff")]


def test_throttling_backs_off_longer_each_time_then_hands_the_submit_back(clock):
    session = bind(clock)
    session.submit([("m", REPLY)])
    pauses = []
    for _ in range(THROTTLE_ATTEMPTS - 1):
        [frame] = submitted(session)
        session.receive_data(resp(Command.SUBMIT_SM_RESP, frame.sequence, Status.THROTTLED))
        pauses.append(session.next_deadline() - clock.monotonic())
        clock.advance(pauses[-1])
        session.tick()
    assert pauses == sorted(pauses) and pauses[-1] > pauses[0]
    [frame] = submitted(session)
    [event] = session.receive_data(resp(Command.SUBMIT_SM_RESP, frame.sequence, 0x58))
    assert isinstance(event, SubmitFailed) and not event.permanent
    assert event.deferred  # the SMSC asked us to wait: no attempt spent


def test_rate_cap_paces_submits(clock):
    session = bind(clock, replace(SETTINGS, window=10, max_per_second=10))
    session.submit([(n, REPLY) for n in range(3)])
    assert len(submitted(session)) == 1
    assert session.next_deadline() == pytest.approx(clock.monotonic() + 0.1)
    clock.advance(0.1)
    session.tick()
    assert len(submitted(session)) == 1


# -- enquire_link ------------------------------------------------------------------------------


def test_enquire_link_after_silence_and_dead_link_without_answer(clock):
    session = bind(clock)
    assert session.next_deadline() == pytest.approx(clock.monotonic() + 30)
    clock.advance(30)
    session.tick()
    [probe] = frames(session.data_to_send())
    assert probe.command_id == Command.ENQUIRE_LINK
    clock.advance(10)
    [event] = session.tick()
    assert isinstance(event, LinkDead) and "enquire_link" in event.reason


def test_answered_enquire_link_keeps_the_link(clock):
    session = bind(clock)
    clock.advance(30)
    session.tick()
    [probe] = frames(session.data_to_send())
    assert session.receive_data(resp(Command.ENQUIRE_LINK_RESP, probe.sequence)) == []
    assert session.last_enquire_link is not None
    clock.advance(20)
    assert session.tick() == [] and session.data_to_send() == b""


def test_traffic_postpones_enquire_link(clock):
    session = bind(clock)
    clock.advance(25)
    session.receive_data(resp(Command.ENQUIRE_LINK, 77))
    session.data_to_send()
    clock.advance(25)
    session.tick()
    assert session.data_to_send() == b""


# -- what the SMSC asks of us ------------------------------------------------------------------


def test_answers_smsc_enquire_link(clock):
    session = bind(clock)
    assert session.receive_data(resp(Command.ENQUIRE_LINK, 99)) == []
    assert session.data_to_send() == resp(Command.ENQUIRE_LINK_RESP, 99)


def test_answers_smsc_unbind_and_ends(clock):
    session = bind(clock)
    assert session.receive_data(resp(Command.UNBIND, 5)) == [Unbound(by_peer=True)]
    assert session.data_to_send() == resp(Command.UNBIND_RESP, 5)


def test_unknown_command_gets_generic_nack_invalid_command_id(clock):
    session = bind(clock)
    assert session.receive_data(resp(0x00000103, 8, 0, b"x")) == []
    assert session.data_to_send() == resp(Command.GENERIC_NACK, 8, Status.INVALID_COMMAND_ID)


def test_unknown_response_is_ignored_silently(clock):
    session = bind(clock)
    assert session.receive_data(resp(0x80000103, 8)) == []
    assert session.data_to_send() == b""


def test_generic_nack_for_a_submit_fails_it(clock):
    session = bind(clock)
    session.submit([("m", REPLY)])
    [frame] = submitted(session)
    [event] = session.receive_data(resp(Command.GENERIC_NACK, frame.sequence, Status.SYSTEM_ERROR))
    assert isinstance(event, SubmitFailed) and not event.permanent


def test_broken_length_prefix_kills_the_link(clock):
    session = bind(clock)
    [event] = session.receive_data(struct.pack(">IIII", 8, 5, 0, 1))
    assert isinstance(event, LinkDead)
    assert frames(session.data_to_send())[0].command_id == Command.GENERIC_NACK


def test_our_unbind_ends_on_answer_or_deadline(clock):
    session = bind(clock)
    session.unbind()
    [request] = frames(session.data_to_send())
    assert request.command_id == Command.UNBIND
    assert session.receive_data(resp(Command.UNBIND_RESP, request.sequence)) == [Unbound(False)]
    other = bind(clock)
    other.unbind()
    clock.advance(10)
    assert other.tick() == [Unbound(by_peer=False)]


def test_close_fails_everything_unanswered(clock):
    session = bind(clock)
    session.submit([(n, REPLY) for n in range(3)])
    events = session.close("link lost")
    assert sorted(event.tag for event in events) == [0, 1, 2]
    assert all(isinstance(event, SubmitFailed) and not event.permanent for event in events)


# -- deliver_sm --------------------------------------------------------------------------------


def test_deliver_sm_is_answered_only_when_acknowledged(clock):
    session = bind(clock)
    data = deliver(40, "EXIT {shop} €") + deliver(41, "second")
    events = session.receive_data(data[:7]) + session.receive_data(data[7:])
    assert [event.sequence for event in events] == [40, 41]
    part = events[0].item
    assert isinstance(part, InboundPart)
    assert (part.sender, part.text, part.channel) == ("+79161234567", "EXIT {shop} €", "smpp:test")
    assert session.data_to_send() == b""
    session.acknowledge([40, 41])
    assert session.data_to_send() == resp(Command.DELIVER_SM_RESP, 40, 0, b"\0") + resp(
        Command.DELIVER_SM_RESP, 41, 0, b"\0"
    )


def test_deliver_sm_refused_with_temporary_error_when_not_stored(clock):
    session = bind(clock)
    session.receive_data(deliver(3))
    session.acknowledge([3], Status.TEMPORARY_APP_ERROR)
    [answer] = frames(session.data_to_send())
    assert (answer.command_id, answer.status) == (Command.DELIVER_SM_RESP, 0x64)


def test_undecodable_deliver_sm_is_set_aside_not_fatal(clock, caplog):
    session = bind(clock)
    bad = ShortMessage("79161234567", "377", b"\x04\x1f\x00", source_addr_ton=1, data_coding=8)
    raw = pdu.encode_short_message("deliver_sm", 9, bad)
    [event] = session.receive_data(raw)
    assert isinstance(event, Received) and isinstance(event.item, Unreadable)
    assert (event.sequence, event.item.raw, event.item.sender) == (9, raw, "+79161234567")
    assert "odd length" in event.item.reason
    assert "1234567" not in caplog.text
    assert session.data_to_send() == b""  # answered once it is in the quarantine
    assert [type(e) for e in session.receive_data(deliver(10))] == [Received]


def test_truncated_deliver_sm_body_is_refused(clock):
    session = bind(clock)
    [event] = session.receive_data(resp(Command.DELIVER_SM, 11, 0, b"\0\x01\x01791"))
    assert isinstance(event, Refused)


def test_deliver_sm_before_bind_is_refused(clock):
    session = Session(SETTINGS, BindKind.TRANSCEIVER, clock, "smpp:test")
    session.start()
    session.data_to_send()
    [event] = session.receive_data(deliver(1))
    assert event.status == Status.INVALID_BIND_STATUS


def test_receipt_arrives_as_delivery_receipt(clock):
    session = bind(clock)
    tlvs = {Tag.RECEIPTED_MESSAGE_ID: b"0A1B\0", Tag.MESSAGE_STATE: b"\x05"}
    [event] = session.receive_data(deliver(12, "", esm_class=0x04, tlvs=tlvs))
    assert event.item == DeliveryReceipt("smpp:test", "a1b", "UNDELIV")


def test_sequence_numbers_wrap_to_one(clock):
    session = bind(clock)
    session._sequence = 0x7FFFFFFF
    session.submit([("m", REPLY)])
    [frame] = submitted(session)
    assert frame.sequence == 1


def test_generic_nack_to_bind_is_a_refusal(clock):
    session = Session(SETTINGS, BindKind.TRANSCEIVER, clock, "smpp:test")
    session.start()
    [request] = frames(session.data_to_send())
    events = session.receive_data(resp(Command.GENERIC_NACK, request.sequence, 0x03))
    assert events == [BindRefused(0x03)]


def test_generic_nack_to_our_unbind_still_ends_the_session(clock):
    session = bind(clock)
    session.unbind()
    [request] = frames(session.data_to_send())
    assert session.receive_data(resp(Command.GENERIC_NACK, request.sequence, 3)) == [
        Unbound(by_peer=False)
    ]


def test_a_response_of_the_wrong_kind_does_not_answer_our_request(clock):
    session = bind(clock)
    clock.advance(30)
    session.tick()
    [probe] = frames(session.data_to_send())
    session.receive_data(resp(Command.BIND_TRANSCEIVER_RESP, probe.sequence))
    clock.advance(10)
    assert [type(event) for event in session.tick()] == [LinkDead]


# -- durability: one read, one commit, one answer ----------------------------------------------


def test_one_read_is_stored_in_one_call_and_answered_in_one_write(clock):
    session = bind(clock)
    receipt = deliver(
        22, "", esm_class=0x04, tlvs={Tag.RECEIPTED_MESSAGE_ID: b"7\0", Tag.MESSAGE_STATE: b"\x02"}
    )
    events = session.receive_data(deliver(20) + deliver(21) + receipt)
    sink = RecordingSink()
    answers = store_and_acknowledge(sink, events)
    assert sink.store_calls == [2, 1] and answers == [(Status.OK, [20, 21]), (Status.OK, [22])]
    for status, sequences in answers:
        session.acknowledge(sequences, status)
    assert [f.sequence for f in frames(session.data_to_send())] == [20, 21, 22]


def test_a_failed_commit_answers_every_part_of_the_read_with_a_temporary_error(clock):
    session = bind(clock)
    events = session.receive_data(deliver(30) + deliver(31))
    sink = RecordingSink()
    sink.fail_next = 1
    assert store_and_acknowledge(sink, events) == [(Status.TEMPORARY_APP_ERROR, [30, 31])]
    assert sink.parts == []


# -- what the peer sends never raises out of receive_data --------------------------------------


@pytest.mark.parametrize("tlvs", [
    {Tag.RECEIPTED_MESSAGE_ID: b"1" * 5000 + b"\0", Tag.MESSAGE_STATE: b"\x02"},
    {Tag.MESSAGE_PAYLOAD: b"id:" + b"7" * 5000 + b" sub:001 dlvrd:001 stat:DELIVRD err:000"},
])
def test_a_receipt_id_of_thousands_of_digits_is_read_not_raised(clock, tlvs):
    for id_format in ("decimal", "hex"):
        session = bind(clock, replace(SETTINGS, message_id_format=id_format))
        receipt = ShortMessage("79161234567", "377", source_addr_ton=1, esm_class=0x04,
                               tlvs=tlvs)
        [event] = session.receive_data(pdu.encode_short_message("deliver_sm", 5, receipt))
        assert isinstance(event.item, DeliveryReceipt) and len(event.item.message_id) >= 5000
        assert session.state is State.BOUND


def test_a_submit_sm_resp_id_of_thousands_of_digits_is_taken_as_it_is(clock):
    session = bind(clock, replace(SETTINGS, message_id_format="decimal"))
    session.submit([("tag", REPLY)])
    [sent] = submitted(session)
    [event] = session.receive_data(resp(Command.SUBMIT_SM_RESP, sent.sequence, 0,
                                        b"00" + b"9" * 5000 + b"\0"))
    assert event == SubmitAccepted("tag", "9" * 5000)


def test_a_deliver_sm_no_handler_can_take_is_set_aside_and_counted(clock, monkeypatch):
    session = bind(clock)

    def broken(*args):
        raise RuntimeError("a bug")

    monkeypatch.setattr("sms_gateway.smpp.inbound.convert", broken)
    [event] = session.receive_data(deliver(8))
    assert isinstance(event.item, Unreadable) and "RuntimeError('a bug')" in event.item.reason
    assert session.refused == 1 and session.state is State.BOUND


def test_a_request_no_handler_can_take_gets_a_generic_nack_and_is_counted(clock, monkeypatch):
    session = bind(clock)
    monkeypatch.setattr(Session, "_on_enquire_link", lambda self, frame: 1 / 0)
    import sms_gateway.smpp.session as module

    monkeypatch.setitem(module._REQUESTS, Command.ENQUIRE_LINK, Session._on_enquire_link)
    assert session.receive_data(resp(Command.ENQUIRE_LINK, 12)) == []
    [answer] = frames(session.data_to_send())
    assert (answer.command_id, answer.sequence, answer.status) == (
        Command.GENERIC_NACK, 12, Status.SYSTEM_ERROR)
    session.receive_data(resp(0x00000103, 13))  # an unknown command is refused too
    assert session.refused == 2 and session.state is State.BOUND
