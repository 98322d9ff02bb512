"""One `Transport.send` call: its messages, their parts on the wire, and the caller waiting.

A message succeeds when every part was accepted; it fails permanently when any part was
refused permanently, temporarily otherwise (the outbox sends the whole message again), and is
deferred (no attempt) when only the link stopped its parts.
"""

from __future__ import annotations

import threading
from collections.abc import Hashable

from sms_gateway.smpp.events import SubmitAccepted, SubmitFailed
from sms_gateway.transport import OutboundMessage, SendResult


class SendBatch:
    """Collects part outcomes (on the link's reader thread) for the caller blocked in `wait`."""

    def __init__(self, messages: list[OutboundMessage]) -> None:
        self._messages = messages
        self._done = threading.Condition()
        self._results: dict[int, SendResult] = {}
        self._parts: dict[int, list[SubmitAccepted | SubmitFailed | None]] = {}

    def tag(self, index: int, part: int) -> Hashable:
        """What the session carries for one part; its outcome finds its way back by it."""
        return (self, index, part)

    def expect(self, index: int, parts: int) -> None:
        self._parts[index] = [None] * parts

    def fail(self, index: int, error: str, permanent: bool) -> None:
        """A message that never reached the wire."""
        with self._done:
            self._results[index] = SendResult(
                id=self._messages[index].id, ok=False, error=error, permanent=permanent
            )
            self._done.notify_all()

    def resolve(self, outcome: SubmitAccepted | SubmitFailed) -> None:
        _, index, part = outcome.tag  # type: ignore[misc]
        with self._done:
            outcomes = self._parts[index]
            outcomes[part] = outcome
            if all(outcomes):
                self._results[index] = self._combine(index, outcomes)
                self._done.notify_all()

    def wait(self) -> list[SendResult]:
        """Block until every message has its outcome (the session bounds how long)."""
        with self._done:
            self._done.wait_for(lambda: len(self._results) == len(self._messages))
            return [self._results[index] for index in range(len(self._messages))]

    def _combine(self, index: int, outcomes: list) -> SendResult:
        message_id = self._messages[index].id
        failures = [outcome for outcome in outcomes if isinstance(outcome, SubmitFailed)]
        if not failures:
            # The first part's id: its receipt speaks for the message.
            return SendResult(id=message_id, ok=True, transport_message_id=outcomes[0].message_id)
        permanent = [failure for failure in failures if failure.permanent]
        refused = [failure for failure in failures if not failure.deferred]
        worst = (permanent or refused or failures)[0]
        return SendResult(id=message_id, ok=False, error=worst.error, permanent=bool(permanent),
                          uncertain=any(failure.uncertain for failure in failures),
                          deferred=not refused)
