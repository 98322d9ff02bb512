"""Several nodes on one PostgreSQL: notifications, heartbeats, and the quota under two gateways
at once; the retention purge."""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import json
import subprocess
import sys
import time
from collections import Counter

import pytest
from sqlalchemy import func, insert, select

from permits import codes, registry
from sms_gateway.gateway import Gateway
from sms_gateway.loopback import LoopbackTransport
from sms_gateway.pipeline import purge
from sms_gateway.pipeline.sink import standalone
from storage.db import make_engine
from storage.tables.console import login_failures
from storage.tables.ledger import daily_counts, outcomes, permits, residents, verifications
from storage.tables.messages import inbox, nodes, outbox
from tests.conftest import OFFICER, RESIDENT, ROOT
from tools.simsmsc.simulator import SimSmsc
from tools.waiting import wait_for


def test_a_node_writes_its_heartbeat_with_its_links(config, engine, people):
    gateway = Gateway(config, engine, [LoopbackTransport("hb")], node="kinel-1")
    gateway.start()
    try:
        with engine.connect() as conn:
            row = conn.execute(select(nodes)).one()
        assert row.name == "kinel-1" and json.loads(row.transports) == ["loopback:hb"]
    finally:
        gateway.stop()


def test_postgres_notifications_wake_another_node_long_before_its_poll(database_url, config,
                                                                       engine, people):
    if not database_url.startswith("postgresql"):
        pytest.skip("LISTEN/NOTIFY is PostgreSQL's; SQLite runs one process")
    slow = dataclasses.replace(config, pipeline=dataclasses.replace(config.pipeline,
                                                                    poll_seconds=60))
    transport = LoopbackTransport("wake")
    worker_node = Gateway(slow, engine, [transport], node="b")
    worker_node.start()
    try:
        time.sleep(0.5)  # the listener is connected and the first poll is behind us
        other_engine = make_engine(database_url)
        storing_node = standalone(other_engine)  # another node's transport stores the message
        LoopbackTransport("wake").start(storing_node)
        started = time.monotonic()
        transport_other = LoopbackTransport("wake")
        transport_other.start(storing_node)
        transport_other.inject(RESIDENT, "ВЫХОД 1")
        wait_for(lambda: transport.sent, timeout=30)
        assert time.monotonic() - started < 30  # without a notification: the 60 s poll
        other_engine.dispose()
    finally:
        worker_node.stop()


def _seed_spent_slot(engine, phones, now):
    """Each resident already used one of today's two permits (it is over)."""
    with engine.begin() as conn:
        ids = dict(conn.execute(select(residents.c.phone, residents.c.id)
                                .where(residents.c.phone.in_(phones))).all())
        rows = []
        for phone in phones:
            code = codes.generate()
            rows.append({"code": code, "keypad": codes.keypad(code), "resident_id": ids[phone],
                         "local_day": now.astimezone(dt.timezone(dt.timedelta(hours=4))).date(),
                         "slot": 1, "reason": 1, "issued_at": now - dt.timedelta(hours=3),
                         "valid_from": now - dt.timedelta(hours=3),
                         "valid_until": now - dt.timedelta(hours=2), "state": "issued",
                         "issued_by": "sms"})
        conn.execute(insert(permits), rows)


def _node(tmp_path, name, database_url, port):
    config = tmp_path / f"{name}.toml"
    config.write_text(
        f'[database]\nurl = "{database_url}"\n'
        '[permits]\nreplies_per_hour = 1000\n'
        '[pipeline]\nbatch_size = 50\n'
        '[[districts]]\nid = "kinel"\nname = "Кинель"\nenabled = true\n'
        f'[[smpp]]\nname = "op"\nhost = "127.0.0.1"\nport = {port}\nsystem_id = "{name}"\n'
        'password = "x"\nsource_addr = "377"\nreconnect_min_seconds = 0.05\n', encoding="utf-8")
    log = (tmp_path / f"{name}.log").open("w")
    return subprocess.Popen([sys.executable, "-m", "sms_gateway.cli", "--config", str(config),
                             "run", "--node", name, "--no-web"], cwd=ROOT,
                            stdin=subprocess.DEVNULL, stdout=log, stderr=log)


