"""Replies wait out a link that is down: no attempt spent on it, nothing failed for it, the
oldest first when it returns; rerouting after a configurable outage; a request repeated
before its answer left is answered once; how long a link is down, shown.

The SMPP tests run the real `Gateway` and `SmppTransport` against the simulated SMSC (its
link's timers in real time, the pipeline on the test's clock), on SQLite and PostgreSQL.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading
from collections import Counter
from collections.abc import Iterator

import pytest
from sqlalchemy import func, insert, select

from sms_gateway import link_health
from sms_gateway.config import Config
from sms_gateway.gateway import Gateway
from sms_gateway.loopback import LoopbackTransport
from sms_gateway.pipeline import outbox as queue
from sms_gateway.pipeline import reroute
from sms_gateway.pipeline.sender import Sender
from sms_gateway.smpp.transport import SmppTransport
from sms_gateway.transport import InboundPart
from storage.tables.ledger import permits
from storage.tables.messages import inbox, outbox
from tests.conftest import NEIGHBOUR, OFFICER, RESIDENT, STRANGER
from tools.simsmsc.kit import local_settings
from tools.simsmsc.simulator import SimSmsc
from tools.waiting import wait_for


def count(engine, table, *where) -> int:
    with engine.connect() as conn:
        return conn.scalar(select(func.count()).select_from(table).where(*where))


def replies(engine) -> list:
    with engine.connect() as conn:
        return conn.execute(select(outbox.c.recipient, outbox.c.state, outbox.c.attempts,
                                   outbox.c.next_attempt_at, outbox.c.created_at,
                                   outbox.c.maybe_sent, outbox.c.channel)
                            .order_by(outbox.c.id)).all()


def tuned(config: Config, **pipeline: object) -> Config:
    return dataclasses.replace(config, pipeline=dataclasses.replace(config.pipeline, **pipeline))


@pytest.fixture
def clock(clock):
    """The test's clock, started at the real time: the SMPP link stamps validity periods by
    the real one."""
    clock.now = dt.datetime.now(dt.UTC)
    return clock


@pytest.fixture
def smsc() -> Iterator[SimSmsc]:
    with SimSmsc() as sim:
        yield sim


@pytest.fixture
def smpp(smsc) -> Iterator[SmppTransport]:
    transport = SmppTransport(local_settings(smsc.port))
    yield transport
    transport.stop()


def run_senders(gateway: Gateway) -> None:
    """One turn of every sender, as their workers would take it, outcomes written."""
    for sender in (*gateway.senders, *gateway.urgent_senders):
        sender.run_once()
        sender.flush()


# -- an SMSC that is away ---------------------------------------------------------------------


def test_an_smsc_gone_for_forty_minutes_fails_no_reply_and_spends_no_attempt(
        config, engine, people, clock, smsc, smpp):
    gateway = Gateway(config, engine, [smpp], clock=clock)
    smpp.start(gateway.sink)  # the test turns the pipeline's wheels itself
    wait_for(smpp.ready)
    smsc.inject(RESIDENT, "ВЫХОД 1", encoding="ucs2")
    smsc.inject(STRANGER, "hello")  # not a resident: an answer without a permit, no expiry
    wait_for(lambda: count(engine, inbox) == 2)
    gateway.dispatcher.run_once()
    smsc.go_away()
    wait_for(lambda: not smpp.ready())
    for _ in range(40):  # a minute at a time: the senders poll, the scheduler runs
        run_senders(gateway)
        gateway.maintenance.maintain()
        clock.advance(minutes=1)
    assert [(r.state, r.attempts) for r in replies(engine)] == [("pending", 0)] * 2
    smsc.come_back()
    wait_for(smpp.ready)
    run_senders(gateway)
    assert [(r.state, r.attempts) for r in replies(engine)] == [("sent", 1)] * 2
    assert sorted(s.to for s in smsc.submits) == sorted(p.lstrip("+") for p in (RESIDENT,
                                                                                 STRANGER))


def test_a_permit_reply_that_cannot_leave_before_its_permit_ends_is_refunded(
        config, engine, people, clock, smsc, smpp):
    gateway = Gateway(config, engine, [smpp], clock=clock)
    smpp.start(gateway.sink)
    wait_for(smpp.ready)
    smsc.go_away()
    wait_for(lambda: not smpp.ready())
    gateway.inbox.store([InboundPart(smpp.channel, RESIDENT, "ВЫХОД 1", clock())])
    gateway.dispatcher.run_once()
    clock.advance(minutes=61)
    run_senders(gateway)
    gateway.maintenance.maintain()
    assert [(r.state, r.attempts) for r in replies(engine)] == [("expired", 0)]
    with engine.connect() as conn:
        assert conn.scalar(select(permits.c.state)) == "refunded"


def test_the_senders_wake_when_their_link_binds_again_not_at_their_next_poll(
        config, engine, people, smsc, smpp):
    gateway = Gateway(tuned(config, poll_seconds=60), engine, [smpp])
    gateway.start()
    try:
        wait_for(smpp.ready)
        smsc.go_away()
        wait_for(lambda: not smpp.ready())
        now = dt.datetime.now(dt.UTC)
        gateway.inbox.store([InboundPart(smpp.channel, RESIDENT, "ВЫХОД 1", now),
                             InboundPart(smpp.channel, OFFICER, "ПРОВЕРКА K7MQ-3DXA", now)])
        wait_for(lambda: count(engine, outbox, outbox.c.state == "pending") == 2)
        smsc.come_back()  # the next poll is a minute away
        smsc.wait(lambda: len(smsc.submits) == 2, timeout=30)
    finally:
        gateway.stop()
    assert all(r.attempts == 1 for r in replies(engine))


def test_submits_cut_off_by_a_drop_are_handed_back_keeping_their_place_and_no_attempt(
        config, engine, people, clock, smsc, smpp):
    gateway = Gateway(config, engine, [smpp], clock=clock)
    smpp.start(gateway.sink)
    wait_for(smpp.ready)
    smsc.inject(RESIDENT, "ВЫХОД 1", encoding="ucs2")
    wait_for(lambda: count(engine, inbox) == 1)
    gateway.dispatcher.run_once()
    [before] = replies(engine)
    smsc.faults.silent = True  # written, never answered: then the link drops
    sending = threading.Thread(target=gateway.senders[0].run_once)
    sending.start()
    wait_for(lambda: smpp.health().details["window_in_use"] == 1)
    smsc.drop()
    sending.join(10)
    gateway.senders[0].flush()
    smsc.faults.silent = False
    wait_for(smpp.ready)
    clock.advance(seconds=5)
    smsc.inject(NEIGHBOUR, "ВЫХОД 2", encoding="ucs2")  # a newer reply joins the queue
    wait_for(lambda: count(engine, inbox) == 2)
    gateway.dispatcher.run_once()
    first = Sender(engine, smpp, config.pipeline, clock=clock, batch_size=1)
    first.run_once()
    first.flush()
    old, new = replies(engine)
    assert (old.recipient, old.state, old.attempts) == (RESIDENT, "sent", 1)
    assert old.next_attempt_at == before.next_attempt_at and old.maybe_sent
    assert (new.state, new.attempts) == ("pending", 0)


# -- what the network refuses -------------------------------------------------------------------


def test_refusals_back_off_no_longer_than_retry_max_seconds(config, engine, people, clock):
    loopback = LoopbackTransport("test")
    gateway = Gateway(tuned(config, send_attempts=20, retry_max_seconds=90), engine, [loopback],
                      clock=clock)
    loopback.start(gateway.sink)
    loopback.fail_sends = True
    loopback.inject(STRANGER, "hello")
    gateway.dispatcher.run_once()
    waits = []
    for _ in range(12):
        run_senders(gateway)
        [row] = replies(engine)
        waits.append((row.next_attempt_at - clock()).total_seconds())
        clock.advance(seconds=waits[-1])
    assert row.state == "pending" and row.attempts == 12
    assert waits[0] < 10 and max(waits) <= 90 * 1.2 and waits[-1] >= 90 * 0.8


def test_a_loopback_link_that_is_down_is_no_attempt_however_many_turns_pass(
        config, engine, people, clock):
    loopback = LoopbackTransport("test")
    gateway = Gateway(config, engine, [loopback], clock=clock)
    loopback.start(gateway.sink)
    loopback.set_link(False)
    loopback.inject(STRANGER, "hello")
    gateway.dispatcher.run_once()
    for _ in range(48):  # two days
        run_senders(gateway)
        gateway.maintenance.maintain()
        clock.advance(hours=1)
    assert [(r.state, r.attempts) for r in replies(engine)] == [("pending", 0)]
    loopback.set_link(True)
    run_senders(gateway)
    assert [m.to for m in loopback.sent] == [STRANGER]


# -- rerouting ----------------------------------------------------------------------------------


def test_replies_move_to_a_healthy_link_only_after_reroute_after_seconds_of_outage(
        config, engine, people, clock):
    flaky, steady = LoopbackTransport("flaky"), LoopbackTransport("steady")
    gateway = Gateway(tuned(config, reroute_after_seconds=45), engine, [flaky, steady],
                      clock=clock)
    for transport in (flaky, steady):
        transport.start(gateway.sink)
    flaky.inject(RESIDENT, "ВЫХОД 1")
    gateway.dispatcher.run_once()
    clock.advance(minutes=5)  # an old reply (a flood's queue), then its link flaps
    flaky.set_link(False)
    clock.advance(seconds=44)
    gateway.maintenance.maintain()
    assert [r.channel for r in replies(engine)] == ["loopback:flaky"]
    clock.advance(seconds=1)
    gateway.maintenance.maintain()
    assert [r.channel for r in replies(engine)] == ["loopback:steady"]
    run_senders(gateway)
    assert [m.to for m in steady.sent] == [RESIDENT] and not flaky.sent


def _queue(engine, now: dt.datetime, channel: str, count_: int, **extra: object) -> None:
    with engine.begin() as conn:
        conn.execute(insert(outbox), [queue.new_row(n, channel, f"+7927{n:07d}", "text", now,
                                                    **extra) for n in range(count_)])


def test_smpp_replies_fall_back_to_modems_a_few_at_a_time_when_configured(engine, clock):
    now = clock()
    _queue(engine, now, "smpp:op", 60)
    _queue(engine, now, "smpp:op", 2, ussd_op=17)  # a USSD screen cannot go by SMS
    states = {"smpp:op": link_health.ChannelState("smpp:op", "smpp", now),
              "modem:pool": link_health.ChannelState("modem:pool", "modem", None)}
    later = now + dt.timedelta(seconds=31)
    after = dt.timedelta(seconds=30)
    with engine.begin() as conn:
        assert reroute.reroute(conn, states, later, after, fallback_to_modem=False) == 0
        moved = reroute.reroute(conn, states, later, after, fallback_to_modem=True)
        again = reroute.reroute(conn, states, later, after, fallback_to_modem=True)
    assert moved == reroute.FALLBACK_BACKLOG and again == 0  # the pool's queue is full
    assert Counter(r.channel for r in replies(engine)) == {
        "modem:pool": reroute.FALLBACK_BACKLOG, "smpp:op": 62 - reroute.FALLBACK_BACKLOG}
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(outbox).where(
            outbox.c.ussd_op.is_not(None), outbox.c.channel == "smpp:op")) == 2


# -- link health --------------------------------------------------------------------------------


def test_an_outage_keeps_its_start_across_a_restart_of_the_node(config, engine, people, clock):
    flaky = LoopbackTransport("flaky")
    first = Gateway(config, engine, [flaky], clock=clock, node="kinel-1")
    flaky.start(first.sink)
    flaky.set_link(False)
    went_down = clock()
    clock.advance(seconds=30)
    first.maintenance.snapshot_health()
    clock.advance(seconds=20)  # restarted
    again = LoopbackTransport("flaky")
    second = Gateway(config, engine, [again], clock=clock, node="kinel-1")
    second.maintenance.resume_outages()
    again.start(second.sink)
    again.set_link(False)  # still down after the restart
    clock.advance(seconds=10)
    second.maintenance.snapshot_health()
    with engine.connect() as conn:
        [report] = link_health.reports(conn)
    assert not report.up and report.down_since == went_down
    again.set_link(True)
    second.maintenance.snapshot_health()
    with engine.connect() as conn:
        [report] = link_health.reports(conn)
    assert report.up and report.down_since is None


def test_a_channel_is_down_only_while_no_node_has_it_up(clock):
    now = clock()

    def ago(seconds: float) -> dt.datetime:
        return now - dt.timedelta(seconds=seconds)

    found = [link_health.Report("smpp:op", "smpp", False, ago(5), ago(300)),
             link_health.Report("smpp:op", "smpp", False, ago(5), ago(100)),
             link_health.Report("smpp:b", "smpp", False, ago(5), ago(50)),
             link_health.Report("smpp:b", "smpp", True, ago(5), None),
             link_health.Report("modem:pool", "modem", True, ago(600), None)]  # a node gone
    states = link_health.channel_states(found, now, dt.timedelta(seconds=60))
    assert states["smpp:op"].down_for(now) == dt.timedelta(seconds=100)  # the last to lose it
    assert states["smpp:b"].down_since is None
    assert states["modem:pool"].down_for(now) == dt.timedelta(seconds=600)


# -- a request asked again before its answer left ----------------------------------------------


@pytest.fixture
def lane(config, engine, people, clock) -> tuple[Gateway, LoopbackTransport]:
    loopback = LoopbackTransport("test")
    gateway = Gateway(config, engine, [loopback], clock=clock)
    loopback.start(gateway.sink)
    return gateway, loopback


def ask(lane, clock, *messages: tuple[str, str]) -> None:
    """Messages received now (the test's clock), stored in one go and decided."""
    gateway, loopback = lane
    loopback.inject_parts([InboundPart(loopback.channel, sender, text, clock())
                           for sender, text in messages])
    while gateway.dispatcher.run_once().messages:
        pass


def outcomes(engine) -> list[tuple[str, str]]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(select(inbox.c.sender, inbox.c.outcome)
                                               .order_by(inbox.c.id))]


