"""What the simulated SMSC sends and reads: MO deliver_sm, receipts, and decoded submit_sm.

Test tooling, not the transport: it splits text its own simple way (by characters, to an
exact part count when asked) so tests can make parts the gateway's own splitter never would.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, replace

from sms_encoding import gsm7, segments, udh
from sms_gateway.smpp.inbound import ESM_UDHI
from sms_gateway.smpp.pdu import ShortMessage, Tag
from sms_gateway.transport import Concat

ENCODINGS = {
    "gsm7": (0, gsm7.encode, gsm7.decode),
    "ucs2": (8, segments.encode_ucs2, segments.decode_ucs2),
    "latin1": (3, lambda text: text.encode("latin-1"), lambda data: data.decode("latin-1")),
}
_DECODERS = {dcs: decode for dcs, _, decode in ENCODINGS.values()}
# Octets of user data per part next to a 6-octet concatenation UDH (SAR parts keep the same
# size: the SMSC turns the TLVs into that header on the air).
_PART_OCTETS = 134
_PART_SEPTETS = 153
RECEIPT_STATES = {
    "ENROUTE": 1,
    "DELIVRD": 2,
    "EXPIRED": 3,
    "DELETED": 4,
    "UNDELIV": 5,
    "ACCEPTD": 6,
    "UNKNOWN": 7,
    "REJECTD": 8,
}


@dataclass(frozen=True)
class SubmitRecord:
    """One submit_sm as the simulated SMSC understood it."""

    message_id: str
    source: str
    to: str
    text: str
    data_coding: int
    concat: Concat | None
    via_payload: bool
    ussd_op: int | None
    ussd_session: str | None
    validity_period: str
    registered_delivery: int

    def as_json(self) -> dict[str, object]:
        record = dict(self.__dict__)
        record["concat"] = self.concat.__dict__ if self.concat else None
        return record


def read_submit(message: ShortMessage, message_id: str) -> SubmitRecord:
    """Decode a submit_sm the way a handset would see it (UDH or SAR, payload, alphabet)."""
    data = message.short_message or message.tlvs.get(Tag.MESSAGE_PAYLOAD, b"")
    concat = None
    if message.esm_class & ESM_UDHI:
        concat, header = udh.parse(data)
        data = data[header:]
    elif Tag.SAR_MSG_REF_NUM in message.tlvs:
        concat = Concat(
            int.from_bytes(message.tlvs[Tag.SAR_MSG_REF_NUM], "big"),
            message.tlvs[Tag.SAR_TOTAL_SEGMENTS][0],
            message.tlvs[Tag.SAR_SEGMENT_SEQNUM][0],
        )
    decode = _DECODERS.get(message.data_coding, _DECODERS[0])
    ussd_op = message.tlvs.get(Tag.USSD_SERVICE_OP)
    session = message.tlvs.get(Tag.ITS_SESSION_INFO)
    return SubmitRecord(
        message_id=message_id,
        source=message.source_addr,
        to=message.destination_addr,
        text=decode(data),
        data_coding=message.data_coding,
        concat=concat,
        via_payload=not message.short_message and Tag.MESSAGE_PAYLOAD in message.tlvs,
        ussd_op=ussd_op[0] if ussd_op else None,
        ussd_session=session.hex() if session else None,
        validity_period=message.validity_period,
        registered_delivery=message.registered_delivery,
    )


def split_text(text: str, encoding: str, parts: int | None) -> list[str]:
    """`parts` equal slices of characters, or as few as fit when `parts` is None."""
    if parts is not None:
        size = -(-len(text) // parts)
        return [text[i * size : (i + 1) * size] for i in range(parts)]
    _, encode, _ = ENCODINGS[encoding]
    limit = _PART_SEPTETS if encoding == "gsm7" else _PART_OCTETS
    if len(encode(text)) <= (160 if encoding == "gsm7" else 140):
        return [text]
    chunks, current = [], ""
    for char in text:
        if len(encode(current + char)) > limit:
            chunks.append(current)
            current = ""
        current += char
    return [*chunks, current]


def mo_messages(
    sender: str,
    to: str,
    text: str,
    encoding: str = "gsm7",
    split: str = "udh",
    parts: int | None = None,
    reference: int = 1,
    order: Sequence[int] | None = None,
    ussd_op: int | None = None,
    ussd_session: str | None = None,
) -> list[ShortMessage]:
    """deliver_sm for a phone's message: one, or parts by UDH / SAR, or one message_payload."""
    dcs, encode, _ = ENCODINGS[encoding]
    base = ShortMessage(
        source_addr=sender.lstrip("+"),
        source_addr_ton=1 if sender.startswith("+") else 0,
        source_addr_npi=1,
        destination_addr=to,
        data_coding=dcs,
    )
    tlvs: dict[int, bytes] = {}
    if ussd_op is not None:
        tlvs[Tag.USSD_SERVICE_OP] = bytes([ussd_op])
    if ussd_session:
        tlvs[Tag.ITS_SESSION_INFO] = bytes.fromhex(ussd_session)
    if split == "payload":
        return [replace(base, tlvs={**tlvs, Tag.MESSAGE_PAYLOAD: encode(text)})]
    chunks = split_text(text, encoding, parts)
    if len(chunks) == 1:
        return [replace(base, short_message=encode(text), tlvs=tlvs)]
    total = len(chunks)
    messages = []
    for seq, chunk in enumerate(chunks, start=1):
        if split == "udh":
            header = udh.concat_header(reference % 256, total, seq)
            messages.append(
                replace(base, short_message=header + encode(chunk), esm_class=ESM_UDHI, tlvs=tlvs)
            )
        else:
            messages.append(
                replace(
                    base,
                    short_message=encode(chunk),
                    tlvs={
                        **tlvs,
                        Tag.SAR_MSG_REF_NUM: reference.to_bytes(2, "big"),
                        Tag.SAR_TOTAL_SEGMENTS: bytes([total]),
                        Tag.SAR_SEGMENT_SEQNUM: bytes([seq]),
                    },
                )
            )
    return [messages[i] for i in order] if order is not None else messages


def receipt_message(
    message_id: str,
    state: str,
    to: str,
    recipient: str,
    form: str = "both",
    err: str = "000",
    text_id: str | None = None,
    when: dt.datetime | None = None,
) -> ShortMessage:
    """An SMSC delivery receipt (esm_class 0x04) in TLV form, appendix-B text form, or both."""
    stamp = (when or dt.datetime.now(dt.UTC)).strftime("%y%m%d%H%M")
    text = b""
    if form in ("text", "both"):
        delivered = "001" if state == "DELIVRD" else "000"
        text = (
            f"id:{text_id or message_id} sub:001 dlvrd:{delivered} submit date:{stamp} "
            f"done date:{stamp} stat:{state} err:{err} text:"
        ).encode("ascii")
    tlvs = {}
    if form in ("tlv", "both"):
        tlvs = {
            Tag.RECEIPTED_MESSAGE_ID: message_id.encode("ascii") + b"\0",
            Tag.MESSAGE_STATE: bytes([RECEIPT_STATES[state]]),
        }
    return ShortMessage(
        source_addr=recipient,
        source_addr_ton=1,
        destination_addr=to,
        esm_class=0x04,
        short_message=text,
        tlvs=tlvs,
    )
