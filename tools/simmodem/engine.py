"""The simulated modem's AT interpreter: bytes in, answers out, like a modem's command parser.

It echoes, splits compound commands (`AT+CMEE=1;+CREG=2`), runs handlers from a table,
formats final results as AT+CMEE asks, enters the `> ` prompt for sends (Ctrl-Z submits, Esc
aborts) and slips notifications into the output, also inside another command's answer.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from tools.simmodem.state import ModemState

log = logging.getLogger(__name__)

CTRL_Z, ESC = 0x1A, 0x1B


class AtError(Exception):
    """Plain `ERROR` (unknown command, bad syntax)."""


class CmsError(Exception):
    """`+CMS ERROR: <code>` (message service failure, 27.005 §3.2.5)."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


class CmeError(Exception):
    """`+CME ERROR: <code>` (equipment failure, 27.007 §9.2)."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


@dataclass(frozen=True)
class Call:
    """One command of a command line: `+CMGS`, form `set`, args `['18']`."""

    name: str
    form: str  # exec | read | test | set
    args: tuple[str, ...] = ()


@dataclass(frozen=True)
class BodyRequest:
    """A handler's answer meaning: show `> `, collect until Ctrl-Z, then call `on_body`."""

    on_body: Callable[[str], list[str]]


Handler = Callable[[ModemState, Call], "list[str] | BodyRequest"]

_VERBOSE = {
    10: "SIM not inserted",
    11: "SIM PIN required",
    14: "SIM busy",
    16: "incorrect password",
    304: "invalid PDU mode parameter",
    314: "SIM busy",
    321: "invalid memory index",
    322: "memory full",
    500: "unknown error",
}
_BASIC = re.compile(r"(&?[A-Z])(\d*)")


class Engine:
    """Feeds on bytes from the port; writes answers through `write`."""

    def __init__(
        self,
        state: ModemState,
        handlers: Mapping[str, Handler],
        write: Callable[[bytes], None],
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.state = state
        self._handlers = handlers
        self._write = write
        self._sleep = sleep
        self._line = bytearray()
        self._body: BodyRequest | None = None
        self._urcs: list[bytes] = []
        self._busy = False
        self._lock = threading.Lock()

    def notify(self, *lines: str) -> None:
        """Send a notification now, or after/inside the answer being written."""
        chunk = ("\r\n" + "\r\n".join(lines) + "\r\n").encode()
        with self._lock:
            if self._busy or self.state.faults.urc_inside_response:
                self._urcs.append(chunk)
            else:
                self._write(chunk)

    def reset_input(self) -> None:
        """The port was reopened: whatever was half typed is gone."""
        self._line.clear()
        self._body = None
        with self._lock:
            self._busy = False

    def feed(self, data: bytes) -> None:
        if self.state.faults.silent():
            return
        if self.state.registers.echo:
            self._write(data)
        for byte in data:
            if self._body is not None:
                self._feed_body(byte)
            elif byte == 0x0D:
                line = self._line.decode("latin-1").strip()
                self._line.clear()
                if line:
                    self._run_line(line)
            elif byte != 0x0A:
                self._line.append(byte)

    def _feed_body(self, byte: int) -> None:
        if byte == ESC:
            self._body = None
            self._line.clear()
            self._respond([], "OK")
        elif byte == CTRL_Z:
            request, self._body = self._body, None
            body = self._line.decode("latin-1").strip()
            self._line.clear()
            assert request is not None
            self._finish(lambda: request.on_body(body))
        else:
            self._line.append(byte)

    def _run_line(self, line: str) -> None:
        with self._lock:
            self._busy = True
        if line[:2].upper() != "AT":
            self._respond([], "ERROR")
            return
        try:
            calls = parse_line(line[2:])
        except AtError:
            self._respond([], "ERROR")
            return
        self._finish(lambda: self._execute(calls))

    def _execute(self, calls: list[Call]) -> list[str] | BodyRequest:
        lines: list[str] = []
        for call in calls:
            handler = self._handlers.get(call.name)
            if handler is None:
                log.info("unknown command answered ERROR: %s", call.name)
                raise AtError(call.name)
            result = handler(self.state, call)
            if isinstance(result, BodyRequest):
                return result
            lines += result
        return lines

    def _finish(self, action: Callable[[], list[str] | BodyRequest]) -> None:
        try:
            result = action()
        except CmsError as exc:
            self._respond([], self._error("+CMS ERROR", exc.code))
        except CmeError as exc:
            self._respond([], self._error("+CME ERROR", exc.code))
        except AtError:
            self._respond([], "ERROR")
        else:
            if isinstance(result, BodyRequest):
                self._prompt(result)
            else:
                self._respond(result, "OK")

    def _prompt(self, request: BodyRequest) -> None:
        self._sleep(self.state.faults.prompt_delay)
        self._body = request
        self._write(b"\r\n> ")

    def _error(self, family: str, code: int) -> str:
        mode = self.state.registers.cmee
        if mode == 0 and family == "+CME ERROR":
            return "ERROR"
        if mode == 2:
            return f"{family}: {_VERBOSE.get(code, code)}"
        return f"{family}: {code}"

    def _respond(self, lines: list[str], final: str) -> None:
        # As real modems do: CR LF before the first line only, so +CMGL's PDU follows its header.
        info = "".join(f"{line}\r\n" for line in lines)
        chunks = [f"\r\n{info}".encode()] if lines else []
        chunks.append(f"\r\n{final}\r\n".encode())
        with self._lock:
            if self._urcs and self.state.faults.urc_inside_response:
                chunks[-1:-1] = self._urcs  # between the information lines and the final result
            else:
                chunks += self._urcs
            self._urcs = []
            self._busy = False
            self._write(b"".join(chunks))


def parse_line(body: str) -> list[Call]:
    """`E0V1`, `+CMEE=1;+CREG=2`, `+CPMS="SM","SM"` -> the calls in order."""
    calls: list[Call] = []
    for part in split_outside_quotes(body, ";"):
        part = part.strip()
        if not part:
            continue
        if part[0] in "+$^%*":
            calls.append(_extended(part))
        else:
            calls += _basic(part.upper())
    return calls


def _extended(part: str) -> Call:
    name, eq, rest = part.partition("=")
    name = name.upper()
    if eq and rest == "?":
        return Call(name, "test")
    if eq:
        return Call(name, "set", tuple(split_outside_quotes(rest, ",", unquote=True)))
    if name.endswith("?"):
        return Call(name[:-1], "read")
    return Call(name, "exec")


def _basic(part: str) -> list[Call]:
    calls = []
    pos = 0
    while pos < len(part):
        match = _BASIC.match(part, pos)
        if match is None:
            raise AtError(part)
        calls.append(Call(match.group(1), "exec", (match.group(2) or "0",)))
        pos = match.end()
    return calls


def split_outside_quotes(text: str, sep: str, unquote: bool = False) -> list[str]:
    """Split on `sep` except inside double quotes; optionally drop the quotes."""
    parts, current, quoted = [], [], False
    for char in text:
        if char == '"':
            quoted = not quoted
            if unquote:
                continue
        if char == sep and not quoted:
            parts.append("".join(current).strip())
            current = []
        else:
            current.append(char)
    parts.append("".join(current).strip())
    return parts
