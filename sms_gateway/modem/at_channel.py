"""The AT command channel as a state machine without I/O (in the manner of h11).

The caller turns commands into bytes with `send_command`, feeds whatever the port produced
to `receive_data`, and pulls `next_event()` until it returns `NEED_DATA`.  Notifications
(+CMTI, +CDS, RING, ...) are recognised wherever they fall, also between a command and its
final result, so a notification is never mistaken for the answer.  Received bytes never
raise: garbage becomes `StrayLine` events; only misuse by the caller raises.
"""

from __future__ import annotations

import enum
import re
from collections import deque

from sms_gateway.modem import at_lines
from sms_gateway.modem.at_events import (
    NEED_DATA,
    Event,
    InfoLine,
    NeedData,
    Prompt,
    StrayLine,
    Unsolicited,
)

CTRL_Z = b"\x1a"
ESC = b"\x1b"
MAX_LINE = 8192  # longer than any PDU line; beyond it the bytes are noise


class ChannelStateError(RuntimeError):
    """The caller asked for something the channel's state does not allow (a bug, not I/O)."""


class State(enum.Enum):
    IDLE = "idle"
    COMMAND = "command"  # sent, waiting for the final result
    PROMPT_WAIT = "prompt-wait"  # sent a command that answers with `> `
    BODY = "body"  # prompt seen: the caller must send the body or abort


_LINE_END = re.compile(rb"[\r\n]")
_EDGE_NOISE = "\x00\x1a\x1b \t"


class ATChannel:
    """One AT conversation: at most one command in flight, notifications set aside."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """Forget everything: used after a timeout or a reopened port, when the past is noise."""
        self.state = State.IDLE
        self._buffer = bytearray()
        self._events: deque[Event] = deque()
        self._names: frozenset[str] = frozenset()
        self._echoes: set[str] = set()
        self._urc_head: tuple[str, str] | None = None

    # -- outgoing -------------------------------------------------------------------------

    def send_command(self, command: str, *, expect_prompt: bool = False) -> bytes:
        """Bytes for `command` (e.g. `AT+CMGS=18`); `expect_prompt` for commands answering `> `."""
        if self.state is not State.IDLE:
            raise ChannelStateError(f"{self.state.value}: cannot send {command!r} now")
        text = command.strip()
        self._names = frozenset(_names_in(text))
        self._echoes = {text.upper()}
        self.state = State.PROMPT_WAIT if expect_prompt else State.COMMAND
        return text.encode("ascii") + b"\r"

    def send_body(self, body: str) -> bytes:
        """Bytes for the PDU/text after the prompt, terminated by Ctrl-Z."""
        self._require_body()
        self._echoes.add(body.strip().upper())
        self.state = State.COMMAND
        return body.strip().encode("ascii") + CTRL_Z

    def abort_body(self) -> bytes:
        """Bytes that cancel a prompt (Esc): the modem then sends a final result."""
        self._require_body()
        self.state = State.COMMAND
        return ESC

    def _require_body(self) -> None:
        if self.state is not State.BODY:
            raise ChannelStateError(f"no prompt to answer (state {self.state.value})")

    # -- incoming -------------------------------------------------------------------------

    def receive_data(self, data: bytes) -> None:
        """Buffer bytes read from the port; events come out of `next_event`."""
        self._buffer += data

    def next_event(self) -> Event | NeedData:
        """The next event, or `NEED_DATA` when the buffered bytes hold no complete one."""
        while not self._events:
            line = self._next_line()
            if line is None:
                return NEED_DATA
            if line:
                self._classify(line)
        return self._events.popleft()

    def _next_line(self) -> str | None:
        """The next line (maybe empty), a prompt turned into an event, or None for more bytes."""
        while self._buffer[:1] in (b"\r", b"\n"):
            del self._buffer[:1]
        if self.state is State.PROMPT_WAIT and self._buffer[:1] == b">":
            del self._buffer[: 2 if self._buffer[1:2] == b" " else 1]
            self.state = State.BODY
            self._events.append(Prompt())
            return ""
        match = _LINE_END.search(self._buffer)
        if match is None:
            if len(self._buffer) <= MAX_LINE:
                return None
            end = MAX_LINE
        else:
            end = match.start()
        raw = bytes(self._buffer[:end])
        del self._buffer[: end + 1]
        return raw.decode("utf-8", "replace").strip(_EDGE_NOISE)

    def _classify(self, line: str) -> None:
        if self._urc_head is not None:
            name, args = self._urc_head
            self._urc_head = None
            if at_lines.parse_final(line) is None:
                self._events.append(Unsolicited(name, args, line))
                return
            self._events.append(Unsolicited(name, args))
        name, args = at_lines.split_name(line)
        if name in at_lines.UNSOLICITED and name not in self._names:
            self._unsolicited(name, args)
        elif self.state is State.IDLE:
            self._events.append(StrayLine(line))
        elif line.upper() in self._echoes:
            self._echoes.discard(line.upper())
        else:
            self._answer(line)

    def _unsolicited(self, name: str, args: str) -> None:
        if at_lines.second_line_expected(name, args):
            self._urc_head = (name, args)
        else:
            self._events.append(Unsolicited(name, args))

    def _answer(self, line: str) -> None:
        final = at_lines.parse_final(line)
        if final is None:
            self._events.append(InfoLine(line))
            return
        self.state = State.IDLE
        self._names = frozenset()
        self._echoes = set()
        self._events.append(final)


def _names_in(command: str) -> list[str]:
    """Answer names of each part of a compound command: `AT+CMEE=1;+CREG=2` -> +CMEE, +CREG."""
    return [at_lines.command_name(part) for part in command.split(";") if part.strip()]
