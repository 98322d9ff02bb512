"""Logging that never shows a whole phone number."""

from __future__ import annotations

import logging
import re

from permits.phones import mask

_NUMBER = re.compile(r"\+?\d{9,15}")


class MaskingFilter(logging.Filter):
    """Masks anything that looks like a phone number in every record's final message."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = _NUMBER.sub(lambda m: mask(m.group()), message)
        if masked != message:
            record.msg, record.args = masked, None
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
