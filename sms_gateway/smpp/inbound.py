"""deliver_sm -> InboundPart or DeliveryReceipt: text decoding, concatenation, USSD, receipts.

Parts of a long message are passed on as parts (with `Concat`); the pipeline reassembles
them durably, because a restart must not lose half a message.
"""

from __future__ import annotations

import datetime as dt

from sms_encoding import gsm7, udh
from sms_encoding.errors import CodecError
from sms_encoding.segments import decode_ucs2
from sms_gateway.smpp.pdu import ShortMessage, Tag
from sms_gateway.smpp.receipts import ReceiptError, parse_receipt
from sms_gateway.smpp.settings import SmppSettings
from sms_gateway.transport import Concat, DeliveryReceipt, InboundPart

ESM_UDHI = 0x40
_ESM_TYPE_MASK = 0x3C
_RECEIPT_TYPES = frozenset({0x04, 0x20})  # SMSC delivery receipt, intermediate notification
TON_INTERNATIONAL = 1

_DEFAULT_ALPHABET = {
    "gsm7": gsm7.decode,
    "latin1": lambda data: data.decode("latin-1"),
    "ascii": lambda data: data.decode("ascii"),
}
# data_coding values other than 0 (SMPP 3.4 section 5.2.19) that carry text.
_DECODERS = {
    1: lambda data: data.decode("ascii"),
    3: lambda data: data.decode("latin-1"),
    6: lambda data: data.decode("iso8859_5"),
    7: lambda data: data.decode("iso8859_8"),
    8: decode_ucs2,
}


class UndecodableMessage(ValueError):
    """A deliver_sm whose text, header or receipt cannot be read; it must be refused."""


def convert(
    message: ShortMessage,
    raw: bytes,
    settings: SmppSettings,
    channel: str,
    received_at: dt.datetime,
) -> InboundPart | DeliveryReceipt:
    """One deliver_sm as the pipeline wants it; raises UndecodableMessage."""
    try:
        if _is_receipt(message):
            text = _user_data(message).decode("latin-1")
            return parse_receipt(channel, text, message.tlvs, settings.message_id_format)
        return _part(message, raw, settings, channel, received_at)
    except (CodecError, ReceiptError, UnicodeDecodeError) as exc:
        raise UndecodableMessage(str(exc)) from exc


def sender_of(message: ShortMessage) -> str:
    """The sender in E.164 where the SMSC says the number is international."""
    address = message.source_addr
    if message.source_addr_ton == TON_INTERNATIONAL and address.isdigit():
        return "+" + address
    return address


def _is_receipt(message: ShortMessage) -> bool:
    if message.esm_class & _ESM_TYPE_MASK in _RECEIPT_TYPES:
        return True
    return Tag.RECEIPTED_MESSAGE_ID in message.tlvs and Tag.MESSAGE_STATE in message.tlvs


def _user_data(message: ShortMessage) -> bytes:
    """short_message, or message_payload when the SMSC sent the text there."""
    return message.short_message or message.tlvs.get(Tag.MESSAGE_PAYLOAD, b"")


def _part(
    message: ShortMessage,
    raw: bytes,
    settings: SmppSettings,
    channel: str,
    received_at: dt.datetime,
) -> InboundPart:
    data = _user_data(message)
    concat = None
    if message.esm_class & ESM_UDHI:
        concat, header_length = udh.parse(data)
        data = data[header_length:]
    return InboundPart(
        channel=channel,
        sender=sender_of(message),
        text=_decode_text(message.data_coding, data, settings),
        received_at=received_at,
        concat=concat or _sar(message),
        raw=raw,
        ussd_op=_ussd_op(message),
        ussd_session=_ussd_session(message),
    )


def _decode_text(data_coding: int, data: bytes, settings: SmppSettings) -> str:
    if data_coding == 0:
        return _DEFAULT_ALPHABET[settings.default_alphabet](data)
    if data_coding & 0xF4 == 0xF0:  # GSM 03.38 message class group, 7-bit alphabet
        return gsm7.decode(data)
    decoder = _DECODERS.get(data_coding)
    if decoder is None:
        raise CodecError(f"data_coding 0x{data_coding:02x} carries no text we read")
    return decoder(data)


def _sar(message: ShortMessage) -> Concat | None:
    """Concatenation from the SAR TLVs; incomplete or impossible values mean a single part."""
    ref = message.tlvs.get(Tag.SAR_MSG_REF_NUM)
    total = message.tlvs.get(Tag.SAR_TOTAL_SEGMENTS)
    seq = message.tlvs.get(Tag.SAR_SEGMENT_SEQNUM)
    if not ref or not total or not seq:
        return None
    concat = Concat(int.from_bytes(ref, "big"), total[0], seq[0])
    return concat if 1 <= concat.seq <= concat.total and concat.total > 1 else None


def _ussd_op(message: ShortMessage) -> int | None:
    value = message.tlvs.get(Tag.USSD_SERVICE_OP)
    return value[0] if value else None


def _ussd_session(message: ShortMessage) -> str | None:
    """its_session_info as hex: opaque to us, echoed back on the reply's submit_sm."""
    value = message.tlvs.get(Tag.ITS_SESSION_INFO)
    return value.hex() if value else None
