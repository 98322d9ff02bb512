"""Tables that say what a received AT line is: a final result, a notification, or neither."""

from __future__ import annotations

import re

from sms_gateway.modem.at_events import Error, ErrorKind, Final, Ok

# Final results without a code; everything else final carries `+CMS/+CME ERROR: <n>`.
_PLAIN_FINALS: dict[str, Final] = {
    "OK": Ok(),
    "ERROR": Error(ErrorKind.ERROR),
    "NO CARRIER": Error(ErrorKind.NO_CARRIER),
    "BUSY": Error(ErrorKind.BUSY),
    "NO ANSWER": Error(ErrorKind.NO_ANSWER),
    "NO DIALTONE": Error(ErrorKind.NO_DIALTONE),
}
_CODED_ERROR = re.compile(r"^\+(CMS|CME) ERROR:\s*(.*)$")

# Notifications a modem sends on its own, by the name before the colon.  The value says
# whether a second line (the PDU or text) belongs to it: always, never, or only when the
# arguments are a bare length (PDU mode, e.g. `+CDS: 25` versus text mode `+CDS: 6,46,...`).
ALWAYS, NEVER, IF_LENGTH = "always", "never", "if-length"
UNSOLICITED: dict[str, str] = {
    "+CMTI": NEVER,
    "+CDSI": NEVER,
    "+CBMI": NEVER,
    "+CMT": ALWAYS,
    "+CBM": ALWAYS,
    "+CDS": IF_LENGTH,
    "RING": NEVER,
    "+CRING": NEVER,
    "+CLIP": NEVER,
    "+CREG": NEVER,
    "+CGREG": NEVER,
    "+CEREG": NEVER,
    "+CUSD": NEVER,
    "+CIEV": NEVER,
    "^RSSI": NEVER,
    "^BOOT": NEVER,
    "^MODE": NEVER,
    "+PACSP0": NEVER,
    "+PACSP1": NEVER,
}


def parse_final(line: str) -> Final | None:
    """The final result this line is, or None; CMEE=2 verbose texts keep code None."""
    plain = _PLAIN_FINALS.get(line)
    if plain is not None:
        return plain
    match = _CODED_ERROR.match(line)
    if match is None:
        return None
    kind = ErrorKind.CMS if match.group(1) == "CMS" else ErrorKind.CME
    detail = match.group(2).strip()
    code = int(detail) if detail.isdigit() and len(detail) < 6 else None
    return Error(kind, code, detail)


def split_name(line: str) -> tuple[str, str]:
    """`+CMTI: "SM",3` -> (`+CMTI`, `"SM",3`); `RING` -> (`RING`, ``)."""
    name, _, args = line.partition(":")
    return name.strip(), args.strip()


def command_name(command: str) -> str:
    """The name an answer to `command` starts with: `AT+CREG?` -> `+CREG`."""
    body = command.strip()
    if body[:2].upper() == "AT":
        body = body[2:]
    return re.split(r"[=?;]", body, maxsplit=1)[0].upper()


def second_line_expected(name: str, args: str) -> bool:
    """Whether the notification `name: args` is followed by a PDU/text line."""
    rule = UNSOLICITED.get(name, NEVER)
    if rule == IF_LENGTH:
        return args.isdigit()
    return rule == ALWAYS
