"""Inbound SMS through the real driver, over a real pty, from the simulated modem."""

from __future__ import annotations

from pathlib import Path

from sms_gateway.modem.inbound import dedup_key
from sms_gateway.modem.pdu import decode_deliver
from tests.modem_harness import rig
from tools.waiting import wait_for

SENDER = "+79270000001"


def test_cyrillic_request_is_stored_then_deleted(tmp_path: Path) -> None:
    with rig(tmp_path) as r:
        r.sim.inject(SENDER, "ВЫХОД магазин")
        wait_for(lambda: r.sink.parts, what="stored part")
        wait_for(lambda: not r.sim.sim_messages(), what="SIM emptied")
    part = r.sink.parts[0]
    assert (part.channel, part.sender, part.text, part.concat) == (
        "modem:test",
        SENDER,
        "ВЫХОД магазин",
        None,
    )
    assert part.raw and part.dedup_key and part.dedup_key.startswith(SENDER + "|")


def test_latin_request(tmp_path: Path) -> None:
    with rig(tmp_path) as r:
        r.sim.inject("+79270000002", "EXIT shop")
        wait_for(lambda: r.sink.texts() == ["EXIT shop"], what="stored part")


def test_three_part_request_stored_out_of_order_keeps_its_concat_info(tmp_path: Path) -> None:
    text = "ВЫХОД магазин " * 12  # 168 chars of UCS2: three parts of at most 67
    with rig(tmp_path) as r:
        injected = r.sim.inject(SENDER, text, shuffle=True)
        wait_for(lambda: len(r.sink.parts) == 3, what="three parts")
    assert len(injected.indexes) == 3
    seqs = [part.concat.seq for part in r.sink.parts if part.concat]
    assert sorted(seqs) == [1, 2, 3]
    assert seqs != [1, 2, 3]  # stored (and read) out of order; the pipeline reassembles
    by_seq = sorted(r.sink.parts, key=lambda part: part.concat.seq if part.concat else 0)
    assert "".join(part.text for part in by_seq) == text
    assert len({part.concat.reference for part in r.sink.parts if part.concat}) == 1
    assert len(r.sink.unique_keys()) == 3


def test_sms_waiting_on_the_sim_before_start_up_are_read_and_deleted(tmp_path: Path) -> None:
    with rig(tmp_path, start=False) as r:
        r.sim.inject(SENDER, "ВЫХОД 1")
        r.sim.inject("+79270000003", "EXIT 2")
        assert len(r.sim.sim_messages()) == 2
        r.start()
        wait_for(lambda: len(r.sink.parts) == 2, what="both stored")
        wait_for(lambda: not r.sim.sim_messages(), what="SIM emptied")
    assert sorted(r.sink.texts()) == ["EXIT 2", "ВЫХОД 1"]
    assert r.sink.store_calls == 1  # read together, committed together


def test_store_error_keeps_the_sms_on_the_sim_and_it_is_stored_later(tmp_path: Path) -> None:
    with rig(tmp_path) as r:
        r.sink.fail_stores = True
        r.sim.inject(SENDER, "ВЫХОД магазин")
        wait_for(lambda: r.sink.store_calls >= 2, what="store attempts (notice, then a sweep)")
        assert len(r.sim.sim_messages()) == 1
        assert r.sink.parts == []
        r.sink.fail_stores = False
        wait_for(lambda: r.sink.texts() == ["ВЫХОД магазин"], what="stored on a later sweep")
        wait_for(lambda: not r.sim.sim_messages(), what="deleted after the commit")


def test_crash_between_commit_and_delete_gives_the_same_dedup_key(tmp_path: Path) -> None:
    with rig(tmp_path, start=False) as r:
        r.sim.inject(SENDER, "ВЫХОД магазин " * 6, shuffle=True)
        on_sim = [entry["pdu"] for entry in r.sim.sim_messages()]
        # The first run commits, then "crashes" before AT+CMGD: the SMS are still on the SIM.
        first_keys = {dedup_key(decode_deliver(str(hex_pdu))) for hex_pdu in on_sim}
        r.start()
        wait_for(lambda: len(r.sink.parts) == len(on_sim), what="stored after restart")
    assert r.sink.unique_keys() == first_keys


