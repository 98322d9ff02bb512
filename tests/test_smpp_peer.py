"""Our SMPP against someone else's: npm's `smpp` package as the SMSC (tests/smpp_peer/peer.js).

node-smpp decodes what we encode (GSM 03.38, UCS2, UDH, SAR, TLVs, validity period) and
encodes what we decode, so a shared misunderstanding of the spec cannot pass unseen.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from sms_gateway.smpp.transport import SmppTransport
from sms_gateway.transport import Concat, DeliveryReceipt, OutboundMessage
from tools.simsmsc.kit import RecordingSink, local_settings
from tools.waiting import wait_for

PEER = Path(__file__).parent / "smpp_peer"
INSTALL = "npm ci --prefix tests/smpp_peer"
PHONE = "+79161234567"

if shutil.which("node") is None or not (PEER / "node_modules" / "smpp").is_dir():
    pytest.skip(f"npm smpp peer not installed (run `{INSTALL}`)", allow_module_level=True)


class NodePeer:
    """peer.js in a subprocess: JSON commands in on stdin, JSON events out on stdout."""

    def __init__(self) -> None:
        self.events: list[dict] = []
        self._changed = threading.Condition()
        self._process = subprocess.Popen(
            ["node", str(PEER / "peer.js")],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            encoding="utf-8",
        )
        threading.Thread(target=self._read, daemon=True).start()
        self.port = self.wait_event("listening")["port"]

    def _read(self) -> None:
        assert self._process.stdout is not None
        for line in self._process.stdout:
            with self._changed:
                self.events.append(json.loads(line))
                self._changed.notify_all()

    def command(self, cmd: str, **fields: object) -> None:
        assert self._process.stdin is not None
        self._process.stdin.write(json.dumps({"cmd": cmd, **fields}) + "\n")
        self._process.stdin.flush()

    def wait_events(self, kind: str, count: int = 1, timeout: float = 10.0) -> list[dict]:
        def matching() -> list[dict]:
            return [event for event in self.events if event["event"] == kind]

        with self._changed:
            if not self._changed.wait_for(lambda: len(matching()) >= count, timeout):
                raise AssertionError(f"peer never sent {count} {kind}: {self.events}")
            return matching()

    def wait_event(self, kind: str) -> dict:
        return self.wait_events(kind)[0]

    def close(self) -> None:
        assert self._process.stdin is not None
        self._process.stdin.close()
        self._process.wait(10)


@pytest.fixture
def peer() -> Iterator[NodePeer]:
    node = NodePeer()
    yield node
    node.close()


def start(peer: NodePeer, **overrides: object) -> tuple[SmppTransport, RecordingSink]:
    transport = SmppTransport(local_settings(peer.port, **overrides))
    sink = RecordingSink()
    transport.start(sink)
    wait_for(lambda: transport.health().up)
    return transport, sink


@pytest.fixture
def link(peer: NodePeer) -> Iterator[tuple[SmppTransport, RecordingSink]]:
    transport, sink = start(peer)
    yield transport, sink
    transport.stop()


def sent_texts(peer: NodePeer, count: int) -> list[dict]:
    return peer.wait_events("submit_sm", count)


# -- node-smpp reads what we send --------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "dcs"), [("Code {AB-12} [ok] ~ 5 €", 0), ("Пропуск 7KQ выдан до 14:30", 8)]
)
def test_peer_decodes_our_single_replies(peer, link, text, dcs):
    transport, _ = link
    [result] = transport.send([OutboundMessage(1, PHONE, text)])
    [submit] = sent_texts(peer, 1)
    assert (submit["message"], submit["data_coding"]) == (text, dcs)
    assert (submit["destination_addr"], submit["dest_addr_ton"]) == (PHONE[1:], 1)
    assert result.transport_message_id == submit["message_id"].lower()


def test_peer_reads_our_udh_parts(peer, link):
    transport, _ = link
    text = "Пропуск " * 20
    [result] = transport.send([OutboundMessage(1, PHONE, text)])
    submits = sent_texts(peer, 3)
    assert result.ok and all(s["esm_class"] & 0x40 for s in submits)
    headers = [bytes.fromhex(s["udh"][0]) for s in submits]
    assert [h[:2] for h in headers] == [b"\x00\x03"] * 3 and [h[4] for h in headers] == [1, 2, 3]
    assert "".join(s["message"] for s in submits) == text


def test_peer_reads_our_sar_parts(peer):
    transport, _ = start(peer, long_messages="sar")
    text = "x{" * 100
    transport.send([OutboundMessage(1, PHONE, text)])
    transport.stop()
    submits = sent_texts(peer, 2)
    assert [s["sar"][1:] for s in submits] == [[2, 1], [2, 2]]
    assert "".join(s["message"] for s in submits) == text


def test_peer_reads_validity_period_and_ussd_tlvs(peer, link):
    transport, _ = link
    expires = dt.datetime(2031, 5, 6, 7, 8, 9, tzinfo=dt.UTC)
    transport.send(
        [OutboundMessage(1, PHONE, "Menu", expires_at=expires, ussd_op=2, ussd_session="0a01")]
    )
    [submit] = sent_texts(peer, 1)
    assert submit["validity_period"] == "2031-05-06T07:08:09.000Z"
    assert (submit["ussd_service_op"], submit["its_session_info"]) == (2, "0a01")


# -- we read what node-smpp sends --------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "dcs"), [("EXIT {shop} €", 0), ("ВЫХОД магазин", 8), ("EXIT café", 3)]
)
def test_we_decode_peer_deliver_sm(peer, link, text, dcs):
    _, sink = link
    peer.command("deliver", source_addr=PHONE[1:], text=text, data_coding=dcs)
    sink.wait_for(lambda: sink.parts)
    assert (sink.parts[0].text, sink.parts[0].sender) == (text, PHONE)
    assert peer.wait_event("deliver_sm_resp")["command_status"] == 0


def test_we_read_peer_udh_parts_and_ussd(peer, link):
    _, sink = link
    peer.command("deliver", source_addr=PHONE[1:], text="second", udh="0500030a0202")
    peer.command(
        "deliver", source_addr=PHONE[1:], text="*377#", ussd_service_op=1, its_session_info="0a01"
    )
    sink.wait_for(lambda: len(sink.parts) == 2)
    assert (sink.parts[0].text, sink.parts[0].concat) == ("second", Concat(10, 2, 2))
    assert (sink.parts[1].ussd_op, sink.parts[1].ussd_session) == (1, "0a01")


def test_we_read_peer_receipts(peer, link):
    transport, sink = link
    [result] = transport.send([OutboundMessage(1, PHONE, "ok")])
    [submit] = sent_texts(peer, 1)
    peer.command("receipt", source_addr=PHONE[1:], message_id=submit["message_id"], state=5)
    sink.wait_for(lambda: sink.receipts_seen)
    assert sink.receipts_seen == [
        DeliveryReceipt("smpp:test", result.transport_message_id, "UNDELIV")
    ]


def test_peer_enquire_link_and_unbind_are_answered(peer, link):
    transport, _ = link
    peer.command("enquire_link")
    peer.wait_event("enquire_link_resp")
    peer.command("unbind")
    peer.wait_event("unbind_resp")
    wait_for(lambda: len(peer.wait_events("bound")) == 2 and transport.health().up)
