"""The ledger goes away under traffic: PostgreSQL stopped for a while, a SQLite disk that fills.

Store-before-acknowledge is what is on trial: while nothing can be committed, the SMSC must
hear ESME_RX_T_APPN (and deliver again later) and the modem must leave the SMS on its SIM;
once the database is back, everything is answered, nothing lost, no permit twice.
Short forms run by default (a 3 s outage, 2 s of full disk); the full forms (10 s each) with
`-m slow` or `FAULTS_FULL=1`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import logging
import socket
import sqlite3
import time
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, event, text

from sms_gateway import migrate
from sms_gateway.config import from_dict
from sms_gateway.gateway import Gateway
from sms_gateway.pipeline.inbox import Inbox
from sms_gateway.smpp.constants import Status
from sms_gateway.smpp.settings import SmppSettings
from sms_gateway.smpp.transport import SmppTransport
from sms_gateway.transport import InboundPart, StoreError
from storage.db import make_engine
from tests.faults_support import (
    FORMS,
    ROOT,
    KeepingSmsc,
    Ledger,
    Node,
    SmallDisk,
    StoppablePostgres,
    add_residents,
    check_smpp_flood,
    flood,
    form,
    node_config,
    phones,
    wait_for,
)
from tests.pg_server import start_or_skip
from tools.sim_modem import SimModem

# requests over the SMSC, seconds the database is away
OUTAGES = {"short": (900, 3.0), "full": (2500, 10.0)}
DISK_FULL = {"short": (300, 2.0), "full": (1000, 10.0)}
MODEM_SMS = 5


@pytest.fixture(params=FORMS)
def size(request: pytest.FixtureRequest) -> str:
    return form(request)


@pytest.fixture
def own_postgres():
    """A server of this test's own: stopping it must not break the tests that share the other."""
    server = StoppablePostgres()
    start_or_skip(server)
    admin = create_engine(server.url(), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text("CREATE DATABASE outage"))
    admin.dispose()
    engine = make_engine(server.url("outage"))
    migrate.upgrade(engine)
    try:
        yield server, engine
    finally:
        engine.dispose()
        server.stop()


def test_postgres_away_stops_acknowledgements_then_everything_is_answered(
        size: str, own_postgres: tuple[StoppablePostgres, Engine], tmp_path: Path) -> None:
    server, engine = own_postgres
    count, away = OUTAGES[size]
    numbers = phones(count)
    on_sim = phones(MODEM_SMS + 1, prefix="+7930")
    add_residents(engine, numbers + on_sim)
    with KeepingSmsc() as smsc, SimModem(tmp_path / "modem0", seed=1) as sim:
        config = node_config(tmp_path / "node.toml", server.url("outage"), smpp_port=smsc.port,
                             modems=[sim.device])
        node = Node(config, "kinel-1", tmp_path / "node.log")
        try:
            wait_for(lambda: smsc.bound_count() >= 1, what="the node bound")
            sim.inject(on_sim[0], "ВЫХОД 1")
            wait_for(lambda: not sim.sim_messages(), what="the modem up and reading")
            flooding = flood(smsc, numbers, seconds=away + 2.0)
            wait_for(lambda: smsc.acknowledged() >= 50, what="traffic flowing")
            server.go_away()
            down = time.monotonic()
            for number in on_sim[1:]:
                sim.inject(number, "EXIT shop")
            time.sleep(away)
            still_on_sim = len(sim.sim_messages())
            up = time.monotonic()
            server.come_back()
            flooding.join(60)
            wait_for(smsc.all_acknowledged, timeout=300, what="every request acknowledged")
            wait_for(lambda: set(smsc.replied_phones()) >= set(numbers), timeout=300,
                     what="every resident answered")
            wait_for(lambda: not sim.sim_messages(), what="SIM emptied")
            wait_for(lambda: {str(e["to"]) for e in sim.sent()} >= set(on_sim),
                     what="modem senders answered")
            wait_for(lambda: Ledger.read(engine).settled, what="ledger settled")
        finally:
            node.stop()
    # While it was away: refusals, and no acknowledgement of a message first delivered after
    # the stop (one delivered before may have been committed just in time, and its answer
    # may arrive late on a loaded machine); the modem kept what arrived on its SIM.
    during = [status for at, number, status in smsc.answers
              if at <= up and (smsc.requests[number].first_delivered or 0) >= down]
    assert during and Status.OK not in during, (len(during), during.count(Status.OK))
    assert Status.TEMPORARY_APP_ERROR in during
    assert still_on_sim == MODEM_SMS
    check_smpp_flood(engine, smsc, numbers)
    ledger = Ledger.read(engine)
    assert all(ledger.inbox_rows[p] == 1 and len(ledger.permits[p]) == 1 for p in on_sim)
    log = (tmp_path / "node.log").read_text(encoding="utf-8")
    # Said once, clearly, with the database's reason; and said when it is over.
    assert "inbound messages cannot be stored (OperationalError: connection" in log
    assert "inbound messages are stored again" in log
    # The links stay up: a transport asking whether a sender is an officer while the
    # database is away must not tear its own SMPP session or modem session down.
    assert "link failed" not in log and "unexpected failure" not in log


