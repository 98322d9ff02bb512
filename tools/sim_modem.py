"""A simulated GSM modem on a real pseudo-terminal, for running the gateway without hardware.

    python tools/sim_modem.py --link /tmp/modem0 --control 127.0.0.1:8771

creates a pty, a symlink to it at --link (use it as the modem's `port`, or as gammu's
`device`) and an HTTP control API (see tools/simmodem/control.py).  Tests use the class:

    with SimModem(link=tmp_path / "modem") as sim:
        sim.inject("+79270000001", "ВЫХОД магазин")
        ... sim.sent() ...
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import random
import signal
import sys
import threading
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `tools` and `sms_gateway` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tools.simmodem import commands_basic, commands_sms
from tools.simmodem.control import ControlServer
from tools.simmodem.engine import Engine
from tools.simmodem.inbox import Injected, inject, receive
from tools.simmodem.pty_port import PtyPort
from tools.simmodem.state import Faults, ModemState

log = logging.getLogger("sim_modem")


class SimModem:
    """One simulated modem: SIM storage, AT engine, pty port, fault switches."""

    def __init__(
        self,
        link: str | os.PathLike[str] | None = None,
        *,
        capacity: int = 30,
        pin: str | None = None,
        send_delay: float = 0.0,
        seed: int | None = None,
    ) -> None:
        self.state = ModemState(capacity=capacity, pin=pin)
        self.state.faults.send_delay = send_delay
        handlers = {**commands_basic.HANDLERS, **commands_sms.HANDLERS}
        self.engine = Engine(self.state, handlers, write=self._write)
        self.state.notify = self.engine.notify
        self.port = PtyPort(self.engine.feed, link, on_reopen=self.engine.reset_input)
        self._rng = random.Random(seed)
        self._control: ControlServer | None = None

    # -- life cycle ----------------------------------------------------------------------

    def start(self) -> SimModem:
        self.port.open()
        return self

    def stop(self) -> None:
        if self._control is not None:
            self._control.stop()
        if self.port.is_open:
            self.port.close()

    def __enter__(self) -> SimModem:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def device(self) -> str:
        return self.port.device

    def serve_control(self, host: str = "127.0.0.1", port: int = 0) -> tuple[str, int]:
        """Start the HTTP control API; returns the address it listens on."""
        self._control = ControlServer(self, host, port)
        self._control.start()
        return self._control.address

    # -- the network side ----------------------------------------------------------------

    def inject(self, sender: str, text: str, shuffle: bool = False) -> Injected:
        """An SMS from `sender` arrives: stored on the SIM (in parts, maybe out of order)."""
        return inject(self.state, sender, text, shuffle=shuffle, rng=self._rng)

    def inject_pdu(self, hex_pdu: str) -> int | None:
        """A PDU arrives exactly as given, garbage too: its SIM index (None: SIM full)."""
        return receive(self.state, hex_pdu)

    def sent(self) -> list[dict[str, object]]:
        """One entry per submitted SMS part: {"to", "text", "concat", "reference"}."""
        with self.state.lock:
            return [dict(entry) for entry in self.state.sent]

    def clear_sent(self) -> None:
        with self.state.lock:
            self.state.sent.clear()

    def sim_messages(self) -> list[dict[str, object]]:
        return self.state.storage("SM").snapshot()

    def status(self) -> dict[str, object]:
        sim = self.state.storage("SM")
        return {
            "device": self.device,
            "port_open": self.port.is_open,
            "sim": {"used": sim.used, "capacity": sim.capacity, "messages": sim.snapshot()},
            "rejected": self.state.rejected,
            "sent": len(self.state.sent),
            "registers": dataclasses.asdict(self.state.registers),
            "faults": self.faults_dict(),
        }

    # -- faults --------------------------------------------------------------------------

    @property
    def faults(self) -> Faults:
        return self.state.faults

    def faults_dict(self) -> dict[str, object]:
        values = dataclasses.asdict(self.state.faults)
        values["silent"] = self.state.faults.silent()
        del values["silent_until"]
        return values

    def set_faults(self, **changes: object) -> dict[str, object]:
        """Set fault switches by name (send_error, sim_busy, prompt_delay, send_delay, ...)."""
        known = {f.name for f in dataclasses.fields(Faults)} - {"silent_until"}
        unknown = set(changes) - known
        if unknown:
            raise ValueError(f"unknown faults: {sorted(unknown)}")
        for name, value in changes.items():
            setattr(self.state.faults, name, value)
        return self.faults_dict()

    def vanish(self, seconds: float) -> None:
        """The port disappears (symlink removed, pty closed) and returns after `seconds`."""
        self.port.vanish(seconds)

    def silence(self, seconds: float) -> None:
        """The modem stops answering (input ignored) for `seconds`."""
        self.state.faults.silent_until = time.monotonic() + seconds

    def set_network(self, rssi: int | None = None, registration: int | None = None) -> None:
        if rssi is not None:
            self.state.rssi = int(rssi)
        if registration is not None:
            self.state.registration = int(registration)

    def _write(self, data: bytes) -> None:
        self.port.write(data)


def _address(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    return host or "127.0.0.1", int(port)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--link", required=True, help="symlink to create for the pty")
    parser.add_argument("--control", default="127.0.0.1:8771", help="HOST:PORT of the API")
    parser.add_argument("--capacity", type=int, default=30, help="SIM slots")
    parser.add_argument("--send-delay", type=float, default=3.0, help="seconds per send")
    parser.add_argument("--pin", help="SIM PIN the gateway must enter")
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO)
    sim = SimModem(args.link, capacity=args.capacity, pin=args.pin, send_delay=args.send_delay)
    sim.start()
    host, port = sim.serve_control(*_address(args.control))
    log.info("control API on http://%s:%d", host, port)
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    stop.wait()
    sim.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
