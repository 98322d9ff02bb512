"""tools/sim_smsc.py as operators run it: a process with an HTTP control API for demos."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from sms_gateway.smpp.transport import SmppTransport
from sms_gateway.transport import OutboundMessage
from tools.simsmsc.kit import RecordingSink, local_settings
from tools.waiting import wait_for

SCRIPT = Path(__file__).resolve().parent.parent / "tools" / "sim_smsc.py"


@pytest.fixture
def simulator() -> Iterator[tuple[int, str]]:
    process = subprocess.Popen(
        [
            sys.executable,
            str(SCRIPT),
            "--port",
            "0",
            "--control",
            "127.0.0.1:0",
            "--system-id",
            "gateway",
            "--password",
            "secret",
            "--auto-receipts",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    ports = json.loads(process.stdout.readline())
    yield ports["smpp_port"], f"http://127.0.0.1:{ports['control_port']}"
    process.terminate()
    process.wait(10)


def call(url: str, method: str = "GET", body: dict | None = None) -> object:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def test_control_api_injects_records_and_breaks_links(simulator):
    smpp_port, control = simulator
    transport = SmppTransport(local_settings(smpp_port))
    sink = RecordingSink()
    transport.start(sink)
    wait_for(lambda: transport.health().up)

    call(
        f"{control}/inject",
        "POST",
        {"sender": "+79270000001", "text": "ВЫХОД 2", "encoding": "ucs2"},
    )
    sink.wait_for(lambda: sink.parts)
    assert (sink.parts[0].sender, sink.parts[0].text) == ("+79270000001", "ВЫХОД 2")

    [result] = transport.send([OutboundMessage(1, "+79270000001", "Пропуск 7KQ")])
    sent = call(f"{control}/sent")
    assert [(r["to"], r["text"]) for r in sent] == [("79270000001", "Пропуск 7KQ")]
    sink.wait_for(lambda: sink.receipts_seen)  # --auto-receipts
    assert sink.receipts_seen[0].message_id == result.transport_message_id

    call(f"{control}/faults", "POST", {"drop": True})
    wait_for(lambda: transport.health().details["reconnects"] >= 1 and transport.health().up)
    assert call(f"{control}/status")["bound"] == 1
    transport.stop()


def test_control_api_refuses_bad_requests(simulator):
    _, control = simulator
    with pytest.raises(urllib.error.HTTPError) as refused:
        call(f"{control}/faults", "POST", {"no_such_fault": 1})
    assert refused.value.code == 400