@dataclasses.dataclass
class PageCap:
    """The fallback when no small disk can be mounted: SQLite may not grow the file beyond
    `pages` (`PRAGMA max_page_count` on every connection the gateway checks out)."""

    pages: int | None = None

    def install(self, engine: Engine) -> None:
        @event.listens_for(engine, "checkout")
        def _cap(dbapi_connection, _record, _proxy) -> None:
            limit = self.pages or 1_073_741_823
            dbapi_connection.execute(f"PRAGMA max_page_count = {limit}")

    def fill(self, engine: Engine) -> None:
        with engine.connect() as conn:
            self.pages = conn.exec_driver_sql("PRAGMA page_count").scalar()

    def free(self) -> None:
        self.pages = None


def _truncate_wal(database: Path) -> None:
    """Checkpoint and empty the WAL, so a write needs new disk space at once (a WAL that
    once grew is reused from its start and would take a few more commits first)."""
    with contextlib.closing(sqlite3.connect(database, timeout=30)) as conn:
        busy, _, _ = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    assert busy == 0, "the WAL could not be emptied"


def _gateway(engine: Engine, url: str, port: int) -> Gateway:
    config = from_dict({"database": {"url": url}, "permits": {"replies_per_hour": 1000},
                        "pipeline": {"retry_base_seconds": 0.5, "claim_timeout_seconds": 2},
                        "districts": [{"id": "kinel", "name": "Кинель", "enabled": True}]},
                       base=ROOT)
    settings = SmppSettings(name="op", host="127.0.0.1", port=port, system_id="gw",
                            password="x", source_addr="377", window=50,
                            reconnect_min_seconds=0.05, reconnect_max_seconds=0.5)
    return Gateway(config, engine, [SmppTransport(settings)])


def test_a_full_sqlite_disk_stops_acknowledgements_then_recovers_when_freed(
        size: str, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    count, full_for = DISK_FULL[size]
    disk = SmallDisk(tmp_path / "disk")
    real_disk = disk.mount()
    url = f"sqlite:///{disk.where / 'permits.db'}"
    engine = make_engine(url)
    cap = PageCap()
    try:
        migrate.upgrade(engine)
        if not real_disk:
            cap.install(engine)
        before, during = phones(count, prefix="+7931"), phones(count, prefix="+7932")
        add_residents(engine, before + during)
        caplog.set_level(logging.INFO)
        with KeepingSmsc() as smsc:
            gateway = _gateway(engine, url, smsc.port)
            gateway.start()
            try:
                wait_for(lambda: smsc.bound_count() >= 1, what="the gateway bound")
                flood(smsc, before).join()
                wait_for(smsc.all_acknowledged, what="the first flood stored")
                wait_for(lambda: Ledger.read(engine).settled, what="the first flood handled")
                if real_disk:
                    _truncate_wal(disk.where / "permits.db")
                    assert disk.fill() > 0
                else:
                    cap.fill(engine)
                refused_before = smsc.refusals()
                flood(smsc, during).join()
                wait_for(lambda: smsc.refusals() > refused_before + 10, what="refusals")
                time.sleep(full_for)
                acknowledged_while_full = sum(
                    1 for r in smsc.requests[len(before):] if r.acknowledged)
                disk.free()
                cap.free()
                wait_for(smsc.all_acknowledged, timeout=300, what="every request acknowledged")
                wait_for(lambda: set(smsc.replied_phones()) >= set(before + during),
                         timeout=300, what="every resident answered")
                wait_for(lambda: Ledger.read(engine).settled, what="ledger settled")
            finally:
                gateway.stop()
        if real_disk:  # a real full disk refuses every write: nothing may be acknowledged
            assert acknowledged_while_full == 0
        else:  # rows that fit in pages already allocated may still go in
            assert acknowledged_while_full < count
        check_smpp_flood(engine, smsc, before + during)
        said = [r.getMessage() for r in caplog.records
                if r.name == "sms_gateway.pipeline.store_errors"]
        assert any("cannot be stored (OperationalError: database or disk is full)" in line
                   for line in said), said
        assert any("stored again" in line for line in said), said
        assert len(said) <= 2 + full_for // 30, "one line when it starts, one when it ends"
    finally:
        engine.dispose()
        disk.unmount()


def test_with_the_database_unreachable_a_transport_gets_a_store_error_not_a_crash(
        caplog: pytest.LogCaptureFixture) -> None:
    """Transports ask `is_urgent` before storing (the SMPP reader thread, a modem's thread):
    it must answer from what it knows instead of raising, and `store` must raise StoreError
    (which transports turn into ESME_RX_T_APPN or "leave it on the SIM"), worded without the
    statement or its parameters (message texts and numbers stay out of the log)."""
    unreachable = make_engine(f"postgresql://nobody@127.0.0.1:{_closed_port()}/permits")
    inbox = Inbox(unreachable)
    part = InboundPart("smpp:op", "+79270000001", "ВЫХОД 1", dt.datetime.now(dt.UTC))
    caplog.set_level(logging.INFO, logger="sms_gateway.pipeline.store_errors")
    try:
        assert inbox.is_urgent("+79370000099") is False
        for _ in range(3):
            with pytest.raises(StoreError) as refused:
                inbox.store([part])
            assert str(refused.value).startswith("OperationalError: ")
            assert "INSERT" not in str(refused.value) and "ВЫХОД" not in str(refused.value)
    finally:
        unreachable.dispose()
    said = [r.getMessage() for r in caplog.records if "cannot be stored" in r.getMessage()]
    assert len(said) == 1, said  # one line for the outage, not one per refused batch


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed again when we return: connections are refused
