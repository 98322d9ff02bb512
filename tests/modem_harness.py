"""Shared rig for the modem tests: simulated modems on real ptys, a collecting sink, waits.

Not a test module itself (it holds no tests); the name keeps it in the modem test family.
"""

from __future__ import annotations

import contextlib
import dataclasses
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

from sms_gateway.modem.settings import ModemPoolSettings, ModemSettings
from sms_gateway.modem.transport import ModemTransport
from sms_gateway.transport import (
    DeliveryReceipt,
    InboundPart,
    LinkHealth,
    StoreError,
    Unreadable,
)
from tools.sim_modem import SimModem
from tools.waiting import wait_for

ROOT = Path(__file__).resolve().parent.parent

WAIT = 30.0  # generous: a wait returns as soon as its condition holds (CI may be loaded)


class CollectingSink:
    """Stands in for the pipeline: keeps what it is given, can refuse to commit, dedups."""

    def __init__(self) -> None:
        self.parts: list[InboundPart] = []
        self.receipts_seen: list[DeliveryReceipt] = []
        self.set_aside_seen: list[Unreadable] = []
        self.healths: list[LinkHealth] = []
        self.store_calls = 0
        self.set_aside_calls = 0
        self.fail_stores = False
        self._lock = threading.Lock()

    def store(self, parts: Sequence[InboundPart]) -> None:
        with self._lock:
            self.store_calls += 1
            if self.fail_stores:
                raise StoreError("database is down (test)")
            self.parts.extend(parts)

    def receipts(self, receipts: Sequence[DeliveryReceipt]) -> None:
        with self._lock:
            self.receipts_seen.extend(receipts)

    def set_aside(self, items: Sequence[Unreadable]) -> None:
        with self._lock:
            self.set_aside_calls += 1
            if self.fail_stores:
                raise StoreError("database is down (test)")
            self.set_aside_seen.extend(items)

    def link_health(self, health: LinkHealth) -> None:
        with self._lock:
            self.healths.append(health)

    def texts(self) -> list[str]:
        with self._lock:
            return [part.text for part in self.parts]

    def unique_keys(self) -> set[str | None]:
        """What the pipeline's dedup would keep."""
        with self._lock:
            return {part.dedup_key for part in self.parts}


def fast_settings(name: str, port: str, **changes: object) -> ModemSettings:
    """Settings with short polls and timeouts, so recovery paths run in test time."""
    values: dict[str, object] = {
        "poll_seconds": 0.3,
        "command_timeout": 1.5,
        "prompt_timeout": 1.5,
        "send_timeout": 3.0,
        "reconnect_min_seconds": 0.05,
        "reconnect_max_seconds": 0.4,
        "rest_seconds": 60.0,
        "failures_before_rest": 1,
    }
    values.update(changes)
    return dataclasses.replace(ModemSettings(name, port), **values)  # type: ignore[arg-type]


@dataclasses.dataclass
class Rig:
    sims: list[SimModem]
    transport: ModemTransport
    sink: CollectingSink

    @property
    def sim(self) -> SimModem:
        return self.sims[0]

    def start(self) -> Rig:
        self.transport.start(self.sink)
        wait_for(lambda: self.transport.health().details.get("healthy") == len(self.sims),
                 timeout=WAIT, what="every modem up")
        return self


@contextlib.contextmanager
def rig(tmp_path: Path, count: int = 1, start: bool = True, **changes: object) -> Iterator[Rig]:
    """`count` simulated modems, one pool over them, a collecting sink; all torn down after."""
    sims = [SimModem(tmp_path / f"modem{i}", seed=i).start() for i in range(count)]
    modems = tuple(fast_settings(f"m{i}", sim.device, **changes) for i, sim in enumerate(sims))
    built = Rig(sims, ModemTransport(ModemPoolSettings("test", modems)), CollectingSink())
    try:
        yield built.start() if start else built
    finally:
        built.transport.stop()
        for sim in sims:
            sim.stop()
