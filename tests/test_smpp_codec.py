"""deliver_sm -> parts and receipts, replies -> submit_sm fields, PDU framing, settings."""

from __future__ import annotations

import datetime as dt
import struct

import pytest

from sms_encoding import gsm7, udh
from sms_gateway.config import ConfigError
from sms_gateway.smpp import inbound, pdu
from sms_gateway.smpp.outbound import UnsendableMessage, build_submits, validity_period
from sms_gateway.smpp.pdu import ShortMessage, Tag
from sms_gateway.smpp.receipts import ReceiptError, normalize_id, parse_receipt, parse_text
from sms_gateway.transport import Concat, DeliveryReceipt, OutboundMessage
from tools.simsmsc.kit import FakeClock, local_settings

SETTINGS = local_settings(2775)
NOW = FakeClock().now()


def mo(data: bytes, dcs: int = 0, esm_class: int = 0, ton: int = 1, **tlvs: bytes):
    tags = {getattr(Tag, name.upper()): value for name, value in tlvs.items()}
    message = ShortMessage(
        "79161234567",
        "377",
        data,
        source_addr_ton=ton,
        esm_class=esm_class,
        data_coding=dcs,
        tlvs=tags,
    )
    return inbound.convert(message, b"raw", SETTINGS, "smpp:t", NOW)


# -- inbound text ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "dcs", "text"),
    [
        (gsm7.encode("EXIT {x} €"), 0, "EXIT {x} €"),
        (b"EXIT", 1, "EXIT"),
        ("café".encode("latin-1"), 3, "café"),
        ("ВЫХОД 😀".encode("utf-16-be"), 8, "ВЫХОД 😀"),
        (gsm7.encode("@home"), 0xF1, "@home"),
        ("Выход".encode("iso8859_5"), 6, "Выход"),
    ],
)
def test_text_in_every_alphabet(data, dcs, text):
    part = mo(data, dcs)
    assert (part.text, part.sender, part.raw, part.received_at) == (
        text,
        "+79161234567",
        b"raw",
        NOW,
    )


@pytest.mark.parametrize(("alphabet", "text"), [("latin1", "café"), ("ascii", "EXIT")])
def test_data_coding_zero_follows_the_connections_alphabet(alphabet, text):
    message = ShortMessage("7916", "377", text.encode("latin-1"))
    settings = local_settings(1, default_alphabet=alphabet)
    assert inbound.convert(message, b"", settings, "c", NOW).text == text


@pytest.mark.parametrize(("data", "dcs"), [(b"\x80", 0), (b"\x00\x41\x00", 8), (b"\x01", 4)])
def test_unreadable_text_is_undecodable(data, dcs):
    with pytest.raises(inbound.UndecodableMessage):
        mo(data, dcs)


def test_sender_is_e164_only_when_international():
    assert mo(b"x", ton=1).sender == "+79161234567"
    assert mo(b"x", ton=0).sender == "79161234567"


@pytest.mark.parametrize("wide", [False, True])
def test_udh_concatenation_8_and_16_bit(wide):
    header = udh.concat_header(300 if wide else 44, 3, 2, wide=wide)
    part = mo(header + gsm7.encode("part two"), esm_class=0x40)
    assert part.text == "part two"
    assert part.concat == Concat(300 if wide else 44, 3, 2)


def test_sar_concatenation():
    part = mo(
        b"abc", sar_msg_ref_num=b"\x01\x02", sar_total_segments=b"\x03", sar_segment_seqnum=b"\x01"
    )
    assert part.concat == Concat(0x0102, 3, 1)


@pytest.mark.parametrize(("total", "seq"), [(b"\x03", b"\x04"), (b"\x01", b"\x01"), (b"", b"")])
def test_impossible_sar_values_mean_a_single_message(total, seq):
    part = mo(b"abc", sar_msg_ref_num=b"\x00\x01", sar_total_segments=total, sar_segment_seqnum=seq)
    assert part.concat is None


def test_message_payload_with_udh():
    data = udh.concat_header(9, 2, 1) + "Ы".encode("utf-16-be")
    part = mo(b"", 8, esm_class=0x40, message_payload=data)
    assert (part.text, part.concat) == ("Ы", Concat(9, 2, 1))


