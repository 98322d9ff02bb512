"""The durable pipeline with the loopback transport: nothing lost, nothing twice."""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import signal
import subprocess
import sys
import threading
import time

import pytest
from sqlalchemy import func, insert, select, text
from sqlalchemy.exc import OperationalError

from permits import registry
from sms_gateway.gateway import Gateway
from sms_gateway.loopback import LoopbackTransport
from sms_gateway.pipeline import quarantine
from sms_gateway.pipeline.dispatcher import Dispatcher
from sms_gateway.pipeline.dispatcher import claim as dispatcher_claim
from sms_gateway.pipeline.outbox import claim as outbox_claim
from sms_gateway.transport import Concat, DeliveryReceipt, InboundPart, StoreError
from storage.db import transaction
from storage.tables.ledger import permits
from storage.tables.messages import delivery_receipts, inbox, inbox_parts, outbox
from tests.conftest import OFFICER, RESIDENT, ROOT, STRANGER
from tools.waiting import wait_for


def count(engine, table, *where) -> int:
    with engine.connect() as conn:
        return conn.scalar(select(func.count()).select_from(table).where(*where))


@pytest.fixture
def loopback():
    return LoopbackTransport("test")


@pytest.fixture
def gateway(config, engine, people, loopback):
    gateway = Gateway(config, engine, [loopback])
    gateway.start()
    yield gateway
    gateway.stop()


def test_a_request_is_stored_decided_and_its_reply_sent(gateway, loopback, engine):
    loopback.inject(RESIDENT, "ВЫХОД магазин")
    [reply] = wait_for(lambda: loopback.sent)
    assert reply.to == RESIDENT and reply.text.startswith("ПРОПУСК")
    wait_for(lambda: count(engine, outbox, outbox.c.state == "sent") == 1)
    assert count(engine, inbox, inbox.c.state == "done", inbox.c.outcome == "issued") == 1


def test_a_running_gateway_hands_the_gil_over_every_millisecond(config, engine, people,
                                                               loopback):
    """An officer's check crosses five threads, each taking the GIL back after every database
    call: at Python's default of 5 ms a hand-over that showed in the checks' p99."""
    sys.setswitchinterval(0.005)
    gateway = Gateway(config, engine, [loopback])
    gateway.start()
    try:
        assert sys.getswitchinterval() == pytest.approx(0.001)
    finally:
        gateway.stop()


def test_a_batch_that_cannot_be_stored_is_not_acknowledged(config, engine, people, loopback):
    gateway = Gateway(config, engine, [loopback])
    loopback.start(gateway.sink)
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE inbox"))
    with pytest.raises(StoreError):
        loopback.inject(RESIDENT, "ВЫХОД магазин")


def test_multipart_requests_are_reassembled_in_any_order_and_across_restarts(
        config, engine, people, loopback):
    now = dt.datetime.now(dt.UTC)
    parts = [InboundPart("loopback:test", RESIDENT, piece, now, concat=Concat(77, 3, seq))
             for seq, piece in ((3, "агазин"), (1, "ВЫХОД "), (2, "м"))]
    first = Gateway(config, engine, [loopback])
    loopback.start(first.sink)
    loopback.inject_parts(parts[:2])
    assert count(engine, inbox_parts) == 2 and count(engine, inbox) == 0
    second = Gateway(config, engine, [loopback])  # a restart: only the database remains
    loopback.start(second.sink)
    loopback.inject_parts(parts[2:])
    assert second.dispatcher.run_once().messages == 1
    with engine.connect() as conn:
        assert conn.scalar(select(inbox.c.text)) == "ВЫХОД магазин"
    assert count(engine, permits) == 1


def test_the_same_sim_message_stored_twice_is_one_message(config, engine, people, loopback):
    gateway = Gateway(config, engine, [loopback])
    loopback.start(gateway.sink)
    now = dt.datetime.now(dt.UTC)
    single = InboundPart("loopback:test", RESIDENT, "ВЫХОД 1", now, dedup_key="m1:ts1")
    parts = [InboundPart("loopback:test", RESIDENT, t, now, dedup_key=f"m1:ts2:{i}",
                         concat=Concat(9, 2, i)) for i, t in ((1, "ВЫХОД "), (2, "2"))]
    for _ in range(2):  # e.g. a crash between commit and deleting from the SIM
        loopback.inject_parts([single, *parts])
    assert count(engine, inbox) == 2


