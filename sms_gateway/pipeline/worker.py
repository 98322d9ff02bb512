"""A small loop thread: do work while there is some, else sleep until woken or polled."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

log = logging.getLogger(__name__)


class Worker:
    """Runs `step` (returning how much it did) whenever woken, and at least every `poll`."""

    def __init__(self, name: str, step: Callable[[], int], poll_seconds: float = 0.5,
                 error_pause: float = 1.0) -> None:
        self.name, self._step = name, step
        self._poll, self._error_pause = poll_seconds, error_pause
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._failing_since: float | None = None
        self._reported_at = 0.0
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def stop(self, timeout: float = 10.0) -> None:
        """Finish the step in hand, then stop."""
        self._stopping.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _report(self, exc: Exception) -> None:
        """A traceback when a step first fails, then one line a minute while it keeps failing
        (the database being away fails every step, every second)."""
        now = time.monotonic()
        if self._failing_since is None:
            self._failing_since = self._reported_at = now
            log.exception("%s: step failed; pausing", self.name)
        elif now - self._reported_at >= 60:
            self._reported_at = now
            log.error("%s: still failing after %.0f s: %s", self.name, now - self._failing_since,
                      exc.__class__.__name__)

    def _loop(self) -> None:
        while not self._stopping.is_set():
            self._wake.clear()
            try:
                done = self._step()
            except Exception as exc:
                self._report(exc)
                self._stopping.wait(self._error_pause)
                continue
            self._failing_since = None
            if not done:
                self._wake.wait(self._poll)
