"""The kinds of bind an ESME can hold and the states a session goes through."""

from __future__ import annotations

import enum

from sms_gateway.smpp.constants import Command


class BindKind(enum.Enum):
    """How the session binds: its bind command, and whether it may submit and receive."""

    TRANSCEIVER = (Command.BIND_TRANSCEIVER, True, True)
    TRANSMITTER = (Command.BIND_TRANSMITTER, True, False)
    RECEIVER = (Command.BIND_RECEIVER, False, True)

    def __init__(self, command: Command, submits: bool, receives: bool) -> None:
        self.command = command
        self.submits = submits
        self.receives = receives


class State(enum.Enum):
    """Where the session stands (SMPP 3.4 section 2.2: open, bound, unbinding, closed)."""

    OPEN = "open"
    BINDING = "binding"
    BOUND = "bound"
    UNBINDING = "unbinding"
    CLOSED = "closed"
