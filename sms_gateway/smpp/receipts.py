"""Delivery receipts: the SMSC's word on a message we sent, from TLVs or the appendix-B text.

States are kept as the SMSC names them (DELIVRD is not UNDELIV), and message ids are brought to
one form, because SMSCs write the same id in hex in submit_sm_resp and in decimal in the
receipt text (or the reverse), and a receipt that matches no outbox row is a receipt lost.
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping

from sms_gateway.pipeline.gate import bounded_int
from sms_gateway.smpp.pdu import Tag
from sms_gateway.transport import DeliveryReceipt

# message_state TLV values (SMPP 3.4 section 5.2.28) in the receipt text's spelling.
_STATE_NAMES = {
    1: "ENROUTE",
    2: "DELIVRD",
    3: "EXPIRED",
    4: "DELETED",
    5: "UNDELIV",
    6: "ACCEPTD",
    7: "UNKNOWN",
    8: "REJECTD",
}
_FIELD = re.compile(r"\b(id|sub|dlvrd|submit[ _]date|done[ _]date|stat|err|text):", re.IGNORECASE)
_HEX_DIGITS = frozenset(string.hexdigits)
# An id is converted between decimal and hex only up to this many digits (128 bits and more):
# a longer one matches no message of ours anyway, and `int()` of thousands of digits raises.
_MAX_ID_DIGITS = 40


class ReceiptError(ValueError):
    """A deliver_sm flagged as a receipt that names no message id or no state."""


def normalize_id(raw: str, base: str) -> str:
    """The one spelling of a message id: a number written in `base` without leading zeros.

    Ids that are not numbers in that base (UUIDs, vendor strings) are kept as they are. Done
    on the digits, not through `int()`: an id of any length is normalised the same way.
    """
    text = raw.strip(string.whitespace + "\0")
    digits = _HEX_DIGITS if base == "hex" else frozenset(string.digits)
    if not text or not digits.issuperset(text):
        return text
    return text.lower().lstrip("0") or "0"


def _text_id(raw: str, base: str) -> str:
    """The receipt text's id in `base`: appendix B writes it in decimal, some SMSCs in hex.

    A run of decimal digits is read as decimal, anything with hex letters as hex.
    """
    text = raw.strip()
    if base == "hex":
        value = bounded_int(text, _MAX_ID_DIGITS)  # decimal digits only
        return normalize_id(text if value is None else format(value, "x"), base)
    value = bounded_int(text, _MAX_ID_DIGITS, base=16)
    if value is not None and not text.isdigit():
        return str(value)
    return normalize_id(text, base)


def parse_text(text: str) -> dict[str, str]:
    """The `key:value` fields of an appendix-B receipt text, keys in lower case."""
    fields: dict[str, str] = {}
    matches = list(_FIELD.finditer(text))
    ends = [match.start() for match in matches[1:]] + [len(text)]
    for match, end in zip(matches, ends, strict=False):  # no match: one end, nothing to read
        fields.setdefault(match[1].lower().replace("_", " "), text[match.end() : end].strip())
    return fields


def parse_receipt(
    channel: str, text: str, tlvs: Mapping[int, bytes], id_base: str
) -> DeliveryReceipt:
    """A DeliveryReceipt from the TLVs where present, the receipt text otherwise."""
    fields = parse_text(text)
    raw_id = tlvs.get(Tag.RECEIPTED_MESSAGE_ID)
    if raw_id is not None and raw_id.strip(b"\0"):
        message_id = normalize_id(raw_id.decode("latin-1"), id_base)
    elif fields.get("id"):
        message_id = _text_id(fields["id"], id_base)
    else:
        raise ReceiptError("receipt without a message id")
    state = _state(tlvs, fields)
    return DeliveryReceipt(
        channel=channel, message_id=message_id, state=state, error=_error(tlvs, fields)
    )


def _state(tlvs: Mapping[int, bytes], fields: Mapping[str, str]) -> str:
    raw_state = tlvs.get(Tag.MESSAGE_STATE)
    if raw_state is not None and len(raw_state) == 1 and raw_state[0] in _STATE_NAMES:
        return _STATE_NAMES[raw_state[0]]
    stat = fields.get("stat", "").split(" ", 1)[0].upper()
    if not stat:
        raise ReceiptError("receipt without a state")
    return stat


def _error(tlvs: Mapping[int, bytes], fields: Mapping[str, str]) -> str | None:
    """The network error as `network_type:code` from the TLV, else the text's err field."""
    raw = tlvs.get(Tag.NETWORK_ERROR_CODE)
    if raw is not None and len(raw) == 3 and int.from_bytes(raw[1:], "big"):
        return f"{raw[0]}:{int.from_bytes(raw[1:], 'big')}"
    err = fields.get("err", "").split(" ", 1)[0]
    return err if err.strip("0") else None
