"""No whole phone number reaches a log line, in the message or in a traceback."""

from __future__ import annotations

import io
import logging

from sms_gateway.logsafe import MaskingFilter, mask_numbers


def test_numbers_in_every_common_spelling_are_masked():
    text = "from +79271234567, 89271234567 and +7 927 123-45-67 at 14:05, code K7MQ-3DXA"
    masked = mask_numbers(text)
    assert "1234567" not in masked and "123-45-67" not in masked
    assert "+7927***4567" in masked and "14:05" in masked and "K7MQ-3DXA" in masked


def test_tracebacks_are_masked_too():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(MaskingFilter())
    log = logging.getLogger("test-logsafe")
    log.addHandler(handler)
    try:
        raise ValueError("cannot send to +79271234567")
    except ValueError:
        log.exception("send failed for %s", "+79270000001")
    finally:
        log.removeHandler(handler)
    output = stream.getvalue()
    assert "+79271234567" not in output and "+79270000001" not in output
    assert "+7927***4567" in output and "Traceback" in output
