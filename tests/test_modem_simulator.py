"""The simulated modem as any AT client sees it: raw bytes over its pty, and its control API."""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import serial

from sms_gateway.modem.pdu import decode_deliver, encode_submit
from tests.modem_harness import ROOT
from tools.sim_modem import SimModem


class Terminal:
    """A tiny AT client: write a line, read until a final result."""

    def __init__(self, device: str) -> None:
        self.port = serial.Serial(device, 115200, timeout=0.05)

    def ask(self, line: bytes, until: tuple[bytes, ...] = (b"OK\r\n", b"ERROR", b"> ")) -> bytes:
        self.port.write(line)
        return self.read_until(until, what=f"a final result to {line!r}")

    def read_until(self, until: tuple[bytes, ...], what: str = "output") -> bytes:
        """What the modem says up to a complete line holding one of `until` (5 s at most)."""
        received = b""
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            received += self.port.read(256)
            if any(mark in received for mark in until) and received.endswith((b"\r\n", b"> ")):
                return received
        raise AssertionError(f"no {what}: {received!r}")


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[SimModem]:
    with SimModem(tmp_path / "modem") as modem:
        yield modem


@pytest.fixture
def term(sim: SimModem) -> Iterator[Terminal]:
    terminal = Terminal(sim.device)
    yield terminal
    terminal.port.close()


def test_echo_until_ate0(term: Terminal) -> None:
    assert term.ask(b"AT\r") == b"AT\r\r\nOK\r\n"
    assert term.ask(b"ATE0\r") == b"ATE0\r\r\nOK\r\n"
    assert term.ask(b"AT+CGMI\r") == b"\r\nFakeGSM\r\n\r\nOK\r\n"


def test_compound_command_and_vendor_probe(term: Terminal) -> None:
    term.ask(b"ATE0\r")
    assert term.ask(b"AT+CMEE=1;+CREG=2\r") == b"\r\nOK\r\n"
    assert term.ask(b"AT+CREG?\r") == b'\r\n+CREG: 2,1,"1A2B","3C4D"\r\n\r\nOK\r\n'
    assert term.ask(b"AT$TSSPCSW=?\r") == b"\r\nERROR\r\n"


def test_error_formats_follow_cmee(sim: SimModem, term: Terminal) -> None:
    term.ask(b"ATE0\r")
    sim.faults.sim_busy = True
    assert term.ask(b"AT+CIMI\r") == b"\r\nERROR\r\n"
    term.ask(b"AT+CMEE=1\r")
    assert term.ask(b"AT+CIMI\r") == b"\r\n+CME ERROR: 14\r\n"
    assert term.ask(b"AT+CMGL=4\r") == b"\r\n+CMS ERROR: 314\r\n"
    term.ask(b"AT+CMEE=2\r")
    assert term.ask(b"AT+CIMI\r") == b"\r\n+CME ERROR: SIM busy\r\n"


def test_pdu_listing_and_reading(sim: SimModem, term: Terminal) -> None:
    term.ask(b"ATE0\r")
    sim.inject("+79270000001", "ВЫХОД магазин")
    listing = term.ask(b"AT+CMGL=4\r").decode()
    header, hex_pdu = listing.split("\r\n")[1:3]
    assert header.startswith("+CMGL: 1,0,,")
    assert decode_deliver(hex_pdu).text == "ВЫХОД магазин"
    assert term.ask(b"AT+CMGR=1\r").startswith(b"\r\n+CMGR: 1,,")  # now read
    assert term.ask(b"AT+CMGD=1\r") == b"\r\nOK\r\n"
    assert term.ask(b"AT+CMGR=1\r") == b"\r\nOK\r\n"
    assert term.ask(b"AT+CMGR=99\r") == b"\r\n+CMS ERROR: 321\r\n"


def test_cmti_announces_new_sms_after_cnmi(sim: SimModem, term: Terminal) -> None:
    term.ask(b"ATE0\r")
    term.ask(b"AT+CNMI=2,1,0,1,0\r")
    sim.inject("+79270000001", "EXIT")
    assert term.read_until((b"+CMTI",)) == b'\r\n+CMTI: "SM",1\r\n'


