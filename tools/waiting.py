"""Waiting in tests and benchmarks for something another thread or process will do.

Polls `condition` until it holds and returns its value; the timeout is a deadline for a hang,
never a measure of speed (a slow machine only waits longer). Prefer a notifier where the code
has one (`RecordingSink.wait_for`); this is for state seen only from outside."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_for(condition: Callable[[], T], timeout: float = 30.0, what: str = "",
             interval: float = 0.02) -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for"
                                 f" {what or getattr(condition, '__name__', 'a condition')}")
        time.sleep(interval)