def test_a_request_delivered_again_while_its_answer_waits_gets_no_second_answer(
        lane, engine, clock):
    gateway, loopback = lane
    loopback.set_link(False)  # the answer cannot leave yet
    ask(lane, clock, (RESIDENT, "ВЫХОД 1"))
    clock.advance(seconds=30)
    ask(lane, clock, (RESIDENT, "ВЫХОД 1"), (RESIDENT, "ВЫХОД 2"))  # again, and another
    assert outcomes(engine) == [(RESIDENT, "issued"), (RESIDENT, "duplicate"),
                                (RESIDENT, "repeated")]
    loopback.set_link(True)
    run_senders(gateway)
    assert len(loopback.sent) == 2


def test_identical_requests_in_one_batch_get_one_answer(lane, engine, clock):
    gateway, loopback = lane
    ask(lane, clock, (RESIDENT, "ВЫХОД 1"), (NEIGHBOUR, "ВЫХОД 1"), (RESIDENT, "ВЫХОД 1"))
    assert outcomes(engine) == [(RESIDENT, "issued"), (NEIGHBOUR, "issued"),
                                (RESIDENT, "duplicate")]
    run_senders(gateway)
    assert sorted(m.to for m in loopback.sent) == sorted([RESIDENT, NEIGHBOUR])