def test_parts_whose_siblings_never_come_are_handled_after_the_timeout(config, engine, people,
                                                                      loopback, clock):
    gateway = Gateway(config, engine, [loopback], clock=clock)
    loopback.start(gateway.sink)
    loopback.inject_parts([InboundPart("loopback:test", RESIDENT, "ВЫХОД 1", clock(),
                                       concat=Concat(5, 2, 1))])
    gateway.maintenance.maintain()
    assert count(engine, inbox) == 0
    clock.advance(seconds=config.pipeline.reassembly_timeout_seconds + 1)
    gateway.maintenance.maintain()
    assert count(engine, inbox) == 1


def test_an_expired_unsent_permit_reply_is_dropped_and_its_slot_refunded(
        config, engine, people, loopback, clock):
    gateway = Gateway(config, engine, [loopback], clock=clock)
    loopback.start(gateway.sink)
    loopback.fail_sends = True
    loopback.inject(RESIDENT, "ВЫХОД 1")
    gateway.dispatcher.run_once()
    gateway.senders[0].run_once()
    gateway.senders[0].flush()
    assert count(engine, outbox, outbox.c.state == "pending", outbox.c.attempts == 1) == 1
    clock.advance(minutes=61)
    gateway.maintenance.maintain()
    assert count(engine, outbox, outbox.c.state == "expired") == 1
    with engine.connect() as conn:
        assert conn.scalar(select(permits.c.state)) == "refunded"
    loopback.fail_sends = False
    for _ in range(2):  # both of today's slots are free again
        loopback.inject(RESIDENT, "ВЫХОД 1")
        gateway.dispatcher.run_once()
        clock.advance(minutes=61)
    assert count(engine, permits, permits.c.state == "issued") == 2


def test_officers_overtake_a_queued_flood(config, engine, people, loopback, clock):
    with engine.begin() as conn:
        csv = "phone,name,district\n" + "".join(f"+7927100{n:04d},R {n},kinel\n"
                                                for n in range(600))
        registry.import_residents(conn, io.StringIO(csv), "RU", clock())
    gateway = Gateway(config, engine, [loopback], clock=clock)
    gateway.dispatcher.batch_size = 100
    loopback.start(gateway.sink)
    loopback.inject_parts([InboundPart("loopback:test", f"+7927100{n:04d}", "ВЫХОД 1", clock())
                           for n in range(600)])
    loopback.inject(OFFICER, "ПРОВЕРКА K7MQ-3DXA")
    gateway.dispatcher.run_once()
    with engine.connect() as conn:
        assert conn.scalar(select(inbox.c.state).where(inbox.c.sender == OFFICER)) == "done"
    while gateway.dispatcher.run_once().messages:
        pass
    gateway.senders[0].batch_size = 50
    gateway.senders[0].run_once()
    gateway.senders[0].flush()
    assert loopback.sent[0].to == OFFICER


def test_an_officer_stored_while_the_dispatcher_waits_for_its_turn_goes_first(
        config, engine, people, loopback, clock):
    if engine.dialect.name != "sqlite":
        pytest.skip("the writers' queue is SQLite's; PostgreSQL claims side by side")
    import threading

    gateway = Gateway(config, engine, [loopback], clock=clock)
    loopback.start(gateway.sink)
    gateway.dispatcher.run_once()  # the start-up look at the fast lane, on an empty inbox
    with engine.connect() as conn:
        gateway.inbox.officers.includes(conn, OFFICER)  # the officers' numbers, loaded
    loopback.inject_parts([InboundPart("loopback:test", RESIDENT, "ВЫХОД 1", clock())])
    holder = engine.connect()
    holder.begin()  # another writer holds the turn
    result = {}
    dispatching = threading.Thread(target=lambda: result.update(r=gateway.dispatcher.run_once()))
    dispatching.start()  # chooses the slow lane, then waits for the turn
    threading.Event().wait(0.2)
    storing = threading.Thread(target=loopback.inject, args=(OFFICER, "ПРОВЕРКА K7MQ-3DXA"))
    storing.start()  # urgent: queued ahead of the dispatcher
    threading.Event().wait(0.2)
    holder.commit()
    holder.close()
    storing.join(10)
    dispatching.join(10)
    assert result["r"].messages == 1
    with engine.connect() as conn:
        states = dict(conn.execute(select(inbox.c.sender, inbox.c.state)).all())
    assert states == {OFFICER: "done", RESIDENT: "new"}


