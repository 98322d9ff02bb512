"""Time as the runtime sees it: aware UTC for stamps, monotonic seconds for timers.

The pipeline takes a `Clock` (a function returning aware UTC); the SMPP session, whose timers
must not jump with the wall clock, takes a `SessionClock`. Tests pass fakes of either and
move time by hand (`tests.conftest.FakeClock`, `tools.simsmsc.kit.FakeClock`).
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from typing import Protocol

Clock = Callable[[], dt.datetime]


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class SessionClock(Protocol):
    """Monotonic seconds for timers, aware UTC for stamps."""

    def monotonic(self) -> float: ...

    def now(self) -> dt.datetime: ...


class SystemClock:
    """The real `SessionClock`."""

    def monotonic(self) -> float:
        return time.monotonic()

    def now(self) -> dt.datetime:
        return utc_now()
