"""The floods' shared plumbing: the flooding SMSC in a subprocess, and CPU read from /proc.

CPU seconds are utime + stime of whole processes (every thread), read before and after a
flood, so each party's cost per request (the gateway, Kannel, PostgreSQL, the SMSC) comes
from the same clock as the machine's own.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

SMSC = Path(__file__).with_name("_flood_smsc.py")
TICKS = os.sysconf("SC_CLK_TCK")

Meter = Callable[[], dict[int, float]]  # CPU seconds by process id, now


class FloodSmsc:
    """bench/_flood_smsc.py (or a script like it) in a subprocess, driven by JSON lines."""

    def __init__(self, plan: Path, *extra: str, script: Path = SMSC) -> None:
        self.process = subprocess.Popen(
            [sys.executable, str(script), str(plan), *extra],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            encoding="utf-8",
        )
        self.port = self.expect("listening")["port"]

    def expect(self, event: str) -> dict:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            message = json.loads(line)
            if message["event"] == event:
                return message
        raise RuntimeError(f"flood SMSC ended before {event!r}")

    def start(self) -> None:
        """Flood now."""
        assert self.process.stdin is not None
        self.process.stdin.write("go\n")
        self.process.stdin.flush()

    def go(self, meters: Mapping[str, Meter] | None = None) -> dict:
        """Flood now; the result once every request was answered, with the CPU seconds the
        flood cost the SMSC ("smsc_cpu") and each party `meters` reads ("cpu": {name: s})."""
        meters = {"smsc": lambda: tree_cpu(self.process.pid), **(meters or {})}
        before = {name: meter() for name, meter in meters.items()}
        self.start()
        result = self.expect("result")
        cpu = {name: spent(before[name], meter()) for name, meter in meters.items()}
        return result | {"smsc_cpu": cpu.pop("smsc"), "cpu": cpu}

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:  # never connected to, so never told to end
            self.process.kill()
            self.process.wait(10)


def cpu_seconds(pid: int) -> float:
    """utime + stime of one process, 0 when it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICKS


def own_cpu(*pids: int) -> Meter:
    """A meter of these processes alone (the bench's own process, not the SMSC it started)."""
    return lambda: {pid: cpu_seconds(pid) for pid in pids}


def tree_cpu(pid: int) -> dict[int, float]:
    """CPU seconds of a process and of each of its children (PostgreSQL's backends)."""
    return {p: cpu_seconds(p) for p in (pid, *children_of(pid))}


def spent(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU seconds between two `tree_cpu` readings (children born since count whole)."""
    return sum(seconds - before.get(p, 0.0) for p, seconds in after.items())


def children_of(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


def machine_busy() -> tuple[float, float]:
    """(busy, total) jiffies of all cores since boot, from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


def peak_rss_mib(pid: int | str = "self") -> float:
    """VmHWM of a process: the most memory it held at once."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def reset_peak_rss() -> None:
    """Start this process's VmHWM afresh (Linux: clear_refs 5), so a peak is one flood's."""
    Path("/proc/self/clear_refs").write_text("5")