def test_an_officer_is_answered_while_a_residents_batch_is_in_progress(config, engine, people,
                                                                      loopback):
    """On PostgreSQL the fast lane has a dispatcher of its own: a check does not wait for a
    flood's batch to be decided and committed (200-300 ms for 500 requests on one node)."""
    if engine.dialect.name == "sqlite":
        pytest.skip("one writer at a time: the check's batch follows the residents' commit")
    import threading

    gateway = Gateway(config, engine, [loopback])
    deciding, release = threading.Event(), threading.Event()
    handle = gateway.rules.handle

    def slow_for_residents(conn, messages, now):
        if any(m.sender == RESIDENT for m in messages):
            deciding.set()
            release.wait(30)  # a residents' batch in progress, for as long as the test needs
        return handle(conn, messages, now)

    gateway.rules.handle = slow_for_residents
    gateway.start()
    try:
        loopback.inject(RESIDENT, "ВЫХОД магазин")
        wait_for(deciding.is_set, what="the residents' batch being decided")
        loopback.inject(OFFICER, "ПРОВЕРКА K7MQ-3DXA")
        [answer] = wait_for(lambda: [m for m in loopback.sent if m.to == OFFICER], timeout=10,
                            what="the officer's answer while the batch is still open")
        assert answer.text and not [m for m in loopback.sent if m.to == RESIDENT]
        release.set()
        wait_for(lambda: [m for m in loopback.sent if m.to == RESIDENT], what="the resident's")
    finally:
        release.set()
        gateway.stop()


def test_an_automatic_sender_cannot_start_a_reply_loop(config, engine, people, clock):
    robot = LoopbackTransport("robot")
    robot.on_send = lambda messages: [robot.inject(m.to, f"Auto-reply: {m.text}")
                                      for m in messages]
    gateway = Gateway(config, engine, [robot], clock=clock)
    robot.start(gateway.sink)
    robot.inject(STRANGER, "hello")
    for _ in range(50):
        gateway.dispatcher.run_once()
        gateway.senders[0].run_once()
        gateway.senders[0].flush()
    assert len(robot.sent) == config.rules.replies_per_hour


def test_operator_service_messages_get_no_reply(gateway, loopback, engine):
    loopback.inject("MegaFon", "Ваш баланс: 10 руб. Пополните счёт")
    wait_for(lambda: count(engine, inbox, inbox.c.state == "done") == 1)
    assert count(engine, outbox) == 0


def test_delivery_receipts_record_the_real_outcome(gateway, loopback, engine):
    loopback.inject(RESIDENT, "ВЫХОД 1")
    loopback.inject(STRANGER, "ВЫХОД 1")
    wait_for(lambda: count(engine, outbox, outbox.c.state == "sent") == 2)
    with engine.connect() as conn:
        ids = dict(conn.execute(select(outbox.c.recipient, outbox.c.transport_message_id)).all())
    gateway.sink.receipts([DeliveryReceipt("loopback:test", ids[RESIDENT], "DELIVRD"),
                            DeliveryReceipt("loopback:test", ids[STRANGER], "UNDELIV", "err:1")])
    with engine.connect() as conn:
        states = dict(conn.execute(select(outbox.c.recipient, outbox.c.state)).all())
    assert states == {RESIDENT: "delivered", STRANGER: "failed"}


def test_failed_sends_are_retried_with_backoff_then_marked_failed(config, engine, people,
                                                                 loopback, clock):
    gateway = Gateway(config, engine, [loopback], clock=clock)
    loopback.start(gateway.sink)
    loopback.fail_sends = True
    loopback.inject(STRANGER, "hello")
    gateway.dispatcher.run_once()
    for _ in range(config.pipeline.send_attempts):
        gateway.senders[0].run_once()
        gateway.senders[0].flush()
        clock.advance(hours=2)
    with engine.connect() as conn:
        row = conn.execute(select(outbox.c.state, outbox.c.attempts, outbox.c.last_error)).one()
    assert row.state == "failed" and row.attempts == config.pipeline.send_attempts
    assert "fail" in row.last_error


def test_replies_for_a_channel_that_went_away_move_to_a_healthy_one(config, engine, people,
                                                                   clock):
    old, new = LoopbackTransport("old"), LoopbackTransport("new")
    gateway = Gateway(config, engine, [new], clock=clock)
    old.start(gateway.sink)
    new.start(gateway.sink)
    old.inject(RESIDENT, "ВЫХОД 1")
    gateway.dispatcher.run_once()
    clock.advance(seconds=31)
    gateway.maintenance.maintain()
    gateway.senders[0].run_once()
    gateway.senders[0].flush()
    assert [m.to for m in new.sent] == [RESIDENT]


