"""The AT commands the driver needs, each as a typed call over an `ATPort`.

Knows command syntax and answer formats (27.005 / 27.007), nothing about when to use them.
"""

from __future__ import annotations

import itertools
import re
import time
from dataclasses import dataclass

from sms_gateway.modem.at_port import ATPort
from sms_gateway.modem.errors import CommandFailed, CommandTimeout, ModemError, UnexpectedAnswer
from sms_gateway.modem.pdu import SubmitPdu
from sms_gateway.modem.settings import ModemSettings
from sms_gateway.pipeline.gate import bounded_int

_LISTING_HEADER = re.compile(r"^\+CMG[LR]:\s*(?:(\d+),)?\s*(\d+),")
_NUMBER = re.compile(r"-?\d+")
# Numbers a modem answers are short (indexes, counts, RSSI, a TP-MR): read through
# `bounded_int`, so a line of thousands of digits is an unreadable answer, not a ValueError.
MAX_INDEX_DIGITS = 5
_MAX_NUMBER_DIGITS = 9
_OPERATOR_NAME = re.compile(r'^\+COPS:\s*\d+\s*,\s*\d+\s*,\s*"([^"]*)"')


class PinError(ModemError):
    """The SIM wants a PIN we do not have, or refused ours (never retried: it would lock)."""


@dataclass(frozen=True)
class StoredMessage:
    """A message as the modem lists it: storage index, <stat> and the PDU (SMSC first)."""

    index: int
    stat: int
    pdu: str


@dataclass(frozen=True)
class Identity:
    manufacturer: str = ""
    model: str = ""
    revision: str = ""
    imei: str = ""


