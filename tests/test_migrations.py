"""The Alembic history builds exactly the tables the code declares, on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

import sms_gateway.web.schema  # noqa: F401  (the operators' tables join the metadata)
from sms_gateway import migrate
from sms_gateway.schema import metadata


def test_migrations_match_the_declared_tables(database_url):
    from sms_gateway.db import make_engine

    engine = make_engine(database_url)
    migrate.upgrade(engine)  # a second upgrade is a no-op
    with engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), metadata) == []
    engine.dispose()
