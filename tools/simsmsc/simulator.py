"""A simulated SMSC on a loopback port: binds ESMEs, records submits, pushes MO, injects faults.

Lets anyone run the gateway without an operator, and lets tests break the link on purpose:
drop the connection, go silent (a half-open link), throttle, generic_nack, unbind, drop the link
just as a deliver_sm_resp arrives (the acknowledgement lost), go away altogether.
As a real SMSC does, a deliver_sm answered ESME_RX_T_APPN is delivered again, and one never
answered before its connection ended is delivered again right after the next bind.
Longer than 300 lines because each fault is a few lines of the one connection loop it bends.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import socket
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from sms_gateway.smpp import pdu
from sms_gateway.smpp.constants import Command, Status
from tools.simsmsc.messages import SubmitRecord, mo_messages, read_submit, receipt_message

log = logging.getLogger(__name__)

_BINDS = {
    Command.BIND_TRANSCEIVER: "transceiver",
    Command.BIND_TRANSMITTER: "transmitter",
    Command.BIND_RECEIVER: "receiver",
}
_REDELIVERY_ATTEMPTS = 5


class SimError(RuntimeError):
    """The simulator cannot do what was asked (e.g. no ESME bound to receive)."""


@dataclass
class Faults:
    """Misbehaviour switched on by tests: counts are consumed one submit_sm at a time."""

    silent: bool = False
    throttle: int = 0
    nack: int = 0
    nack_status: int = Status.SYSTEM_ERROR
    drop_on_answer: int = 0  # drop the link when a deliver_sm_resp arrives, unread


class _Dropped(Exception):
    """The simulator drops this connection now (a fault)."""


class _Connection:
    """One ESME's TCP connection, served by its own thread."""

    def __init__(self, smsc: SimSmsc, sock: socket.socket) -> None:
        self.smsc = smsc
        self.sock = sock
        self.bind: str | None = None
        self.ended = False
        self.fresh_bind = False  # bound by the answer just computed: redeliver after it
        self.write_lock = threading.Lock()
        self.waiting: dict[int, tuple[pdu.ShortMessage, int]] = {}  # deliver_sm seq -> attempt
        self._sequences = itertools.count(1)

    def send(self, data: bytes) -> None:
        with self.write_lock, contextlib.suppress(OSError):
            self.sock.sendall(data)

    def deliver(self, message: pdu.ShortMessage, attempt: int = 1) -> int:
        sequence = next(self._sequences)
        self.waiting[sequence] = (message, attempt)
        self.send(pdu.encode_short_message("deliver_sm", sequence, message))
        if self.ended:  # it ended while we wrote: `take_back` may have run before we queued
            self.smsc.take_back(self, [sequence])
        return sequence

    def request(self, command: int) -> None:
        self.send(pdu.encode(command, next(self._sequences)))

    def serve(self) -> None:
        frames = pdu.FrameBuffer()
        try:
            while data := self.sock.recv(65536):
                answers = []
                try:
                    for frame in frames.feed(data):
                        answers.append(self.smsc.handle(self, frame))
                finally:  # on a drop, what came before it is answered, the rest never read
                    self.send(b"".join(answers))
                if self.fresh_bind:
                    self.fresh_bind = False
                    self.smsc.bound(self)
        except (OSError, pdu.FramingError, _Dropped):
            pass
        finally:
            with contextlib.suppress(OSError):
                self.sock.shutdown(socket.SHUT_RDWR)
            self.smsc.forget(self)
            self.sock.close()


