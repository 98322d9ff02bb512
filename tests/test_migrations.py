"""The Alembic history builds exactly the tables the code declares, on SQLite and PostgreSQL."""

from __future__ import annotations

import importlib

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from sms_gateway import migrate
from sms_gateway.schema import metadata


def test_migrations_match_the_declared_tables(database_url):
    from sms_gateway.db import make_engine

    for module in ("sms_gateway.web.schema",):
        try:
            importlib.import_module(module)
        except ModuleNotFoundError:
            pass
    engine = make_engine(database_url)
    migrate.upgrade(engine)  # a second upgrade is a no-op
    with engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), metadata) == []
    engine.dispose()
