"""Why a modem conversation failed: each cause asks the driver for a different recovery."""

from __future__ import annotations

from sms_gateway.modem.at_events import Error


class ModemError(Exception):
    """Base of everything a modem can do wrong."""


class PortLost(ModemError):
    """The serial port vanished or failed: close it and reopen with backoff."""


class CommandTimeout(ModemError):
    """No final result in time: the modem is hung or the line is garbled; reopen."""


class CommandFailed(ModemError):
    """The modem answered ERROR / +CMS ERROR / +CME ERROR to a command."""

    def __init__(self, command: str, error: Error) -> None:
        code = "" if error.code is None else f" {error.code}"
        super().__init__(f"{command}: {error.kind.value}{code}")
        self.command = command
        self.error = error

    @property
    def code(self) -> int | None:
        return self.error.code


class UnexpectedAnswer(ModemError):
    """An answer we could not parse (a firmware quirk); treated like a failed command."""
