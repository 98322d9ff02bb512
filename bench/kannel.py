"""Kannel as an echo service on the bench's flooding SMSC: the yardstick of a C SMS gateway.

    bench/setup_kannel.sh                         # once: Debian's kannel (bearerbox, smsbox)
    python bench/kannel.py PLAN.json [--window 50]   # one flood alone, for trying it out

`bench/smpp_flood.py` runs it right after the gateway's flood, on the same plan and the same
SMSC program, and prints both. Kannel 1.4.5 as a deployment would run it for an echo: a
bearerbox with one SMPP transceiver (`max-pending-submits` = the gateway's submit window)
and one smsbox whose only service answers every message "OK"; no message store, no database,
nothing committed before a deliver_sm is acknowledged. What the gateway achieves over this
rate is the price of Python and of the durable work Kannel does not do. CPU seconds are
bearerbox's and smsbox's together, for the flood alone.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._processes import FloodSmsc, own_cpu

BEARERBOX, SMSBOX = Path("/usr/sbin/bearerbox"), Path("/usr/sbin/smsbox")
SETUP = "bench/setup_kannel.sh"

CONFIG = """\
group = core
admin-port = {admin}
admin-password = bench
admin-allow-ip = "127.0.0.1"
smsbox-port = {smsbox}
box-allow-ip = "127.0.0.1"
log-level = 4
log-file = "{folder}/bearerbox.log"

group = smsc
smsc = smpp
smsc-id = flood
host = 127.0.0.1
port = {port}
transceiver-mode = true
smsc-username = kannel
smsc-password = kannel
system-type = ""
max-pending-submits = {window}

group = smsbox
bearerbox-host = 127.0.0.1
bearerbox-port = {smsbox}
log-level = 4
log-file = "{folder}/smsbox.log"

group = sms-service
keyword = default
text = "OK"
"""


def installed() -> bool:
    return BEARERBOX.exists() and SMSBOX.exists()


class Kannel:
    """A bearerbox and an smsbox in a temporary folder, bound to the SMSC on `port`."""

    def __init__(self, port: int, window: int) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="kannel-bench-"))
        self.admin = _free_port()
        self.config = self.folder / "kannel.conf"
        self.config.write_text(CONFIG.format(
            admin=self.admin, smsbox=_free_port(), folder=self.folder, port=port, window=window))
        self.processes: list[subprocess.Popen] = []

    def start(self, timeout: float = 30.0) -> Kannel:
        """Both boxes running, the smsbox connected to the bearerbox."""
        for binary in (BEARERBOX, SMSBOX):
            self.processes.append(subprocess.Popen(
                [str(binary), str(self.config)], stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL, cwd=self.folder))
            if binary == BEARERBOX:
                self._wait_for("Status: running", timeout)
        self._wait_for("smsbox:", timeout)
        return self

    @property
    def pids(self) -> list[int]:
        return [process.pid for process in self.processes]

    def status(self) -> str:
        url = f"http://127.0.0.1:{self.admin}/status.txt?password=bench"
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:
                return answer.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def _wait_for(self, text: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.status():
            if time.monotonic() > deadline or any(p.poll() is not None for p in self.processes):
                log = "\n".join(p.read_text()[-2000:] for p in self.folder.glob("*.log"))
                raise RuntimeError(f"Kannel did not start ({text!r} never seen):\n{log}")
            time.sleep(0.05)

    def stop(self) -> None:
        for process in reversed(self.processes):
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)
        shutil.rmtree(self.folder, ignore_errors=True)


def run(plan: Path, window: int) -> dict:
    """One flood of `plan` against Kannel's echo; the SMSC's figures plus Kannel's CPU."""
    smsc = FloodSmsc(plan)
    kannel = Kannel(smsc.port, window)
    try:
        kannel.start()
        smsc.expect("bound")
        return smsc.go({"kannel": own_cpu(*kannel.pids)})
    finally:
        smsc.close()
        kannel.stop()


def _free_port() -> int:
    """A free port below the ephemeral range: Kannel binds its own ports after it has
    connected to the SMSC, whose client socket may already hold a port the kernel picked."""
    low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    for port in random.sample(range(10_000, low), 200):
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port for Kannel")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("plan", type=Path, help="a plan written by bench/smpp_flood.py")
    parser.add_argument("--window", type=int, default=50, help="max-pending-submits")
    args = parser.parse_args(argv)
    if not installed():
        raise SystemExit(f"Kannel is not installed: run {SETUP}")
    result = run(args.plan, args.window)
    print(json.dumps({k: v for k, v in result.items() if k != "check_sample"}, indent=1))
    return 0 if result["complete"] else 1


if __name__ == "__main__":
    sys.exit(main())
