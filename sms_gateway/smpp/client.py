"""The thin I/O around one `Session`: a TCP socket, one reader thread, coalesced writes.

One reader thread owns the socket's input and the session's timers; any thread may submit.
Received messages are committed by the link's `Committer` thread, so a commit waiting for the
database never stops the reader (submit_sm_resp keep flowing, and the next group grows).
Every change to the session happens under one lock, and whatever the session queued is
written with a single `sendall` under that lock, so PDUs produced together travel together
(TCP_NODELAY is on: with Nagle, small PDUs written one by one wait 40+ ms each).

The module is a little over 300 lines because connecting, serving, acknowledging and
reconnecting all hold the same lock and socket; split, each part would reach into the others'
state. The protocol itself is in `session`, the commit thread in `committer`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import random
import select
import socket
import threading
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass

from sms_gateway.clock import SessionClock, SystemClock
from sms_gateway.smpp.committer import Committer
from sms_gateway.smpp.constants import describe
from sms_gateway.smpp.events import (
    BindRefused,
    Bound,
    Event,
    LinkDead,
    Received,
    SubmitAccepted,
    SubmitFailed,
    Unbound,
)
from sms_gateway.smpp.pdu import ShortMessage
from sms_gateway.smpp.session import Session
from sms_gateway.smpp.settings import SmppSettings
from sms_gateway.smpp.states import BindKind, State
from sms_gateway.transport import InboundSink

log = logging.getLogger(__name__)

_READ_SIZE = 1024 * 1024  # a whole flood's worth of deliver_sm at once: fewer, larger commits
_ENDINGS = (LinkDead, Unbound, BindRefused)

Outcomes = Callable[[Sequence[SubmitAccepted | SubmitFailed]], None]


@dataclass(frozen=True)
class LinkSnapshot:
    """One link's figures for the status page."""

    bind_state: str
    last_enquire_link: str | None
    last_received: str | None
    window_in_use: int
    queued: int
    reconnects: int
    last_error: str | None
    refused_pdus: int  # answered with generic_nack or an error status, over every session


