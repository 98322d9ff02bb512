"""Phone numbers: E.164 for storage, masked for anything a person or a log may read."""

from __future__ import annotations

import functools
import re

import phonenumbers

_DIGITS = re.compile(r"\+?\d{3,15}")
_PUNCTUATION = re.compile(r"[\s().\-]")


class PhoneError(ValueError):
    """Not a phone number we can use."""


@functools.lru_cache(maxsize=100_000)
def normalize(raw: str, country: str = "RU") -> str:
    """E.164 (`+79271234567`) from any common spelling; raises PhoneError."""
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
    number = phonenumbers.parse(e164)
    kind = phonenumbers.number_type(number)
    return phonenumbers.region_code_for_number(number) == country and kind in (
        phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE)


def is_alphanumeric_sender(raw: str) -> bool:
    """Operator service names ("MTS", "Beeline") are not people: they never get a reply."""
    return _DIGITS.fullmatch(_PUNCTUATION.sub("", raw)) is None


def mask(number: str) -> str:
    """`+79271234567` -> `+7927***4567`: enough to match a person, not enough to dial."""
    if len(number) < 9:
        return number[:2] + "***"
    return f"{number[:5]}***{number[-4:]}"
