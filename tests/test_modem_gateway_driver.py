"""The modem driver's bookkeeping the gateway relies on: receipt ids, long-reply receipts,
notifications that arrive together stored together."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from sms_gateway.modem.receipts import ReceiptBook
from sms_gateway.transport import OutboundMessage
from tests.modem_harness import rig
from tools.waiting import wait_for

TO = "+79270000001"


def test_ids_stay_unique_when_the_modems_message_reference_wraps(tmp_path: Path) -> None:
    with rig(tmp_path) as r:
        results = r.transport.send([OutboundMessage(i, TO, f"reply {i}") for i in range(300)])
        wait_for(lambda: len(r.sink.receipts_seen) == 300, what="a receipt for every send")
        references = [entry["reference"] for entry in r.sim.sent()]
    assert all(result.ok for result in results)
    assert references.count(1) == 2, "the simulator's TP-MR wrapped after 255"
    ids = [result.transport_message_id for result in results]
    assert len(set(ids)) == 300
    assert sorted(receipt.message_id for receipt in r.sink.receipts_seen) == sorted(ids)


def test_a_long_reply_gets_one_receipt_after_all_its_parts(tmp_path: Path) -> None:
    text = "Пропуск выдан: магазин, до 14:30. Код K7QX-2M. Предъявите полиции по запросу."
    with rig(tmp_path) as r:
        [result] = r.transport.send([OutboundMessage(7, TO, text)])
        wait_for(lambda: r.sink.receipts_seen, what="the message's receipt")
        wait_for(
            lambda: r.transport._pool.drivers[0].receipts.pending() == 0,  # type: ignore[union-attr]
            what="both parts' reports handled",
        )
        parts = len(r.sim.sent())
    assert parts == 2
    [receipt] = r.sink.receipts_seen
    assert (receipt.message_id, receipt.state) == (result.transport_message_id, "DELIVRD")


def test_notifications_that_arrive_together_are_stored_in_one_transaction(
    tmp_path: Path,
) -> None:
    with rig(tmp_path, poll_seconds=60.0) as r:  # no sweep: only the notifications bring them
        r.sim.faults.urc_inside_response = True  # the three +CMTI come inside the next answer
        injected = r.sim.inject(TO, "ВЫХОД магазин " * 12)
        [result] = r.transport.send([OutboundMessage(1, TO, "hi")])
        wait_for(lambda: len(r.sink.parts) == 3, what="all three parts stored")
        wait_for(lambda: not r.sim.sim_messages(), what="and deleted")
    assert result.ok and len(injected.indexes) == 3
    assert r.sink.store_calls == 1


def test_concurrent_senders_share_the_modems_instead_of_failing(tmp_path: Path) -> None:
    with rig(tmp_path, count=2) as r:
        for sim in r.sims:
            sim.faults.send_delay = 0.2
        with ThreadPoolExecutor(6) as threads:  # more callers than modems: some queue
            calls = [
                threads.submit(r.transport.send, [OutboundMessage(i, TO, f"reply {i}")])
                for i in range(6)
            ]
            results = [result for call in calls for result in call.result()]
        counts = sorted(len(sim.sent()) for sim in r.sims)
    assert all(result.ok for result in results), results
    assert sum(counts) == 6 and counts[0] >= 1  # both modems worked


def test_an_urgent_call_waits_for_one_sms_not_for_another_calls_batch(tmp_path: Path) -> None:
    with rig(tmp_path) as r, ThreadPoolExecutor(2) as threads:
        r.sim.faults.send_delay = 0.2
        bulk = threads.submit(
            r.transport.send, [OutboundMessage(i, TO, f"bulk {i}") for i in range(5)]
        )
        wait_for(lambda: r.sim.sent(), what="the bulk batch under way")
        [urgent] = r.transport.send([OutboundMessage(99, "+79370000099", "ДЕЙСТВУЕТ")])
        assert urgent.ok and all(result.ok for result in bulk.result())
        order = [entry["text"] for entry in r.sim.sent()]
    assert order.index("ДЕЙСТВУЕТ") <= 2, order  # behind the SMS in flight, not the batch


def test_book_epochs_bump_when_the_reference_goes_backwards() -> None:
    book = ReceiptBook("m0", token="t")
    assert [book.sent(TO, [mr]) for mr in (254, 255, 0, 1)] == [
        "m0:t.0:254",
        "m0:t.0:255",
        "m0:t.1:0",
        "m0:t.1:1",
    ]
    assert book.sent(TO, [1]) == "m0:t.2:1"  # a modem that keeps answering the same TP-MR
    assert ReceiptBook("m0").sent(TO, [1]) != ReceiptBook("m0").sent(TO, [1])  # restarts


def test_book_matches_reports_by_recipient_in_any_spelling() -> None:
    book = ReceiptBook("m0", token="t")
    first, second = book.sent(TO, [5]), book.sent("+79270000002", [6])
    assert book.report("89270000002", 6, "DELIVRD").message_id == second  # type: ignore[union-attr]
    assert book.report("+79270000002", 5, "DELIVRD") is None  # TP-MR 5 went to someone else
    assert book.report(TO, 5, "DELIVRD").message_id == first  # type: ignore[union-attr]
    assert book.report(TO, 5, "DELIVRD") is None  # reported once; the next one is unknown


def test_book_fails_a_long_message_on_its_first_failed_part() -> None:
    book = ReceiptBook("m0", token="t")
    message_id = book.sent(TO, [10, 11, 12])
    assert book.report(TO, 10, "ENROUTE").state == "ENROUTE"  # type: ignore[union-attr]
    assert book.report(TO, 10, "DELIVRD") is None
    failed = book.report(TO, 11, "UNDELIV", "TP-ST 0x41")
    assert failed is not None and (failed.message_id, failed.state) == (message_id, "UNDELIV")
    assert book.report(TO, 12, "DELIVRD") is None and book.pending() == 0


def test_book_forgets_the_oldest_sends_first() -> None:
    book = ReceiptBook("m0", capacity=2, token="t")
    for mr in (1, 2, 3):
        book.sent(TO, [mr])
    assert book.report(TO, 1, "DELIVRD") is None
    assert book.report(TO, 3, "DELIVRD") is not None


def test_a_report_that_overtakes_the_end_of_its_send_is_not_lost():
    book = ReceiptBook("m0", token="t")
    assert book.report(TO, 21, "DELIVRD") is None  # part 1's report, part 2 still going out
    message_id = book.sent(TO, [21, 22])
    assert book.overtaken(TO, [21, 22]) is None  # part 2 has not been reported yet
    assert book.report(TO, 22, "DELIVRD").message_id == message_id
    assert book.report(TO, 23, "UNDELIV") is None
    failed_id = book.sent(TO, [23])
    resolved = book.overtaken(TO, [23])
    assert resolved.message_id == failed_id and resolved.state == "UNDELIV"


def test_the_status_names_the_network_and_forgets_it_when_the_modem_loses_it(
    tmp_path: Path,
) -> None:
    with rig(tmp_path, poll_seconds=0.1) as r:
        driver = r.transport._pool.drivers[0]  # type: ignore[union-attr]
        wait_for(lambda: driver.status.network == "MegaFon", what="the operator's name")
        r.sim.set_network(registration=2)  # searching: +COPS? names no operator
        wait_for(lambda: driver.status.network == "", what="the name forgotten")
        details = r.transport.health().details["modems"]["m0"]  # type: ignore[index]
    assert details["network"] == "" and details["registration"] == "searching"
