"""Choosing an alphabet for outgoing text and splitting it into SMS parts.

Parts are cut on the encoded form (septets or UTF-16 code units), so the limits hold exactly,
and never between ESC and its extension char nor inside a surrogate pair: a phone would show
garbage at the seam. Where a space lies close before the limit the cut moves there, so a phone
that shows the parts apart shows whole words.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sms_encoding import gsm7
from sms_encoding.errors import CodecError, MessageTooLong

DCS_GSM7 = 0
DCS_UCS2 = 8

# One SMS carries 140 octets of user data; a concatenation UDH (6 octets) leaves 134.
GSM7_SINGLE, GSM7_PART = 160, 153  # septets
UCS2_SINGLE, UCS2_PART = 140, 134  # octets: 70 / 67 UTF-16 code units
# How far back from a part's limit a cut may move to fall between words (in characters).
WORD_SLACK = 12


@dataclass(frozen=True)
class Plan:
    """How to send a text: its data coding scheme and the text of each part."""

    dcs: int
    parts: tuple[str, ...]


@dataclass(frozen=True)
class Size:
    """A text measured in the encoding it will travel in: GSM-7 septets (an extension char
    counts two) or UCS2 UTF-16 code units (an emoji counts two)."""

    dcs: int
    units: int
    single: int  # units one SMS holds
    part: int  # units one part of a concatenated SMS holds

    @property
    def fits_one_sms(self) -> bool:
        return self.units <= self.single


def measure(text: str) -> Size:
    """How much of an SMS `text` fills, in the alphabet `plan` would choose for it (replies
    are fitted with this: `len()` counts an emoji once and ignores that one backtick sends
    the whole text as UCS2). CodecError on a lone surrogate, which no alphabet carries."""
    scheme = _scheme_for(text)
    return Size(scheme.dcs, len(scheme.encode(text)) // scheme.unit, scheme.single // scheme.unit,
                scheme.size // scheme.unit)


def cut_to_parts(text: str, parts: int) -> str:
    """The longest start of `text` that `parts` concatenated parts hold (all of it if it fits),
    cut in the encoded form, never inside an escape pair or a surrogate pair."""
    scheme = _scheme_for(text)
    data = scheme.encode(text)
    room = scheme.single if parts == 1 else scheme.size * parts
    if len(data) <= room:
        return text
    return scheme.decode(data[: scheme.cut(data, room)])


def plan(text: str, *, max_parts: int = 255) -> Plan:
    """The alphabet `_scheme_for` picks, and the parts; split when too long."""
    if not 1 <= max_parts <= 255:
        raise ValueError(f"max_parts must be 1..255, got {max_parts}")
    scheme = _scheme_for(text)
    chunks = scheme.split(scheme.encode(text))
    if len(chunks) > max_parts:
        raise MessageTooLong(f"text needs {len(chunks)} parts, at most {max_parts} allowed")
    return Plan(dcs=scheme.dcs, parts=tuple(map(scheme.decode, chunks)))


@dataclass(frozen=True)
class _Scheme:
    dcs: int
    encode: Callable[[str], bytes]
    decode: Callable[[bytes], str]
    single: int  # encoded size that fits one SMS
    size: int  # encoded size of one part of a concatenated SMS
    cut: Callable[[bytes, int], int]  # moves a part's end off a pair it would tear
    unit: int  # encoded octets per unit the limits are spoken in (septet, UTF-16 unit)
    space: bytes  # a space, encoded: the unit a part would rather end after

    def split(self, data: bytes) -> list[bytes]:
        if len(data) <= self.single:
            return [data]
        chunks = []
        start = 0
        while start < len(data):
            end = start + self.size
            if end < len(data):
                end = self._after_a_space(data, start, self.cut(data, end))
            chunks.append(data[start:end])
            start = end
        return chunks

    def _after_a_space(self, data: bytes, start: int, end: int) -> int:
        """`end`, or just after the last space at most WORD_SLACK characters before it."""
        unit = self.unit
        lowest = max(start + unit, end - WORD_SLACK * unit)
        for at in range(end - unit, lowest - 1, -unit):
            if data[at:at + unit] == self.space:
                return at + unit
        return end


def _before_escape(septets: bytes, end: int) -> int:
    # ESC only ever leads a pair (no extension code is 0x1B), so a final ESC is a torn pair.
    return end - 1 if septets[end - 1] == gsm7.ESC else end


def _before_high_surrogate(utf16: bytes, end: int) -> int:
    return end - 2 if 0xD8 <= utf16[end - 2] <= 0xDB else end


def encode_ucs2(text: str) -> bytes:
    """UTF-16BE: what phones send and expect under DCS 8 (UCS2 plus surrogate pairs)."""
    try:
        return text.encode("utf-16-be")
    except UnicodeEncodeError as exc:
        raise CodecError(f"lone surrogate at index {exc.start}") from None


def decode_ucs2(data: bytes) -> str:
    """Text from UTF-16BE; an odd length is a CodecError, a lone surrogate becomes U+FFFD.

    A lone surrogate is kept readable rather than rejected: some phones split an emoji
    across two parts, and losing one char beats losing the message.
    """
    if len(data) % 2:
        raise CodecError(f"UCS2 data of odd length {len(data)}")
    return data.decode("utf-16-be", "replace")


_GSM7 = _Scheme(DCS_GSM7, gsm7.encode, gsm7.decode, GSM7_SINGLE, GSM7_PART, _before_escape, 1,
                space=gsm7.encode(" "))
_UCS2 = _Scheme(DCS_UCS2, encode_ucs2, decode_ucs2, UCS2_SINGLE, UCS2_PART,
                _before_high_surrogate, 2, space=encode_ucs2(" "))


def _scheme_for(text: str) -> _Scheme:
    """GSM-7 when every char allows it (twice the capacity), else UCS2."""
    return _GSM7 if gsm7.is_gsm7(text) else _UCS2
