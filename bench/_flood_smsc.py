"""A flooding SMSC for `bench/smpp_flood.py`, run in its own process so it never shares a GIL
with the ESME it measures.

    python bench/_flood_smsc.py PLAN.json

PLAN.json: {"requests": [[phone, text, "gsm7"|"ucs2"], ...],
            "checks": [[officer_phone, text, encoding], ...], "check_interval": seconds,
            "chunk": PDUs per write, "window": deliver_sm awaiting their resp (0: none),
            "timeout": seconds}

stdout, one JSON object a line: {"event": "listening", "port": N}, {"event": "bound"},
then, after a line `go` on stdin, {"event": "result", ...} once every request and every check
was answered (or the timeout passed). Every deliver_sm of the flood is encoded up front and
written as fast as TCP takes it: with no deliver window (0), all at once, the harshest reading
of "at once"; with a window, as an SMSC does, at most that many wait for their
deliver_sm_resp. Officers' checks go out every `check_interval` seconds while the flood is
being answered, each interleaved between two flood writes (taking the next free place in the
window before the residents' next write), so it waits behind whatever is already on the wire.
Latency is measured here: from the write of a deliver_sm to the submit_sm that answers it.
"""

from __future__ import annotations

import json
import socket
import struct
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sms_encoding import gsm7
from sms_gateway.smpp import pdu
from sms_gateway.smpp.constants import Command, Status
from tools.simsmsc.messages import mo_messages

HEADER = struct.Struct(">IIII")
_BINDS = {Command.BIND_TRANSCEIVER, Command.BIND_TRANSMITTER, Command.BIND_RECEIVER}
PERMIT_PREFIXES = ("ПРОПУСК ", "PERMIT ")
CHECK_GRACE = 5.0  # seconds to wait for checks' answers once every resident was answered


def read_submit(body: bytes) -> tuple[str, str]:
    """(destination_addr, text) of a submit_sm body, read by hand: smpplib would cost more
    time here than the ESME under test spends on the same PDU."""
    i = body.index(b"\0") + 3  # service_type, source ton and npi
    i = body.index(b"\0", i) + 3  # source_addr, dest ton and npi
    end = body.index(b"\0", i)
    destination = body[i:end].decode("ascii")
    esm_class = body[end + 1]
    i = body.index(b"\0", end + 4) + 1  # schedule_delivery_time
    i = body.index(b"\0", i) + 1  # validity_period
    data_coding, length = body[i + 2], body[i + 4]
    data = body[i + 5 : i + 5 + length]
    if esm_class & 0x40:
        data = data[data[0] + 1 :]
    text = data.decode("utf-16-be", "replace") if data_coding == 8 else gsm7.decode(data)
    return destination, text



def frames(buffer: bytearray) -> Iterator[tuple[int, int, int, bytes]]:
    """The whole PDUs at the front of `buffer` (command, status, sequence, body); consumed
    bytes are removed from it, a partial PDU stays for the next read."""
    start = 0
    while len(buffer) - start >= 16:
        length, command, status, sequence = HEADER.unpack_from(buffer, start)
        if len(buffer) - start < length:
            break
        body = bytes(buffer[start + 16 : start + length])
        start += length
        yield command, status, sequence, body
    del buffer[:start]

