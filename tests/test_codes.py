"""Permit codes: unambiguous, self-checking, forgiving in how they are typed."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from permits import codes

bodies = st.text(alphabet=codes.ALPHABET, min_size=7, max_size=7)


def code_from(body: str) -> str:
    return body + codes._check_char(body)


def test_generated_codes_are_eight_unambiguous_characters_with_a_valid_check():
    for _ in range(2000):
        code = codes.generate()
        assert len(code) == 8 and not set(code) & set("01OIL")
        assert codes.normalize(code) == code


def test_generated_codes_hardly_ever_repeat():
    # 20,000 codes from 31^7: about 0.007 collisions expected; three would mean a broken
    # random source (the ledger's unique constraint handles the rare real one).
    assert 20_000 - len({codes.generate() for _ in range(20_000)}) <= 2


@given(bodies)
def test_every_single_wrong_character_is_caught(body):
    code = code_from(body)
    for position in range(8):
        for replacement in codes.ALPHABET:
            if replacement != code[position]:
                typo = code[:position] + replacement + code[position + 1 :]
                with pytest.raises(codes.CodeChecksumError):
                    codes.normalize(typo)


@given(bodies)
def test_every_swap_of_neighbours_is_caught(body):
    code = code_from(body)
    for i in range(7):
        if code[i] != code[i + 1]:
            swapped = code[:i] + code[i + 1] + code[i] + code[i + 2 :]
            with pytest.raises(codes.CodeChecksumError):
                codes.normalize(swapped)


@given(bodies)
def test_codes_are_accepted_in_any_case_with_spaces_or_dashes(body):
    code = code_from(body)
    for typed in (
        code.lower(),
        codes.display(code),
        f" {code[:4]} {code[4:]} ",
        "-".join(code),
        codes.display(code).lower(),
    ):
        assert codes.normalize(typed) == code


def test_cyrillic_lookalikes_typed_by_an_officer_are_read_as_latin():
    code = "KMHC3PXA"
    body = code[:7]
    code = body + codes._check_char(body)
    table = str.maketrans("KMHCPXAE3", "КМНСРХАЕЗ")
    assert codes.normalize(code.translate(table)) == code
    assert codes.normalize(code.translate(table).lower()) == code


@pytest.mark.parametrize("typed", ["", "ABC", "K7MQ3DXA9", "K7MQ-3DX0", "ПРИВЕТ!!", "12345678"])
def test_text_that_cannot_be_a_code_is_a_format_error(typed):
    with pytest.raises(codes.CodeFormatError):
        codes.normalize(typed)


@given(st.text(max_size=30))
def test_normalize_raises_only_our_errors(text):
    with contextlib.suppress(codes.CodeFormatError, codes.CodeChecksumError):
        codes.normalize(text)


def test_display_groups_four_and_four():
    assert codes.display("K7MQ3DXA") == "K7MQ-3DXA"