def test_full_sim_rejects_new_sms_until_the_driver_empties_it(tmp_path: Path) -> None:
    with rig(tmp_path, start=False) as r:
        for i in range(r.sim.state.capacity):
            r.sim.inject(SENDER, f"EXIT {i}")
        lost = r.sim.inject(SENDER, "EXIT lost")
        assert lost.rejected == 1 and lost.indexes == ()
        r.start()
        wait_for(lambda: len(r.sink.parts) == 30, what="all 30 stored")
        wait_for(lambda: not r.sim.sim_messages(), what="SIM emptied")
        r.sim.inject(SENDER, "EXIT after")
        wait_for(lambda: "EXIT after" in r.sink.texts(), what="new SMS stored")


def test_health_reports_a_full_sim(tmp_path: Path) -> None:
    with rig(tmp_path) as r:
        r.sink.fail_stores = True
        for i in range(r.sim.state.capacity):
            r.sim.inject(SENDER, f"EXIT {i}")

        def sim_full() -> bool:
            return bool(r.transport.health().details["modems"]["m0"]["sim_full"])  # type: ignore[index]

        wait_for(sim_full, what="health shows the SIM full")


def test_notification_inside_another_answer_is_not_lost(tmp_path: Path) -> None:
    with rig(tmp_path) as r:
        r.sim.faults.urc_inside_response = True  # +CMTI only inside the next command's answer
        r.sim.inject(SENDER, "ВЫХОД внутри")
        wait_for(lambda: r.sink.texts() == ["ВЫХОД внутри"], what="stored")


def test_cmti_is_acted_on_without_waiting_for_a_poll(tmp_path: Path) -> None:
    with rig(tmp_path, poll_seconds=60.0) as r:
        r.sim.inject(SENDER, "ВЫХОД сразу")
        wait_for(lambda: r.sink.texts() == ["ВЫХОД сразу"], timeout=5, what="stored")


# -- what a SIM holds never stops the modem ----------------------------------------------------

# An SMS-DELIVER cut off inside its sender's address: nothing can decode it.
TRUNCATED = "0791974152000000040B91"


def test_an_undecodable_sim_pdu_is_set_aside_and_deleted(tmp_path: Path) -> None:
    with rig(tmp_path, start=False) as r:
        r.sim.inject_pdu(TRUNCATED)
        r.sim.inject(SENDER, "ВЫХОД 1")
        r.start()
        wait_for(lambda: r.sink.texts() == ["ВЫХОД 1"], what="the readable one stored")
        wait_for(lambda: not r.sim.sim_messages(), what="both deleted from the SIM")
    [unreadable] = r.sink.set_aside_seen
    assert unreadable.raw == bytes.fromhex(TRUNCATED) and unreadable.channel == "modem:test"
    assert "cannot be decoded" in unreadable.reason


def test_an_undecodable_pdu_stays_on_the_sim_while_the_database_is_down(tmp_path: Path) -> None:
    with rig(tmp_path) as r:
        r.sink.fail_stores = True
        r.sim.inject_pdu(TRUNCATED)
        wait_for(lambda: r.sink.set_aside_calls >= 2, what="a second attempt")
        assert len(r.sim.sim_messages()) == 1
        r.sink.fail_stores = False
        wait_for(lambda: not r.sim.sim_messages(), what="deleted once set aside")


def test_a_storage_index_of_thousands_of_digits_does_not_reopen_the_port(
        tmp_path: Path, caplog) -> None:
    with rig(tmp_path) as r:
        r.sim.state.notify('+CMTI: "SM",' + "9" * 5000)
        r.sim.inject(SENDER, "EXIT after")
        wait_for(lambda: r.sink.texts() == ["EXIT after"], what="the next SMS stored")
        assert r.transport.health().details["modems"]["m0"]["state"] == "up"
    assert "reopening" not in caplog.text and "unexpected failure" not in caplog.text
