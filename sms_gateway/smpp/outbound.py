"""OutboundMessage -> the submit_sm fields of each part: alphabet, splitting, validity, USSD.

The split itself (never between ESC and its character, nor inside a surrogate pair) is
`sms_encoding.segments`; this module only dresses the parts for SMPP.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import replace

from sms_encoding import gsm7, segments, udh
from sms_encoding.errors import CodecError
from sms_gateway.smpp.inbound import ESM_UDHI
from sms_gateway.smpp.pdu import ShortMessage, Tag
from sms_gateway.smpp.settings import SmppSettings
from sms_gateway.transport import OutboundMessage

REGISTERED_DELIVERY_FINAL = 0x01
# A USSD screen is never concatenated: 182 GSM-7 characters, 160 octets of UCS2 at most.
_USSD_LIMIT = {segments.DCS_GSM7: 182, segments.DCS_UCS2: 160}

_DEFAULT_ALPHABET: dict[str, Callable[[str], bytes]] = {
    "gsm7": gsm7.encode,
    "latin1": lambda text: text.encode("latin-1"),
    "ascii": lambda text: text.encode("ascii"),
}


class UnsendableMessage(ValueError):
    """A reply that no retry can send (text, address or expiry): a permanent failure."""


def build_submits(
    message: OutboundMessage, settings: SmppSettings, reference: int, now: dt.datetime
) -> list[ShortMessage]:
    """One ShortMessage per submit_sm; `reference` numbers the parts of a long message."""
    try:
        plan = segments.plan(message.text)
        encode = _encoder(plan.dcs, settings)
        base = _base_fields(message, settings, plan.dcs, now)
        if message.ussd_op is not None:
            return [_ussd(message, base, encode(message.text), plan.dcs)]
        if len(plan.parts) == 1:
            return [replace(base, short_message=encode(plan.parts[0]))]
        return _long(base, plan, encode, settings.long_messages, reference, message.text)
    except (CodecError, UnicodeEncodeError) as exc:
        raise UnsendableMessage(f"text cannot be encoded: {exc}") from exc


def validity_period(expires_at: dt.datetime) -> str:
    """SMPP absolute time in UTC, `YYMMDDhhmmss000+` (tenths 0, offset 00 quarter hours)."""
    if expires_at.tzinfo is not None:
        expires_at = expires_at.astimezone(dt.UTC)
    return expires_at.strftime("%y%m%d%H%M%S") + "000+"


def _encoder(dcs: int, settings: SmppSettings) -> Callable[[str], bytes]:
    if dcs == segments.DCS_UCS2:
        return segments.encode_ucs2
    return _DEFAULT_ALPHABET[settings.default_alphabet]


def _base_fields(
    message: OutboundMessage, settings: SmppSettings, dcs: int, now: dt.datetime
) -> ShortMessage:
    destination = message.to.removeprefix("+")
    if not destination.isdigit():
        raise UnsendableMessage(f"destination {message.to!r} is not a phone number")
    validity = ""
    if message.expires_at is not None:
        expires_at = message.expires_at
        if expires_at.tzinfo is None:
            expires_at = expires_at.replace(tzinfo=dt.UTC)
        if expires_at <= now:
            raise UnsendableMessage("expired before it could be sent")
        validity = validity_period(expires_at)
    return ShortMessage(
        source_addr=settings.source_addr,
        source_addr_ton=settings.source_ton,
        source_addr_npi=settings.source_npi,
        destination_addr=destination,
        dest_addr_ton=settings.dest_ton,
        dest_addr_npi=settings.dest_npi,
        data_coding=dcs,
        registered_delivery=REGISTERED_DELIVERY_FINAL,
        validity_period=validity,
    )


def _ussd(message: OutboundMessage, base: ShortMessage, data: bytes, dcs: int) -> ShortMessage:
    if len(data) > _USSD_LIMIT[dcs]:
        raise UnsendableMessage(f"USSD text of {len(data)} units, limit {_USSD_LIMIT[dcs]}")
    tlvs = {Tag.USSD_SERVICE_OP: bytes([message.ussd_op or 0])}
    if message.ussd_session:
        try:
            tlvs[Tag.ITS_SESSION_INFO] = bytes.fromhex(message.ussd_session)
        except ValueError as exc:
            raise UnsendableMessage(f"ussd_session {message.ussd_session!r} not hex") from exc
    return replace(base, short_message=data, service_type="USSD", registered_delivery=0, tlvs=tlvs)


def _long(
    base: ShortMessage,
    plan: segments.Plan,
    encode: Callable[[str], bytes],
    mode: str,
    reference: int,
    text: str,
) -> list[ShortMessage]:
    if mode == "payload":
        return [replace(base, tlvs={Tag.MESSAGE_PAYLOAD: encode(text)})]
    total = len(plan.parts)
    submits = []
    for seq, part in enumerate(plan.parts, start=1):
        if mode == "udh":
            header = udh.concat_header(reference % 256, total, seq)
            submits.append(
                replace(
                    base, short_message=header + encode(part), esm_class=base.esm_class | ESM_UDHI
                )
            )
        else:
            submits.append(
                replace(
                    base,
                    short_message=encode(part),
                    tlvs={
                        Tag.SAR_MSG_REF_NUM: (reference % 65536).to_bytes(2, "big"),
                        Tag.SAR_TOTAL_SEGMENTS: bytes([total]),
                        Tag.SAR_SEGMENT_SEQNUM: bytes([seq]),
                    },
                )
            )
    return submits
