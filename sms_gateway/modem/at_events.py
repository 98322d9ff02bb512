"""Events the AT channel yields: small immutable values, so tests can compare them directly."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class ErrorKind(enum.Enum):
    """Which family a failed final result belongs to (27.007 / 27.005)."""

    ERROR = "ERROR"
    CMS = "+CMS ERROR"
    CME = "+CME ERROR"
    NO_CARRIER = "NO CARRIER"
    BUSY = "BUSY"
    NO_ANSWER = "NO ANSWER"
    NO_DIALTONE = "NO DIALTONE"


@dataclass(frozen=True)
class InfoLine:
    """A line of the pending command's answer (`+CSQ: 20,99`, a PDU, `FakeGSM`)."""

    text: str


@dataclass(frozen=True)
class Prompt:
    """The modem's `> `: it now wants the PDU (or text) followed by Ctrl-Z."""


@dataclass(frozen=True)
class Ok:
    """The pending command succeeded."""


@dataclass(frozen=True)
class Error:
    """The pending command failed; `code` is the numeric +CMS/+CME code when there is one."""

    kind: ErrorKind
    code: int | None = None
    text: str = ""


@dataclass(frozen=True)
class Unsolicited:
    """A notification the modem sent on its own (+CMTI, +CDS, RING, +CREG: n, ...).

    `name` is the part before the colon (`+CMTI`, `RING`), `args` what follows it, and
    `pdu` the second line of two-line notifications (+CDS / +CMT in PDU mode).
    """

    name: str
    args: str = ""
    pdu: str | None = None


@dataclass(frozen=True)
class StrayLine:
    """A line that belongs to no command and is no known notification (logged, never fatal)."""

    text: str


class NeedData:
    """Sentinel returned by `next_event` when more bytes are needed (as in h11)."""

    def __repr__(self) -> str:
        return "NEED_DATA"


NEED_DATA = NeedData()

Final = Ok | Error
Event = InfoLine | Prompt | Ok | Error | Unsolicited | StrayLine