def test_full_storage_rejects_without_announcing(tmp_path: Path) -> None:
    with SimModem(tmp_path / "small", capacity=1) as sim:
        term = Terminal(sim.device)
        term.ask(b"ATE0;+CNMI=2,1,0,1,0\r")
        assert sim.inject("+79270000001", "EXIT 1").indexes == (1,)
        assert term.read_until((b"+CMTI",)) == b'\r\n+CMTI: "SM",1\r\n'
        assert sim.inject("+79270000001", "EXIT 2").rejected == 1
        # The modem writes in order: nothing unsolicited may come before this command's OK.
        assert term.ask(b"AT\r") == b"\r\nOK\r\n"
        assert term.ask(b'AT+CPMS="SM","SM","SM"\r') == b"\r\n+CPMS: 1,1,1,1,1,1\r\n\r\nOK\r\n"
        term.port.close()


def test_pdu_send_prompt_submit_and_abort(sim: SimModem, term: Terminal) -> None:
    term.ask(b"ATE0\r")
    [part] = encode_submit("+79270000002", "Пропуск", reference=1)
    assert term.ask(f"AT+CMGS={part.tpdu_length}\r".encode()) == b"\r\n> "
    assert term.ask(part.hex.encode() + b"\x1a") == b"\r\n+CMGS: 1\r\n\r\nOK\r\n"
    assert term.ask(b"AT+CMGS=10\r") == b"\r\n> "
    assert term.ask(b"\x1b") == b"\r\nOK\r\n"
    assert sim.sent() == [{"to": "+79270000002", "text": "Пропуск", "concat": None, "reference": 1}]


def test_wrong_length_is_rejected(term: Terminal) -> None:
    term.ask(b"ATE0\r")
    [part] = encode_submit("+79270000002", "hi", reference=1)
    term.ask(f"AT+CMGS={part.tpdu_length + 1}\r".encode())
    assert term.ask(part.hex.encode() + b"\x1a") == b"\r\n+CMS ERROR: 304\r\n"


def test_text_mode(sim: SimModem, term: Terminal) -> None:
    term.ask(b'ATE0;+CMGF=1;+CSCS="UCS2"\r')
    sim.inject("+79270000001", "ВЫХОД")
    listing = term.ask(b'AT+CMGL="ALL"\r').decode()
    assert '"REC UNREAD"' in listing and "0412042B0425041E0414" in listing
    term.ask(b'AT+CSCS="GSM"\r')
    term.ask(b'AT+CMGS="+79270000005"\r')
    assert term.ask(b"EXIT shop\x1a").endswith(b"OK\r\n")
    assert sim.sent()[-1]["text"] == "EXIT shop"


def test_notification_inside_an_answer(sim: SimModem, term: Terminal) -> None:
    term.ask(b"ATE0;+CNMI=2,1,0,1,0\r")
    sim.faults.urc_inside_response = True
    sim.inject("+79270000001", "EXIT")
    assert term.ask(b"AT+CSQ\r") == b'\r\n+CSQ: 20,99\r\n\r\n+CMTI: "SM",1\r\n\r\nOK\r\n'


def test_control_api(sim: SimModem, term: Terminal) -> None:
    host, port = sim.serve_control()
    base = f"http://{host}:{port}"

    def call(method: str, path: str, body: object | None = None) -> object:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(base + path, data=data, method=method)
        with urllib.request.urlopen(request, timeout=5) as response:
            return json.loads(response.read())

    assert call("POST", "/inject", {"sender": "+79270000001", "text": "ВЫХОД магазин"}) == {
        "indexes": [1],
        "rejected": 0,
    }
    assert call("POST", "/faults", {"send_error": 500})["send_error"] == 500  # type: ignore[index]
    call("POST", "/faults", {"send_error": None})
    term.ask(b"ATE0\r")
    [part] = encode_submit("+79270000002", "hi", reference=1)
    term.ask(f"AT+CMGS={part.tpdu_length}\r".encode())
    term.ask(part.hex.encode() + b"\x1a")
    sent = call("GET", "/sent")
    assert sent == [{"to": "+79270000002", "text": "hi", "concat": None, "reference": 1}]
    assert call("GET", "/status")["sim"]["used"] == 1  # type: ignore[index]


def test_cli_starts_a_modem_with_a_link_and_control_api(tmp_path: Path) -> None:
    import subprocess
    import sys

    link = tmp_path / "cli-modem"
    process = subprocess.Popen(
        [
            sys.executable,
            str(ROOT / "tools" / "sim_modem.py"),
            "--link",
            str(link),
            "--control",
            "127.0.0.1:0",
            "--send-delay",
            "0",
        ],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 10
        while not link.is_symlink() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert link.is_symlink()
        term = Terminal(str(link))
        assert term.ask(b"AT\r").endswith(b"OK\r\n")
        term.port.close()
    finally:
        process.terminate()
        process.wait(timeout=5)
    assert not link.exists()
