"""Turning what a SIM holds into the pipeline's values: parts with an identity, and receipts.

The dedup key is what makes delete-after-commit safe: a crash between the commit and
AT+CMGD leaves the SMS on the SIM, it is read again after the restart, gets the same key
and the pipeline stores it once.
"""

from __future__ import annotations

import datetime as dt
import hashlib

from sms_gateway.modem.pdu import Deliver, StatusReport
from sms_gateway.modem.receipts import ReceiptBook
from sms_gateway.transport import DeliveryReceipt, InboundPart

# TP-ST (23.040 §9.2.3.15) values that name a final failure more precisely than UNDELIV.
_EXPIRED, _DELETED_BY_SENDER, _DELETED_BY_SC = 0x46, 0x47, 0x48


def dedup_key(message: Deliver) -> str:
    """Sender + SMSC time stamp + concatenation position + a digest of the PDU: the SMS's
    identity. The time stamp has one-second resolution, so two SMS from one number in one
    second differ by their digest; the same SIM message read twice does not."""
    stamp = message.timestamp.isoformat()
    concat = message.concat
    where = f"{concat.reference}/{concat.total}/{concat.seq}" if concat else "-"
    digest = hashlib.blake2b(message.raw, digest_size=6).hexdigest()
    return f"{message.sender}|{stamp}|{where}|{digest}"[:120]


def to_part(channel: str, message: Deliver, received_at: dt.datetime) -> InboundPart:
    return InboundPart(
        channel=channel,
        sender=message.sender,
        text=message.text,
        received_at=received_at,
        dedup_key=dedup_key(message),
        concat=message.concat,
        raw=message.raw,
    )


def to_receipt(channel: str, book: ReceiptBook, report: StatusReport) -> DeliveryReceipt | None:
    """The receipt of the whole message a part's report is about (see `receipts`), if any."""
    state = receipt_state(report)
    error = None if report.delivered else f"TP-ST 0x{report.status:02X}"
    resolved = book.report(report.recipient, report.reference, state, error)
    if resolved is None:
        return None
    return DeliveryReceipt(channel, resolved.message_id, resolved.state, resolved.error)


def receipt_state(report: StatusReport) -> str:
    """The SMPP-style state names the outbox uses (DELIVRD, ENROUTE, EXPIRED, ...)."""
    if report.delivered:
        return "DELIVRD"
    if not report.final:
        return "ENROUTE"
    if report.status == _EXPIRED:
        return "EXPIRED"
    if report.status in (_DELETED_BY_SENDER, _DELETED_BY_SC):
        return "DELETED"
    return "UNDELIV"
