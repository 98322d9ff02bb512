"""SMPP 3.4 command ids and command_status values, and what each status means for a sender.

One table decides whether a refused submit_sm is worth retrying, so the session and the
transport never disagree about it.
"""

from __future__ import annotations

from enum import IntEnum

from smpplib.consts import DESCRIPTIONS


class Command(IntEnum):
    """command_id values we send or answer (SMPP 3.4 section 5.1.2.1)."""

    GENERIC_NACK = 0x80000000
    BIND_RECEIVER = 0x00000001
    BIND_RECEIVER_RESP = 0x80000001
    BIND_TRANSMITTER = 0x00000002
    BIND_TRANSMITTER_RESP = 0x80000002
    SUBMIT_SM = 0x00000004
    SUBMIT_SM_RESP = 0x80000004
    DELIVER_SM = 0x00000005
    DELIVER_SM_RESP = 0x80000005
    UNBIND = 0x00000006
    UNBIND_RESP = 0x80000006
    BIND_TRANSCEIVER = 0x00000009
    BIND_TRANSCEIVER_RESP = 0x80000009
    ENQUIRE_LINK = 0x00000015
    ENQUIRE_LINK_RESP = 0x80000015


RESPONSE_BIT = 0x80000000


class Status(IntEnum):
    """command_status values this gateway sends or treats specially."""

    OK = 0x00
    INVALID_MESSAGE_LENGTH = 0x01
    INVALID_COMMAND_LENGTH = 0x02
    INVALID_COMMAND_ID = 0x03
    INVALID_BIND_STATUS = 0x04
    SYSTEM_ERROR = 0x08
    MESSAGE_QUEUE_FULL = 0x14
    SUBMIT_FAILED = 0x45
    THROTTLED = 0x58
    TEMPORARY_APP_ERROR = 0x64
    PERMANENT_APP_ERROR = 0x65
    DELIVERY_FAILURE = 0xFE
    UNKNOWN_ERROR = 0xFF


# The SMSC asks us to slow down: pause all submits, then send the refused one again.
SLOW_DOWN = frozenset({Status.THROTTLED, Status.MESSAGE_QUEUE_FULL})
# Worth another attempt later (the outbox retries); every other refusal is permanent.
TEMPORARY = (
    frozenset(
        {
            Status.SYSTEM_ERROR,
            Status.INVALID_BIND_STATUS,
            Status.SUBMIT_FAILED,
            Status.TEMPORARY_APP_ERROR,
            Status.DELIVERY_FAILURE,
            Status.UNKNOWN_ERROR,
        }
    )
    | SLOW_DOWN
)


def describe(status: int) -> str:
    """A status as operators search for it in SMSC documentation: hex code and name."""
    return f"0x{status:08x} {DESCRIPTIONS.get(status, 'unknown status')}"
