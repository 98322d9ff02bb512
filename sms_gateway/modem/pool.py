"""Several modems answering as one channel: outbound work spread over the healthy ones.

A modem sends about one SMS every few seconds, so a batch goes to every healthy modem at
once, one message per modem at a time.  A message a modem failed moves to a modem that has
not tried it yet; a modem that keeps failing rests (see `ModemDriver`).

`send` may be called from several threads at once (an urgent sender beside the bulk one,
or one sender per modem, which keeps every modem busy where a single sender waits for its
whole batch before claiming more).  Sends in flight are counted per modem over all calls, so
a call takes idle modems first; a call with nothing in flight that finds every healthy modem
busy queues one message behind the least loaded one instead of failing or waiting for the
other call's whole batch (an officer's reply waits for one SMS, not for a flood).
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections import deque
from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass, field

from sms_gateway.modem.at_port import Opener, open_serial
from sms_gateway.modem.driver import ModemDriver
from sms_gateway.modem.settings import ModemPoolSettings
from sms_gateway.modem.snapshot import ModemStatus
from sms_gateway.transport import InboundSink, LinkHealth, OutboundMessage, SendResult

log = logging.getLogger(__name__)
KIND = "modem"


@dataclass
class _Attempt:
    message: OutboundMessage
    tried: set[str] = field(default_factory=set)


class ModemPool:
    """The drivers of one pool, their health, and the send dispatcher."""

    def __init__(
        self,
        settings: ModemPoolSettings,
        channel: str,
        sink: InboundSink,
        opener: Opener = open_serial,
    ) -> None:
        self.channel = channel
        self._sink = sink
        self.drivers = [
            ModemDriver(modem, channel, sink, self._changed, opener) for modem in settings.modems
        ]
        self._turn = 0
        self._turn_lock = threading.Lock()
        self._in_flight = {driver.name: 0 for driver in self.drivers}  # over all send() calls
        self._in_flight_lock = threading.Lock()
        # A stuck future must not hang the sender forever: the longest a long reply may take.
        self._patience = max(10 * (m.prompt_timeout + m.send_timeout) for m in settings.modems)

    def start(self) -> None:
        for driver in self.drivers:
            driver.start()

    def stop(self) -> None:
        for driver in self.drivers:
            driver.stop()

    def send(self, messages: Sequence[OutboundMessage]) -> list[SendResult]:
        """Send all, in parallel over healthy modems; one result per message."""
        pending = deque(_Attempt(message) for message in messages)
        running: dict[Future[SendResult], tuple[_Attempt, ModemDriver]] = {}
        results: dict[int, SendResult] = {}
        while pending or running:
            self._assign(pending, running)
            if not running:
                for attempt in pending:
                    results[attempt.message.id] = _no_modem(attempt)
                break
            done, _ = wait(running, timeout=self._patience, return_when=FIRST_COMPLETED)
            if not done:
                log.error("pool %s: modems silent for %.0f s", self.channel, self._patience)
                for attempt, driver in running.values():
                    attempt.tried.add(driver.name)  # it hung there: an attempt, not a wait
                    results[attempt.message.id] = _no_modem(attempt)
                    self._release(driver)
                running.clear()
            for future in done:
                attempt, driver = running.pop(future)
                self._release(driver)
                result = future.result()
                if result.ok or result.permanent or not self._retry(attempt, driver):
                    results[attempt.message.id] = result
                else:
                    pending.appendleft(attempt)
        return [results[message.id] for message in messages]

    def _assign(
        self,
        pending: deque[_Attempt],
        running: dict[Future[SendResult], tuple[_Attempt, ModemDriver]],
    ) -> None:
        rotation = self._rotation()
        for driver in rotation:
            attempt = next((a for a in pending if driver.name not in a.tried), None)
            if attempt is not None and driver.healthy() and self._take(driver, idle_only=True):
                pending.remove(attempt)
                running[driver.send(attempt.message)] = (attempt, driver)
        if running or not pending:
            return
        # Every healthy modem is busy with other calls' sends: queue behind the least loaded.
        with self._in_flight_lock:
            loads = dict(self._in_flight)
        for driver in sorted(rotation, key=lambda d: loads[d.name]):
            attempt = next((a for a in pending if driver.name not in a.tried), None)
            if attempt is not None and driver.healthy() and self._take(driver, idle_only=False):
                pending.remove(attempt)
                running[driver.send(attempt.message)] = (attempt, driver)
                return

    def _take(self, driver: ModemDriver, idle_only: bool) -> bool:
        with self._in_flight_lock:
            if idle_only and self._in_flight[driver.name]:
                return False
            self._in_flight[driver.name] += 1
            return True

    def _release(self, driver: ModemDriver) -> None:
        with self._in_flight_lock:
            self._in_flight[driver.name] -= 1

    def _retry(self, attempt: _Attempt, driver: ModemDriver) -> bool:
        """Note the failed modem; whether another healthy modem may still try."""
        attempt.tried.add(driver.name)
        log.info("pool %s: #%d failed on %s", self.channel, attempt.message.id, driver.name)
        return any(d.healthy() and d.name not in attempt.tried for d in self.drivers)

    def _rotation(self) -> list[ModemDriver]:
        """Drivers starting one further each call, so single messages do not all use modem 1."""
        with self._turn_lock:
            self._turn = (self._turn + 1) % len(self.drivers)
            return self.drivers[self._turn :] + self.drivers[: self._turn]

    def ready(self) -> bool:
        return any(driver.healthy() for driver in self.drivers)

    def health(self) -> LinkHealth:
        now = dt.datetime.now(dt.UTC)
        modems = {d.name: d.status.details(now) for d in self.drivers}
        healthy = sum(1 for d in self.drivers if d.healthy())
        details: dict[str, object] = {"healthy": healthy, "total": len(modems), "modems": modems}
        return LinkHealth(self.channel, KIND, up=healthy > 0, details=details)

    def _changed(self, status: ModemStatus) -> None:
        try:
            self._sink.link_health(self.health())
        except Exception:  # the status page is not worth a modem thread
            log.exception("pool %s: link_health failed", self.channel)


def _no_modem(attempt: _Attempt) -> SendResult:
    """Deferred when no modem tried it (none healthy): waiting for a modem is no attempt."""
    tried = ", ".join(sorted(attempt.tried)) or "none"
    error = f"no healthy modem could send it (tried: {tried})"
    return SendResult(attempt.message.id, ok=False, error=error, deferred=not attempt.tried)