class FloodSmsc:
    """One ESME connection: flood it, answer it, time it."""

    def __init__(self, plan: dict) -> None:
        self.plan = plan
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.sock: socket.socket | None = None
        self.write_lock = threading.Lock()
        self.sequence = 0
        self.sequence_lock = threading.Lock()
        self.waiting: dict[int, bytes] = {}  # deliver_sm sequence -> PDU, until its resp
        self.flood = [  # encoded before the clock starts: the flood's cost is not ours
            self._deliver(mo_messages(phone, "377", text, encoding=encoding)[0])
            for phone, text, encoding in plan["requests"]
        ]
        self.requests_to = {phone.lstrip("+"): i for i, (phone, *_) in enumerate(plan["requests"])}
        self.sent_at: list[float] = [0.0] * len(self.flood)
        self.answered_at: list[float | None] = [None] * len(self.flood)
        self.refused = 0
        self.replies = 0
        self.permit_replies = 0
        self.duplicates = 0
        self.checks_sent: dict[str, list[float]] = defaultdict(list)
        self.check_latencies: list[float] = []
        self.check_answers: list[str] = []
        self.started = 0.0
        self.last_reply = 0.0
        self.done = threading.Event()
        self.bound = threading.Event()
        self.announced = False
        self.flood_written = 0.0
        self.window = plan.get("window", 0)
        self.in_flight = 0  # deliver_sm written and not yet answered, when there is a window
        self.acknowledged = 0  # deliver_sm_resp read by `serve`, not yet given back as places
        self.places = threading.Condition()

    def _next_sequence(self) -> int:
        with self.sequence_lock:
            self.sequence += 1
            return self.sequence

    # -- writing ---------------------------------------------------------------------------

    def _deliver(self, message: pdu.ShortMessage) -> bytes:
        sequence = self._next_sequence()
        data = pdu.encode_short_message("deliver_sm", sequence, message)
        self.waiting[sequence] = data
        return data

    def write_flood(self) -> None:
        encoded = self.flood
        chunk = self.plan.get("chunk", 64)
        self.started = time.perf_counter()
        start = 0
        while start < len(encoded):
            end = start + self._take(min(chunk, len(encoded) - start))
            with self.write_lock:
                self.sock.sendall(b"".join(encoded[start:end]))
                now = time.perf_counter()
            for index in range(start, end):
                self.sent_at[index] = now
            start = end
        self.flood_written = time.perf_counter()

    def _take(self, wanted: int) -> int:
        """How many deliver_sm may be written now (up to `wanted`): waits for a free place."""
        if not self.window:
            return wanted
        with self.places:
            self.places.wait_for(lambda: self.in_flight < self.window)
            taken = min(wanted, self.window - self.in_flight)
            self.in_flight += taken
            return taken

    def _give_back(self) -> None:
        """Places of the deliver_sm answered in the last read, back to the writers."""
        if self.window and self.acknowledged:
            with self.places:
                self.in_flight -= self.acknowledged
                self.places.notify_all()
        self.acknowledged = 0

    def write_checks(self) -> None:
        checks = [
            mo_messages(phone, "377", text, encoding=enc)[0]
            for phone, text, enc in self.plan["checks"]
        ]
        if not checks:
            return
        interval = self.plan.get("check_interval", 0.05)
        turn = 0
        while not self._residents_answered():
            time.sleep(interval)
            message = checks[turn % len(checks)]
            self._take(1)
            with self.write_lock:  # see serve(): no check written once the run is complete
                if self._residents_answered():
                    return
                data = self._deliver(message)
                self.sock.sendall(data)
                self.checks_sent[message.source_addr].append(time.perf_counter())
            turn += 1

    def _residents_answered(self) -> bool:
        return self.last_reply > 0 and all(t is not None for t in self.answered_at)

    # -- reading ---------------------------------------------------------------------------

    def serve(self) -> None:
        buffer = bytearray()
        while True:
            data = self.sock.recv(256 * 1024)
            if not data:
                return
            now = time.perf_counter()
            buffer += data
            answers = [self._handle(command, status, sequence, body, now)
                       for command, status, sequence, body in frames(buffer)]
            if answers:
                with self.write_lock:
                    self.sock.sendall(b"".join(answers))
            self._give_back()
            if self.bound.is_set() and not self.announced:
                self.announced = True
                print(json.dumps({"event": "bound"}), flush=True)
            if self._residents_answered():
                with self.write_lock:  # not between a check's last look and its write
                    if self._complete():
                        self.done.set()

    def _handle(self, command: int, status: int, sequence: int, body: bytes, now: float) -> bytes:
        if command == Command.SUBMIT_SM:
            self._reply(*read_submit(body), now)
            message_id = f"{sequence:X}".encode() + b"\0"
            return pdu.encode(Command.SUBMIT_SM_RESP, sequence, 0, message_id)
        if command == Command.DELIVER_SM_RESP:
            data = self.waiting.pop(sequence, None)
            self.acknowledged += 1
            if status != Status.OK and data is not None:
                self.refused += 1  # ESME_RX_T_APPN and friends: deliver again, as SMSCs do
                threading.Timer(0.05, self._redeliver, (data,)).start()
            return b""
        if command in _BINDS:
            self.bound.set()  # announced once the answer is on the wire, before any flood
            return pdu.encode(command | 0x80000000, sequence, 0, b"FLOOD\0")
        if command == Command.ENQUIRE_LINK:
            return pdu.encode(Command.ENQUIRE_LINK_RESP, sequence)
        if command == Command.UNBIND:
            return pdu.encode(Command.UNBIND_RESP, sequence)
        return b""

    def _redeliver(self, data: bytes) -> None:
        self._take(1)
        sequence = self._next_sequence()
        data = data[:12] + struct.pack(">I", sequence) + data[16:]
        self.waiting[sequence] = data
        with self.write_lock:
            self.sock.sendall(data)

    def _reply(self, destination: str, text: str, now: float) -> None:
        self.replies += 1
        index = self.requests_to.get(destination)
        if index is not None:
            if self.answered_at[index] is not None:
                self.duplicates += 1
                return
            self.answered_at[index] = now
            self.last_reply = max(self.last_reply, now)
            self.permit_replies += text.startswith(PERMIT_PREFIXES)
            return
        sent = self.checks_sent.get(destination)
        if sent:
            self.check_latencies.append(now - sent.pop(0))
            self.check_answers.append(text)

    def _complete(self) -> bool:
        return self._residents_answered() and not any(self.checks_sent.values())

    # -- the run ---------------------------------------------------------------------------

    def run(self) -> None:
        print(
            json.dumps({"event": "listening", "port": self.listener.getsockname()[1]}), flush=True
        )
        self.sock, _ = self.listener.accept()
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        threading.Thread(target=self.serve, daemon=True).start()
        if sys.stdin.readline().strip() != "go":
            return
        threading.Thread(target=self.write_checks, daemon=True).start()
        self.write_flood()
        deadline = self.started + self.plan.get("timeout", 600)
        while not self.done.wait(0.2) and time.perf_counter() < deadline:
            if self._residents_answered() and time.perf_counter() - self.last_reply > CHECK_GRACE:
                break  # a check left unanswered is reported, not waited for until the timeout
        complete = self._residents_answered()
        print(json.dumps({"event": "result", **self.result(complete)}), flush=True)
        sys.stdin.readline()  # until the bench says it is done (or closes our stdin)

    def result(self, complete: bool) -> dict:
        latencies = sorted(
            answered - sent
            for sent, answered in zip(self.sent_at, self.answered_at, strict=True)
            if answered is not None
        )
        elapsed = (self.last_reply or time.perf_counter()) - self.started
        return {
            "complete": complete,
            "requests": len(self.flood),
            "answered": len(latencies),
            "permit_replies": self.permit_replies,
            "replies": self.replies,
            "duplicates": self.duplicates,
            "refused": self.refused,
            "elapsed": elapsed,
            "flood_written": self.flood_written - self.started,
            "rate": len(latencies) / elapsed if elapsed > 0 else 0.0,
            "p50": percentile(latencies, 0.50),
            "p99": percentile(latencies, 0.99),
            "max": latencies[-1] if latencies else None,
            "checks": len(self.check_latencies),
            "checks_unanswered": sum(len(v) for v in self.checks_sent.values()),
            "check_p50": percentile(sorted(self.check_latencies), 0.50),
            "check_p99": percentile(sorted(self.check_latencies), 0.99),
            "check_max": max(self.check_latencies, default=None),
            "check_sample": self.check_answers[:1],
        }


def percentile(ordered: list[float], share: float) -> float | None:
    if not ordered:
        return None
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def main() -> None:
    plan = json.loads(Path(sys.argv[1]).read_text(encoding="utf-8"))
    FloodSmsc(plan).run()


if __name__ == "__main__":
    main()
