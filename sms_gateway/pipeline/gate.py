"""The gate: where what a transport read becomes ours, before any transaction.

`Inbox` screens every batch here, so no transport can skip it. Text is normalised (NUL
dropped, other C0 controls but the newline made spaces, lone UTF-16 surrogates made U+FFFD:
PostgreSQL refuses NUL and both databases' drivers refuse surrogates), and cut at what a
concatenated SMS of 255 parts can hold (one screen for USSD), with a log line. Every other
field is checked against its column (`storage.values`): a value that cannot be stored would
fail its whole batch, so the message carrying it is refused here and quarantined instead.

`bounded_int` is the one way to read an integer from outside (receipt ids, modem answers, web
parameters): Python's `int()` of a string of thousands of digits raises ValueError, and costs
time quadratic in the digits before that.
"""

from __future__ import annotations

import dataclasses
import logging
import re
import string
from collections.abc import Sequence
from dataclasses import dataclass

from permits.phones import mask
from sms_encoding.segments import cut_to_parts
from sms_gateway.transport import DeliveryReceipt, InboundPart
from storage.tables.messages import delivery_receipts, inbox, inbox_parts
from storage.values import problem

log = logging.getLogger(__name__)

MAX_PARTS = 255  # a concatenation header counts parts in one octet
USSD_TEXT_LIMIT = 182  # characters of one USSD string (3GPP TS 23.038 section 6.1.2.3.1)
_CONTROLS = re.compile("[\x01-\x09\x0b-\x1f\x7f]")
_SURROGATES = re.compile("[\ud800-\udfff]")
_DIGITS = {10: frozenset(string.digits), 16: frozenset(string.hexdigits)}
# Fields of a part and the column each must fit (the text is normalised, never refused).
_PART_COLUMNS = (("channel", inbox.c.channel), ("sender", inbox.c.sender),
                 ("dedup_key", inbox.c.dedup_key), ("ussd_op", inbox.c.ussd_op),
                 ("ussd_session", inbox.c.ussd_session))
_CONCAT_COLUMNS = (("reference", inbox_parts.c.reference), ("total", inbox_parts.c.total),
                   ("seq", inbox_parts.c.seq))
_RECEIPT_COLUMNS = (("channel", delivery_receipts.c.channel),
                    ("message_id", delivery_receipts.c.message_id))


@dataclass(frozen=True)
class Refused:
    """What the gate (or, later, the database) would not take, and why: for the quarantine."""

    item: InboundPart | DeliveryReceipt
    why: str


def bounded_int(text: str, max_digits: int, *, base: int = 10, signed: bool = False
                ) -> int | None:
    """`text` as an integer if it is one of at most `max_digits` ASCII digits (a leading `-`
    when `signed`), else None. Unicode digits (`²`, `၂`) are not numbers here."""
    digits = text[1:] if signed and text.startswith("-") else text
    if not 0 < len(digits) <= max_digits or not _DIGITS[base].issuperset(digits):
        return None
    return int(text, base)


def clean_text(text: str) -> str:
    """Text any database stores and any parser reads: NUL dropped, CR LF and other C0
    controls (but the newline) made one space or newline, lone surrogates made U+FFFD."""
    if text.isprintable():  # the usual case, checked in C
        return text
    text = text.replace("\x00", "").replace("\r\n", "\n")
    return _SURROGATES.sub("\ufffd", _CONTROLS.sub(" ", text))


def screen_parts(parts: Sequence[InboundPart]) -> tuple[list[InboundPart], list[Refused]]:
    """The parts the inbox may store (normalised), and those it must quarantine."""
    admitted: list[InboundPart] = []
    refused: list[Refused] = []
    for part in parts:
        why = _part_problem(part)
        if why is None:
            admitted.append(_normalised(part))
        else:
            log.warning("gate: a message from %s on %s is quarantined: %s", mask(part.sender),
                        part.channel, why)
            refused.append(Refused(part, why))
    return admitted, refused


def screen_receipts(receipts: Sequence[DeliveryReceipt]
                    ) -> tuple[list[DeliveryReceipt], list[Refused]]:
    """Receipts whose id and state can be stored (the error text normalised), and the others."""
    admitted: list[DeliveryReceipt] = []
    refused: list[Refused] = []
    for receipt in receipts:
        why = _first_problem(receipt, _RECEIPT_COLUMNS) or _state_problem(receipt.state)
        if why is None:
            error = None if receipt.error is None else clean_text(receipt.error)[:200]
            admitted.append(dataclasses.replace(receipt, error=error))
        else:
            log.warning("gate: a receipt on %s is quarantined: %s", receipt.channel, why)
            refused.append(Refused(receipt, why))
    return admitted, refused


def _part_problem(part: InboundPart) -> str | None:
    if part.received_at.tzinfo is None:
        return "received_at has no time zone"
    why = _first_problem(part, _PART_COLUMNS)
    if why is None and part.concat is not None:
        why = _first_problem(part.concat, _CONCAT_COLUMNS)
    return why


def _first_problem(item: object, columns: tuple) -> str | None:
    for field, column in columns:
        why = problem(column, getattr(item, field))
        if why is not None:
            return why
    return None


def _state_problem(state: str) -> str | None:
    """The outbox keeps a state's first 10 characters; they must be plain text."""
    if not state[:10].isprintable():
        return f"state {state[:10]!r} holds a control character"
    return None


def _normalised(part: InboundPart) -> InboundPart:
    text = clean_text(part.text)
    if part.ussd_op is not None:
        cut = text[:USSD_TEXT_LIMIT]
    else:
        # A part's share of the 255, so the whole message stays within them; a real part
        # holds one part's worth and is never cut.
        total = part.concat.total if part.concat and part.concat.total > 1 else 1
        cut = cut_to_parts(text, max(1, MAX_PARTS // total))
    if len(cut) < len(text):
        log.warning("gate: text from %s on %s cut from %d to %d characters", mask(part.sender),
                    part.channel, len(text), len(cut))
    return part if cut == part.text else dataclasses.replace(part, text=cut)