class SimSmsc:
    """The simulated SMSC; `with SimSmsc() as smsc:` listens on a free loopback port."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        credentials: tuple[str, str] | None = None,
        id_format: str = "hex",
        redeliver_delay: float = 0.05,
        auto_receipts: bool = False,
    ) -> None:
        self.credentials = credentials
        self.id_format = id_format
        self.redeliver_delay = redeliver_delay
        self.auto_receipts = auto_receipts
        self.faults = Faults()
        self.submits: list[SubmitRecord] = []
        self.deliver_answers: list[tuple[int, int]] = []  # (sequence, command_status)
        self.binds: list[str] = []
        self._connections: list[_Connection] = []
        self._changed = threading.Condition()
        self._ids = itertools.count(0x1F000)
        self._references = itertools.count(1)
        self._turns = itertools.count()
        self._parked: deque[tuple[pdu.ShortMessage, int]] = deque()  # for the next bind
        self._host = host
        self._listener = socket.create_server((host, port))
        self._port = self._listener.getsockname()[1]
        self._running = False

    @property
    def port(self) -> int:
        return self._port

    def start(self) -> SimSmsc:
        self._running = True
        threading.Thread(target=self._accept, args=(self._listener,), name="sim-smsc",
                         daemon=True).start()
        return self

    def stop(self) -> None:
        self._running = False
        self._close_listener()
        self.drop()

    def go_away(self) -> None:
        """The SMSC is gone (maintenance, a network cut): every link dropped, connections
        refused until `come_back`. What it holds for phones and ESMEs is kept."""
        self._close_listener()
        self.drop()

    def come_back(self) -> None:
        """Listen again on the same port."""
        self._listener = socket.create_server((self._host, self._port))
        threading.Thread(target=self._accept, args=(self._listener,), name="sim-smsc",
                         daemon=True).start()

    def __enter__(self) -> SimSmsc:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- what tests and the control API call -------------------------------------------------

    def inject(self, sender: str, text: str, to: str = "377", **options: object) -> list[int]:
        """Push a phone's message (see `mo_messages` for options); the deliver_sm sequences."""
        reference = next(self._references) % 65536
        messages = mo_messages(sender, to, text, reference=reference, **options)  # type: ignore[arg-type]
        connection = self._receiver()
        return [connection.deliver(message) for message in messages]

    def receipt(
        self,
        message_id: str,
        state: str = "DELIVRD",
        to: str = "377",
        recipient: str = "79161234567",
        **options: object,
    ) -> int:
        """Push a delivery receipt for `message_id` (see `receipt_message` for options)."""
        message = receipt_message(message_id, state, to, recipient, **options)  # type: ignore[arg-type]
        return self._receiver().deliver(message)

    def drop(self) -> None:
        """Close every ESME connection without a word."""
        for connection in self._snapshot():
            with contextlib.suppress(OSError):
                connection.sock.shutdown(socket.SHUT_RDWR)

    def unbind(self) -> None:
        for connection in self._snapshot():
            connection.request(Command.UNBIND)

    def send_raw(self, data: bytes) -> None:
        for connection in self._snapshot():
            connection.send(data)

    def wait(self, condition: Callable[[], bool], timeout: float = 10.0) -> None:
        """Block until `condition` (over this object's records) holds; AssertionError if never."""
        with self._changed:
            if not self._changed.wait_for(condition, timeout):
                raise AssertionError("simulated SMSC never saw what the test waited for")

    def bound_count(self) -> int:
        return sum(1 for connection in self._snapshot() if connection.bind)

    # -- connection side ---------------------------------------------------------------------

    def handle(self, connection: _Connection, frame: pdu.Pdu) -> bytes:
        """The answer to one PDU (b"" when none is due)."""
        if self.faults.silent:
            return b""
        if frame.command_id in _BINDS:
            return self._bind(connection, frame)
        if frame.command_id == Command.SUBMIT_SM:
            return self._submit(connection, frame)
        if frame.command_id == Command.DELIVER_SM_RESP:
            if self.faults.drop_on_answer:
                self.faults.drop_on_answer -= 1
                raise _Dropped
            self._delivery_answered(connection, frame)
            return b""
        if frame.command_id == Command.ENQUIRE_LINK:
            return pdu.encode(Command.ENQUIRE_LINK_RESP, frame.sequence)
        if frame.command_id == Command.UNBIND:
            connection.bind = None
            return pdu.encode(Command.UNBIND_RESP, frame.sequence)
        if frame.is_response:
            return b""
        return pdu.encode(Command.GENERIC_NACK, frame.sequence, Status.INVALID_COMMAND_ID)

    def forget(self, connection: _Connection) -> None:
        """The connection ended: what it left unanswered is delivered again."""
        connection.ended = True
        with self._changed:
            if connection in self._connections:
                self._connections.remove(connection)
            self._changed.notify_all()
        self.take_back(connection, list(connection.waiting))

    def take_back(self, connection: _Connection, sequences: list[int]) -> None:
        """deliver_sm left unanswered on a connection that ended go round again."""
        for sequence in sequences:
            entry = connection.waiting.pop(sequence, None)  # atomic: one thread gets it
            if entry is not None:
                self.unanswered(*entry)

    def unanswered(self, message: pdu.ShortMessage, attempt: int) -> None:
        """Deliver again now to a bound receiver, else right after the next bind."""
        with self._changed:
            receivers = [c for c in self._connections
                         if c.bind in ("transceiver", "receiver") and not c.ended]
            if not receivers:
                self._parked.append((message, attempt))
                return
        receivers[next(self._turns) % len(receivers)].deliver(message, attempt)

    def bound(self, connection: _Connection) -> None:
        """An ESME has just bound (its bind_resp is written): parked messages follow it."""
        if connection.bind not in ("transceiver", "receiver"):
            return
        with self._changed:
            parked, self._parked = list(self._parked), deque()
        for message, attempt in parked:
            connection.deliver(message, attempt)

    def _close_listener(self) -> None:
        """Shut down first: a bare close leaves a thread blocked in accept() accepting one
        more connection."""
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)
        self._listener.close()

    def _accept(self, listener: socket.socket) -> None:
        while self._running:
            try:
                sock, _ = listener.accept()
            except OSError:
                return
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            connection = _Connection(self, sock)
            with self._changed:
                self._connections.append(connection)
            threading.Thread(target=connection.serve, name="sim-smsc-conn", daemon=True).start()

    def _bind(self, connection: _Connection, frame: pdu.Pdu) -> bytes:
        system_id, password = (part.decode("latin-1") for part in frame.body.split(b"\0")[:2])
        answer = frame.command_id | 0x80000000
        if self.credentials and (system_id, password) != self.credentials:
            return pdu.encode(answer, frame.sequence, 0x0E)
        with self._changed:
            connection.bind = _BINDS[frame.command_id]
            connection.fresh_bind = True
            self.binds.append(connection.bind)
            self._changed.notify_all()
        return pdu.encode(answer, frame.sequence, 0, b"SIMSMSC\0")

    def _submit(self, connection: _Connection, frame: pdu.Pdu) -> bytes:
        answer = Command.SUBMIT_SM_RESP
        if connection.bind not in ("transceiver", "transmitter"):
            return pdu.encode(answer, frame.sequence, Status.INVALID_BIND_STATUS)
        if self.faults.throttle:
            self.faults.throttle -= 1
            return pdu.encode(answer, frame.sequence, Status.THROTTLED)
        if self.faults.nack:
            self.faults.nack -= 1
            return pdu.encode(Command.GENERIC_NACK, frame.sequence, self.faults.nack_status)
        number = next(self._ids)
        message_id = f"{number:X}" if self.id_format == "hex" else str(number)
        try:
            record = read_submit(pdu.decode_short_message("submit_sm", frame), message_id)
        except (ValueError, LookupError) as exc:
            log.warning("sim smsc: unreadable submit_sm: %s", exc)
            return pdu.encode(answer, frame.sequence, Status.INVALID_MESSAGE_LENGTH)
        with self._changed:
            self.submits.append(record)
            self._changed.notify_all()
        if self.auto_receipts and record.registered_delivery:
            threading.Timer(
                0.01, self.receipt, (message_id,), {"to": record.source, "recipient": record.to}
            ).start()
        return pdu.encode(answer, frame.sequence, 0, message_id.encode("ascii") + b"\0")

    def _delivery_answered(self, connection: _Connection, frame: pdu.Pdu) -> None:
        message, attempt = connection.waiting.pop(frame.sequence, (None, 0))
        with self._changed:
            self.deliver_answers.append((frame.sequence, frame.status))
            self._changed.notify_all()
        if (
            message is not None
            and frame.status == Status.TEMPORARY_APP_ERROR
            and attempt < _REDELIVERY_ATTEMPTS
        ):
            threading.Timer(
                self.redeliver_delay, connection.deliver, (message, attempt + 1)
            ).start()

    def _receiver(self) -> _Connection:
        """Bound receivers take turns, as an SMSC spreads traffic over an ESME's binds."""
        receivers = [c for c in self._snapshot() if c.bind in ("transceiver", "receiver")]
        if not receivers:
            raise SimError("no ESME is bound to receive")
        return receivers[next(self._turns) % len(receivers)]

    def _snapshot(self) -> list[_Connection]:
        with self._changed:
            return list(self._connections)
