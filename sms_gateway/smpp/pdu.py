"""SMPP PDUs as bytes: framing, headers, and the short-message layout shared by submit/deliver_sm.

smpplib encodes the bind. submit_sm and deliver_sm, which every message pays for, are laid
out here by hand (tests hold them to smpplib's bytes). Optional parameters (TLVs) are read and
written here as plain (tag, bytes) pairs, because smpplib raises on TLVs it does not list
(`ussd_service_op` on deliver_sm, vendor tags), trusts its own sizes over the TLV length and
drops the last character of a C-string TLV sent without its NUL.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from dataclasses import dataclass, field

from smpplib import command as smpplib_command

from sms_gateway.smpp.constants import RESPONSE_BIT
from sms_gateway.smpp.settings import SmppSettings

HEADER = struct.Struct(">IIII")
_TLV_HEADER = struct.Struct(">HH")
# Large enough for a deliver_sm with a full message_payload; anything longer is garbage that
# would otherwise make us buffer without bound.
MAX_PDU_LENGTH = 64 * 1024


class Tag:
    """Optional parameter tags we read or write (SMPP 3.4 section 5.3.2)."""

    RECEIPTED_MESSAGE_ID = 0x001E
    USER_MESSAGE_REFERENCE = 0x0204
    SAR_MSG_REF_NUM = 0x020C
    SAR_TOTAL_SEGMENTS = 0x020E
    SAR_SEGMENT_SEQNUM = 0x020F
    NETWORK_ERROR_CODE = 0x0423
    MESSAGE_PAYLOAD = 0x0424
    MESSAGE_STATE = 0x0427
    USSD_SERVICE_OP = 0x0501
    ITS_SESSION_INFO = 0x1383


class PduError(ValueError):
    """Bytes that do not make the PDU they claim to be; `status` is what to answer with."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


class FramingError(PduError):
    """The length prefix is impossible: the byte stream cannot be resynchronised."""


@dataclass(frozen=True, slots=True)
class Pdu:
    """One framed PDU: its header fields and the whole PDU as received."""

    command_id: int
    status: int
    sequence: int
    raw: bytes

    @property
    def is_response(self) -> bool:
        return bool(self.command_id & RESPONSE_BIT)

    @property
    def body(self) -> bytes:
        return self.raw[HEADER.size :]


def encode(command_id: int, sequence: int, status: int = 0, body: bytes = b"") -> bytes:
    """A whole PDU; header-only PDUs and responses need nothing more than this."""
    return HEADER.pack(HEADER.size + len(body), command_id, status, sequence) + body


class FrameBuffer:
    """Collects bytes from a socket and cuts complete PDUs off the front."""

    def __init__(self) -> None:
        self._data = bytearray()

    def feed(self, data: bytes) -> list[Pdu]:
        """Every PDU completed by `data`; raises FramingError when the stream is broken."""
        self._data += data
        pdus: list[Pdu] = []
        start = 0
        available = len(self._data)
        while available - start >= HEADER.size:
            length, command_id, status, sequence = HEADER.unpack_from(self._data, start)
            if not HEADER.size <= length <= MAX_PDU_LENGTH:
                raise FramingError(f"impossible command_length {length}", 0x02)
            if available - start < length:
                break
            pdus.append(
                Pdu(command_id, status, sequence, bytes(self._data[start : start + length]))
            )
            start += length
        del self._data[:start]
        return pdus


def c_string(body: bytes) -> str:
    """The leading C-octet string of a body (a resp's message_id or system_id)."""
    return body.split(b"\0", 1)[0].decode("latin-1")


def parse_tlvs(data: bytes) -> dict[int, bytes]:
    """Optional parameters as tag -> value; a truncated TLV is an error, unknown tags are kept."""
    tlvs: dict[int, bytes] = {}
    pos = 0
    while pos < len(data):
        if len(data) - pos < _TLV_HEADER.size:
            raise PduError("truncated TLV header", 0xC0)
        tag, length = _TLV_HEADER.unpack_from(data, pos)
        pos += _TLV_HEADER.size
        if len(data) - pos < length:
            raise PduError(f"TLV 0x{tag:04x} longer than the PDU", 0xC2)
        tlvs[tag] = data[pos : pos + length]
        pos += length
    return tlvs


def encode_tlvs(tlvs: Mapping[int, bytes]) -> bytes:
    return b"".join(_TLV_HEADER.pack(tag, len(value)) + value for tag, value in tlvs.items())


@dataclass(frozen=True)
class ShortMessage:
    """The submit_sm / deliver_sm fields this gateway reads and writes (one layout for both)."""

    source_addr: str
    destination_addr: str
    short_message: bytes = b""
    source_addr_ton: int = 0
    source_addr_npi: int = 0
    dest_addr_ton: int = 0
    dest_addr_npi: int = 0
    esm_class: int = 0
    data_coding: int = 0
    registered_delivery: int = 0
    validity_period: str = ""
    service_type: str = ""
    tlvs: Mapping[int, bytes] = field(default_factory=dict)


