"""Which sent message a status report is about: a TP-MR alone is no identity.

A modem numbers what it sends with an 8-bit TP-MR, so its 256th send reuses the first one's
number, and a restarted gateway meets the numbers of its previous life again.  Were the
transport message id just `modem:TP-MR`, the outbox would apply an old receipt (kept in
`delivery_receipts` for receipts that overtake their send) to every later message with the
same number.  So ids carry a per-modem epoch (random for each process, bumped whenever the
TP-MR goes backwards), and a status report is matched by (recipient, TP-MR) against the sends
this process remembers.  A reply sent in several parts is delivered when every part is, and
failed as soon as one part fails; a report for a send we do not remember (sent before a
restart, or forgotten under load) is dropped rather than guessed.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field

# States the outbox treats as final failures; anything not DELIVRD and not ENROUTE fails.
DELIVERED, EN_ROUTE = "DELIVRD", "ENROUTE"
# A report older than this when its send is noted is about an earlier message.
EARLY_REPORT_SECONDS = 60.0


@dataclass
class _Sent:
    message_id: str
    waiting: set[int] = field(default_factory=set)  # part TP-MRs without a final report yet


@dataclass(frozen=True)
class Resolved:
    """A status report turned into the receipt of a whole message."""

    message_id: str
    state: str
    error: str | None = None


def recipient_key(number: str) -> str:
    """The last ten digits: a report may spell the recipient nationally or internationally."""
    return "".join(ch for ch in number if ch.isdigit())[-10:]


class ReceiptBook:
    """One modem's memory of recent sends, for naming them and matching their reports.

    Thread-safe: the driver's thread writes it, and tests may read it.  `capacity` bounds the
    parts remembered (oldest forgotten first): at one SMS every few seconds, 4096 parts cover
    hours, far beyond the validity the driver asks the network for.
    """

    def __init__(self, modem: str, *, capacity: int = 4096, token: str | None = None) -> None:
        self.modem = modem
        self._token = token or secrets.token_hex(3)
        self._epoch = 0
        self._last_reference: int | None = None
        self._capacity = capacity
        self._parts: OrderedDict[tuple[str, int], _Sent] = OrderedDict()
        # Reports that overtook the end of their send (part 1's report can come back while
        # part 2 is still being submitted): applied when `sent` notes the message.
        self._early: OrderedDict[tuple[str, int], tuple[float, str, str | None]] = OrderedDict()
        self._lock = threading.Lock()

    def observe(self, references: Sequence[int]) -> None:
        """TP-MRs the modem used (also for a message that failed half-way): keeps epochs right."""
        with self._lock:
            self._advance(references)

    def sent(self, recipient: str, references: Sequence[int]) -> str:
        """Note a message sent as parts with these TP-MRs; returns its transport message id."""
        if not references:
            raise ValueError("a sent message has at least one TP-MR")
        with self._lock:
            self._advance(references)
            message_id = f"{self.modem}:{self._token}.{self._epoch}:{references[-1]}"
            entry = _Sent(message_id, set(references))
            key = recipient_key(recipient)
            for reference in references:
                self._parts[(key, reference)] = entry
                self._parts.move_to_end((key, reference))
            while len(self._parts) > self._capacity:
                self._parts.popitem(last=False)
            return message_id

    def overtaken(self, recipient: str, references: Sequence[int]) -> Resolved | None:
        """The receipt made by reports that came before `sent` noted these parts, if any."""
        key = recipient_key(recipient)
        resolved = None
        with self._lock:
            for reference in references:
                early = self._early.pop((key, reference), None)
                if early is not None and time.monotonic() - early[0] < EARLY_REPORT_SECONDS:
                    resolved = self._resolve(key, reference, *early[1:]) or resolved
        return resolved

    def report(
        self, recipient: str, reference: int, state: str, error: str | None = None
    ) -> Resolved | None:
        """The receipt a part's report means for its message; None while other parts wait."""
        key = (recipient_key(recipient), reference)
        with self._lock:
            if key not in self._parts:
                self._early[key] = (time.monotonic(), state, error)
                while len(self._early) > self._capacity:
                    self._early.popitem(last=False)
                return None
            return self._resolve(key[0], reference, state, error)

    def _resolve(self, recipient: str, reference: int, state: str,
                 error: str | None) -> Resolved | None:
        key = (recipient, reference)
        entry = self._parts.get(key)
        if entry is None:
            return None
        if state == EN_ROUTE:
            return Resolved(entry.message_id, state, error)
        del self._parts[key]
        entry.waiting.discard(reference)
        if state == DELIVERED and entry.waiting:
            return None
        for other in entry.waiting:  # one failed part fails the message: forget the rest
            self._parts.pop((recipient, other), None)
        entry.waiting.clear()
        return Resolved(entry.message_id, state, error)

    def pending(self) -> int:
        """Parts still waiting for a final report (for tests and the status page)."""
        with self._lock:
            return len(self._parts)

    def _advance(self, references: Sequence[int]) -> None:
        for reference in references:
            if self._last_reference is not None and reference <= self._last_reference:
                self._epoch += 1  # wrapped (or the modem restarted its counter)
            self._last_reference = reference
