"""SMS TPDUs in PDU mode (3GPP TS 23.040 §9.2.2), as hex strings the way AT+CMGR, +CMGL,
+CDS and AT+CMGS carry them, each with the SMSC address field in front.

Decoding reads what a modem hands us (SMS-DELIVER, SMS-STATUS-REPORT, stored SMS-SUBMIT);
encoding builds what we send (SMS-SUBMIT). The reverse pair (`encode_deliver`,
`encode_status_report`, `decode_submit`) serves the simulated modem. All of it is pure: no I/O,
and any malformed input raises CodecError.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TypeVar

from sms_encoding import gsm7, udh
from sms_encoding.errors import CodecError
from sms_encoding.segments import DCS_GSM7, DCS_UCS2, plan
from sms_gateway.modem.pdu_address import (
    encode_address,
    encode_number,
    encode_smsc,
    read_address,
    read_smsc,
)
from sms_gateway.modem.pdu_octets import Reader, unhex
from sms_gateway.modem.pdu_time import (
    TIMESTAMP_OCTETS,
    decode_timestamp,
    encode_timestamp,
    relative_period,
    relative_validity,
)
from sms_gateway.modem.pdu_userdata import alphabet, encode_user_data, read_user_data
from sms_gateway.transport import Concat

_T = TypeVar("_T")

# The SMSC our simulated modem claims to have relayed through (07919762020033F1 on the wire).
DEFAULT_SMSC = "+79262000331"

# First octet (23.040 §9.2.3): message type indicator and flags.
_MTI_MASK = 0x03
_MTI_DELIVER, _MTI_SUBMIT, _MTI_STATUS_REPORT = 0x00, 0x01, 0x02
_MORE_MESSAGES_NONE = 0x04  # TP-MMS, set when no more messages are waiting
_VPF_MASK = 0x18
_VPF_ENHANCED, _VPF_RELATIVE, _VPF_ABSOLUTE = 0x08, 0x10, 0x18  # 0x00: no validity
_STATUS_REPORT_REQUESTED = 0x20  # TP-SRR in a submit
_UDHI = 0x40

# TP-ST (23.040 §9.2.3.15) by its top three bits -> (delivered, final): 000 completed,
# 001 SC still trying, 010 permanent error, 011 temporary error but SC gave up; 1xx are
# reserved values, read as a failure the SC will not retry.
_STATUS_OUTCOME = ((True, True), (False, False)) + ((False, True),) * 6


@dataclass(frozen=True)
class Deliver:
    """A received SMS (or one part of a long one); `raw` is the whole PDU as the modem gave it."""

    sender: str
    text: str
    timestamp: dt.datetime
    concat: Concat | None
    dcs: int
    pid: int
    smsc: str | None
    raw: bytes


@dataclass(frozen=True)
class StatusReport:
    """The network's word on a sent SMS, matched to it by `reference` (the +CMGS answer)."""

    reference: int
    recipient: str
    status: int
    delivered: bool
    final: bool
    discharge_time: dt.datetime | None


@dataclass(frozen=True)
class Submit:
    """An SMS a client asked to send; `validity` is a period (relative), a moment (absolute),
    or None (absent, or the enhanced format, which we do not interpret)."""

    to: str
    text: str
    concat: Concat | None
    dcs: int
    reference: int
    validity: dt.timedelta | dt.datetime | None
    status_report_requested: bool


@dataclass(frozen=True)
class SubmitPdu:
    """One part ready for AT+CMGS: `tpdu_length` is the octet count the command wants."""

    hex: str
    tpdu_length: int


def decode_deliver(hex_pdu: str, *, has_smsc: bool = True) -> Deliver:
    """An SMS-DELIVER from +CMGR/+CMGL/+CMT; `has_smsc` says whether the SCA field leads."""
    return _decode(hex_pdu, has_smsc, Deliver)


def decode_status_report(hex_pdu: str, *, has_smsc: bool = True) -> StatusReport:
    """An SMS-STATUS-REPORT from +CDS or from storage."""
    return _decode(hex_pdu, has_smsc, StatusReport)


def decode_submit(hex_pdu: str, *, has_smsc: bool = True) -> Submit:
    """An SMS-SUBMIT, as a client gives it to AT+CMGS or a SIM stores it."""
    return _decode(hex_pdu, has_smsc, Submit)


def decode_any(hex_pdu: str, has_smsc: bool = True) -> Deliver | StatusReport | Submit:
    """Whichever TPDU the message type indicator names (a SIM stores all three kinds)."""
    return _decode(hex_pdu, has_smsc, None)


def _decode(hex_pdu: str, has_smsc: bool, expected: type[_T] | None) -> _T:
    raw = unhex(hex_pdu)
    reader = Reader(raw)
    smsc = read_smsc(reader) if has_smsc else None
    first = reader.octet()
    kind, read = _READERS.get(first & _MTI_MASK, (None, None))
    if read is None:
        raise CodecError(f"reserved message type in first octet 0x{first:02X}")
    if expected is not None and kind is not expected:
        raise CodecError(f"expected {expected.__name__}, the PDU is {kind.__name__}")
    return read(reader, first, smsc, raw)


def _read_deliver(reader: Reader, first: int, smsc: str | None, raw: bytes) -> Deliver:
    sender = read_address(reader)
    pid, dcs = reader.octet(), reader.octet()
    timestamp = decode_timestamp(reader.take(TIMESTAMP_OCTETS))
    text, concat = read_user_data(reader, dcs, bool(first & _UDHI))
    return Deliver(sender, text, timestamp, concat, dcs, pid, smsc, raw)


