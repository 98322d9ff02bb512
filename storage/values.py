"""What a column can hold on both databases, read from the table's own definition.

A value that does not fit fails the whole statement, and with it every other row of the batch:
PostgreSQL refuses NUL in text and unpaired UTF-16 surrogates (so does SQLite's driver), a
string longer than its VARCHAR, and an INTEGER outside 32 bits; SQLite refuses integers
outside 64 bits. Checked here before any INSERT, a bad value costs its own row only.
"""

from __future__ import annotations

import re

from sqlalchemy import BigInteger, Column, Integer, SmallInteger, String

# What PostgreSQL's INTEGER, BIGINT and SMALLINT hold (SQLite's INTEGER holds 64 bits).
_RANGES = {SmallInteger: 16, BigInteger: 64, Integer: 32}
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def unstorable_char(text: str) -> str | None:
    """The first char no database stores (NUL, a lone surrogate), or None."""
    found = _UNSTORABLE.search(text)
    return None if found is None else found[0]


def problem(column: Column, value: object) -> str | None:
    """Why `value` cannot be stored in `column` on SQLite and PostgreSQL alike; None if it can."""
    if value is None:
        return None if column.nullable else f"{column.name} is missing"
    if isinstance(value, str):
        return _text_problem(column, value)
    if isinstance(value, int) and not isinstance(value, bool):
        return _integer_problem(column, value)
    return None


def _text_problem(column: Column, value: str) -> str | None:
    bad = unstorable_char(value)
    if bad is not None:
        return f"{column.name} holds U+{ord(bad):04X}"
    length = getattr(column.type, "length", None) if isinstance(column.type, String) else None
    if length is not None and len(value) > length:
        return f"{column.name} is {len(value)} characters long, at most {length} fit"
    return None


def _integer_problem(column: Column, value: int) -> str | None:
    bits = next((bits for kind, bits in _RANGES.items() if isinstance(column.type, kind)), None)
    if bits is None:
        return None
    low, high = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    if low <= value <= high:
        return None
    return f"{column.name} of {value.bit_length()} bits is out of range {low}..{high}"
