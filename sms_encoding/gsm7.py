"""GSM 03.38 (3GPP TS 23.038) default alphabet, its extension table, and septet packing.

Septets travel unpacked (one value 0..0x7F per byte) between `encode`/`decode` and
`pack`/`unpack`, so SMPP (which sends them unpacked) and PDU mode (packed) share the tables.
Every operation is a C-level codec, translate or big-integer step, never a Python loop per
character: these run for every message on the hot path.
"""

from __future__ import annotations

import codecs
import functools
import re

from sms_encoding.errors import CodecError

ESC = 0x1B

# 23.038 §6.2.1, in code order: row n holds septets 0x10*n .. 0x10*n+0x0F.
_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅå"
    "\u0394_\u03a6\u0393\u039b\u03a9\u03a0\u03a8\u03a3\u0398\u039e\x1bÆæßÉ"
    " !\"#¤%&'()*+,-./"
    "0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNO"
    "PQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmno"
    "pqrstuvwxyzäöñüà"
)
# 23.038 §6.2.1.1: the characters reached by ESC + code.
_EXTENSION = {
    0x0A: "\f",
    0x14: "^",
    0x28: "{",
    0x29: "}",
    0x2F: "\\",
    0x3C: "[",
    0x3D: "~",
    0x3E: "]",
    0x40: "|",
    0x65: "€",
}

# Septet values above 0x7F are undefined ("\ufffe"), so the strict charmap codec rejects them.
_DECODING_TABLE = _BASIC + "\ufffe" * 128
_ENCODING_MAP: dict[int, bytes] = {
    **{ord(char): bytes([code]) for code, char in enumerate(_BASIC) if code != ESC},
    **{ord(char): bytes([ESC, code]) for code, char in _EXTENSION.items()},
}
_CHARSET = frozenset(map(chr, _ENCODING_MAP))
# After the basic table has decoded an escape pair, its second char names the extension char.
# ESC ESC is reserved for a further table: 23.038 says to show a space. Any other unknown pair
# shows its basic-table char (the default of `_unescape`); a trailing lone ESC shows nothing.
_UNESCAPE = {_BASIC[code]: char for code, char in _EXTENSION.items()} | {"\x1b": " "}
_ESCAPE_PAIR = re.compile("\x1b(.?)", re.DOTALL)


def is_gsm7(text: str) -> bool:
    """True when every char of `text` has a GSM-7 encoding (so the message needs no UCS2)."""
    return _CHARSET.issuperset(text)


def encode(text: str) -> bytes:
    """Unpacked septets for `text`; extension chars become ESC, code."""
    try:
        return codecs.charmap_encode(text, "strict", _ENCODING_MAP)[0]
    except UnicodeEncodeError as exc:
        raise CodecError(
            f"{text[exc.start]!r} at index {exc.start} is not in the GSM 03.38 alphabet"
        ) from None


def decode(septets: bytes) -> str:
    """Text from unpacked septets; unknown escapes degrade as 23.038 says instead of failing."""
    try:
        text = codecs.charmap_decode(septets, "strict", _DECODING_TABLE)[0]
    except UnicodeDecodeError as exc:
        raise CodecError(
            f"septet value 0x{septets[exc.start]:02X} at index {exc.start} is above 0x7F"
        ) from None
    if "\x1b" not in text:
        return text
    return _ESCAPE_PAIR.sub(_unescape, text)


def _unescape(pair: re.Match[str]) -> str:
    return _UNESCAPE.get(pair[1], pair[1])


def septet_length(text: str) -> int:
    """Septets `text` takes in GSM-7 (extension chars count two); CodecError if not GSM-7."""
    return len(encode(text))


# Packing moves 8 septets (one per byte of a 64-bit lane) into 56 contiguous bits in three
# shift-and-mask steps over the whole message at once, as one big integer: (mask of the part
# that stays, mask of the part that moves, shift). Per lane the masks are:
_LANE_STEPS = (
    (0x007F007F007F007F, 0x3F803F803F803F80, 1),  # 7-bit pairs -> 14 bits per 16-bit unit
    (0x00003FFF00003FFF, 0x0FFFC0000FFFC000, 2),  # 14-bit pairs -> 28 bits per 32-bit unit
    (0x000000000FFFFFFF, 0x00FFFFFFF0000000, 4),  # 28-bit pairs -> 56 bits per lane
)


@functools.lru_cache(maxsize=64)
def _masks(lanes: int) -> tuple[tuple[int, int, int], ...]:
    """The lane masks repeated over `lanes` lanes (cached: messages come in few lengths)."""
    return tuple(
        (
            int.from_bytes(stay.to_bytes(8, "little") * lanes, "little"),
            int.from_bytes(move.to_bytes(8, "little") * lanes, "little"),
            shift,
        )
        for stay, move, shift in _LANE_STEPS
    )


def pack(septets: bytes, fill_bits: int = 0) -> bytes:
    """Septets packed LSB first as in an SMS PDU, after `fill_bits` zero bits (23.038 §6.1.2.1).

    `fill_bits` aligns text that follows a user data header to a septet boundary.
    """
    _check_fill(fill_bits)
    if not septets.isascii():
        raise CodecError("a septet value is above 0x7F")
    lanes = -(-len(septets) // 8)
    value = int.from_bytes(septets, "little")
    for stay, move, shift in _masks(lanes):
        value = (value & stay) | ((value >> shift) & move)
    packed = bytearray(value.to_bytes(lanes * 8, "little"))
    del packed[7::8]  # each lane's top octet is empty now
    size = (len(septets) * 7 + fill_bits + 7) // 8
    if fill_bits:
        return (int.from_bytes(packed, "little") << fill_bits).to_bytes(size, "little")
    return bytes(packed[:size])


def unpack(data: bytes, count: int, fill_bits: int = 0) -> bytes:
    """`count` septets from packed `data` that starts with `fill_bits` fill bits."""
    _check_fill(fill_bits)
    if count < 0:
        raise CodecError(f"negative septet count {count}")
    size = (count * 7 + fill_bits + 7) // 8
    if len(data) < size:
        raise CodecError(f"{count} septets need {size} octets, got {len(data)}")
    lanes = -(-count // 8)
    bits = (int.from_bytes(data[:size], "little") >> fill_bits) & ((1 << count * 7) - 1)
    stream = bits.to_bytes(lanes * 7, "little")
    spread = bytearray(lanes * 8)
    for octet in range(7):  # give every 7 octets (8 septets) a 64-bit lane
        spread[octet::8] = stream[octet::7]
    value = int.from_bytes(spread, "little")
    for stay, move, shift in reversed(_masks(lanes)):
        value = (value & stay) | ((value & move) << shift)
    return value.to_bytes(lanes * 8, "little")[:count]


def _check_fill(fill_bits: int) -> None:
    if not 0 <= fill_bits <= 6:
        raise CodecError(f"fill bits must be 0..6, got {fill_bits}")
