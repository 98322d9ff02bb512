"""Time as the SMPP session sees it: monotonic seconds for its timers, aware UTC for stamps.

Tests replace it with `sms_gateway.smpp.testing.FakeClock` and move time by hand.
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Protocol


class SessionClock(Protocol):
    """Time as the session sees it: monotonic seconds for timers, UTC for stamps."""

    def monotonic(self) -> float: ...

    def now(self) -> dt.datetime: ...


class SystemClock:
    """The real clock; tests pass a fake one and move it by hand."""

    def monotonic(self) -> float:
        return time.monotonic()

    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC)
