"""Random bytes never raise anything but our own errors: an SMSC's garbage must not kill a link."""

from __future__ import annotations

import contextlib
import struct

from hypothesis import given, settings
from hypothesis import strategies as st

from sms_gateway.smpp import inbound, pdu
from sms_gateway.smpp.events import Bound
from sms_gateway.smpp.pdu import ShortMessage, Tag
from sms_gateway.smpp.receipts import ReceiptError, normalize_id, parse_receipt
from sms_gateway.smpp.session import Session
from sms_gateway.smpp.states import BindKind
from tools.simsmsc.kit import FakeClock, local_settings

SETTINGS = local_settings(2775)
INTERESTING_TAGS = st.sampled_from(
    [
        Tag.RECEIPTED_MESSAGE_ID,
        Tag.MESSAGE_STATE,
        Tag.NETWORK_ERROR_CODE,
        Tag.MESSAGE_PAYLOAD,
        Tag.SAR_MSG_REF_NUM,
        Tag.SAR_TOTAL_SEGMENTS,
        Tag.SAR_SEGMENT_SEQNUM,
        Tag.USSD_SERVICE_OP,
        Tag.ITS_SESSION_INFO,
        0x1400,
    ]
)
TLVS = st.dictionaries(INTERESTING_TAGS, st.binary(max_size=8), max_size=5)
# Bodies built from what deliver_sm is made of (C-strings, octets, TLVs), so the decoder's
# deeper paths are reached far more often than with uniform noise.
C_STRINGS = st.binary(max_size=24).map(lambda data: data.replace(b"\0", b"") + b"\0")
RAW_TLVS = st.tuples(INTERESTING_TAGS, st.integers(0, 9), st.binary(max_size=8)).map(
    lambda tlv: struct.pack(">HH", tlv[0], tlv[1]) + tlv[2]
)
BODIES = st.lists(st.one_of(C_STRINGS, st.binary(max_size=2), RAW_TLVS), max_size=24).map(b"".join)


def framed(command_id: int, body: bytes, sequence: int = 7) -> bytes:
    return struct.pack(">IIII", 16 + len(body), command_id, 0, sequence) + body


@given(st.binary(max_size=300))
def test_framing_and_deliver_sm_decoding_raise_only_pdu_errors(data):
    try:
        frames = pdu.FrameBuffer().feed(data)
    except pdu.PduError:
        return
    for frame in frames:
        with contextlib.suppress(pdu.PduError):
            pdu.decode_short_message("deliver_sm", frame)


@settings(max_examples=500)
@given(st.one_of(st.binary(max_size=300), BODIES))
def test_any_deliver_sm_body_raises_only_pdu_errors(body):
    [frame] = pdu.FrameBuffer().feed(framed(5, body))
    with contextlib.suppress(pdu.PduError):
        pdu.decode_short_message("deliver_sm", frame)


@given(st.text(max_size=200), TLVS, st.sampled_from(["hex", "decimal"]))
def test_receipt_parsing_raises_only_receipt_errors(text, tlvs, base):
    try:
        receipt = parse_receipt("smpp:x", text, tlvs, base)
    except ReceiptError:
        return
    assert receipt.message_id and receipt.state


@given(st.text(max_size=40), st.sampled_from(["hex", "decimal"]))
def test_id_normalisation_never_raises_and_is_idempotent(raw, base):
    once = normalize_id(raw, base)
    assert normalize_id(once, base) == once


@given(
    st.binary(max_size=200),
    st.integers(0, 255),
    st.integers(0, 255),
    TLVS,
    st.sampled_from(["gsm7", "latin1", "ascii"]),
)
def test_deliver_sm_conversion_raises_only_undecodable(short_message, esm_class, dcs, tlvs, alpha):
    message = ShortMessage(
        "79161234567",
        "377",
        short_message,
        source_addr_ton=1,
        esm_class=esm_class,
        data_coding=dcs,
        tlvs=tlvs,
    )
    settings_ = local_settings(2775, default_alphabet=alpha)
    with contextlib.suppress(inbound.UndecodableMessage):
        inbound.convert(message, b"", settings_, "smpp:x", FakeClock().now())


@settings(max_examples=200)
@given(
    st.lists(
        st.tuples(
            st.sampled_from([0x05, 0x15, 0x06, 0x80000004, 0x80000000, 0x103, 0x80000009]),
            st.binary(max_size=60),
        ),
        max_size=6,
    )
)
def test_session_survives_any_sequence_of_pdus(pdus):
    session = Session(SETTINGS, BindKind.TRANSCEIVER, FakeClock(), "smpp:x")
    session.start()
    session.data_to_send()
    assert session.receive_data(framed(0x80000009, b"SMSC\0", 1)) == [Bound("SMSC")]
    for command_id, body in pdus:
        session.receive_data(framed(command_id, body))
    session.tick()
    session.data_to_send()
