"""submit_sm and deliver_sm are laid out by hand for speed: held to smpplib's bytes here.

smpplib stays the reference (it encodes the bind, and node-smpp checks both of us in
test_smpp_peer.py); any message smpplib can encode must come out byte for byte the same.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from smpplib import command as smpplib_command

from sms_gateway.smpp import pdu
from sms_gateway.smpp.pdu import ShortMessage

ASCII = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E))
OCTETS = st.integers(0, 255)
MESSAGES = st.builds(
    ShortMessage,
    source_addr=ASCII.filter(lambda s: len(s) <= 20),
    destination_addr=ASCII.filter(lambda s: len(s) <= 20),
    short_message=st.binary(max_size=254),
    source_addr_ton=OCTETS,
    source_addr_npi=OCTETS,
    dest_addr_ton=OCTETS,
    dest_addr_npi=OCTETS,
    esm_class=OCTETS,
    data_coding=OCTETS,
    registered_delivery=OCTETS,
    validity_period=st.sampled_from(["", "310506070809000+"]),
    service_type=st.sampled_from(["", "USSD", "CMT"]),
    tlvs=st.dictionaries(st.integers(0x1400, 0x14FF), st.binary(max_size=6), max_size=2),
)
_CLASSES = {"submit_sm": smpplib_command.SubmitSM, "deliver_sm": smpplib_command.DeliverSM}
_COMMAND_IDS = {"submit_sm": 0x04, "deliver_sm": 0x05}


def smpplib_bytes(name: str, sequence: int, message: ShortMessage) -> bytes:
    """What smpplib makes of the mandatory fields, with our TLVs after them."""
    fields = dict(message.__dict__)
    tlvs = fields.pop("tlvs")
    command = _CLASSES[name](name, sequence=sequence, **fields)
    command.sequence = sequence
    raw = command.generate_params() + pdu.encode_tlvs(tlvs)  # smpplib sets no optional field
    return pdu.HEADER.pack(pdu.HEADER.size + len(raw), _COMMAND_IDS[name], 0, sequence) + raw


@settings(max_examples=300)
@given(MESSAGES, st.sampled_from(["submit_sm", "deliver_sm"]), st.integers(1, 0x7FFFFFFF))
def test_short_messages_are_smpplibs_bytes_and_read_back(message, name, sequence):
    encoded = pdu.encode_short_message(name, sequence, message)
    assert encoded == smpplib_bytes(name, sequence, message)
    [frame] = pdu.FrameBuffer().feed(encoded)
    assert pdu.decode_short_message(name, frame) == message


def test_a_body_ending_after_data_coding_is_a_message_without_text():
    message = ShortMessage("79161234567", "377", data_coding=8)
    body = pdu.encode_short_message("deliver_sm", 9, message)[:-2]  # no sm_default_msg_id, length
    raw = pdu.HEADER.pack(len(body), 5, 0, 9) + body[pdu.HEADER.size :]
    [frame] = pdu.FrameBuffer().feed(raw)
    assert pdu.decode_short_message("deliver_sm", frame) == message
