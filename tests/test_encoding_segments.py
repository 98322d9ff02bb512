"""Choosing GSM-7 or UCS2 and splitting text into parts; UCS2 text; concatenation UDHs."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sms_encoding import gsm7, segments, udh
from sms_encoding.errors import CodecError, MessageTooLong
from sms_encoding.segments import (
    DCS_GSM7,
    DCS_UCS2,
    Plan,
    decode_ucs2,
    encode_ucs2,
    plan,
)
from sms_gateway.transport import Concat

EMOJI = "😀"  # U+1F600: a surrogate pair in UTF-16
text_with_extension_and_astral = st.text(
    alphabet=st.sampled_from("ab€{}\\[]^~|я " + EMOJI + "\U0001f44d"), max_size=500
)


def utf16_units(text: str) -> int:
    return len(encode_ucs2(text)) // 2


# -- plan: alphabet ----------------------------------------------------------------------


def test_empty_text_is_one_empty_gsm7_part():
    assert plan("") == Plan(dcs=DCS_GSM7, parts=("",))


def test_gsm7_is_chosen_when_every_char_allows_it():
    assert plan("Exit 2 shop {ok} €5").dcs == DCS_GSM7


def test_one_char_outside_gsm7_makes_the_whole_text_ucs2():
    assert plan("Exit 2 shop ç").dcs == DCS_UCS2
    assert plan("ВЫХОД 2").dcs == DCS_UCS2


# -- plan: GSM-7 sizes -------------------------------------------------------------------


def test_160_septets_fit_one_part():
    assert plan("a" * 160).parts == ("a" * 160,)


def test_extension_chars_count_double_towards_one_part():
    assert len(plan("€" * 80).parts) == 1
    assert len(plan("€" * 80 + "a").parts) == 2


def test_161_septets_split_into_153_and_8():
    assert [len(p) for p in plan("a" * 161).parts] == [153, 8]


def test_escape_pair_is_never_split_at_a_part_boundary():
    text = "a" * 152 + "€" + "b" * 10  # the euro's ESC would be septet 153
    parts = plan(text).parts
    assert parts == ("a" * 152, "€" + "b" * 10)


def test_escape_pair_ending_exactly_at_a_boundary_stays_in_its_part():
    text = "a" * 151 + "€" + "b" * 10  # ESC and code are septets 152 and 153
    assert plan(text).parts == ("a" * 151 + "€", "b" * 10)


# -- plan: UCS2 sizes --------------------------------------------------------------------


def test_70_utf16_units_fit_one_part():
    assert plan("я" * 70).parts == ("я" * 70,)


def test_71_utf16_units_split_into_67_and_4():
    assert [len(p) for p in plan("я" * 71).parts] == [67, 4]


def test_emoji_counts_two_utf16_units():
    assert len(plan("я" * 68 + EMOJI).parts) == 1
    assert len(plan("я" * 69 + EMOJI).parts) == 2


def test_surrogate_pair_is_never_split_at_a_part_boundary():
    text = "я" * 66 + EMOJI + "я" * 10  # the pair would straddle units 67 and 68
    assert plan(text).parts == ("я" * 66, EMOJI + "я" * 10)


# -- plan: limits ------------------------------------------------------------------------


def test_more_parts_than_allowed_is_refused():
    with pytest.raises(MessageTooLong, match="3 parts"):
        plan("a" * 400, max_parts=2)
    assert len(plan("a" * 306, max_parts=2).parts) == 2


def test_max_parts_beyond_the_udh_range_is_a_caller_error():
    with pytest.raises(ValueError):
        plan("a", max_parts=256)


def test_text_beyond_255_parts_is_refused_by_default():
    with pytest.raises(MessageTooLong):
        plan("a" * (153 * 255 + 1))


@given(text_with_extension_and_astral)
def test_parts_join_back_to_the_text_and_respect_the_limits(text):
    result = plan(text)
    assert "".join(result.parts) == text
    if result.dcs == DCS_GSM7:
        sizes = [gsm7.septet_length(part) for part in result.parts]
        single, size = 160, 153
    else:
        sizes = [utf16_units(part) for part in result.parts]
        single, size = 70, 67
    if len(sizes) == 1:
        assert sizes[0] <= single
    else:
        assert all(s <= size for s in sizes)
        # greedy: a part is short of full only by the pair it refused to tear
        assert all(s >= size - 1 for s in sizes[:-1])


@given(st.text(max_size=400))
def test_any_unicode_text_plans_into_parts_that_join_back(text):
    if any("\ud800" <= char <= "\udfff" for char in text):
        with pytest.raises(CodecError):
            plan(text)
    else:
        assert "".join(plan(text).parts) == text


# -- UCS2 --------------------------------------------------------------------------------


def test_ucs2_is_utf16_big_endian_with_surrogate_pairs():
    assert encode_ucs2("Вы" + EMOJI) == bytes.fromhex("0412044BD83DDE00")
    assert decode_ucs2(bytes.fromhex("0412044BD83DDE00")) == "Вы" + EMOJI


def test_ucs2_of_odd_length_is_rejected():
    with pytest.raises(CodecError, match="odd length"):
        decode_ucs2(b"\x04\x12\x04")


def test_lone_surrogate_in_received_ucs2_becomes_a_replacement_char():
    assert decode_ucs2(bytes.fromhex("0041D83D")) == "A\ufffd"
    assert decode_ucs2(bytes.fromhex("DE000041")) == "\ufffdA"


def test_lone_surrogate_in_text_to_send_is_rejected():
    with pytest.raises(CodecError):
        encode_ucs2("a\ud83d")


@given(st.binary(max_size=200))
def test_decode_ucs2_of_any_bytes_raises_only_codec_error(data):
    try:
        decode_ucs2(data)
    except CodecError:
        assert len(data) % 2


# -- concatenation UDH -------------------------------------------------------------------


def test_8bit_concatenation_header_parses():
    assert udh.parse(bytes.fromhex("0500032A0201") + b"text") == (Concat(0x2A, 2, 1), 6)


def test_16bit_concatenation_header_parses():
    assert udh.parse(bytes.fromhex("060804BEEF0302")) == (Concat(0xBEEF, 3, 2), 7)


def test_other_elements_are_skipped():
    # application port addressing (IEI 05) before the concatenation element
    header = bytes.fromhex("0B05040B8423F00003A50302")
    assert udh.parse(header) == (Concat(0xA5, 3, 2), 12)
    assert udh.parse(bytes.fromhex("0605040B8423F0")) == (None, 7)


def test_last_repeated_concatenation_element_counts():
    assert udh.parse(bytes.fromhex("0A00030102010003020201"))[0] == Concat(2, 2, 1)


@pytest.mark.parametrize("header", ["050003010200", "050003010203"])
def test_concatenation_element_with_impossible_position_is_ignored(header):
    assert udh.parse(bytes.fromhex(header)) == (None, 6)


@pytest.mark.parametrize(
    "header",
    [
        "",  # no UDHL
        "0500030102",  # UDHL beyond the data
        "0300030102",  # element overruns the header
        "0100",  # element cut after its IEI
        "06000401020301",  # concatenation element of the wrong length
    ],
)
def test_malformed_header_is_a_codec_error(header):
    with pytest.raises(CodecError):
        udh.parse(bytes.fromhex(header))


def test_concat_header_builds_the_8bit_element():
    assert udh.concat_header(0x2A, 2, 1) == bytes.fromhex("0500032A0201")


def test_concat_header_builds_the_16bit_element():
    assert udh.concat_header(0xBEEF, 3, 2, wide=True) == bytes.fromhex("060804BEEF0302")


@pytest.mark.parametrize(
    ("reference", "total", "seq", "wide"),
    [(256, 2, 1, False), (65536, 2, 1, True), (-1, 2, 1, False), (1, 2, 3, False),
     (1, 2, 0, False), (1, 256, 1, False)],
)  # fmt: skip
def test_concat_header_refuses_values_the_element_cannot_hold(reference, total, seq, wide):
    with pytest.raises(ValueError):
        udh.concat_header(reference, total, seq, wide=wide)


@given(st.integers(0, 0xFFFF), st.integers(1, 255), st.data())
def test_concat_header_round_trips(reference, total, data):
    seq = data.draw(st.integers(1, total))
    wide = reference > 0xFF or data.draw(st.booleans())
    header = udh.concat_header(reference, total, seq, wide=wide)
    assert udh.parse(header) == (Concat(reference, total, seq), len(header))


@given(st.binary(max_size=40))
def test_parse_of_any_bytes_raises_only_codec_error(data):
    try:
        _concat, length = udh.parse(data)
    except CodecError:
        return
    assert 1 <= length <= len(data)


@pytest.mark.parametrize("word", ["слово", "word"])
def test_a_part_ends_between_words_when_a_space_is_near_its_limit(word):
    text = " ".join([word] * 80)
    parts = plan(text).parts
    assert len(parts) > 1 and "".join(parts) == text
    assert all(part.endswith(" ") for part in parts[:-1])


def test_a_long_word_is_still_cut_at_the_limit():
    text = "a" * 100 + " " + "b" * 100
    assert plan(text).parts == ("a" * 100 + " " + "b" * 52, "b" * 48)


# -- measuring and cutting in the encoded form -------------------------------------------------


@pytest.mark.parametrize("text, dcs, units", [
    ("EXIT shop", segments.DCS_GSM7, 9),
    ("{€}", segments.DCS_GSM7, 6),  # extension chars: two septets each
    ("EXIT `shop`", segments.DCS_UCS2, 11),  # one backtick: the whole text is UCS2
    ("😀😀", segments.DCS_UCS2, 4),  # outside the BMP: two UTF-16 units each
])
def test_a_text_is_measured_in_the_encoding_it_travels_in(text, dcs, units):
    size = segments.measure(text)
    assert (size.dcs, size.units) == (dcs, units)


@given(st.text(alphabet=st.sampled_from("a{€😀ы"), max_size=400), st.integers(1, 3))
def test_cutting_to_parts_keeps_a_start_that_fits_and_tears_no_pair(text, parts):
    cut = segments.cut_to_parts(text, parts)
    assert text.startswith(cut)
    assert len(segments.plan(cut).parts) <= parts
