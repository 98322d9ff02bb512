"""User data headers (3GPP TS 23.040 §9.2.3.24): the concatenation elements, others skipped."""

from __future__ import annotations

import struct

from sms_encoding.errors import CodecError
from sms_gateway.transport import Concat

_CONCAT_8BIT, _CONCAT_16BIT = 0x00, 0x08
# IEI -> layout of the element's value: reference, total parts, sequence number.
_CONCAT_IES = {_CONCAT_8BIT: struct.Struct(">BBB"), _CONCAT_16BIT: struct.Struct(">HBB")}
_REFERENCE_LIMIT = {_CONCAT_8BIT: 0x100, _CONCAT_16BIT: 0x10000}


def parse(data: bytes) -> tuple[Concat | None, int]:
    """Concatenation info and the header's size in octets (the UDHL octet included).

    As 23.040 says, a concatenation element with seq 0 or seq > total is ignored and, when
    the element is repeated, the last one counts.
    """
    if not data:
        raise CodecError("user data header missing")
    end = data[0] + 1
    if end > len(data):
        raise CodecError(f"user data header of {end} octets, only {len(data)} present")
    concat = None
    pos = 1
    while pos < end:
        if pos + 2 > end:
            raise CodecError("information element cut short in user data header")
        iei, length = data[pos], data[pos + 1]
        value = data[pos + 2 : pos + 2 + length]
        pos += 2 + length
        if pos > end:
            raise CodecError(f"information element 0x{iei:02X} overruns the user data header")
        layout = _CONCAT_IES.get(iei)
        if layout is None:
            continue
        if length != layout.size:
            raise CodecError(f"concatenation element 0x{iei:02X} of {length} octets")
        reference, total, seq = layout.unpack(value)
        if 1 <= seq <= total:
            concat = Concat(reference=reference, total=total, seq=seq)
    return concat, end


def concat_header(reference: int, total: int, seq: int, wide: bool = False) -> bytes:
    """A complete UDH (UDHL first) holding only a concatenation element."""
    if not 1 <= seq <= total <= 255:
        raise ValueError(f"part {seq} of {total} is not a valid concatenation position")
    iei = _CONCAT_16BIT if wide else _CONCAT_8BIT
    if not 0 <= reference < _REFERENCE_LIMIT[iei]:
        raise ValueError(f"reference {reference} does not fit the {iei:#04x} element")
    layout = _CONCAT_IES[iei]
    return bytes([layout.size + 2, iei, layout.size]) + layout.pack(reference, total, seq)
