"""Addresses in a TPDU (3GPP TS 23.040 §9.1.2.5) and the SMSC address before it (24.011).

Numbers are semi-octets; an alphanumeric originator (type of number 101, TOA 0xD0, as banks
and operators send) is packed GSM-7 whose length field counts useful semi-octets.
"""

from __future__ import annotations

import re

from sms_encoding import gsm7
from sms_gateway.modem.pdu_octets import Reader, from_semi_octets, to_semi_octets

TOA_INTERNATIONAL = 0x91
TOA_UNKNOWN = 0x81
TOA_ALPHANUMERIC = 0xD0
_TON_MASK = 0x70
_TON_INTERNATIONAL = 0x10
_TON_ALPHANUMERIC = 0x50
_MAX_ALPHANUMERIC = 11  # chars: 10 octets of address value

# Semi-octet digit values 0xA..0xE are * # a b c (23.040 §9.1.2.3); F is the filler.
_DIGITS_FROM_NIBBLES = str.maketrans({"a": "*", "b": "#", "c": "a", "d": "b", "e": "c", "f": None})
_DIGITS_TO_NIBBLES = str.maketrans({"*": "a", "#": "b"})
_NUMBER = re.compile(r"\+?[0-9*#]{1,20}")


def read_address(reader: Reader) -> str:
    """An originating, destination or recipient address; '+' marks an international one."""
    length, toa = reader.octet(), reader.octet()
    value = reader.take((length + 1) // 2)
    ton = toa & _TON_MASK
    if ton == _TON_ALPHANUMERIC:
        return gsm7.decode(gsm7.unpack(value, length * 4 // 7))
    digits = from_semi_octets(value)[:length].translate(_DIGITS_FROM_NIBBLES)
    return "+" + digits if ton == _TON_INTERNATIONAL and digits else digits


def read_smsc(reader: Reader) -> str | None:
    """The service centre address a modem puts before the TPDU; None when it is empty."""
    length = reader.octet()
    if length == 0:
        return None
    toa = reader.octet()
    digits = from_semi_octets(reader.take(length - 1)).rstrip("f")
    digits = digits.translate(_DIGITS_FROM_NIBBLES)
    if not digits:
        return None
    return "+" + digits if toa & _TON_MASK == _TON_INTERNATIONAL else digits


def encode_number(number: str) -> bytes:
    """A phone number as an address field: '+...' as international (0x91), else unknown (0x81)."""
    if not _NUMBER.fullmatch(number):
        raise ValueError(f"{number!r} is not a phone number")
    toa, digits = _toa_and_digits(number)
    return bytes([len(digits), toa]) + to_semi_octets(digits.translate(_DIGITS_TO_NIBBLES))


def encode_address(address: str) -> bytes:
    """A number as `encode_number` does; any other text as an alphanumeric originator."""
    if _NUMBER.fullmatch(address):
        return encode_number(address)
    septets = gsm7.encode(address)
    if len(septets) > _MAX_ALPHANUMERIC:
        raise ValueError(f"alphanumeric address {address!r} is over {_MAX_ALPHANUMERIC} septets")
    useful_semi_octets = (len(septets) * 7 + 3) // 4
    return bytes([useful_semi_octets, TOA_ALPHANUMERIC]) + gsm7.pack(septets)


def encode_smsc(number: str | None) -> bytes:
    """The SMSC address field; None gives the empty one (00: the modem uses the SIM's SMSC)."""
    if number is None:
        return b"\x00"
    if not _NUMBER.fullmatch(number):
        raise ValueError(f"{number!r} is not an SMSC number")
    toa, digits = _toa_and_digits(number)
    value = to_semi_octets(digits.translate(_DIGITS_TO_NIBBLES))
    return bytes([len(value) + 1, toa]) + value


def _toa_and_digits(number: str) -> tuple[int, str]:
    if number.startswith("+"):
        return TOA_INTERNATIONAL, number[1:]
    return TOA_UNKNOWN, number