class Link:
    """One connection to the SMSC, kept bound: connect, bind, serve, reconnect with backoff."""

    def __init__(
        self,
        settings: SmppSettings,
        kind: BindKind,
        channel: str,
        sink: InboundSink,
        on_outcomes: Outcomes,
        on_change: Callable[[], None],
        clock: SessionClock | None = None,
    ) -> None:
        self.settings = settings
        self.kind = kind
        self.channel = channel
        self.reconnects = 0
        self.last_error: str | None = None
        self._refused_before = 0  # by the sessions that ended
        self._sink = sink
        self._on_outcomes = on_outcomes
        self._on_change = on_change
        self._clock = clock or SystemClock()
        self._lock = threading.Lock()
        self._session: Session | None = None
        self._sock: socket.socket | None = None
        self._waiting_until: float | None = None
        self._stopping = threading.Event()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_w.setblocking(False)
        name = f"smpp-{channel}-{kind.name}"
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._committer = Committer(sink, self._acknowledge, f"{name}-commit")

    # -- any thread ---------------------------------------------------------------------------

    def start(self) -> None:
        self._committer.start()
        self._thread.start()

    def stop(self) -> None:
        """Answer what is committed, unbind cleanly (waiting at most one response timeout),
        then close."""
        self._stopping.set()
        self._wake()
        if self._thread.ident is not None:
            self._thread.join(2 * self.settings.response_timeout_seconds + 5)
        self._committer.stop()
        self._wake_r.close()
        self._wake_w.close()

    def submit(self, items: Sequence[tuple[Hashable, ShortMessage]]) -> None:
        """Queue submits and write as many as the window allows, from the caller's thread."""
        with self._lock:
            session = self._session
            if session is None:
                events: list[Event] = [
                    SubmitFailed(tag, "link down", deferred=True) for tag, _ in items
                ]
            else:
                events = session.submit(items)
                self._flush()
                deadline = session.next_deadline()
                if deadline is not None and (
                    self._waiting_until is None or deadline < self._waiting_until
                ):
                    self._wake()
        self._dispatch(events)

    def snapshot(self) -> LinkSnapshot:
        with self._lock:
            session = self._session
            if session is None:
                return LinkSnapshot("down", None, None, 0, 0, self.reconnects, self.last_error,
                                    self._refused_before)
            return LinkSnapshot(
                session.state.value,
                _iso(session.last_enquire_link),
                _iso(session.last_received_at),
                session.window_in_use,
                session.queued,
                self.reconnects,
                self.last_error,
                self._refused_before + session.refused,
            )

    @property
    def bound(self) -> bool:
        session = self._session
        return session is not None and session.state is State.BOUND

    @property
    def ready(self) -> bool:
        """Bound, and not paused by the SMSC's ESME_RTHROTTLED: a submit now would leave."""
        session = self._session
        return session is not None and session.state is State.BOUND and not session.throttled

    # -- reader thread ------------------------------------------------------------------------

    def _run(self) -> None:
        failures = 0
        while not self._stopping.is_set():
            try:
                was_bound = self._connect_and_serve()
            except Exception:  # a bug here must cost a reconnect, never the link itself
                log.exception("smpp %s: link failed", self.channel)
                was_bound = False
            failures = 0 if was_bound else failures + 1
            if not self._stopping.is_set():
                self.reconnects += 1
                self._stopping.wait(self._backoff(failures))

    def _backoff(self, failures: int) -> float:
        """Exponential in consecutive failures, with full jitter so links do not stampede."""
        low = self.settings.reconnect_min_seconds
        high = min(self.settings.reconnect_max_seconds, low * 2 ** min(failures, 30))
        return random.uniform(low, high)

    def _connect_and_serve(self) -> bool:
        address = (self.settings.host, self.settings.port)
        try:
            sock = socket.create_connection(address, self.settings.response_timeout_seconds)
        except OSError as exc:
            self._note_error(f"connect to {address[0]}:{address[1]} failed: {exc}")
            return False
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        session = Session(self.settings, self.kind, self._clock, self.channel)
        with self._lock:
            self._sock, self._session = sock, session
            session.start()
            self._flush()
        reason, bound = "link failed", False
        try:
            reason, bound = self._serve(sock, session)
        finally:
            self._note_end(reason)
            with self._lock:
                lost = session.close("link lost")
                self._sock = self._session = None
                self._refused_before += session.refused
            sock.close()
            self._dispatch(lost)
            self._on_change()
        return bound

    def _serve(self, sock: socket.socket, session: Session) -> tuple[str, bool]:
        """Read, answer and tick until the session ends; returns why, and if it ever bound."""
        bound = False
        while True:
            if self._stopping.is_set():
                if session.state is State.BOUND:  # answer what is committed before leaving
                    self._committer.drain(self.settings.response_timeout_seconds)
                with self._lock:
                    session.unbind()
                    self._flush()
            with self._lock:
                deadline = self._waiting_until = session.next_deadline()
            timeout = None if deadline is None else max(0.0, deadline - self._clock.monotonic())
            readable, _, _ = select.select([sock, self._wake_r], [], [], timeout)
            if self._wake_r in readable:
                self._wake_r.recv(4096)
            events: list[Event] = []
            if sock in readable:
                try:
                    data = sock.recv(_READ_SIZE)
                except OSError as exc:
                    return f"read failed: {exc}", bound
                if not data:
                    return "connection closed by the SMSC", bound
                with self._lock:
                    events = session.receive_data(data)
                    self._flush()
            with self._lock:
                events += session.tick()
                self._flush()
            bound = bound or any(isinstance(event, Bound) for event in events)
            ending = self._handle(session, events)
            if ending is not None:
                return ending, bound

    def _handle(self, session: Session, events: list[Event]) -> str | None:
        received = [event for event in events if isinstance(event, Received)]
        if received:
            self._committer.put(session, received)
        self._dispatch(events)
        for event in events:
            if isinstance(event, Bound):
                log.info("smpp %s: bound as %s", self.channel, self.kind.name.lower())
                self._on_change()
            if isinstance(event, _ENDINGS):
                return _describe_ending(event)
        return None

    # -- committer thread ---------------------------------------------------------------------

    def _acknowledge(self, origin: Hashable, answers: Sequence[tuple[int, list[int]]]) -> None:
        """Answer one commit's deliver_sm in one write, if their session is still the link's:
        those of a session that ended are delivered again by the SMSC."""
        with self._lock:
            session = self._session
            if session is not origin or session is None or session.state is State.CLOSED:
                return
            for status, sequences in answers:
                session.acknowledge(sequences, status)
            self._flush()

    # -- helpers ------------------------------------------------------------------------------

    def _flush(self) -> None:
        """Write what the session queued in one go; caller holds the lock."""
        session, sock = self._session, self._sock
        if session is None or sock is None:
            return
        data = session.data_to_send()
        if not data:
            return
        try:
            sock.sendall(data)
        except OSError as exc:
            log.warning("smpp %s: write failed: %s", self.channel, exc)
            _shutdown(sock)  # the reader sees the end of the stream and reconnects

    def _dispatch(self, events: Sequence[Event]) -> None:
        outcomes = [event for event in events if isinstance(event, SubmitAccepted | SubmitFailed)]
        if outcomes:
            self._on_outcomes(outcomes)

    def _wake(self) -> None:
        # A full buffer means the reader is awake already; a closed one, that it has stopped.
        with contextlib.suppress(OSError):
            self._wake_w.send(b"\0")

    def _note_end(self, reason: str) -> None:
        if self._stopping.is_set():
            log.info("smpp %s (%s): closed: %s", self.channel, self.kind.name.lower(), reason)
        else:
            self._note_error(reason)

    def _note_error(self, reason: str) -> None:
        self.last_error = reason
        log.warning("smpp %s (%s): %s", self.channel, self.kind.name.lower(), reason)


def _iso(moment: dt.datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _describe_ending(event: Event) -> str:
    if isinstance(event, BindRefused):
        return f"bind refused: {describe(event.status)}"
    if isinstance(event, Unbound):
        return "unbound by the SMSC" if event.by_peer else "unbound"
    assert isinstance(event, LinkDead)
    return event.reason


def _shutdown(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
