"""Permit codes: 7 random characters and a check character, e.g. `K7MQ-3DXA`.

The alphabet has 31 characters (digits 2-9 and A-Z without I, L, O), a prime, so a weighted sum
mod 31 with weights 1..8 catches every single wrong character and every swap of neighbours.
"""

from __future__ import annotations

import re
import secrets

ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
LENGTH = 8
_VALUE = {ch: i for i, ch in enumerate(ALPHABET)}
_MODULUS = len(ALPHABET)
_UNBIASED_BELOW = 256 - 256 % _MODULUS
# What an officer may type for a code character: Cyrillic look-alikes, either case.
_LOOKALIKES = str.maketrans("АВЕКМНОРСТУХЗаеврокмнстухз", "ABEKMHOPCTYX3AEBPOKMHCTYX3")
_KEYPAD = str.maketrans("ABCDEFGHJKMNPQRSTUVWXYZ", "22233344556667777888999")
# What may stand between a code's characters: spaces, dashes, dots, and the invisible format
# characters a copy from a messenger or a right-to-left text carries (soft hyphen, zero-width
# space and joiners, direction marks and overrides, word joiner, BOM).
_SEPARATORS = re.compile(
    "[\\s\\-_.·–—\u00ad\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]+")
# A word of free text: what lies between spaces and punctuation that never joins a code.
_WORD = re.compile(r"[^\s,;:!?()«»\"'/\\]+")
_HALF = LENGTH // 2  # `K7MQ 3DXA`: a code typed as two words of four


class CodeFormatError(ValueError):
    """The text cannot be a permit code: wrong length or a character outside the alphabet."""


class CodeChecksumError(ValueError):
    """The text is shaped like a code but its check character is wrong: a typo."""


def _check_char(body: str) -> str:
    total = sum(weight * _VALUE[ch] for weight, ch in enumerate(body, start=1))
    # The full code's weighted sum (check character weight LENGTH) must be 0 mod 31.
    value = (-total * pow(LENGTH, -1, _MODULUS)) % _MODULUS
    return ALPHABET[value]


def generate() -> str:
    """A fresh code, canonical form (no dash).

    One call for the random bytes (a code per issued permit is a hot path); bytes at or above
    the largest multiple of 31 are dropped so every character stays equally likely."""
    body = ""
    while len(body) < LENGTH - 1:
        body += "".join(ALPHABET[b % _MODULUS] for b in secrets.token_bytes(12)
                        if b < _UNBIASED_BELOW)
    body = body[:LENGTH - 1]
    return body + _check_char(body)


def normalize(text: str) -> str:
    """The canonical code from what was typed; raises CodeFormatError or CodeChecksumError."""
    code = _compact(text)
    if len(code) != LENGTH or not _in_alphabet(code):
        raise CodeFormatError(text)
    if _check_char(code[:-1]) != code[-1]:
        raise CodeChecksumError(text)
    return code


def looks_like_code(text: str) -> bool:
    """True when `text` is shaped like a code, whether or not its check character is right."""
    try:
        normalize(text)
    except CodeChecksumError:
        return True
    except CodeFormatError:
        return False
    return True


def find(text: str) -> list[str]:
    """The code-shaped spans of a free text, as typed, in order, each code once: a word that
    is 8 code characters (`K7MQ-3DXA`, `к7мq3dха.`), or two words of 4 (`K7MQ 3DXA`). Whether
    each is a code (its check character) is for `normalize` to say: a span that fails it is a
    typo. A code typed again in the same text is the same question (checked, recorded and
    counted as a miss once)."""
    words = [w for w in _WORD.findall(text) if _compact(w)]
    found: dict[str, str] = {}  # compact form -> the span as first typed
    i = 0
    while i < len(words):
        compact = _compact(words[i])
        if len(compact) == LENGTH and _in_alphabet(compact):
            found.setdefault(compact, words[i])
            i += 1
        elif (len(compact) == _HALF and i + 1 < len(words)
              and len(following := _compact(words[i + 1])) == _HALF
              and _in_alphabet(compact + following)):
            found.setdefault(compact + following, f"{words[i]} {words[i + 1]}")
            i += 2
        else:
            i += 1
    return list(found.values())


def _compact(word: str) -> str:
    return _SEPARATORS.sub("", word).translate(_LOOKALIKES).upper()


def _in_alphabet(compact: str) -> bool:
    return all(ch in _VALUE for ch in compact)


def keypad(code: str) -> str:
    """The digits an officer presses for a code on a phone keypad (2=ABC ... 9=WXYZ)."""
    return code.translate(_KEYPAD)


def display(code: str) -> str:
    """`K7MQ3DXA` -> `K7MQ-3DXA`, easier to read out and type."""
    return f"{code[:4]}-{code[4:]}"
