"""The simulated modem's serial port: a real pseudo-terminal, reachable through a symlink.

Clients open the symlink exactly as they would open /dev/ttyUSB0, so pyserial and gammu
run unchanged.  The port can vanish (symlink removed, pty closed) and come back as a new
pty behind the same symlink, the way a USB modem drops off the bus and re-enumerates.
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import threading
import tty
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger(__name__)


class PtyPort:
    """Owns the pty master; hands every byte the client writes to `on_data`."""

    def __init__(
        self,
        on_data: Callable[[bytes], None],
        link: str | os.PathLike[str] | None = None,
        on_reopen: Callable[[], None] = lambda: None,
    ) -> None:
        self._on_data = on_data
        self._on_reopen = on_reopen
        self.link = Path(link) if link is not None else None
        self._master: int | None = None
        self._slave: int | None = None
        self.slave_name = ""
        self._write_lock = threading.Lock()
        self._stop = threading.Event()
        self._reader: threading.Thread | None = None

    @property
    def device(self) -> str:
        """What a client opens: the symlink when there is one, else the pty itself."""
        return str(self.link) if self.link is not None else self.slave_name

    @property
    def is_open(self) -> bool:
        return self._master is not None

    def open(self) -> None:
        master, slave = os.openpty()
        tty.setraw(slave)
        os.set_blocking(master, False)
        self._master, self._slave = master, slave  # keeping the slave open avoids EIO on read
        self.slave_name = os.ttyname(slave)
        if self.link is not None:
            temporary = self.link.with_name(self.link.name + ".new")
            with contextlib.suppress(FileNotFoundError):
                temporary.unlink()
            temporary.symlink_to(self.slave_name)
            temporary.replace(self.link)
        self._stop.clear()
        self._reader = threading.Thread(target=self._read_loop, args=(master,), daemon=True)
        self._reader.start()
        log.info("simulated modem on %s (%s)", self.device, self.slave_name)

    def close(self) -> None:
        self._stop.set()
        if self.link is not None and self.link.is_symlink():
            self.link.unlink()
        if self._reader is not None and self._reader is not threading.current_thread():
            self._reader.join(timeout=2)
        with self._write_lock:
            for fd in (self._master, self._slave):
                if fd is not None:
                    os.close(fd)
            self._master = self._slave = None

    def vanish(self, seconds: float) -> None:
        """Drop off now; come back as a new pty behind the same link after `seconds`."""
        self.close()
        timer = threading.Timer(seconds, self._come_back)
        timer.daemon = True
        timer.start()

    def _come_back(self) -> None:
        self._on_reopen()
        self.open()

    def write(self, data: bytes) -> None:
        """Write to the client; bytes nobody can take within a second are dropped."""
        with self._write_lock:
            while data and self._master is not None:
                try:
                    written = os.write(self._master, data)
                except BlockingIOError:
                    if not select.select([], [self._master], [], 1.0)[1]:
                        log.warning("client not reading; dropped %d bytes", len(data))
                        return
                    continue
                except OSError as exc:
                    log.warning("write to pty failed: %s", exc)
                    return
                data = data[written:]

    def _read_loop(self, master: int) -> None:
        while not self._stop.is_set():
            try:
                ready = select.select([master], [], [], 0.1)[0]
                data = os.read(master, 4096) if ready else b""
            except BlockingIOError:
                continue
            except (OSError, ValueError):
                return
            if data:
                try:
                    self._on_data(data)
                except Exception:  # a simulator bug must not kill the port
                    log.exception("simulated modem failed on %r", data)
