"""Logging that never shows a whole phone number, in messages or in tracebacks."""

from __future__ import annotations

import logging
import re

from permits.phones import mask

# A phone number as people and systems write it: +79271234567, 89271234567, +7 927 123-45-67.
_NUMBER = re.compile(r"\+?\d(?:[\s()\-]{0,2}\d){8,14}")


def mask_numbers(text: str) -> str:
    return _NUMBER.sub(lambda m: mask(re.sub(r"[\s()\-]", "", m.group())), text)


class MaskingFilter(logging.Filter):
    """Masks anything that looks like a phone number in a record's message and traceback."""

    _formatter = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = mask_numbers(message)
        if masked != message:
            record.msg, record.args = masked, None
        if record.exc_info and not record.exc_text:
            record.exc_text = mask_numbers(self._formatter.formatException(record.exc_info))
        return True


def configure(level: str = "INFO") -> None:
    """One line per event, numbers masked, on standard error."""
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(MaskingFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)  # a line per job run is noise