def _crash(database_url: str, stage: str, count_: int) -> None:
    child = subprocess.Popen([sys.executable, "-m", "tests.pipeline_child", database_url, stage,
                              str(count_)], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == stage
        time.sleep(0.2)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()


@pytest.mark.parametrize("stage", ["stored", "sending"])
def test_a_crash_loses_nothing_and_issues_no_second_permit(stage, database_url, config, engine,
                                                           people, loopback):
    with engine.begin() as conn:
        csv = "phone,name,district\n" + "".join(f"+7927{n:07d},R {n},kinel\n" for n in range(50))
        registry.import_residents(conn, io.StringIO(csv), "RU", dt.datetime.now(dt.UTC))
    _crash(database_url, stage, 50)
    assert count(engine, inbox) == 50
    quick = dataclasses.replace(config, pipeline=dataclasses.replace(
        config.pipeline, claim_timeout_seconds=1))
    # The claim timeout has passed for the rows the crash left `sending` (no sleep: the
    # gateway's clock runs two seconds ahead).
    gateway = Gateway(quick, engine, [LoopbackTransport("crash"), loopback],
                      clock=lambda: dt.datetime.now(dt.UTC) + dt.timedelta(seconds=2))
    gateway.start()
    gateway.maintenance.maintain()  # as the scheduler does: rows left in `sending` are sent again
    try:
        wait_for(lambda: count(engine, outbox, outbox.c.state == "sent") == 50)
    finally:
        gateway.stop()
    assert count(engine, permits) == 50
    assert count(engine, inbox, inbox.c.state == "done") == 50


def test_a_message_that_breaks_the_rules_is_quarantined_the_rest_handled_and_it_can_be_released(
        config, engine, people, loopback):
    from permits.service import Rules

    class BrittleRules(Rules):
        """Fault injection: these rules fail on one particular text."""

        def handle(self, conn, messages, now):
            if any(m.text == "boom" for m in messages):
                raise RuntimeError("a bug in the rules")
            return super().handle(conn, messages, now)

    gateway = Gateway(config, engine, [loopback])
    gateway.dispatcher.rules = BrittleRules(config.rules)
    loopback.start(gateway.sink)
    loopback.inject_parts([InboundPart("loopback:test", s, t, dt.datetime.now(dt.UTC))
                           for s, t in ((RESIDENT, "ВЫХОД 1"), (STRANGER, "boom"),
                                        (OFFICER, "ВЫХОД 2"))])
    while gateway.dispatcher.run_once().messages:
        pass
    with engine.connect() as conn:
        states = dict(conn.execute(select(inbox.c.sender, inbox.c.state)).all())
        [held] = quarantine.entries(conn)
    assert states == {RESIDENT: "done", OFFICER: "done"}
    assert count(engine, permits) == 1
    assert (held.sender, held.kind, held.reason) == (
        STRANGER, "message", "could not be decided: RuntimeError: a bug in the rules")

    gateway.dispatcher.rules = Rules(config.rules)  # the bug fixed: the operator releases it
    gateway.inbox.release(held.id)
    while gateway.dispatcher.run_once().messages:
        pass
    with engine.connect() as conn:
        assert conn.execute(select(inbox.c.state, inbox.c.text).where(
            inbox.c.sender == STRANGER)).all() == [("done", "boom")]
        assert quarantine.entries(conn) == []


def _stored(engine, clock, sender: str, text: str, priority: int) -> int:
    with engine.begin() as conn:
        return conn.execute(insert(inbox).values(
            channel="loopback:test", sender=sender, text=text, received_at=clock(),
            stored_at=clock(), priority=priority, state="new")).inserted_primary_key[0]


@pytest.mark.parametrize("second_fails", [False, True], ids=["decides", "fails"])
def test_a_message_another_dispatcher_holds_is_left_to_it_after_a_failed_batch(
        database_url, engine, rules, clock, people, monkeypatch, second_fails):
    """PostgreSQL runs dispatchers side by side (the officers' lane has its own, and other
    nodes'). One whose batch failed tries its lane's messages one by one: a message another
    holds must be neither decided a second time (a second reply, a miss counted twice) nor
    moved to the quarantine under the reply the other is sending."""
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite's single writer never has two dispatchers at once")
    row_id = _stored(engine, clock, OFFICER, "ПРОВЕРКА ABCD-EFGH", priority=1)
    fast, other = (Dispatcher(engine, rules, clock=clock, urgent_only=True),
                   Dispatcher(engine, rules, clock=clock))
    if second_fails:
        monkeypatch.setattr(other, "dispatch", lambda conn, rows: 1 / 0)
    with transaction(engine, urgent=True) as conn:  # the fast lane holds the check
        fast.dispatch(conn, dispatcher_claim(conn, 500, urgent=True))
        trying = threading.Thread(target=other._one_by_one, args=(True,))
        trying.start()
        trying.join(10)
        left_alone = not trying.is_alive()  # it did not wait for the row either
    trying.join(10)
    assert left_alone
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(outbox)
                           .where(outbox.c.inbox_id == row_id)) == 1
        assert conn.scalar(select(inbox.c.state).where(inbox.c.id == row_id)) == "done"
        assert quarantine.entries(conn) == []


