"""Group commit for deliver_sm, off the reader thread: store in the background, then acknowledge.

The reader used to commit each read's messages itself, so while a commit waited for the
database (SQLite's single writer lock is held by the dispatcher for a whole batch) nothing was
read: submit_sm_resp sat in the socket and the sender stalled, and the flood behind the commit
(an officer's check among it) waited too. Here the reader only queues what it decoded; a
thread commits everything queued since its last commit in one transaction (the longer the
database makes it wait, the larger the next group) and acknowledges afterwards; officers'
checks have a thread of their own. The rule is unchanged: no deliver_sm_resp ESME_ROK before
the commit, ESME_RX_T_APPN if it failed.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Hashable, Sequence

from sms_gateway.smpp.durable import store
from sms_gateway.smpp.events import Received
from sms_gateway.transport import InboundPart, InboundSink

log = logging.getLogger(__name__)

# Received but not yet committed: beyond this the reader stops reading (TCP pushes back).
MAX_BACKLOG = 20_000
# At most this many messages per transaction: still one fsync per thousand, and a commit in
# progress is short enough that an officer's check queued behind it waits little.
MAX_GROUP = 1_000

Answers = list[tuple[int, list[int]]]
Acknowledge = Callable[[Hashable, Answers], None]


class Committer:
    """Two threads per link: `put` from the reader, commits and acknowledgements from here.

    Officers' checks have a thread of their own: one queued behind a group of residents'
    messages would wait for that group's turn at the database and its commit as well.

    `acknowledge(origin, answers)` is called after each commit for every origin (the session
    the messages came in on); the link drops the answers of a session that has ended, and the
    SMSC delivers those messages again on the next bind.
    """

    def __init__(self, sink: InboundSink, acknowledge: Acknowledge, name: str) -> None:
        self._sink = sink
        self._acknowledge = acknowledge
        self._queue: list[tuple[Hashable, Received]] = []
        self._urgent: list[tuple[Hashable, Received]] = []
        self._changed = threading.Condition()
        self._stopping = False
        self._busy = 0  # threads committing right now
        self._threads = [
            threading.Thread(target=self._run, args=(False,), name=name, daemon=True),
            threading.Thread(target=self._run, args=(True,), name=f"{name}-urgent", daemon=True)]

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def put(self, origin: Hashable, received: Sequence[Received]) -> None:
        """Queue for the next commit; blocks while the backlog is full."""
        with self._changed:
            self._changed.wait_for(lambda: len(self._queue) < MAX_BACKLOG or self._stopping)
            for event in received:
                (self._urgent if self._is_urgent(event) else self._queue).append((origin, event))
            self._changed.notify_all()

    def drain(self, timeout: float) -> bool:
        """Wait until everything queued so far was committed and answered."""
        with self._changed:
            return self._changed.wait_for(
                lambda: not self._queue and not self._urgent and not self._busy, timeout)

    def stop(self, timeout: float = 10.0) -> None:
        """Commit what is queued, then end the thread."""
        with self._changed:
            self._stopping = True
            self._changed.notify_all()
        for thread in self._threads:
            if thread.ident is not None:
                thread.join(timeout)

    @property
    def backlog(self) -> int:
        return len(self._queue) + len(self._urgent)

    def _run(self, urgent: bool) -> None:
        while True:
            with self._changed:
                self._changed.wait_for(lambda: self._pending(urgent) or self._stopping)
                batch = self._take(urgent)
                if not batch:
                    return  # stopping, and nothing of this lane left
                self._busy += 1
                self._changed.notify_all()
            try:
                self._commit(batch)
            except Exception:  # a bug here must not stop the link from taking messages
                log.exception("smpp: committing %d inbound items failed", len(batch))
            finally:
                with self._changed:
                    self._busy -= 1
                    self._changed.notify_all()

    def _pending(self, urgent: bool) -> list[tuple[Hashable, Received]]:
        return self._urgent if urgent else self._queue

    def _take(self, urgent: bool) -> list[tuple[Hashable, Received]]:
        if urgent:  # officers' checks: all of them, in a small transaction of their own
            batch, self._urgent = self._urgent, []
        else:
            batch, self._queue = self._queue[:MAX_GROUP], self._queue[MAX_GROUP:]
        return batch

    def _is_urgent(self, event: Received) -> bool:
        item = event.item
        return isinstance(item, InboundPart) and self._sink.is_urgent(item.sender)

    def _commit(self, batch: list[tuple[Hashable, Received]]) -> None:
        statuses = store(self._sink, [event for _, event in batch])
        by_origin: dict[Hashable, dict[int, list[int]]] = {}
        for (origin, event), status in zip(batch, statuses, strict=True):
            by_origin.setdefault(origin, {}).setdefault(status, []).append(event.sequence)
        for origin, by_status in by_origin.items():
            self._acknowledge(origin, list(by_status.items()))
