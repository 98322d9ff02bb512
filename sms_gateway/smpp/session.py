"""The SMPP 3.4 ESME session as a pure state machine: bytes and time in, events and bytes out.

No sockets and no threads here (as in h11): `receive_data` turns bytes into events and
queues the answers the protocol owes (enquire_link_resp, unbind_resp, generic_nack, error
answers to malformed deliver_sm); `data_to_send` hands over everything queued as one write.
deliver_sm is answered only through `acknowledge`, after the caller has committed it; one
whose text cannot be decoded is passed on as `Unreadable`, for the quarantine.

`receive_data` never raises for what the peer sent: a PDU that no handler can take (a bug,
or input nobody foresaw) is answered with an error (a deliver_sm is set aside like an
unreadable one), counted in `refused`, and the link goes on. Only a broken length prefix
ends the session, since the stream cannot be resynchronised after it.

It is one module of ~350 lines on purpose: the handlers share the window, the timers and the
sequence counter, and the protocol reads best as one table of commands to handlers; the PDU
codec (`pdu`), TLVs (`inbound`) and events (`events`) already live apart.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Hashable, Iterable, Sequence

from permits.phones import mask
from sms_gateway.clock import SessionClock
from sms_gateway.smpp import inbound, pdu
from sms_gateway.smpp.constants import (
    RESPONSE_BIT,
    SLOW_DOWN,
    TEMPORARY,
    Command,
    Status,
    describe,
)
from sms_gateway.smpp.events import (
    BindRefused,
    Bound,
    Event,
    LinkDead,
    Received,
    Refused,
    SubmitAccepted,
    SubmitFailed,
    Unbound,
)
from sms_gateway.smpp.receipts import normalize_id
from sms_gateway.smpp.settings import SmppSettings
from sms_gateway.smpp.states import BindKind, State
from sms_gateway.smpp.window import Queued, SendWindow
from sms_gateway.transport import Unreadable

log = logging.getLogger(__name__)

_MAX_SEQUENCE = 0x7FFFFFFF


class Session:
    """One bind over one connection; create a new Session for every reconnect."""

    def __init__(
        self, settings: SmppSettings, kind: BindKind, clock: SessionClock, channel: str
    ) -> None:
        self.settings = settings
        self.kind = kind
        self.channel = channel
        self.state = State.OPEN
        self.last_enquire_link: dt.datetime | None = None
        self.last_received_at: dt.datetime | None = None
        self._clock = clock
        self._frames = pdu.FrameBuffer()
        self._out: list[bytes] = []
        self._sequence = 0
        self._window = SendWindow(
            settings.window, settings.max_per_second, settings.response_timeout_seconds
        )
        self._requests: dict[int, tuple[Command, float]] = {}  # bind/enquire/unbind in flight
        self._last_received = clock.monotonic()
        self.refused = 0  # PDUs answered with generic_nack or an error status

    # -- what the driver calls ------------------------------------------------------------

    def start(self) -> None:
        """Queue the bind PDU."""
        body = pdu.bind_body(self.settings)
        self._request(self.kind.command, body)
        self.state = State.BINDING

    def unbind(self) -> None:
        """Queue an unbind; `Unbound` follows when it is answered or its deadline passes."""
        if self.state in (State.BOUND, State.BINDING):
            self._request(Command.UNBIND)
            self.state = State.UNBINDING

    def submit(self, items: Iterable[tuple[Hashable, pdu.ShortMessage]]) -> list[Event]:
        """Queue submit_sm PDUs; those that cannot go at all fail at once."""
        if self.state is not State.BOUND or not self.kind.submits:
            reason = f"link {self.state.value}" if self.kind.submits else "receiver bind"
            return [SubmitFailed(tag, reason, deferred=self.kind.submits) for tag, _ in items]
        self._window.queue.extend(Queued(tag, message) for tag, message in items)
        return self._pump()

    def acknowledge(self, sequences: Sequence[int], status: int = Status.OK) -> None:
        """Answer committed (or, with an error status, uncommitted) deliver_sm."""
        if self.state is not State.CLOSED:
            resp = Command.DELIVER_SM_RESP
            self._out.extend(pdu.encode(resp, seq, status, b"\0") for seq in sequences)

    def receive_data(self, data: bytes) -> list[Event]:
        """Everything the bytes complete; the answers owed are queued for `data_to_send`."""
        try:
            frames = self._frames.feed(data)
        except pdu.FramingError as exc:
            self._out.append(pdu.encode(Command.GENERIC_NACK, 0, exc.status))
            return self._die(str(exc))
        if frames:
            self._last_received = self._clock.monotonic()
            self.last_received_at = self._clock.now()
        events: list[Event] = []
        for frame in frames:
            events.extend(self._handle(frame))
        return events + self._pump()

    def tick(self) -> list[Event]:
        """Timers: overdue responses, enquire_link, rate-capped or paused submits."""
        now = self._clock.monotonic()
        events: list[Event] = [
            SubmitFailed(queued.tag, "no submit_sm_resp in time", uncertain=True)
            for queued in self._window.expired(now)
        ]
        for sequence, (command, deadline) in list(self._requests.items()):
            if deadline <= now:
                del self._requests[sequence]
                events.extend(self._overdue(command))
        if self.state is State.BOUND and not self._requests and now >= self._enquire_due():
            self._request(Command.ENQUIRE_LINK)
        return events + self._pump()

    def next_deadline(self) -> float | None:
        """The monotonic time by which `tick` must be called next (None: no timer running)."""
        if self.state is State.CLOSED:
            return None
        times = [deadline for _, deadline in self._requests.values()]
        window = self._window.next_deadline(self._clock.monotonic())
        if window is not None:
            times.append(window)
        if self.state is State.BOUND and not self._requests:
            times.append(self._enquire_due())
        return min(times, default=None)

    def data_to_send(self) -> bytes:
        out, self._out = self._out, []
        return b"".join(out)

    def close(self, reason: str) -> list[Event]:
        """The connection is gone: every unanswered submit fails, to be retried later."""
        self.state = State.CLOSED
        self._requests.clear()
        in_flight = self._window.in_flight_count()
        return [SubmitFailed(queued.tag, reason, uncertain=n < in_flight, deferred=True)
                for n, queued in enumerate(self._window.drain())]

    @property
    def throttled(self) -> bool:
        """The SMSC asked us to slow down and the pause is not over."""
        return self._window.paused(self._clock.monotonic())

    @property
    def window_in_use(self) -> int:
        return len(self._window.in_flight)

    @property
    def queued(self) -> int:
        return len(self._window.queue)

    # -- internals --------------------------------------------------------------------------

    def _handle(self, frame: pdu.Pdu) -> list[Event]:
        handler = (_RESPONSES if frame.is_response else _REQUESTS).get(
            frame.command_id, Session._unknown)
        try:
            return handler(self, frame)
        except Exception as exc:  # what the peer sent must never take the link down
            log.exception("smpp %s: could not handle command 0x%08x %d", self.channel,
                          frame.command_id, frame.sequence)
            return self._unhandled(frame, exc)

    def _unhandled(self, frame: pdu.Pdu, exc: Exception) -> list[Event]:
        self.refused += 1
        if frame.command_id == Command.DELIVER_SM:
            return [self._unreadable(frame, f"could not be handled: {exc!r}")]
        if not frame.is_response:
            self._out.append(pdu.encode(Command.GENERIC_NACK, frame.sequence,
                                        Status.SYSTEM_ERROR))
        return []

    def _unreadable(self, frame: pdu.Pdu, reason: str, sender: str = "") -> Received:
        return Received(frame.sequence, Unreadable(self.channel, frame.raw, reason[:200],
                                                   self._clock.now(), sender))

    def _next_sequence(self) -> int:
        self._sequence = self._sequence % _MAX_SEQUENCE + 1
        return self._sequence

    def _request(self, command: Command, body: bytes = b"") -> None:
        sequence = self._next_sequence()
        deadline = self._clock.monotonic() + self.settings.response_timeout_seconds
        self._requests[sequence] = (command, deadline)
        self._out.append(pdu.encode(command, sequence, 0, body))

    def _enquire_due(self) -> float:
        return self._last_received + self.settings.enquire_link_seconds

    def _pump(self) -> list[Event]:
        if self.state is not State.BOUND:
            return []
        now = self._clock.monotonic()
        failed: list[Event] = []
        for queued in self._window.due(now):
            sequence = self._next_sequence()
            try:
                self._out.append(pdu.encode_short_message("submit_sm", sequence, queued.message))
            except pdu.PduError as exc:
                failed.append(SubmitFailed(queued.tag, str(exc), permanent=True))
                continue
            self._window.sent(sequence, queued, now)
        return failed

    def _overdue(self, command: Command) -> list[Event]:
        if command is Command.UNBIND:
            self.state = State.CLOSED
            return [Unbound(by_peer=False)]
        return self._die(f"no answer to {command.name.lower()} in time")

    def _die(self, reason: str) -> list[Event]:
        log.warning("smpp %s: %s", self.channel, reason)
        return [LinkDead(reason)]

    # -- responses --------------------------------------------------------------------------

    def _answers(self, frame: pdu.Pdu) -> Command | None:
        """The request of ours this response answers (a generic_nack answers any)."""
        command, _ = self._requests.get(frame.sequence, (None, 0.0))
        if command is None:
            return None
        if frame.command_id not in (Command.GENERIC_NACK, command | RESPONSE_BIT):
            return None
        del self._requests[frame.sequence]
        return command

    def _on_bind_resp(self, frame: pdu.Pdu) -> list[Event]:
        if self._answers(frame) is None or self.state is not State.BINDING:
            return []
        if frame.status != Status.OK:
            return [BindRefused(frame.status)]
        self.state = State.BOUND
        return [Bound(pdu.c_string(frame.body))]

    def _on_submit_resp(self, frame: pdu.Pdu) -> list[Event]:
        now = self._clock.monotonic()
        if frame.status in SLOW_DOWN:
            exhausted = self._window.throttled(frame.sequence, now)
            if exhausted is None:
                return []
            return [SubmitFailed(exhausted.tag, describe(frame.status), deferred=True)]
        queued = self._window.answered(frame.sequence)
        if queued is None:
            log.info("smpp %s: late or unknown submit_sm_resp %d", self.channel, frame.sequence)
            return []
        if frame.status != Status.OK:
            return [
                SubmitFailed(
                    queued.tag, describe(frame.status), permanent=frame.status not in TEMPORARY
                )
            ]
        message_id = normalize_id(pdu.c_string(frame.body), self.settings.message_id_format)
        return [SubmitAccepted(queued.tag, message_id)]

    def _on_plain_resp(self, frame: pdu.Pdu) -> list[Event]:
        command = self._answers(frame)
        if command is Command.ENQUIRE_LINK:
            self.last_enquire_link = self._clock.now()
        if command is Command.UNBIND:
            self.state = State.CLOSED
            return [Unbound(by_peer=False)]
        return []

    def _on_generic_nack(self, frame: pdu.Pdu) -> list[Event]:
        if frame.sequence not in self._requests:
            return self._on_submit_resp(frame)
        if self._requests[frame.sequence][0] is self.kind.command:
            self._answers(frame)
            return [BindRefused(frame.status)]
        return self._on_plain_resp(frame)

    # -- requests ---------------------------------------------------------------------------

    def _on_deliver_sm(self, frame: pdu.Pdu) -> list[Event]:
        if self.state is not State.BOUND or not self.kind.receives:
            return self._refuse(
                frame, "deliver_sm outside a receiving bind", Status.INVALID_BIND_STATUS
            )
        try:
            message = pdu.decode_short_message("deliver_sm", frame)
        except pdu.PduError as exc:
            return self._refuse(frame, str(exc), exc.status)
        try:
            item = inbound.convert(
                message, frame.raw, self.settings, self.channel, self._clock.now()
            )
        except inbound.UndecodableMessage as exc:
            sender = inbound.sender_of(message)
            log.warning("smpp %s: deliver_sm %d from %s cannot be decoded, set aside: %s",
                        self.channel, frame.sequence, mask(sender), exc)
            return [self._unreadable(frame, f"cannot be decoded: {exc}", sender)]
        return [Received(frame.sequence, item)]

    def _refuse(self, frame: pdu.Pdu, reason: str, status: int) -> list[Event]:
        self.refused += 1
        log.warning("smpp %s: refused deliver_sm %d %s", self.channel, frame.sequence, reason)
        self._out.append(pdu.encode(Command.DELIVER_SM_RESP, frame.sequence, status, b"\0"))
        return [Refused(frame.sequence, reason, status)]

    def _on_enquire_link(self, frame: pdu.Pdu) -> list[Event]:
        self.last_enquire_link = self._clock.now()
        self._out.append(pdu.encode(Command.ENQUIRE_LINK_RESP, frame.sequence))
        return []

    def _on_unbind(self, frame: pdu.Pdu) -> list[Event]:
        self._out.append(pdu.encode(Command.UNBIND_RESP, frame.sequence))
        self.state = State.CLOSED
        return [Unbound(by_peer=True)]

    def _unknown(self, frame: pdu.Pdu) -> list[Event]:
        if not frame.is_response:
            self.refused += 1
            self._out.append(
                pdu.encode(Command.GENERIC_NACK, frame.sequence, Status.INVALID_COMMAND_ID)
            )
        log.info("smpp %s: ignored command 0x%08x", self.channel, frame.command_id)
        return []


_RESPONSES = {
    Command.BIND_TRANSCEIVER_RESP: Session._on_bind_resp,
    Command.BIND_TRANSMITTER_RESP: Session._on_bind_resp,
    Command.BIND_RECEIVER_RESP: Session._on_bind_resp,
    Command.SUBMIT_SM_RESP: Session._on_submit_resp,
    Command.ENQUIRE_LINK_RESP: Session._on_plain_resp,
    Command.UNBIND_RESP: Session._on_plain_resp,
    Command.GENERIC_NACK: Session._on_generic_nack,
}
_REQUESTS = {
    Command.DELIVER_SM: Session._on_deliver_sm,
    Command.ENQUIRE_LINK: Session._on_enquire_link,
    Command.UNBIND: Session._on_unbind,
}