class ModemCommands:
    """Typed AT operations on one open port, with the modem's timeouts."""

    def __init__(self, port: ATPort, settings: ModemSettings) -> None:
        self.port = port
        self.settings = settings

    def run(self, command: str) -> list[str]:
        return self.port.command(command, self.settings.command_timeout)

    def handshake(self) -> None:
        """Cancel a half-typed command or a pending `> ` prompt, then wait for a plain OK."""
        self.port.write_raw(b"\x1b\r")
        time.sleep(0.1)
        self.port.discard_input()
        for attempt in range(3):
            try:
                self.port.command("AT", min(2.0, self.settings.command_timeout))
                return
            except (CommandTimeout, CommandFailed):
                if attempt == 2:
                    raise
                self.port.discard_input()

    def identify(self) -> Identity:
        """What the modem says it is; a command it refuses leaves that field empty."""
        values = []
        for command in ("AT+CGMI", "AT+CGMM", "AT+CGMR", "AT+CGSN"):
            try:
                lines = self.run(command)
            except CommandFailed:
                lines = []
            values.append(lines[0].removeprefix(command[2:] + ":").strip() if lines else "")
        return Identity(*values)

    def configure(self, pin: str | None) -> tuple[int, int]:
        """Echo off, numeric errors, PIN, PDU mode, SIM storage, notifications; SIM usage."""
        self.run("ATE0")
        self.run("AT+CMEE=1")
        self.unlock(pin)
        self.run("AT+CMGF=0")
        usage = self.select_storage()
        report_mode = 1 if self.settings.status_reports else 0
        self.run(f"AT+CNMI=2,1,0,{report_mode},0")
        return usage

    def unlock(self, pin: str | None) -> None:
        answer = " ".join(self.run("AT+CPIN?")).upper()
        if "READY" in answer:
            return
        if "SIM PIN" not in answer or pin is None:
            raise PinError(f"SIM is not ready ({answer or 'no answer'}) and no PIN can help")
        try:
            self.run(f'AT+CPIN="{pin}"')
        except CommandFailed as exc:  # its message holds the command, and so the PIN
            code = "" if exc.code is None else f" {exc.code}"
            raise PinError(f"SIM refused the PIN ({exc.error.kind.value}{code})") from None

    def select_storage(self) -> tuple[int, int]:
        """Read, write and receive on the SIM; (used, total) of the SIM."""
        lines = self.run('AT+CPMS="SM","SM","SM"')
        used, total, *_ = [*(_numbers(lines[0]) if lines else []), None, None]
        if used is None or total is None:
            raise UnexpectedAnswer(f"AT+CPMS answered {lines!r}"[:200])
        return used, total

    def list_all(self) -> list[StoredMessage]:
        """Every message on the SIM (AT+CMGL=4: received read and unread, stored)."""
        return _stored(self.run("AT+CMGL=4"), None)

    def read(self, index: int) -> StoredMessage | None:
        """The message at `index`, or None when that slot is empty."""
        found = _stored(self.run(f"AT+CMGR={index}"), index)
        return found[0] if found else None

    def delete(self, index: int) -> None:
        self.run(f"AT+CMGD={index}")

    def submit(self, part: SubmitPdu) -> int | None:
        """Send one SMS-SUBMIT; the message reference the network gave it (+CMGS: <mr>), or
        None when the modem sent it but wrote a reference that is no TP-MR (0..255)."""
        settings = self.settings
        lines = self.port.submit(
            f"AT+CMGS={part.tpdu_length}", part.hex, settings.prompt_timeout, settings.send_timeout
        )
        reference = _first_number(lines, "+CMGS")
        return reference if reference is not None and 0 <= reference <= 255 else None

    def signal(self) -> int:
        """RSSI 0..31 (99: unknown), from AT+CSQ."""
        return _required(_first_number(self.run("AT+CSQ"), "+CSQ"), "+CSQ")

    def registration(self) -> int:
        """<stat> of AT+CREG?: 1 home, 5 roaming, 2 searching, 3 denied, 0 not registered."""
        lines = self.run("AT+CREG?")
        numbers = _numbers(lines[0].split(":", 1)[-1]) if lines else []
        stat = numbers[1] if len(numbers) > 1 else (numbers or [None])[0]
        if stat is None:
            raise UnexpectedAnswer(f"AT+CREG? answered {lines!r}"[:200])
        return stat


    def network(self) -> str:
        """The network the modem is registered on, by name (AT+COPS?); "" when none or when
        the modem will not say (the operator's name is for people, not for decisions)."""
        try:
            lines = self.run("AT+COPS?")
        except CommandFailed:
            return ""
        match = next((_OPERATOR_NAME.search(line) for line in lines
                      if line.startswith("+COPS")), None)
        return match.group(1).strip() if match else ""


def _stored(lines: list[str], index: int | None) -> list[StoredMessage]:
    """Header/PDU line pairs of +CMGL (index in the header) or +CMGR (index known)."""
    found = []
    for header, body in itertools.pairwise(lines):
        match = _LISTING_HEADER.match(header)
        if match is None or _LISTING_HEADER.match(body):
            continue
        slot = index if index is not None else bounded_int(match.group(1) or "0",
                                                           MAX_INDEX_DIGITS)
        stat = bounded_int(match.group(2), MAX_INDEX_DIGITS)
        if slot is not None and stat is not None:  # else no slot AT+CMGD could name
            found.append(StoredMessage(slot, stat, body.strip()))
    return found


def _numbers(text: str) -> list[int | None]:
    """Every number in `text`; None for one too long to be what a modem counts."""
    return [bounded_int(n, _MAX_NUMBER_DIGITS, signed=True) for n in _NUMBER.findall(text)]


def _first_number(lines: list[str], name: str) -> int | None:
    """The first number of the `name` line (None: none readable); UnexpectedAnswer if the
    line is absent."""
    for line in lines:
        if line.startswith(name):
            return next(iter(_numbers(line.split(":", 1)[-1])), None)
    raise UnexpectedAnswer(f"no {name} in {lines!r}"[:200])


def _required(number: int | None, name: str) -> int:
    if number is None:
        raise UnexpectedAnswer(f"{name} answered a number no modem counts")
    return number
