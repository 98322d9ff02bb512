"""SMPP PDUs as bytes: framing, headers, and the short-message layout shared by submit/deliver_sm.

smpplib encodes and decodes the mandatory fields. Optional parameters (TLVs) are read and
written here as plain (tag, bytes) pairs, because smpplib raises on TLVs it does not list
(`ussd_service_op` on deliver_sm, vendor tags), trusts its own sizes over the TLV length and
drops the last character of a C-string TLV sent without its NUL.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from dataclasses import dataclass, field

from smpplib import command as smpplib_command
from smpplib import exceptions as smpplib_exceptions

from sms_gateway.smpp.settings import SmppSettings
from sms_gateway.smpp.status import RESPONSE_BIT

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
_INT_FIELDS = (
    "source_addr_ton",
    "source_addr_npi",
    "dest_addr_ton",
    "dest_addr_npi",
    "esm_class",
    "registered_delivery",
    "data_coding",
)


class _MandatoryOnly:
    """Mixin: smpplib generates the mandatory fields only; our TLVs follow, parsed by us."""

    def parse_optional_params(self, data: bytes) -> None:
        self.tlvs = parse_tlvs(data)


def _mandatory(cls: type[smpplib_command.SubmitSM]) -> dict[str, object]:
    """Class attributes restricting smpplib to the 18 mandatory fields (and its cost to them)."""
    order = cls.params_order[:18]
    return {"params_order": order, "params": {name: cls.params[name] for name in order}}


_SubmitSm = type(
    "_SubmitSm", (_MandatoryOnly, smpplib_command.SubmitSM), _mandatory(smpplib_command.SubmitSM)
)
_DeliverSm = type(
    "_DeliverSm", (_MandatoryOnly, smpplib_command.DeliverSM), _mandatory(smpplib_command.DeliverSM)
)


_CLASSES = {"submit_sm": _SubmitSm, "deliver_sm": _DeliverSm}


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
    """A submit_sm or deliver_sm; raises PduError where smpplib would truncate silently."""
    for field_name, limit in _ADDRESS_FIELDS:
        value = getattr(message, field_name)
        if len(value) > limit or not value.isascii():
            raise PduError(f"{field_name} {value!r} is not ASCII of at most {limit}", 0x01)
    if len(message.short_message) > 254:
        raise PduError("short_message over 254 octets", 0x01)
    values = {name: getattr(message, name) for name, _ in _ADDRESS_FIELDS}
    values.update({name: getattr(message, name) for name in _INT_FIELDS})
    pdu = _CLASSES[name](name, sequence=sequence, short_message=message.short_message, **values)
    pdu.sequence = sequence  # smpplib ignores the keyword when a default client is in play
    raw = pdu.generate() + encode_tlvs(message.tlvs)
    return struct.pack(">I", len(raw)) + raw[4:]


# What smpplib raises on a body that does not hold the fields it expects.
_SMPPLIB_ERRORS = (
    struct.error,
    IndexError,
    ValueError,
    TypeError,
    KeyError,
    smpplib_exceptions.UnknownCommandError,
)


def decode_short_message(name: str, pdu: Pdu) -> ShortMessage:
    """The fields of a submit_sm or deliver_sm; raises PduError on a malformed body."""
    parsed = _CLASSES[name](name, sequence=pdu.sequence)
    parsed.tlvs = {}
    try:
        parsed.parse(pdu.raw)
    except PduError:
        raise
    except _SMPPLIB_ERRORS as exc:
        raise PduError(f"malformed {name}: {exc}", 0x01) from exc
    return _from_parsed(parsed)


def _from_parsed(parsed: smpplib_command.SubmitSM) -> ShortMessage:
    text_fields = {}
    for name, limit in _ADDRESS_FIELDS:
        value = getattr(parsed, name, None) or b""
        if not isinstance(value, bytes) or len(value) > limit:
            raise PduError(f"{name} missing or over {limit} octets", 0x01)
        text_fields[name] = value.decode("latin-1")
    if parsed.data_coding is None:
        raise PduError("body ends before the mandatory fields do", 0x01)
    int_fields = {name: getattr(parsed, name, None) or 0 for name in _INT_FIELDS}
    short_message = getattr(parsed, "short_message", None) or b""
    if len(short_message) != (getattr(parsed, "sm_length", None) or 0):
        raise PduError("short_message shorter than sm_length", 0x01)
    return ShortMessage(short_message=short_message, tlvs=parsed.tlvs, **text_fields, **int_fields)
