"""The Alembic history builds exactly the tables the code declares, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import insert, select, text
from sqlalchemy.exc import IntegrityError

from sms_gateway import migrate
from storage.tables import metadata
from storage.tables.console import operators
from storage.tables.ledger import districts, permits, residents, verifications


def test_migrations_match_the_declared_tables(database_url):
    from storage.db import make_engine

    engine = make_engine(database_url)
    migrate.upgrade(engine)  # a second upgrade is a no-op
    with engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), metadata) == []
    engine.dispose()


def test_upgrading_a_ledger_keeps_its_permits_and_what_points_at_them(empty_database_url):
    from storage.db import make_engine

    engine = make_engine(empty_database_url)
    migrate.upgrade(engine, "0003")  # before codes moved under their keypad digits
    now = dt.datetime(2026, 11, 25, 10, 0, tzinfo=dt.UTC)
    permit = {"code": "K7MQ3DXA", "keypad": "57673392", "resident_id": 1,
              "local_day": now.date(), "slot": 1, "reason": 1, "issued_at": now,
              "valid_from": now, "valid_until": now + dt.timedelta(hours=1), "state": "issued",
              "issued_by": "sms"}
    with engine.begin() as conn:
        assert conn.scalar(text("SELECT version_num FROM alembic_version")) == "0003"
        conn.execute(insert(districts), [{"id": "kinel", "name": "Кинель", "enabled": True}])
        conn.execute(insert(residents), [{"phone": "+79270000001", "name": "A",
                                          "district_id": "kinel", "self_registered": False,
                                          "created_at": now}])
        conn.execute(insert(permits), [permit])
        conn.execute(insert(verifications), [{"officer_phone": "+79370000001",
                                              "typed": "K7MQ-3DXA", "permit_id": 1,
                                              "outcome": "valid", "channel": "t",
                                              "checked_at": now}])
    migrate.upgrade(engine)
    with engine.begin() as conn:
        assert conn.scalar(select(permits.c.code)) == "K7MQ3DXA"
        assert conn.scalar(select(verifications.c.permit_id)) == 1
        assert compare_metadata(MigrationContext.configure(conn), metadata) == []
    with pytest.raises(IntegrityError), engine.begin() as conn:  # codes are still unique
        conn.execute(insert(permits), [permit | {"slot": 2}])
    with pytest.raises(IntegrityError), engine.begin() as conn:  # foreign keys are back on
        conn.execute(insert(verifications), [{"officer_phone": "+79370000001", "typed": "X",
                                              "permit_id": 99, "outcome": "unknown",
                                              "channel": "t", "checked_at": now}])
    engine.dispose()


def test_operators_from_before_roles_become_admins(empty_database_url):
    from storage.db import make_engine

    engine = make_engine(empty_database_url)
    migrate.upgrade(engine, "0007")  # before roles and sessions
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO operators (username, password_hash, created_at, active)"
                          " VALUES ('anna', 'x', '2026-11-25 10:00:00', :yes)"), {"yes": True})
    migrate.upgrade(engine)
    with engine.begin() as conn:
        assert conn.scalar(select(operators.c.role)) == "admin"
        assert compare_metadata(MigrationContext.configure(conn), metadata) == []
    engine.dispose()