def test_asked_again_after_the_answer_left_is_a_new_request_as_before(lane, engine, clock):
    gateway, loopback = lane
    ask(lane, clock, (RESIDENT, "ВЫХОД 1"))
    run_senders(gateway)
    clock.advance(seconds=30)
    ask(lane, clock, (RESIDENT, "ВЫХОД 1"))
    run_senders(gateway)
    assert outcomes(engine) == [(RESIDENT, "issued"), (RESIDENT, "repeated")]
    assert len(loopback.sent) == 2


def test_a_copy_that_arrived_before_the_answer_left_is_a_duplicate_when_decided_after(
        lane, engine, clock):
    gateway, loopback = lane
    ask(lane, clock, (RESIDENT, "ВЫХОД 1"))
    clock.advance(seconds=1)
    loopback.inject_parts([InboundPart(loopback.channel, RESIDENT, "ВЫХОД 1", clock())])
    clock.advance(seconds=1)
    run_senders(gateway)  # the answer leaves after the copy came in, before it is decided
    while gateway.dispatcher.run_once().messages:
        pass
    assert outcomes(engine) == [(RESIDENT, "issued"), (RESIDENT, "duplicate")]
    assert len(loopback.sent) == 1


def test_asked_again_once_the_unsent_answers_permit_is_over_is_a_new_request(
        lane, engine, clock):
    _, loopback = lane
    loopback.set_link(False)
    ask(lane, clock, (RESIDENT, "ВЫХОД 1"))
    clock.advance(minutes=61)
    ask(lane, clock, (RESIDENT, "ВЫХОД 1"))
    assert outcomes(engine) == [(RESIDENT, "issued"), (RESIDENT, "issued")]
