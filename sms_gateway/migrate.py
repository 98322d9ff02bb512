"""Schema migrations (Alembic), run by `permit-gateway db upgrade` and by `run` at start."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, Engine, text

_SCRIPTS = Path(__file__).with_name("migrations")


def _alembic(engine: Engine, connection) -> AlembicConfig:
    config = AlembicConfig()
    config.set_main_option("script_location", str(_SCRIPTS))
    config.attributes["connection"] = connection
    return config


@dataclass(frozen=True)
class Upgrade:
    """What `upgrade` found and left: revisions before (None: an empty database) and after."""

    before: str | None
    after: str | None

    def describe(self) -> str:
        if self.before == self.after:
            return f"database is up to date (revision {self.after})"
        if self.before is None:
            return f"database created (revision {self.after})"
        return f"database migrated from revision {self.before} to {self.after}"


def _current(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> Upgrade:
    """Bring the schema up to date; nodes starting together on PostgreSQL take turns.

    On SQLite a migration that changes a table's constraints rebuilds the table (copy, drop,
    rename), and dropping a table that other rows point at fails while foreign keys are on:
    they are off during the migration (SQLite switches them only outside a transaction) and
    every reference is checked before it commits."""
    with engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            connection.connection.dbapi_connection.execute("PRAGMA foreign_keys=OFF")
        try:
            with connection.begin():
                if connection.dialect.name == "postgresql":
                    connection.execute(text("SELECT pg_advisory_xact_lock(hashtext("
                                            "'permit-gateway migrations'))"))
                before = _current(connection)
                command.upgrade(_alembic(engine, connection), revision)
                if sqlite and connection.exec_driver_sql("PRAGMA foreign_key_check").first():
                    raise RuntimeError("the migration would leave rows pointing nowhere; "
                                       "nothing was changed")
                after = _current(connection)
        finally:
            if sqlite:
                connection.connection.dbapi_connection.execute("PRAGMA foreign_keys=ON")
    return Upgrade(before, after)


def new_revision(engine: Engine, message: str) -> None:
    """For developers: write a migration from the difference between tables and database."""
    with engine.begin() as connection:
        command.revision(_alembic(engine, connection), message=message, autogenerate=True)