def test_ussd_fields():
    part = mo(gsm7.encode("*377#"), ussd_service_op=b"\x12", its_session_info=b"\x0a\x01")
    assert (part.ussd_op, part.ussd_session) == (18, "0a01")


# -- receipts ----------------------------------------------------------------------------------

RECEIPT_TEXT = (
    "id:0000123456 sub:001 dlvrd:001 submit date:2401011200 done date:2401011201 "
    "stat:DELIVRD err:000 Text:EXIT shop"
)


def test_receipt_text_fields():
    fields = parse_text(RECEIPT_TEXT)
    assert fields["id"] == "0000123456" and fields["stat"] == "DELIVRD"
    assert fields["done date"] == "2401011201" and fields["text"] == "EXIT shop"


def test_receipt_flagged_by_esm_class_from_text():
    receipt = mo(RECEIPT_TEXT.encode(), esm_class=0x04)
    assert receipt == DeliveryReceipt("smpp:t", "1e240", "DELIVRD", None)


def test_receipt_tlvs_win_over_the_text():
    text = RECEIPT_TEXT.replace("DELIVRD", "ENROUTE").encode()
    receipt = mo(
        text,
        esm_class=0x04,
        receipted_message_id=b"1E241\0",
        message_state=b"\x08",
        network_error_code=b"\x03\x00\x22",
    )
    assert receipt == DeliveryReceipt("smpp:t", "1e241", "REJECTD", "3:34")


def test_receipt_recognised_by_its_tlvs_alone():
    receipt = mo(b"", receipted_message_id=b"abc", message_state=b"\x03")
    assert isinstance(receipt, DeliveryReceipt) and receipt.state == "EXPIRED"


def test_receipt_state_kept_as_the_smsc_wrote_it():
    text = b"id:5 stat:undeliv err:1 text:"
    assert mo(text, esm_class=0x04).state == "UNDELIV"
    assert mo(text, esm_class=0x04).error == "1"


@pytest.mark.parametrize("text", ["sub:001 stat:DELIVRD", "id:77 sub:001", ""])
def test_receipt_without_id_or_state_is_refused(text):
    with pytest.raises(ReceiptError):
        parse_receipt("c", text, {}, "hex")


@pytest.mark.parametrize(
    ("base", "resp_id", "text_id"),
    [
        ("hex", "0001E240", "123456"),
        ("hex", "1E240", "1e240"),
        ("decimal", "123456", "1E240"),
        ("decimal", "00123456", "123456"),
    ],
)
def test_hex_and_decimal_ids_meet(base, resp_id, text_id):
    receipt = parse_receipt("c", f"id:{text_id} stat:DELIVRD", {}, base)
    assert receipt.message_id == normalize_id(resp_id, base)


def test_ids_that_are_not_numbers_are_kept():
    uuid = "8a1f3e0c-6b7e-4c1f-9d1a-1f0e3c2b1a00"
    assert normalize_id(uuid, "hex") == uuid
    assert parse_receipt("c", f"id:{uuid} stat:DELIVRD", {}, "hex").message_id == uuid


# -- outbound ----------------------------------------------------------------------------------


def build(text: str, **changes: object) -> list[ShortMessage]:
    settings = local_settings(
        1, **{k: v for k, v in changes.items() if k in ("long_messages", "default_alphabet")}
    )
    fields = {k: v for k, v in changes.items() if k in ("expires_at", "ussd_op", "ussd_session")}
    message = OutboundMessage(1, changes.get("to", "+79161234567"), text, **fields)
    return build_submits(message, settings, reference=0x1234, now=NOW)


def test_single_gsm7_reply():
    [submit] = build("Code {AB}")
    assert (submit.data_coding, submit.short_message) == (0, gsm7.encode("Code {AB}"))
    assert (submit.destination_addr, submit.dest_addr_ton, submit.source_addr) == (
        "79161234567",
        1,
        "377",
    )


def test_udh_parts_share_reference_and_count():
    submits = build("Ы" * 150)
    assert [s.esm_class for s in submits] == [0x40] * 3
    headers = [udh.parse(s.short_message)[0] for s in submits]
    assert headers == [Concat(0x34, 3, seq) for seq in (1, 2, 3)]