_ADDRESS_FIELDS = (
    ("service_type", 5),
    ("source_addr", 20),
    ("destination_addr", 20),
    ("validity_period", 16),
)
_COMMAND_IDS = {"submit_sm": 0x00000004, "deliver_sm": 0x00000005}


def bind_body(settings: SmppSettings) -> bytes:
    """The body shared by the three bind PDUs (settings were checked for field lengths)."""
    bind = smpplib_command.BindTransceiver(
        "bind_transceiver",
        sequence=1,
        system_id=settings.system_id,
        password=settings.password,
        system_type=settings.system_type,
        addr_ton=0,
        addr_npi=0,
        address_range=settings.address_range,
    )
    return bind.generate_params()


def encode_short_message(name: str, sequence: int, message: ShortMessage) -> bytes:
    """A submit_sm or deliver_sm; raises PduError where smpplib would truncate silently.

    Laid out by hand (SMPP 3.4 sections 4.4.1 and 4.6.1 share one layout): smpplib's generic
    field machinery cost about 20 us a PDU, the same bytes (tests compare them with smpplib's).
    protocol_id, priority_flag, schedule_delivery_time, replace_if_present_flag and
    sm_default_msg_id are always zero or empty here.
    """
    for field_name, limit in _ADDRESS_FIELDS:
        value = getattr(message, field_name)
        if len(value) > limit or not value.isascii():
            raise PduError(f"{field_name} {value!r} is not ASCII of at most {limit}", 0x01)
    data = message.short_message
    if len(data) > 254:
        raise PduError("short_message over 254 octets", 0x01)
    try:
        body = b"".join(
            (
                message.service_type.encode("ascii"),
                bytes((0, message.source_addr_ton, message.source_addr_npi)),
                message.source_addr.encode("ascii"),
                bytes((0, message.dest_addr_ton, message.dest_addr_npi)),
                message.destination_addr.encode("ascii"),
                bytes((0, message.esm_class, 0, 0, 0)),  # protocol_id, priority, schedule time
                message.validity_period.encode("ascii"),
                bytes((0, message.registered_delivery, 0, message.data_coding, 0, len(data))),
                data,
                encode_tlvs(message.tlvs),
            )
        )
    except ValueError as exc:  # an octet field out of 0..255
        raise PduError(f"{name}: {exc}", 0x01) from exc
    return HEADER.pack(HEADER.size + len(body), _COMMAND_IDS[name], 0, sequence) + body


def decode_short_message(name: str, pdu: Pdu) -> ShortMessage:
    """The fields of a submit_sm or deliver_sm; raises PduError on a malformed body.

    Read by hand for the same reason as `encode_short_message`; as smpplib did, a body that
    ends right after data_coding is a message without text.
    """
    raw = pdu.raw
    try:
        service_type, pos = _c_string(raw, HEADER.size, "service_type", 5)
        source_ton, source_npi = raw[pos], raw[pos + 1]
        source_addr, pos = _c_string(raw, pos + 2, "source_addr", 20)
        dest_ton, dest_npi = raw[pos], raw[pos + 1]
        destination_addr, pos = _c_string(raw, pos + 2, "destination_addr", 20)
        esm_class = raw[pos]
        _, pos = _c_string(raw, pos + 3, "schedule_delivery_time", 16)
        validity_period, pos = _c_string(raw, pos, "validity_period", 16)
        registered_delivery, data_coding = raw[pos], raw[pos + 2]
    except IndexError:
        raise PduError(f"{name}: body ends before the mandatory fields do", 0x01) from None
    length = raw[pos + 4] if pos + 4 < len(raw) else 0
    start = pos + 5
    short_message = raw[start : start + length]
    if len(short_message) != length:
        raise PduError(f"{name}: short_message shorter than sm_length", 0x01)
    return ShortMessage(
        source_addr=source_addr,
        destination_addr=destination_addr,
        short_message=short_message,
        source_addr_ton=source_ton,
        source_addr_npi=source_npi,
        dest_addr_ton=dest_ton,
        dest_addr_npi=dest_npi,
        esm_class=esm_class,
        data_coding=data_coding,
        registered_delivery=registered_delivery,
        validity_period=validity_period,
        service_type=service_type,
        tlvs=parse_tlvs(raw[start + length :]),
    )


def _c_string(raw: bytes, pos: int, name: str, limit: int) -> tuple[str, int]:
    """The C-octet string at `pos` (at most `limit` octets before its NUL), and what follows."""
    end = raw.find(b"\0", pos, pos + limit + 1)
    if end < 0:
        raise PduError(f"{name} missing or over {limit} octets", 0x01)
    return raw[pos:end].decode("latin-1"), end + 1