def test_a_database_failure_in_the_one_by_one_pass_leaves_the_message_waiting(
        config, engine, people, loopback):
    """Only what a message holds, or a fault of the rules, sets it aside: a deadlock or a
    dropped connection is the database's, and the message waits for the next turn."""
    from permits.service import Rules

    class DeadlockingRules(Rules):
        def handle(self, conn, messages, now):
            raise OperationalError("UPDATE ...", {}, Exception("deadlock detected"))

    gateway = Gateway(config, engine, [loopback])
    gateway.dispatcher.rules = DeadlockingRules(config.rules)
    loopback.start(gateway.sink)
    loopback.inject(RESIDENT, "ВЫХОД 1")
    gateway.dispatcher.run_once()
    with engine.connect() as conn:
        assert conn.scalar(select(inbox.c.state)) == "new"
        assert quarantine.entries(conn) == []
    gateway.dispatcher.rules = Rules(config.rules)  # the database is back
    gateway.dispatcher.run_once()
    assert count(engine, permits) == 1


def test_a_reply_that_may_have_reached_the_phone_is_not_refunded(config, engine, people,
                                                                loopback, clock):
    gateway = Gateway(config, engine, [loopback], clock=clock)
    loopback.start(gateway.sink)
    loopback.inject(RESIDENT, "ВЫХОД 1")
    gateway.dispatcher.run_once()
    with engine.begin() as conn:  # a sender claimed it, then its node died
        outbox_claim(conn, ["loopback:test"], 10, clock(), "dead-node")
    clock.advance(seconds=config.pipeline.claim_timeout_seconds + 1)
    gateway.maintenance.maintain()  # back to pending, but it may have been sent
    clock.advance(minutes=61)
    gateway.maintenance.maintain()
    with engine.connect() as conn:
        assert conn.scalar(select(outbox.c.state)) == "expired"
        assert conn.scalar(select(permits.c.state)) == "issued"  # the slot stays spent


def test_a_reused_reference_never_loses_the_new_messages_waiting_parts(
        config, engine, people, loopback, clock):
    gateway = Gateway(config, engine, [loopback], clock=clock)
    loopback.start(gateway.sink)

    def part(seq: int, text: str, key: str) -> InboundPart:
        return InboundPart("loopback:test", RESIDENT, text, clock(), dedup_key=key,
                           concat=Concat(42, 3, seq))

    loopback.inject_parts([part(1, "A1", "a1"), part(2, "A2", "a2")])  # part 3 never comes
    clock.advance(seconds=config.pipeline.reassembly_timeout_seconds + 1)
    gateway.maintenance.maintain()
    loopback.inject_parts([part(3, "B3", "b3")])  # a new message, same reference
    loopback.inject_parts([part(1, "B1", "b1")])
    loopback.inject_parts([part(2, "B2", "b2")])
    with engine.connect() as conn:
        texts = sorted(conn.scalars(select(inbox.c.text)))
    assert texts == ["A1A2", "B1B2B3"]


def test_a_receipt_missed_by_both_transactions_is_applied_by_the_scheduler(
        config, engine, people, loopback, clock):
    gateway = Gateway(config, engine, [loopback], clock=clock)
    loopback.start(gateway.sink)
    loopback.inject(RESIDENT, "ВЫХОД 1")
    gateway.dispatcher.run_once()
    gateway.senders[0].run_once()
    gateway.senders[0].flush()
    with engine.connect() as conn:
        message_id = conn.scalar(select(outbox.c.transport_message_id))
    with engine.begin() as conn:  # stored, but never matched (the PostgreSQL race)
        conn.execute(delivery_receipts.insert().values(
            channel="loopback:test", message_id=message_id, state="DELIVRD", error="",
            received_at=clock()))
    gateway.maintenance.maintain()
    with engine.connect() as conn:
        assert conn.scalar(select(outbox.c.state)) == "delivered"