def test_sar_parts_carry_tlvs_and_no_header():
    submits = build("Ы" * 150, long_messages="sar")
    assert [s.tlvs[Tag.SAR_SEGMENT_SEQNUM] for s in submits] == [b"\x01", b"\x02", b"\x03"]
    assert {s.tlvs[Tag.SAR_MSG_REF_NUM] for s in submits} == {b"\x12\x34"}
    assert b"".join(s.short_message for s in submits) == ("Ы" * 150).encode("utf-16-be")


def test_payload_mode_sends_one_submit():
    [submit] = build("x" * 400, long_messages="payload")
    assert submit.short_message == b"" and submit.tlvs[Tag.MESSAGE_PAYLOAD] == b"x" * 400


def test_latin1_connection_sends_latin1_bytes_under_data_coding_zero():
    [submit] = build("café", default_alphabet="latin1")
    assert submit.short_message == b"caf\xe9"


def test_validity_period_is_absolute_utc():
    local = dt.datetime(2030, 1, 1, 15, 30, tzinfo=dt.timezone(dt.timedelta(hours=4)))
    assert validity_period(local) == "300101113000000+"
    [submit] = build("x", expires_at=local)
    assert submit.validity_period == "300101113000000+"


def test_ussd_reply_is_one_submit_with_its_tlvs():
    [submit] = build("Menu", ussd_op=2, ussd_session="0a01")
    assert submit.tlvs == {Tag.USSD_SERVICE_OP: b"\x02", Tag.ITS_SESSION_INFO: b"\x0a\x01"}
    assert (submit.service_type, submit.registered_delivery) == ("USSD", 0)


@pytest.mark.parametrize(
    "changes",
    [
        {"to": "ALPHA"},
        {"ussd_op": 2, "ussd_session": "zz"},
        {"expires_at": NOW},
        {"ussd_op": 17, "text": "x" * 183},
    ],
)
def test_unsendable_replies(changes):
    text = changes.pop("text", "x")
    with pytest.raises(UnsendableMessage):
        build(text, **changes)


# -- framing and PDUs --------------------------------------------------------------------------


def test_frames_split_anywhere_are_reassembled():
    data = pdu.encode(0x15, 1) + pdu.encode(0x80000004, 2, 0, b"id\0")
    buffer = pdu.FrameBuffer()
    frames = [frame for byte in data for frame in buffer.feed(bytes([byte]))]
    assert [(f.command_id, f.sequence, f.body) for f in frames] == [
        (0x15, 1, b""),
        (0x80000004, 2, b"id\0"),
    ]


@pytest.mark.parametrize("length", [0, 15, 70000])
def test_impossible_lengths_break_the_stream(length):
    with pytest.raises(pdu.FramingError):
        pdu.FrameBuffer().feed(struct.pack(">IIII", length, 5, 0, 1))


def test_fields_smpplib_would_truncate_are_refused():
    with pytest.raises(pdu.PduError):
        pdu.encode_short_message("submit_sm", 1, ShortMessage("377", "1" * 21))
    with pytest.raises(pdu.PduError):
        pdu.encode_short_message("submit_sm", 1, ShortMessage("377", "1", b"x" * 255))


def test_unknown_and_ussd_tlvs_survive_a_round_trip():
    message = ShortMessage("377", "7916", b"hi", tlvs={Tag.USSD_SERVICE_OP: b"\x01", 0x1400: b"v"})
    raw = pdu.encode_short_message("deliver_sm", 3, message)
    [frame] = pdu.FrameBuffer().feed(raw)
    assert pdu.decode_short_message("deliver_sm", frame) == message


# -- settings -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "changes",
    [
        {"system_id": "x" * 16},
        {"password": "123456789"},
        {"bind_mode": "receiver"},
        {"window": 0},
        {"long_messages": "split"},
        {"reconnect_max_seconds": 0.01},
        {"source_ton": 256},
    ],
)
def test_settings_refuse_what_the_link_cannot_use(changes):
    with pytest.raises(ConfigError, match=r"\[\[smpp\]\] test "):
        local_settings(2775, **changes)
