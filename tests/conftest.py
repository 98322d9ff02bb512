"""Fixtures that build real things: a migrated database (SQLite file or a real PostgreSQL
server started here), the rules, a clock the test controls."""

from __future__ import annotations

import datetime as dt
import itertools
import os
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from permits import registry
from permits.service import Rules
from sms_gateway import migrate
from sms_gateway.config import Config, District, from_dict
from storage.db import make_engine
from tests.pg_server import PostgresServer, start_or_skip

# Helper modules whose asserts should explain themselves like the tests' own.
pytest.register_assert_rewrite("tests.web_support", "tests.modem_harness",
                               "tests.modem_gateway_rig", "tests.faults_support",
                               "tests.install_support", "tests.registration_support")

ROOT = Path(__file__).resolve().parent.parent
KINEL = District("kinel", "Кинель", True)
SAMARA = District("samara", "Самара", False)
_databases = itertools.count(1)
# When the test districts got their first regime: well before any test's clock.
SINCE = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


class FakeClock:
    """Aware UTC time that only moves when the test says so."""

    def __init__(self, start: dt.datetime) -> None:
        self.now = start

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += dt.timedelta(**delta)

    def set_local(self, zone: str, *args: int) -> None:
        from zoneinfo import ZoneInfo

        self.now = dt.datetime(*args, tzinfo=ZoneInfo(zone)).astimezone(dt.UTC)


@pytest.fixture(scope="session")
def postgres():
    server = PostgresServer()
    start_or_skip(server)
    template = create_engine(server.url(), isolation_level="AUTOCOMMIT")
    with template.connect() as conn:
        conn.execute(text("CREATE DATABASE permits_template"))
    migrated = make_engine(server.url("permits_template"))
    migrate.upgrade(migrated)
    migrated.dispose()
    yield server, template
    template.dispose()
    server.stop()


@pytest.fixture(scope="session")
def dist(tmp_path_factory):
    """The package built as a release is (sdist, then the wheel from it), with a wheelhouse of
    its dependencies; built once per session (tests/install_support.py)."""
    from tests.install_support import build

    return build(tmp_path_factory.mktemp("dist"))


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path) -> str:
    """A fresh, migrated database of each kind."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'permits.db'}"
        migrate.upgrade(make_engine(url))
        return url
    server, template = request.getfixturevalue("postgres")
    name = f"t{next(_databases)}_{os.getpid()}"
    with template.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {name} TEMPLATE permits_template"))
    return server.url(name)


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database_url(request, tmp_path) -> str:
    """A database of each kind without any table yet (for SQLite, not even its folder)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'ledger' / 'permits.db'}"
    server, admin = request.getfixturevalue("postgres")
    name = f"empty_{uuid.uuid4().hex}"
    with admin.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {name}"))
    return server.url(name)


@pytest.fixture
def engine(database_url):
    engine = make_engine(database_url)
    with engine.begin() as conn:
        registry.sync_districts(conn, [(d.id, d.name, d.enabled) for d in (KINEL, SAMARA)],
                                SINCE)
    yield engine
    engine.dispose()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(dt.datetime(2026, 11, 25, 9, 0, tzinfo=dt.UTC))  # 13:00 in Samara


@pytest.fixture
def config(database_url) -> Config:
    return from_dict(
        {
            "database": {"url": database_url},
            "districts": [
                {"id": "kinel", "name": "Кинель", "enabled": True},
                {"id": "samara", "name": "Самара", "enabled": False},
            ],
        },
        base=ROOT,
    )


@pytest.fixture
def rules(config) -> Rules:
    return Rules(config.rules)


RESIDENT = "+79270000001"
NEIGHBOUR = "+79270000002"
SAMARA_RESIDENT = "+79270000003"
STRANGER = "+79270000009"
OFFICER = "+79370000099"


@pytest.fixture
def people(engine, clock):
    """Two Kinel residents, one in Samara (not switched on yet) and one officer."""
    import io

    csv = (
        "phone,name,district\n"
        f"{RESIDENT},Иванов Иван Иванович,kinel\n"
        f"{NEIGHBOUR},Petrov Petr,kinel\n"
        f"{SAMARA_RESIDENT},Сидорова Анна,samara\n"
    )
    with engine.begin() as conn:
        registry.import_residents(conn, io.StringIO(csv), "RU", clock())
        registry.add_officer(conn, OFFICER, "Сержант Петров", "RU", clock())


@pytest.fixture
def send(engine, rules, clock, people):
    """Hand one message to the rules in its own transaction; returns the Outcome."""
    from permits.messages import Inbound

    def send(sender: str, text: str):
        with engine.begin() as conn:
            [outcome] = rules.handle(conn, [Inbound(sender, text, "test:phone", clock())], clock())
        return outcome

    return send