def _read_submit(reader: Reader, first: int, smsc: str | None, raw: bytes) -> Submit:
    reference = reader.octet()
    to = read_address(reader)
    _pid, dcs = reader.octet(), reader.octet()
    validity = _read_validity(reader, first & _VPF_MASK)
    text, concat = read_user_data(reader, dcs, bool(first & _UDHI))
    requested = bool(first & _STATUS_REPORT_REQUESTED)
    return Submit(to, text, concat, dcs, reference, validity, requested)


def _read_validity(reader: Reader, vpf: int) -> dt.timedelta | dt.datetime | None:
    if vpf == _VPF_RELATIVE:
        return relative_period(reader.octet())
    if vpf == _VPF_ABSOLUTE:
        return decode_timestamp(reader.take(TIMESTAMP_OCTETS))
    if vpf == _VPF_ENHANCED:
        reader.take(7)
    return None


def _read_status_report(reader: Reader, first: int, smsc: str | None, raw: bytes) -> StatusReport:
    reference = reader.octet()
    recipient = read_address(reader)
    reader.take(TIMESTAMP_OCTETS)  # when the SC received the message; the reference suffices
    discharged = reader.take(TIMESTAMP_OCTETS)
    status = reader.octet()
    delivered, final = _STATUS_OUTCOME[status >> 5]
    return StatusReport(reference, recipient, status, delivered, final, _lenient_time(discharged))


def _lenient_time(octets: bytes) -> dt.datetime | None:
    """Some SMSCs fill TP-DT with zeros: the status still counts, the time is unknown."""
    try:
        return decode_timestamp(octets)
    except CodecError:
        return None


_READERS = {
    _MTI_DELIVER: (Deliver, _read_deliver),
    _MTI_SUBMIT: (Submit, _read_submit),
    _MTI_STATUS_REPORT: (StatusReport, _read_status_report),
}


def encode_submit(
    to: str,
    text: str,
    *,
    reference: int,
    validity_minutes: int | None = None,
    status_report: bool = False,
) -> list[SubmitPdu]:
    """The SMS-SUBMIT parts that carry `text` to `to`, with SCA 00 (the SIM's SMSC).

    `reference` is the concatenation reference shared by all parts (its low 8 bits are
    used); TP-MR is left 0 for the modem to assign (+CMGS answers it). A validity is rounded
    down to a period the relative format has.
    """
    message = plan(text)
    kind = alphabet(message.dcs)
    total = len(message.parts)
    first = _MTI_SUBMIT | (_STATUS_REPORT_REQUESTED if status_report else 0)
    validity = b""
    if validity_minutes is not None:
        first |= _VPF_RELATIVE
        validity = bytes([relative_validity(validity_minutes)])
    head = encode_number(to) + bytes([0, message.dcs]) + validity  # DA, PID, DCS, VP
    pdus = []
    for seq, part in enumerate(message.parts, start=1):
        header = udh.concat_header(reference & 0xFF, total, seq) if total > 1 else b""
        tpdu = (
            bytes([first | (_UDHI if header else 0), 0])  # first octet, TP-MR
            + head
            + encode_user_data(part, kind, header)
        )
        pdus.append(SubmitPdu(hex="00" + tpdu.hex().upper(), tpdu_length=len(tpdu)))
    return pdus


def encode_deliver(
    sender: str,
    text_part: str,
    *,
    timestamp: dt.datetime,
    concat: Concat | None = None,
    dcs: int | None = None,
    smsc: str | None = DEFAULT_SMSC,
) -> str:
    """An SMS-DELIVER as a modem would list it (SCA first); `text_part` must fit one SMS.

    `dcs` defaults to GSM-7 when the text allows it, else UCS2. A non-numeric sender becomes
    an alphanumeric originator; a concat reference above 255 uses the 16-bit element.
    """
    if dcs is None:
        dcs = DCS_GSM7 if gsm7.is_gsm7(text_part) else DCS_UCS2
    header = b""
    if concat is not None:
        wide = concat.reference > 0xFF
        header = udh.concat_header(concat.reference, concat.total, concat.seq, wide=wide)
    tpdu = (
        bytes([_MORE_MESSAGES_NONE | (_UDHI if header else 0)])
        + encode_address(sender)
        + bytes([0, dcs])  # PID, DCS
        + encode_timestamp(timestamp)
        + encode_user_data(text_part, alphabet(dcs), header)
    )
    return (encode_smsc(smsc) + tpdu).hex().upper()


def encode_status_report(
    reference: int,
    recipient: str,
    *,
    status: int = 0,
    submitted: dt.datetime,
    discharged: dt.datetime,
    smsc: str | None = DEFAULT_SMSC,
) -> str:
    """An SMS-STATUS-REPORT as a modem shows it in +CDS (SCA first)."""
    tpdu = (
        bytes([_MTI_STATUS_REPORT | _MORE_MESSAGES_NONE, reference])
        + encode_number(recipient)
        + encode_timestamp(submitted)
        + encode_timestamp(discharged)
        + bytes([status])
    )
    return (encode_smsc(smsc) + tpdu).hex().upper()


def tpdu_length(hex_pdu: str) -> int:
    """Octets after the SMSC address field: the <length> of +CMGR, +CMGL and +CDS."""
    data = unhex(hex_pdu)
    if not data or data[0] >= len(data):
        raise CodecError("PDU has no TPDU after its SMSC address field")
    return len(data) - 1 - data[0]
