"""The exact request to send for a reason, in the way the resident writes: a question such as
"Можно выйти в аптеку?" is answered with `ВЫХОД АПТЕКА` (`VYHOD APTEKA` to someone writing
Russian in Latin letters, `EXIT PHARMACY` in English).

Each suggestion is parsed back before it is offered: only a text that the parser reads as a
request for that very reason is suggested, else the reason's number (`ВЫХОД 2`), which always
is. Built once per reasons catalogue.
"""

from __future__ import annotations

import re

from permits.parser import ExitRequest, Parser
from permits.reasons import Reason
from permits.text import has_cyrillic, transliterate

_EXIT = {"cyrillic": "ВЫХОД", "latin": "VYHOD", "english": "EXIT"}
_PLAIN = re.compile(r"[^\W\d_]+(?: [^\W\d_]+)?")  # one or two words, nothing else
LONGEST = 24  # characters: a suggestion leaves room for the sentence around it in one SMS


class Suggestions:
    """script ("cyrillic", "latin" or "english") and reason -> the request to send."""

    def __init__(self, parser: Parser, reasons: tuple[Reason, ...]) -> None:
        self._commands = {(reason.number, script): self._first_that_parses(parser, reason, script)
                          for reason in reasons for script in _EXIT}

    def command(self, reason: Reason, script: str) -> str:
        return self._commands[(reason.number, script)]

    @staticmethod
    def _first_that_parses(parser: Parser, reason: Reason, script: str) -> str:
        russian = [reason.name_ru, *(k for k in reason.keywords if has_cyrillic(k))]
        words = {
            "cyrillic": russian,
            "latin": russian,
            "english": [reason.name_en, *(k for k in reason.keywords if not has_cyrillic(k))],
        }[script]
        for word in filter(_PLAIN.fullmatch, words):
            spelt = transliterate(word) if script == "latin" else word
            command = f"{_EXIT[script]} {spelt}".upper()
            if len(command) <= LONGEST and parser.parse(command).request == ExitRequest(reason):
                return command
        return f"{_EXIT[script]} {reason.number}"
