"""What SQLite and PostgreSQL spell alike but SQLAlchemy builds per dialect: INSERT ... ON
CONFLICT, and the upsert built on it."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect


def insert_for(dialect: Dialect, table: Table):
    """The dialect's own INSERT, which knows ON CONFLICT."""
    module = postgresql if dialect.name == "postgresql" else sqlite
    return module.insert(table)


def upsert(conn: Connection, table: Table, rows: Sequence[dict], keys: list[str],
           updated: list[str]) -> None:
    """Insert rows, or update the `updated` columns of rows whose `keys` already exist."""
    stmt = insert_for(conn.dialect, table)
    conn.execute(stmt.on_conflict_do_update(
        index_elements=[table.c[k] for k in keys],
        set_={c: stmt.excluded[c] for c in updated},
    ), list(rows))
