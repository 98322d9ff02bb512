"""Flow control for submit_sm: the window of unanswered PDUs, the rate cap, throttling backoff.

Kept apart from the protocol so the rules that decide *when* a PDU may leave can be read, and
tested with a fake clock, on their own.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Hashable
from dataclasses import dataclass

from sms_gateway.smpp.pdu import ShortMessage

# ESME_RTHROTTLED / ESME_RMSGQFUL: pause every submit this long, doubling per refusal in a
# row up to the cap; a submit refused this many times is reported for a later retry.
THROTTLE_PAUSE_MIN = 0.05
THROTTLE_PAUSE_MAX = 5.0
THROTTLE_ATTEMPTS = 8
# The rate cap allows a burst of this many seconds' worth of submits after a quiet spell.
RATE_BURST_SECONDS = 0.1


@dataclass
class Queued:
    """A submit waiting for its turn (or its retry after a throttling refusal)."""

    tag: Hashable
    message: ShortMessage
    refusals: int = 0


@dataclass
class InFlight:
    """A submit_sm on the wire, waiting for its response until `deadline`."""

    queued: Queued
    deadline: float


class SendWindow:
    """Which queued submits may be written now, and which written ones are overdue."""

    def __init__(self, size: int, max_per_second: float, timeout: float) -> None:
        self._size = size
        self._rate = max_per_second
        self._timeout = timeout
        self._burst = max(1.0, max_per_second * RATE_BURST_SECONDS)
        self._tokens = self._burst
        self._refilled_at = 0.0
        self._pause_until = 0.0
        self._pause = THROTTLE_PAUSE_MIN
        self.queue: deque[Queued] = deque()
        self.in_flight: dict[int, InFlight] = {}

    def due(self, now: float) -> list[Queued]:
        """Pop the queued submits that window, pause and rate cap let go at `now`."""
        room = self._size - len(self.in_flight)
        if room <= 0 or not self.queue or now < self._pause_until:
            return []
        count = min(room, len(self.queue))
        if self._rate:
            self._refill(now)
            count = min(count, int(self._tokens + 1e-9))  # float dust must not stall a token
            self._tokens -= count
        return [self.queue.popleft() for _ in range(count)]

    def paused(self, now: float) -> bool:
        return now < self._pause_until

    def sent(self, sequence: int, queued: Queued, now: float) -> None:
        self.in_flight[sequence] = InFlight(queued, now + self._timeout)

    def answered(self, sequence: int) -> Queued | None:
        """The submit a response belongs to; None for a stranger (e.g. after its timeout)."""
        flight = self.in_flight.pop(sequence, None)
        if flight is None:
            return None
        self._pause = THROTTLE_PAUSE_MIN
        return flight.queued

    def throttled(self, sequence: int, now: float) -> Queued | None:
        """Pause all submits; requeue this one first. Returns it when it has run out of tries."""
        flight = self.in_flight.pop(sequence, None)
        if flight is None:
            return None
        self._pause_until = max(self._pause_until, now + self._pause)
        self._pause = min(self._pause * 2, THROTTLE_PAUSE_MAX)
        queued = flight.queued
        queued.refusals += 1
        if queued.refusals >= THROTTLE_ATTEMPTS:
            return queued
        self.queue.appendleft(queued)
        return None

    def expired(self, now: float) -> list[Queued]:
        """Remove and return the submits whose response is overdue."""
        overdue = [seq for seq, flight in self.in_flight.items() if flight.deadline <= now]
        return [self.in_flight.pop(seq).queued for seq in overdue]

    def next_deadline(self, now: float) -> float | None:
        """When `due` or `expired` next has something to say, if ever."""
        times = [flight.deadline for flight in self.in_flight.values()]
        if self.queue and len(self.in_flight) < self._size:
            times.append(max(self._pause_until, self._next_token(now)))
        return min(times, default=None)

    def in_flight_count(self) -> int:
        return len(self.in_flight)

    def drain(self) -> list[Queued]:
        """Everything unanswered or unsent (the link is gone): the unanswered first."""
        lost = [flight.queued for flight in self.in_flight.values()] + list(self.queue)
        self.in_flight.clear()
        self.queue.clear()
        return lost

    def _refill(self, now: float) -> None:
        self._tokens = min(self._burst, self._tokens + (now - self._refilled_at) * self._rate)
        self._refilled_at = now

    def _next_token(self, now: float) -> float:
        if not self._rate:
            return now
        self._refill(now)
        return now + max(0.0, 1.0 - self._tokens) / self._rate
