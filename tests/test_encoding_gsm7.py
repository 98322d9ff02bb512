"""GSM 03.38 alphabet and septet packing (3GPP TS 23.038 §6.1.2, §6.2.1)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sms_encoding import gsm7
from sms_encoding.errors import CodecError

BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
EXTENSION = {"\f": 0x0A, "^": 0x14, "{": 0x28, "}": 0x29, "\\": 0x2F, "[": 0x3C, "~": 0x3D,
             "]": 0x3E, "|": 0x40, "€": 0x65}  # fmt: skip
GSM_CHARS = BASIC.replace("\x1b", "") + "".join(EXTENSION)
gsm_text = st.text(alphabet=GSM_CHARS, max_size=400)


def reference_pack(septets: bytes, fill_bits: int = 0) -> bytes:
    """23.038 §6.1.2.1 literally: septet n occupies bits fill+7n .. fill+7n+6, LSB first."""
    value = sum(septet << (fill_bits + 7 * n) for n, septet in enumerate(septets))
    return value.to_bytes((len(septets) * 7 + fill_bits + 7) // 8, "little")


def test_basic_table_is_in_spec_code_order():
    assert len(BASIC) == 128
    assert gsm7.decode(bytes(range(128)).replace(b"\x1b", b"")) == BASIC.replace("\x1b", "")


def test_every_basic_char_encodes_to_its_code():
    for code, char in enumerate(BASIC):
        if char != "\x1b":
            assert gsm7.encode(char) == bytes([code])


def test_extension_chars_are_escape_pairs():
    for char, code in EXTENSION.items():
        assert gsm7.encode(char) == bytes([0x1B, code])
        assert gsm7.decode(bytes([0x1B, code])) == char


def test_extension_chars_cost_two_septets():
    assert gsm7.septet_length("{}[]~\\|^€\f") == 20
    assert gsm7.septet_length("price: 5€") == 10


def test_code_0x09_is_capital_c_cedilla_as_in_the_spec():
    assert gsm7.decode(b"\x09") == "Ç"
    assert not gsm7.is_gsm7("ç")


@pytest.mark.parametrize("char", ["ç", "`", "\t", "\x1b", "я", "😀", "\ud83d"])
def test_chars_outside_the_alphabet_are_rejected_by_name(char):
    assert not gsm7.is_gsm7("ok " + char)
    with pytest.raises(CodecError, match="index 3"):
        gsm7.encode("ok " + char)
    with pytest.raises(CodecError):
        gsm7.septet_length(char)


def test_is_gsm7_accepts_the_whole_alphabet_and_empty_text():
    assert gsm7.is_gsm7(GSM_CHARS)
    assert gsm7.is_gsm7("")


def test_septet_values_above_0x7f_are_rejected():
    with pytest.raises(CodecError, match="0x80"):
        gsm7.decode(b"ab\x80")


def test_unknown_escape_shows_the_basic_table_char():
    assert gsm7.decode(b"\x1bA\x1b\x0d") == "A\r"


def test_escape_escape_shows_a_space():
    # 23.038: 1B 1B is reserved for a further extension table; receivers show a space.
    assert gsm7.decode(b"a\x1b\x1bb") == "a b"


def test_trailing_lone_escape_is_dropped():
    assert gsm7.decode(b"ab\x1b") == "ab"
    assert gsm7.decode(b"\x1b") == ""


def test_hellohello_packs_to_the_classic_vector():
    assert gsm7.pack(gsm7.encode("hellohello")) == bytes.fromhex("E8329BFD4697D9EC37")


def test_classic_vector_unpacks_to_hellohello():
    septets = gsm7.unpack(bytes.fromhex("E8329BFD4697D9EC37"), 10)
    assert gsm7.decode(septets) == "hellohello"


def test_eight_septets_fill_seven_octets_exactly():
    assert gsm7.pack(b"\x7f" * 8) == b"\xff" * 7


def test_fill_bits_come_first_in_the_first_octet():
    # After a 6-octet UDH one fill bit aligns the text: 'a' (0x61) lands shifted by one.
    assert gsm7.pack(b"a", fill_bits=1) == b"\xc2"
    assert gsm7.unpack(b"\xc2", 1, fill_bits=1) == b"a"


def test_empty_input_packs_and_unpacks_to_nothing():
    assert gsm7.pack(b"") == b""
    assert gsm7.unpack(b"", 0) == b""


def test_unpack_needs_enough_octets():
    with pytest.raises(CodecError, match="need 9 octets"):
        gsm7.unpack(bytes(8), 10)


@pytest.mark.parametrize("fill", [-1, 7])
def test_fill_bits_outside_0_to_6_are_rejected(fill):
    with pytest.raises(CodecError):
        gsm7.pack(b"a", fill)
    with pytest.raises(CodecError):
        gsm7.unpack(b"a", 1, fill)


def test_pack_rejects_values_that_are_not_septets():
    with pytest.raises(CodecError):
        gsm7.pack(b"\x80")


@given(gsm_text)
def test_any_gsm_text_round_trips(text):
    assert gsm7.decode(gsm7.encode(text)) == text
    assert gsm7.septet_length(text) == len(text) + sum(map(text.count, EXTENSION))


@given(st.binary(max_size=300).map(lambda data: bytes(b & 0x7F for b in data)), st.integers(0, 6))
def test_pack_matches_the_spec_bit_layout(septets, fill):
    assert gsm7.pack(septets, fill) == reference_pack(septets, fill)
    assert gsm7.unpack(gsm7.pack(septets, fill), len(septets), fill) == septets


@given(st.binary(max_size=300))
def test_decode_of_any_bytes_raises_only_codec_error(data):
    try:
        text = gsm7.decode(data)
    except CodecError:
        assert max(data) > 0x7F
    else:
        assert gsm7.is_gsm7(text)


@given(st.binary(max_size=200), st.integers(-3, 300), st.integers(-1, 8))
def test_unpack_of_any_bytes_raises_only_codec_error(data, count, fill):
    try:
        septets = gsm7.unpack(data, count, fill)
    except CodecError:
        return
    assert len(septets) == count
    assert septets.isascii()