def test_two_nodes_on_one_postgres_hold_the_quota_and_answer_everyone(database_url, engine,
                                                                     tmp_path):
    if not database_url.startswith("postgresql"):
        pytest.skip("several nodes share a ledger on PostgreSQL")
    phones = [f"+7927555{n:04d}" for n in range(40)]
    csv = "phone,name,district\n" + "".join(f"{p},R {p},kinel\n" for p in phones)
    with engine.begin() as conn:
        registry.import_residents(conn, io.StringIO(csv), "RU", dt.datetime.now(dt.UTC))
    _seed_spent_slot(engine, phones, dt.datetime.now(dt.UTC))
    with SimSmsc() as smsc:
        children = [_node(tmp_path, name, database_url, smsc.port) for name in ("a", "b")]
        try:
            wait_for(lambda: len(smsc.binds) >= 2, timeout=60)
            # Each copy written differently: identical texts queued at once would be answered
            # once (a repeat before the answer left), and every request is to race here.
            texts = ("ВЫХОД 1", "vyhod apteka", "выход 1", "VYHOD APTEKA", "Выход 1",
                     "Vyhod apteka", "ВЫХОД  1", "vyhod  apteka")
            requests = [(phone, text) for pair in range(4) for phone in phones
                        for text in texts[2 * pair:2 * pair + 2]]
            for phone, text in requests:
                smsc.inject(phone, text, encoding="gsm7" if text.isascii() else "ucs2")
            wait_for(lambda: len(smsc.submits) >= len(requests), timeout=120)
        finally:
            for child in children:
                child.terminate()
            for child in children:
                child.wait(30)
        replied = Counter("+" + s.to.lstrip("+") for s in smsc.submits)
    assert all(replied[p] >= 8 for p in phones), replied
    with engine.connect() as conn:
        held = Counter(conn.scalars(select(residents.c.phone).join(
            permits, permits.c.resident_id == residents.c.id)))
        handled_by = set(conn.scalars(select(nodes.c.name)))
        assert conn.scalar(select(func.count()).select_from(inbox)) == len(requests)
    assert all(held[p] == 2 for p in phones), held  # the seeded one and exactly one more
    assert handled_by == {"a", "b"}


def test_retention_forgets_old_messages_and_permits_but_keeps_daily_counts(
        config, engine, rules, people, clock):
    old = clock()
    loopback = LoopbackTransport("old")
    gateway = Gateway(config, engine, [loopback], clock=clock)
    loopback.start(gateway.sink)
    loopback.inject(RESIDENT, "ВЫХОД 1")
    gateway.dispatcher.run_once()
    gateway.senders[0].run_once()
    gateway.senders[0].flush()
    old_code = codes.normalize(loopback.sent[0].text.split()[1])
    clock.advance(days=40)
    loopback.inject(RESIDENT, "ВЫХОД 2")
    loopback.inject(OFFICER, f"ПРОВЕРКА {old_code}")
    while gateway.dispatcher.run_once().messages:
        pass
    removed = purge.purge(engine, rules, retain_days=30, now=clock())
    assert removed == {"outcomes": 1, "checks": 0, "permits": 1, "residents": 0,
                       "messages": 2}
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(permits)) == 1
        assert conn.scalar(select(verifications.c.permit_id)) is None
        assert conn.execute(select(daily_counts.c.local_day, daily_counts.c.kind,
                                   daily_counts.c.count)).all() == [
            (rules.local_day(old), "issued", 1)]
        assert conn.scalar(select(func.count()).select_from(outcomes)) == 2
        assert conn.scalar(select(func.count()).select_from(outbox)) == 2
    assert purge.purge(engine, rules, retain_days=30, now=clock()) == {
        "outcomes": 0, "checks": 0, "permits": 0, "residents": 0, "messages": 0}


def test_retention_forgets_failed_logins_a_day_old_and_messages_set_aside_long_ago(
        config, engine, rules, clock):
    now, long_ago = clock(), clock() - dt.timedelta(days=40)
    with engine.begin() as conn:
        conn.execute(insert(login_failures), [
            {"username": "made-up", "address": "*", "failures": 9,
             "last_at": now - dt.timedelta(days=2)},
            {"username": "admin", "address": "*", "failures": 4,
             "last_at": now - dt.timedelta(hours=1)}])
        conn.execute(insert(inbox), [  # `failed`: how older versions set a message aside
            {"channel": "loopback:old", "sender": RESIDENT, "text": "ВЫХОД 1",
             "received_at": long_ago, "stored_at": long_ago, "state": "failed"}])
    purge.purge(engine, rules, retain_days=30, now=now)
    with engine.connect() as conn:
        assert conn.scalars(select(login_failures.c.username)).all() == ["admin"]
        assert conn.scalar(select(func.count()).select_from(inbox)) == 0
