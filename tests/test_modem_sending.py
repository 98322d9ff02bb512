"""Outbound SMS through the modem pool: PDUs, parts, spreading, failures, receipts."""

from __future__ import annotations

import time
from pathlib import Path

from sms_gateway.transport import OutboundMessage
from tests.modem_harness import rig
from tools.waiting import wait_for

TO = "+79270000001"


def test_latin_reply_is_one_sms(tmp_path: Path) -> None:
    with rig(tmp_path) as r:
        [result] = r.transport.send([OutboundMessage(1, TO, "EXIT shop: permit K7QX-2M")])
        mid = result.transport_message_id  # modem, process epoch, message reference
        assert result.ok and mid.startswith("m0:") and mid.endswith(":1")
        assert r.sim.sent() == [
            {"to": TO, "text": "EXIT shop: permit K7QX-2M", "concat": None, "reference": 1}
        ]


def test_reply_needing_two_parts_goes_as_two_pdus(tmp_path: Path) -> None:
    text = "Пропуск выдан: магазин, до 14:30. Код K7QX-2M. Предъявите полиции по запросу."
    with rig(tmp_path) as r:
        [result] = r.transport.send([OutboundMessage(7, TO, text)])
        sent = r.sim.sent()
    assert result.ok
    assert [entry["concat"][1:] for entry in sent] == [[2, 1], [2, 2]]  # type: ignore[index]
    assert sent[0]["concat"][0] == sent[1]["concat"][0]  # type: ignore[index]
    assert "".join(str(entry["text"]) for entry in sent) == text
    mid = result.transport_message_id
    assert mid.startswith("m0:") and mid.endswith(f":{sent[-1]['reference']}")


def test_status_report_becomes_a_delivery_receipt(tmp_path: Path) -> None:
    with rig(tmp_path) as r:
        [result] = r.transport.send([OutboundMessage(1, TO, "hi")])
        wait_for(lambda: r.sink.receipts_seen, what="receipt")
    [receipt] = r.sink.receipts_seen
    assert (receipt.channel, receipt.message_id, receipt.state) == (
        "modem:test",
        result.transport_message_id,
        "DELIVRD",
    )


def test_messages_are_spread_over_the_modems(tmp_path: Path) -> None:
    with rig(tmp_path, count=2) as r:
        results = r.transport.send([OutboundMessage(i, TO, f"reply {i}") for i in range(6)])
        assert all(result.ok for result in results)
        assert len(r.sims[0].sent()) > 0 and len(r.sims[1].sent()) > 0
        assert len(r.sims[0].sent()) + len(r.sims[1].sent()) == 6


def test_cms_error_on_send_moves_the_message_to_another_modem(tmp_path: Path) -> None:
    with rig(tmp_path, count=2) as r:
        r.sims[0].faults.send_error = 500
        results = r.transport.send([OutboundMessage(i, TO, f"reply {i}") for i in range(4)])
        assert all(result.ok for result in results)
        assert r.sims[0].sent() == []
        assert len(r.sims[1].sent()) == 4
        assert all(str(result.transport_message_id).startswith("m1:") for result in results)
        m0 = r.transport.health().details["modems"]["m0"]  # type: ignore[index]
        assert m0["healthy"] is False and m0["rested_until"]  # failed, so resting


def test_cms_error_with_no_other_modem_is_temporary(tmp_path: Path) -> None:
    with rig(tmp_path) as r:
        r.sim.faults.send_error = 332  # network timeout
        [result] = r.transport.send([OutboundMessage(1, TO, "hi")])
    assert not result.ok and not result.permanent
    assert "332" in str(result.error)


def test_an_invalid_number_fails_permanently(tmp_path: Path) -> None:
    with rig(tmp_path) as r:
        [result] = r.transport.send([OutboundMessage(1, "+7927abc", "hi")])
    assert not result.ok and result.permanent


def test_sim_busy_is_a_temporary_failure(tmp_path: Path) -> None:
    with rig(tmp_path) as r:
        r.sim.faults.sim_busy = True
        [result] = r.transport.send([OutboundMessage(1, TO, "hi")])
    assert not result.ok and not result.permanent and "314" in str(result.error)


def test_slow_prompt_within_the_timeout_still_sends(tmp_path: Path) -> None:
    with rig(tmp_path) as r:
        r.sim.faults.prompt_delay = 0.5
        [result] = r.transport.send([OutboundMessage(1, TO, "hi")])
    assert result.ok


def test_a_realistic_send_delay_keeps_one_send_per_modem_at_a_time(tmp_path: Path) -> None:
    with rig(tmp_path, count=2) as r:
        for sim in r.sims:
            sim.faults.send_delay = 0.5
        started = time.monotonic()
        results = r.transport.send([OutboundMessage(i, TO, f"reply {i}") for i in range(4)])
        elapsed = time.monotonic() - started
    assert all(result.ok for result in results)
    assert elapsed >= 1.0  # two rounds of two parallel sends, each taking 0.5 s
    assert all(sim.sent() for sim in r.sims)


def test_send_before_start_is_temporary(tmp_path: Path) -> None:
    with rig(tmp_path, start=False) as r:
        [result] = r.transport.send([OutboundMessage(1, TO, "hi")])
    assert not result.ok and not result.permanent


def test_a_reference_that_is_no_tp_mr_still_sends_and_keeps_the_port(
        tmp_path: Path, caplog) -> None:
    with rig(tmp_path) as r:
        for number, answer in enumerate(("9" * 5000, "300", "x"), start=1):
            r.sim.set_faults(reference_answer=answer)
            [result] = r.transport.send([OutboundMessage(number, "+79270000001", "hi")])
            assert result.ok and result.transport_message_id is None
        assert r.transport.health().details["modems"]["m0"]["state"] == "up"
    assert len(r.sim.sent()) == 3
    assert "reopening" not in caplog.text and "unexpected failure" not in caplog.text
