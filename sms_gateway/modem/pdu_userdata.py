"""TP-UDL and TP-UD: the text of a TPDU in the alphabet its DCS names, after an optional UDH."""

from __future__ import annotations

import enum

from sms_encoding import gsm7, udh
from sms_encoding.errors import CodecError
from sms_encoding.segments import decode_ucs2, encode_ucs2
from sms_gateway.modem.pdu_octets import Reader
from sms_gateway.transport import Concat

MAX_SEPTETS = 160
MAX_OCTETS = 140


class Alphabet(enum.Enum):
    GSM7 = "gsm7"
    DATA8 = "8bit"
    UCS2 = "ucs2"


# 23.038 §4, general data coding groups (00xx, 01xx): bits 3..2 name the alphabet; the
# reserved value 11 is read as GSM-7, as receivers must.
_GENERAL_GROUP = (Alphabet.GSM7, Alphabet.DATA8, Alphabet.UCS2, Alphabet.GSM7)
_COMPRESSED = 0x20


def alphabet(dcs: int) -> Alphabet:
    """The character set a TP-DCS value names; reserved groups fall back to GSM-7 (23.038 §4)."""
    group = dcs >> 4
    if group < 0x8:
        if dcs & _COMPRESSED:
            raise CodecError(f"DCS 0x{dcs:02X}: compressed text is not supported")
        return _GENERAL_GROUP[(dcs >> 2) & 0x03]
    if group == 0xE:  # message waiting indication, store message, UCS2
        return Alphabet.UCS2
    if group == 0xF:  # data coding / message class: bit 2 picks 8-bit data
        return Alphabet.DATA8 if dcs & 0x04 else Alphabet.GSM7
    return Alphabet.GSM7  # reserved groups 8..B and message waiting groups C, D


def _header_septets(udh_octets: int) -> tuple[int, int]:
    """Septets a UDH takes in GSM-7 user data, and the fill bits that align the text after it."""
    septets = (udh_octets * 8 + 6) // 7
    return septets, septets * 7 - udh_octets * 8


def read_user_data(reader: Reader, dcs: int, has_header: bool) -> tuple[str, Concat | None]:
    """The text and concatenation info of TP-UDL and TP-UD."""
    length = reader.octet()
    kind = alphabet(dcs)
    data = reader.take((length * 7 + 7) // 8 if kind is Alphabet.GSM7 else length)
    concat, header = udh.parse(data) if has_header else (None, 0)
    if kind is Alphabet.GSM7:
        header_septets, fill_bits = _header_septets(header)
        if header_septets > length:
            raise CodecError(f"user data header longer than TP-UDL {length}")
        septets = gsm7.unpack(data[header:], length - header_septets, fill_bits)
        return gsm7.decode(septets), concat
    body = data[header:]
    return (decode_ucs2(body) if kind is Alphabet.UCS2 else body.decode("latin-1")), concat


def encode_user_data(text: str, kind: Alphabet, header: bytes = b"") -> bytes:
    """TP-UDL and TP-UD for `text` after `header`; CodecError when it does not fit one SMS."""
    if kind is Alphabet.GSM7:
        septets = gsm7.encode(text)
        header_septets, fill_bits = _header_septets(len(header))
        length = header_septets + len(septets)
        if length > MAX_SEPTETS:
            raise CodecError(f"{length} septets do not fit one SMS ({MAX_SEPTETS})")
        return bytes([length]) + header + gsm7.pack(septets, fill_bits)
    body = encode_ucs2(text) if kind is Alphabet.UCS2 else _encode_latin1(text)
    length = len(header) + len(body)
    if length > MAX_OCTETS:
        raise CodecError(f"{length} octets do not fit one SMS ({MAX_OCTETS})")
    return bytes([length]) + header + body


def _encode_latin1(text: str) -> bytes:
    try:
        return text.encode("latin-1")
    except UnicodeEncodeError as exc:
        raise CodecError(f"{text[exc.start]!r} at index {exc.start} is not Latin-1") from None
