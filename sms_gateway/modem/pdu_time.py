"""Time fields of a TPDU: time stamps (23.040 §9.2.3.11) and validity periods (§9.2.3.12)."""

from __future__ import annotations

import bisect
import datetime as dt

from sms_encoding.errors import CodecError
from sms_gateway.modem.pdu_octets import SWAP_NIBBLES, from_semi_octets

TIMESTAMP_OCTETS = 7
_ZONE_NEGATIVE = 0x08  # in the zone octet as sent: bit 3, the tens nibble's top bit
_QUARTER_HOUR = dt.timedelta(minutes=15)
_MAX_QUARTERS = 79  # two BCD digits, the tens digit limited to 3 bits by the sign
# Two-digit years: SMS began in 1992, so 90..99 are the 1990s and the rest this century.
_CENTURY_PIVOT = 90
_FIRST_YEAR, _LAST_YEAR = 1900 + _CENTURY_PIVOT, 2000 + _CENTURY_PIVOT - 1


def decode_timestamp(octets: bytes) -> dt.datetime:
    """An aware datetime from 7 semi-octets: YY MM DD hh mm ss and a signed quarter-hour zone."""
    digits = from_semi_octets(octets[:6])
    zone = octets[6]
    if not digits.isdigit() or zone >> 4 > 9:
        raise CodecError(f"time stamp {octets.hex()} is not decimal")
    year, month, day, hour, minute, second = (int(digits[i : i + 2]) for i in range(0, 12, 2))
    quarters = (zone & 0x07) * 10 + (zone >> 4)
    offset = -quarters if zone & _ZONE_NEGATIVE else quarters
    try:
        tz = dt.timezone(offset * _QUARTER_HOUR)
        century = 1900 if year >= _CENTURY_PIVOT else 2000
        return dt.datetime(century + year, month, day, hour, minute, second, tzinfo=tz)
    except ValueError as exc:
        raise CodecError(f"time stamp {octets.hex()}: {exc}") from None


def encode_timestamp(moment: dt.datetime) -> bytes:
    """7 semi-octets for an aware datetime in 1990..2089 whose offset is whole quarter hours."""
    offset = moment.utcoffset()
    if offset is None:
        raise ValueError("a PDU time stamp needs an aware datetime")
    quarters, rest = divmod(abs(offset), _QUARTER_HOUR)
    if rest or quarters > _MAX_QUARTERS or not _FIRST_YEAR <= moment.year <= _LAST_YEAR:
        raise ValueError(f"{moment.isoformat()} has no PDU time stamp")
    digits = moment.strftime("%y%m%d%H%M%S")
    sign = _ZONE_NEGATIVE if offset < dt.timedelta() else 0
    zone = (quarters % 10) << 4 | quarters // 10 | sign
    return bytes.fromhex(digits).translate(SWAP_NIBBLES) + bytes([zone])


def _relative_minutes(vp: int) -> int:
    """Minutes a relative TP-VP value stands for (23.040 §9.2.3.12.1)."""
    if vp <= 143:
        return (vp + 1) * 5
    if vp <= 167:
        return 12 * 60 + (vp - 143) * 30
    if vp <= 196:
        return (vp - 166) * 24 * 60
    return (vp - 192) * 7 * 24 * 60


_RELATIVE_MINUTES = tuple(map(_relative_minutes, range(256)))  # strictly increasing


def relative_validity(minutes: int) -> int:
    """The TP-VP octet for a validity of `minutes`, rounded down to a period the format has.

    Rounding down keeps the network from trying past the caller's bound; 5 minutes is the
    shortest period there is.
    """
    if minutes <= 0:
        raise ValueError(f"validity must be positive, got {minutes} minutes")
    return max(bisect.bisect_right(_RELATIVE_MINUTES, minutes) - 1, 0)


def relative_period(vp: int) -> dt.timedelta:
    """The validity period a relative TP-VP octet stands for."""
    return dt.timedelta(minutes=_RELATIVE_MINUTES[vp])
