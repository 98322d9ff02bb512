"""The thin thread that owns a serial port and drives an `ATChannel` with its bytes.

All protocol decisions live in the channel; this module only moves bytes, waits for final
results with a deadline and hands notifications to a callback, so the driver can treat a
vanished port or a silent modem as exceptions.
"""

from __future__ import annotations

import logging
import queue
import termios
import threading
import time
from collections.abc import Callable

import serial

from sms_gateway.modem.at_channel import ATChannel
from sms_gateway.modem.at_events import (
    NEED_DATA,
    Error,
    Event,
    InfoLine,
    Ok,
    Prompt,
    StrayLine,
    Unsolicited,
)
from sms_gateway.modem.errors import CommandFailed, CommandTimeout, PortLost

log = logging.getLogger(__name__)

Opener = Callable[[str, int], serial.SerialBase]
_LOST = object()  # put in the answer queue when the reader thread lost the port


def open_serial(url: str, baudrate: int) -> serial.SerialBase:
    """Open a device path or a pyserial URL (`loop://`, `socket://`) with a short read timeout."""
    return serial.serial_for_url(url, baudrate=baudrate, timeout=0.2, write_timeout=5)


class ATPort:
    """One open serial port, one reader thread, one command at a time."""

    def __init__(
        self,
        url: str,
        baudrate: int,
        on_unsolicited: Callable[[Unsolicited | None], None],
        opener: Opener = open_serial,
    ) -> None:
        self._on_unsolicited = on_unsolicited
        self._channel = ATChannel()
        self._channel_lock = threading.Lock()
        self._command_lock = threading.Lock()
        self._answers: queue.Queue[Event | object] = queue.Queue()
        self._closing = threading.Event()
        self._lost = threading.Event()
        try:
            self._serial = opener(url, baudrate)
        except (serial.SerialException, OSError, ValueError) as exc:
            raise PortLost(f"cannot open {url}: {exc}") from exc
        self._reader = threading.Thread(target=self._read_loop, name=f"at-port {url}", daemon=True)
        self._reader.start()

    @property
    def lost(self) -> bool:
        return self._lost.is_set()

    def close(self) -> None:
        self._closing.set()
        try:
            self._serial.close()
        except (serial.SerialException, OSError):
            log.debug("closing an already broken port", exc_info=True)
        if self._reader is not threading.current_thread():
            self._reader.join(timeout=2)

    def command(self, command: str, timeout: float) -> list[str]:
        """Run one command; its information lines, or CommandFailed / CommandTimeout / PortLost."""
        return self._run(command, None, timeout, timeout)

    def submit(self, command: str, body: str, prompt_timeout: float, timeout: float) -> list[str]:
        """Run a command that prompts with `> `, answer the prompt with `body` + Ctrl-Z."""
        return self._run(command, body, prompt_timeout, timeout)

    def write_raw(self, data: bytes) -> None:
        """Bytes outside any command (Esc to cancel a half-typed command after a reopen)."""
        self._write(data)

    def discard_input(self) -> None:
        """Drop everything received so far: after a reopen or a timeout, old bytes are noise."""
        with self._channel_lock:
            self._channel.reset()
            try:
                self._serial.reset_input_buffer()
            except (serial.SerialException, OSError) as exc:
                raise PortLost(f"cannot flush: {exc}") from exc
        self._drain_answers()

    def _run(self, command: str, body: str | None, first_wait: float, timeout: float) -> list[str]:
        with self._command_lock:
            self._drain_answers()
            with self._channel_lock:
                data = self._channel.send_command(command, expect_prompt=body is not None)
            self._write(data)
            deadline = time.monotonic() + first_wait
            lines: list[str] = []
            while True:
                event = self._wait(deadline, command)
                if isinstance(event, InfoLine):
                    lines.append(event.text)
                elif isinstance(event, Prompt) and body is not None:
                    with self._channel_lock:
                        data = self._channel.send_body(body)
                    self._write(data)
                    deadline = time.monotonic() + timeout
                elif isinstance(event, Ok):
                    return lines
                elif isinstance(event, Error):
                    raise CommandFailed(command, event)

    def _wait(self, deadline: float, command: str) -> Event:
        try:
            event = self._answers.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            with self._channel_lock:
                self._channel.reset()
            raise CommandTimeout(f"{command}: no answer in time") from None
        if event is _LOST:
            raise PortLost(f"{command}: port lost")
        return event  # type: ignore[return-value]

    def _drain_answers(self) -> None:
        while True:
            try:
                event = self._answers.get_nowait()
            except queue.Empty:
                return
            if event is _LOST:
                raise PortLost("port lost")

    def _write(self, data: bytes) -> None:
        if self._lost.is_set():
            raise PortLost("port lost")
        try:
            self._serial.write(data)
            self._serial.flush()
        except (serial.SerialException, OSError, termios.error) as exc:
            # termios.error (not an OSError): tcdrain on a device that has just gone away
            self._mark_lost()
            raise PortLost(f"write failed: {exc}") from exc

    def _read_loop(self) -> None:
        while not self._closing.is_set():
            try:
                data = self._serial.read(max(1, self._serial.in_waiting))
            except (serial.SerialException, OSError, TypeError, AttributeError) as exc:
                if not self._closing.is_set():
                    log.warning("serial port lost: %s", exc)
                    self._mark_lost()
                return
            if data:
                self._dispatch(data)

    def _dispatch(self, data: bytes) -> None:
        with self._channel_lock:
            self._channel.receive_data(data)
            events = []
            while (event := self._channel.next_event()) is not NEED_DATA:
                events.append(event)
        for event in events:
            if isinstance(event, Unsolicited):
                self._on_unsolicited(event)
            elif isinstance(event, StrayLine):
                log.debug("stray line from modem: %r", event.text)
            else:
                self._answers.put(event)

    def _mark_lost(self) -> None:
        self._lost.set()
        self._answers.put(_LOST)
        self._on_unsolicited(None)  # wakes the driver, which then finds the port lost
