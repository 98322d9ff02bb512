"""Phone numbers in logs: enough to tell numbers apart, too little to identify a resident."""

from __future__ import annotations

import re

_DIGITS = re.compile(r"\d")


def mask_number(number: str) -> str:
    """`+79270001234` -> `+7927***1234`: country code and 3 digits, then ***, then the last 4.

    Country codes vary in length; the first digit is taken as the code for +7 and +1, two
    digits elsewhere, which keeps the masked part at least three digits for real numbers.
    Alphanumeric senders (`MegaFon`) are not personal and stay as they are.
    """
    digits = "".join(_DIGITS.findall(number))
    if not digits or len(digits) < len(number.lstrip("+")):
        return number
    code = 1 if digits[0] in "17" else 2
    keep = code + 3
    if len(digits) <= keep + 4:
        return "+" + digits[: max(len(digits) - 4, 0)] + "***"
    return f"+{digits[:keep]}***{digits[-4:]}"
