"""One modem's life in one thread: open, configure, drain the SIM, react, send, recover.

Everything touching the port happens in this thread, so notifications, sweeps, health polls
and sends never interleave their commands.  An SMS leaves the SIM only after the sink
committed it; a lost port or a silent modem ends the session and the port is reopened with
exponential backoff.  Notifications that queued up together (say during a 3-second send)
are handled together, so their SMS are committed in one transaction; sends found queued
behind them wait their turn in `_held`.

Longer than our usual 300 lines because its one job is one thread's loop and the order of
its steps is the point: split, the sequence (configure, sweep, notice, send, poll, recover)
would have to be read across files to see that no two commands interleave.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import queue
import random
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass

from permits.phones import mask
from sms_encoding.errors import CodecError
from sms_gateway.modem import pdu
from sms_gateway.modem.at_events import Unsolicited
from sms_gateway.modem.at_port import ATPort, Opener, open_serial
from sms_gateway.modem.commands import ModemCommands, PinError
from sms_gateway.modem.errors import CommandFailed, ModemError, PortLost
from sms_gateway.modem.receipts import ReceiptBook
from sms_gateway.modem.receiving import Receiver
from sms_gateway.modem.settings import ModemSettings
from sms_gateway.modem.snapshot import LinkState, ModemStatus
from sms_gateway.transport import (
    DeliveryReceipt,
    InboundSink,
    OutboundMessage,
    SendResult,
    StoreError,
)

log = logging.getLogger(__name__)

# How long to linger for further notifications after one arrived: parts of one long SMS and
# a burst's +CMTI come microseconds to a millisecond apart ("within a millisecond or two").
GATHER_SECONDS = 0.002

# +CMS ERROR codes that condemn the message itself, not the modem: another modem would fail
# the same way.  1 unassigned number, 96 invalid mandatory information, 304/305 bad PDU/text.
PERMANENT_CMS = frozenset({1, 96, 304, 305})


@dataclass(frozen=True)
class SendJob:
    message: OutboundMessage
    future: Future[SendResult]


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class ModemDriver:
    """Owns one modem; `send` hands it work, `status` says how it is."""

    def __init__(
        self,
        settings: ModemSettings,
        channel: str,
        sink: InboundSink,
        on_change: Callable[[ModemStatus], None] = lambda status: None,
        opener: Opener = open_serial,
    ) -> None:
        self.settings = settings
        self.name = settings.name
        self.receipts = ReceiptBook(settings.name)
        self._channel, self._sink = channel, sink
        self._receiver = Receiver(channel, settings.name, sink, self._count_received, self.receipts)
        self._on_change = on_change
        self._opener = opener
        self._queue: queue.Queue[SendJob | Unsolicited | None] = queue.Queue()
        self._held: deque[SendJob] = deque()  # sends drained with notifications, still to do
        self._stop = threading.Event()
        self._status = ModemStatus(settings.name)
        self._status_lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name=f"modem {self.name}", daemon=True)
        self._concat_reference = random.randrange(256)
        self._failures = 0
        self._pin_refused = False
        self._reached_up = False

    # -- the outside -----------------------------------------------------------------------

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._queue.put(None)
        self._thread.join(timeout=self.settings.command_timeout + 2)
        self._fail_queued("modem stopped")

    @property
    def status(self) -> ModemStatus:
        with self._status_lock:
            return self._status

    def healthy(self) -> bool:
        return not self._stop.is_set() and self.status.healthy(utcnow())

    def send(self, message: OutboundMessage) -> Future[SendResult]:
        """Queue one message; the future holds its result (deferred when the modem is down)."""
        future: Future[SendResult] = Future()
        if not self.healthy():
            future.set_result(SendResult(message.id, ok=False, error=f"modem {self.name} is down",
                                         deferred=True))
        else:
            self._queue.put(SendJob(message, future))
        return future

    # -- the thread ------------------------------------------------------------------------

    def _run(self) -> None:
        delay = self.settings.reconnect_min_seconds
        while not self._stop.is_set():
            port = None
            try:
                port = ATPort(
                    self.settings.port, self.settings.baudrate, self._queue.put, self._opener
                )
                self._session(ModemCommands(port, self.settings))
            except PinError as exc:
                self._pin_refused = True
                delay = self.settings.reconnect_max_seconds
                log.error("modem %s: %s; it needs a person (the right [[modems]] pin, then a "
                          "restart); asking the SIM again in %.0f s, without a PIN",
                          self.name, exc, delay)
                self._update(state=LinkState.FAILED, error=str(exc))
            except ModemError as exc:
                log.warning("modem %s: %s; reopening in %.1f s", self.name, exc, delay)
                self._update(state=LinkState.DOWN, error=str(exc))
            except Exception as exc:  # a bug must not end the modem's thread
                log.exception("modem %s: unexpected failure", self.name)
                self._update(state=LinkState.DOWN, error=repr(exc))
            finally:
                if port is not None:
                    port.close()
                self._fail_queued(f"modem {self.name} went down")
            if self._reached_up:  # it worked until it broke: try again soon
                delay = self.settings.reconnect_min_seconds
                self._reached_up = False  # and back off if the port stays away
            self._stop.wait(delay)
            delay = min(delay * 2, self.settings.reconnect_max_seconds)
        self._update(state=LinkState.STOPPED)

    def _session(self, commands: ModemCommands) -> None:
        self._reached_up = False
        commands.handshake()
        identity = commands.identify()
        used, total = commands.configure(None if self._pin_refused else self.settings.pin)
        self._update(
            state=LinkState.UP,
            model=f"{identity.manufacturer} {identity.model}".strip(),
            sim_used=used,
            sim_total=total,
            error=None,
            last_seen=utcnow(),
        )
        self._reached_up = True
        log.info("modem %s up: %s, SIM %d/%d", self.name, identity.model, used, total)
        self._poll(commands)
        next_poll = time.monotonic() + self.settings.poll_seconds
        while not self._stop.is_set():
            if commands.port.lost:
                raise ModemError("port lost")
            item = self._next(max(0.0, next_poll - time.monotonic()))
            if isinstance(item, SendJob):
                self._send(commands, item)
            elif isinstance(item, Unsolicited):
                self._receiver.notice_all(commands, self._gather(item))
            if time.monotonic() >= next_poll:
                self._poll(commands)
                next_poll = time.monotonic() + self.settings.poll_seconds

    def _next(self, timeout: float) -> SendJob | Unsolicited | None:
        if self._held:
            return self._held.popleft()
        try:
            return self._queue.get(timeout=timeout)
        except queue.Empty:
            return None

    def _gather(self, first: Unsolicited) -> list[Unsolicited]:
        """`first` and every notification queued with it; sends met on the way are held."""
        events = [first]
        deadline = time.monotonic() + GATHER_SECONDS
        while True:
            try:
                item = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                return events
            if isinstance(item, Unsolicited):
                events.append(item)
            elif isinstance(item, SendJob):
                self._held.append(item)
            # None only wakes the loop (stop, or a lost port), which checks for both anyway

    def _poll(self, commands: ModemCommands) -> None:
        """Health figures, then a sweep of the SIM (the fallback for a missed +CMTI)."""
        rssi, registration = commands.signal(), commands.registration()
        network = commands.network()
        used, total = commands.select_storage()
        self._update(
            signal_rssi=rssi,
            registration=registration,
            network=network,
            sim_used=used,
            sim_total=total,
            last_seen=utcnow(),
        )
        self._receiver.sweep(commands)

    # -- sending ---------------------------------------------------------------------------

    def _send(self, commands: ModemCommands, job: SendJob) -> None:
        if not job.future.set_running_or_notify_cancel():
            return
        message = job.message
        try:
            parts = pdu.encode_submit(
                message.to,
                message.text,
                reference=self._next_concat_reference(),
                validity_minutes=_validity_minutes(message.expires_at),
                status_report=self.settings.status_reports,
            )
        except (CodecError, ValueError) as exc:
            job.future.set_result(_failed(message, f"cannot encode: {exc}", permanent=True))
            return
        references: list[int] = []
        try:
            for part in parts:
                reference = commands.submit(part)
                if reference is None:  # sent; only its status report cannot be matched
                    log.warning("modem %s: a part of #%d was sent under an unreadable"
                                " reference", self.name, message.id)
                else:
                    references.append(reference)
        except CommandFailed as exc:
            self.receipts.observe(references)
            permanent = exc.code in PERMANENT_CMS and exc.error.kind.name == "CMS"
            job.future.set_result(_failed(message, f"{self.name}: {exc}", permanent))
            if not permanent:
                self._note_failure()
            return
        except ModemError as exc:
            self.receipts.observe(references)
            job.future.set_result(_failed(message, f"{self.name}: {exc}", permanent=False,
                                          deferred=isinstance(exc, PortLost)))
            # A vanished port is the USB bus, not this modem refusing to send: the reopened
            # session may send at once.  A modem that hangs on sends does count towards a rest.
            self._note_failure(counts_towards_rest=not isinstance(exc, PortLost))
            raise
        except Exception as exc:  # a bug: the sender waiting on this future must still hear
            self.receipts.observe(references)
            job.future.set_result(SendResult(message.id, ok=False, uncertain=True,
                                             error=f"{self.name}: {exc!r}"[:200]))
            raise
        self._failures = 0
        transport_id = self.receipts.sent(message.to, references) if references else None
        if references:
            self._deliver_overtaken(message.to, references)
        log.info(
            "modem %s sent #%d to %s in %d part(s) as %s",
            self.name,
            message.id,
            mask(message.to),
            len(parts),
            transport_id,
        )
        self._update(sent=self.status.sent + 1, last_seen=utcnow())
        job.future.set_result(SendResult(message.id, ok=True, transport_message_id=transport_id))

    def _deliver_overtaken(self, recipient: str, references: list[int]) -> None:
        """Status reports for a part can come back before the last part is submitted."""
        resolved = self.receipts.overtaken(recipient, references)
        if resolved is None:
            return
        receipt = DeliveryReceipt(self._channel, resolved.message_id, resolved.state,
                                  resolved.error)
        try:
            self._sink.receipts([receipt])
        except StoreError:
            log.warning("modem %s: a receipt that overtook its send was not stored", self.name)

    def _note_failure(self, counts_towards_rest: bool = True) -> None:
        self._update(failed=self.status.failed + 1)
        if not counts_towards_rest:
            return
        self._failures += 1
        if self._failures >= self.settings.failures_before_rest:
            self._failures = 0
            until = utcnow() + dt.timedelta(seconds=self.settings.rest_seconds)
            log.warning("modem %s failed sends; resting until %s", self.name, until.isoformat())
            self._update(rested_until=until)

    def _next_concat_reference(self) -> int:
        self._concat_reference = (self._concat_reference + 1) % 256
        return self._concat_reference

    def _fail_queued(self, reason: str) -> None:
        """Sends waiting here go back to the pool (never written: no attempt); notifications
        are re-found by the sweep."""
        while self._held:
            job = self._held.popleft()
            if job.future.set_running_or_notify_cancel():
                job.future.set_result(_failed(job.message, reason, False, deferred=True))
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return
            if isinstance(item, SendJob) and item.future.set_running_or_notify_cancel():
                item.future.set_result(_failed(item.message, reason, False, deferred=True))

    # -- status ----------------------------------------------------------------------------

    def _count_received(self, count: int) -> None:
        self._update(received=self.status.received + count, last_seen=utcnow())

    def _update(self, **changes: object) -> None:
        with self._status_lock:
            self._status = dataclasses.replace(self._status, **changes)  # type: ignore[arg-type]
            status = self._status
        self._on_change(status)


def _validity_minutes(expires_at: dt.datetime | None) -> int | None:
    if expires_at is None:
        return None
    return max(5, int((expires_at - utcnow()).total_seconds() // 60))


def _failed(message: OutboundMessage, error: str, permanent: bool,
            deferred: bool = False) -> SendResult:
    return SendResult(message.id, ok=False, error=error, permanent=permanent, deferred=deferred)
