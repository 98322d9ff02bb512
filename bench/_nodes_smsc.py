"""The flooding SMSC of `bench/_flood_smsc.py`, taking several binds: one per gateway node.

    python bench/_nodes_smsc.py PLAN.json BINDS

The same plan, events and result as `bench/_flood_smsc.py` (which serves exactly one
connection). Here the SMSC waits for BINDS connections to bind, announces {"event": "bound"},
and on `go` splits the flood over them the way an SMSC spreads an ESME's traffic over its
binds: request i goes to bind i mod BINDS, each bind's share written by a thread of its own.
A reply is counted on whichever bind it arrives (a node may answer what another stored).
The result adds {"per_bind": [requests delivered, replies received], ...}.
"""

from __future__ import annotations

import json
import socket
import struct
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._flood_smsc import _BINDS, FloodSmsc, frames
from sms_gateway.smpp.constants import Command


class Bind:
    """One ESME connection: its socket, its write lock, what it was given and answered."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.lock = threading.Lock()
        self.delivered = 0
        self.replies = 0


class NodesFloodSmsc(FloodSmsc):
    """`FloodSmsc` over several connections (see the module doc)."""

    def __init__(self, plan: dict, binds: int) -> None:
        super().__init__(plan)
        self.expected = binds
        self.binds: list[Bind] = []
        self.bound_count = 0
        self.count_lock = threading.Lock()
        self.all_bound = threading.Event()

    # -- writing ---------------------------------------------------------------------------

    def write_flood(self) -> None:
        chunk = self.plan.get("chunk", 64)
        self.started = time.perf_counter()
        writers = [
            threading.Thread(target=self._write_share, args=(number, bind, chunk))
            for number, bind in enumerate(self.binds)
        ]
        for writer in writers:
            writer.start()
        for writer in writers:
            writer.join()
        self.flood_written = time.perf_counter()

    def _write_share(self, number: int, bind: Bind, chunk: int) -> None:
        share = list(range(number, len(self.flood), len(self.binds)))
        for start in range(0, len(share), chunk):
            indexes = share[start : start + chunk]
            with bind.lock:
                bind.sock.sendall(b"".join(self.flood[i] for i in indexes))
                now = time.perf_counter()
            for index in indexes:
                self.sent_at[index] = now
            bind.delivered += len(indexes)

    def _redeliver(self, data: bytes) -> None:
        sequence = self._next_sequence()
        data = data[:12] + struct.pack(">I", sequence) + data[16:]
        self.waiting[sequence] = data
        bind = self.binds[sequence % len(self.binds)]
        with bind.lock:
            bind.sock.sendall(data)

    # -- reading ---------------------------------------------------------------------------

    def serve_bind(self, bind: Bind) -> None:
        buffer = bytearray()
        while True:
            data = bind.sock.recv(256 * 1024)
            if not data:
                return
            now = time.perf_counter()
            buffer += data
            answers = []
            for command, status, sequence, body in frames(buffer):
                answers.append(self._handle(command, status, sequence, body, now))
                bind.replies += command == Command.SUBMIT_SM
                if command in _BINDS:
                    with self.count_lock:
                        self.bound_count += 1
            if answers:
                with bind.lock:
                    bind.sock.sendall(b"".join(answers))
            if self.bound_count >= self.expected and not self.all_bound.is_set():
                self.all_bound.set()
                print(json.dumps({"event": "bound"}), flush=True)
            if self._complete():
                self.done.set()

    # -- the run ---------------------------------------------------------------------------

    def run(self) -> None:
        print(
            json.dumps({"event": "listening", "port": self.listener.getsockname()[1]}), flush=True
        )
        while len(self.binds) < self.expected:
            sock, _ = self.listener.accept()
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            bind = Bind(sock)
            self.binds.append(bind)
            threading.Thread(target=self.serve_bind, args=(bind,), daemon=True).start()
        if sys.stdin.readline().strip() != "go":
            return
        self.write_flood()
        complete = self.done.wait(self.plan.get("timeout", 600))
        result = self.result(complete) | {
            "per_bind": [[b.delivered, b.replies] for b in self.binds]
        }
        print(json.dumps({"event": "result", **result}), flush=True)
        sys.stdin.readline()


def main() -> None:
    plan = json.loads(Path(sys.argv[1]).read_text(encoding="utf-8"))
    NodesFloodSmsc(plan, int(sys.argv[2])).run()


if __name__ == "__main__":
    main()
