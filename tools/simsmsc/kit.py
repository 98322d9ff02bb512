"""Test kit for the SMPP transport: a fake clock, a recording sink, settings for a local SMSC.

Shipped with the package (like Flask's `testing`) so the pipeline's tests and the benchmarks
drive the transport the same way its own tests do.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Sequence

from sms_gateway.smpp.settings import SmppSettings
from sms_gateway.transport import (
    DeliveryReceipt,
    InboundPart,
    LinkHealth,
    StoreError,
    Unreadable,
)
from sms_gateway.typed_settings import read

_EPOCH = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)


class FakeClock:
    """Time that moves only when a test says so."""

    def __init__(self) -> None:
        self.seconds = 1000.0

    def monotonic(self) -> float:
        return self.seconds

    def now(self) -> dt.datetime:
        return _EPOCH + dt.timedelta(seconds=self.seconds)

    def advance(self, seconds: float) -> None:
        self.seconds += seconds


class RecordingSink:
    """An InboundSink that keeps what it is given; `fail_next` makes stores raise StoreError."""

    def __init__(self) -> None:
        self.parts: list[InboundPart] = []
        self.receipts_seen: list[DeliveryReceipt] = []
        self.set_aside_seen: list[Unreadable] = []
        self.store_calls: list[int] = []
        self.health: list[LinkHealth] = []
        self.fail_next = 0
        self._changed = threading.Condition()

    def store(self, parts: Sequence[InboundPart]) -> None:
        self._record(self.parts, parts)

    def receipts(self, receipts: Sequence[DeliveryReceipt]) -> None:
        self._record(self.receipts_seen, receipts)

    def set_aside(self, items: Sequence[Unreadable]) -> None:
        self._record(self.set_aside_seen, items)

    def link_health(self, health: LinkHealth) -> None:
        with self._changed:
            self.health.append(health)
            self._changed.notify_all()

    def is_urgent(self, sender: str) -> bool:
        return False

    def wait_for(self, condition: Callable[[], bool], timeout: float = 10.0) -> None:
        """Block until `condition` holds; AssertionError after `timeout` (a hang, not a speed)."""
        with self._changed:
            if not self._changed.wait_for(condition, timeout):
                raise AssertionError("sink never saw what the test waited for")

    def _record(self, into: list, items: Sequence) -> None:
        with self._changed:
            self.store_calls.append(len(items))
            if self.fail_next:
                self.fail_next -= 1
                self._changed.notify_all()
                raise StoreError("simulated commit failure")
            into.extend(items)
            self._changed.notify_all()


def local_settings(port: int, **overrides: object) -> SmppSettings:
    """Settings for an SMSC on 127.0.0.1 with timers short enough for tests, read as an
    `[[smpp]]` table is (so a value a config file may not hold is refused here too)."""
    table = {"name": "test", "host": "127.0.0.1", "port": port, "system_id": "gateway",
             "password": "secret", "source_addr": "377", "source_ton": 3,
             "response_timeout_seconds": 2.0, "enquire_link_seconds": 30.0,
             "reconnect_min_seconds": 0.05, "reconnect_max_seconds": 0.2}
    return read(SmppSettings, "[[smpp]] test", table | overrides)
