"""Phone numbers: E.164 for storage, masked for anything a person or a log may read."""

from __future__ import annotations

import functools
import re

import phonenumbers

_DIGITS = re.compile(r"\+?\d{3,15}")
_E164 = re.compile(r"\+[1-9]\d{9,14}")
_PUNCTUATION = re.compile(r"[\s().\-]")
_ANY_DIGIT = re.compile(r"[0-9]")


class PhoneError(ValueError):
    """Not a phone number we can use."""


def identify(raw: str, country: str = "RU") -> str:
    """The sender of a message as E.164; raises PhoneError.

    A number already written in E.164 is taken as it is: it only identifies the sender (an
    invalid one is nobody in the registry), and a flood's senders are all different, so
    this is the hot path. Registry entries go through `normalize`, which validates."""
    return raw if _E164.fullmatch(raw) else normalize(raw, country)


@functools.lru_cache(maxsize=100_000)
def normalize(raw: str, country: str = "RU") -> str:
    """E.164 (`+79271234567`) from any common spelling, validated; raises PhoneError."""
    text = raw.strip()
    if text.isdigit() and len(text) > 10 and not text.startswith("8"):
        text = "+" + text  # international number without its plus, as SMPP often gives it
    try:
        number = phonenumbers.parse(text, country)
    except phonenumbers.NumberParseException as exc:
        raise PhoneError(f"not a phone number: {raw!r}") from exc
    if not phonenumbers.is_valid_number(number):
        raise PhoneError(f"not a valid phone number: {raw!r}")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def is_mobile_of(e164: str, country: str) -> bool:
    """A mobile number of `country`: who may register themselves when registration is open."""
    try:
        number = phonenumbers.parse(e164)
    except phonenumbers.NumberParseException:
        return False
    kind = phonenumbers.number_type(number)
    return phonenumbers.region_code_for_number(number) == country and kind in (
        phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE)


def is_alphanumeric_sender(raw: str) -> bool:
    """Operator service names ("MTS", "Beeline") are not people: they never get a reply."""
    return _DIGITS.fullmatch(_PUNCTUATION.sub("", raw)) is None


def mask(number: str) -> str:
    """`+79271234567` -> `+7927***4567`: enough to match a person, not enough to dial.

    The country code and three digits, ***, the last four. Country codes vary in length: one
    digit is taken for +7 and +1, two elsewhere, so at least three digits stay hidden in any
    real number. Alphanumeric senders (`MegaFon`) are not personal and stay as they are."""
    digits = "".join(_ANY_DIGIT.findall(number))
    if not digits or len(digits) < len(number.lstrip("+")):
        return number if not digits else _mask_mixed(number)
    keep = (1 if digits[0] in "17" else 2) + 3
    if len(digits) <= keep + 4:
        return "+" + digits[: max(len(digits) - 4, 0)] + "***"
    return f"+{digits[:keep]}***{digits[-4:]}"


def _mask_mixed(text: str) -> str:
    """A sender mixing digits with other characters: its digits hidden but the last four."""
    digits = _ANY_DIGIT.findall(text)
    hide = max(len(digits) - 4, 0)
    seen = 0
    out = []
    for char in text:
        if char.isdigit() and char.isascii():
            seen += 1
            out.append("*" if seen <= hide else char)
        else:
            out.append(char)
    return "".join(out)
