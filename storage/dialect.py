"""What SQLite and PostgreSQL spell alike but SQLAlchemy builds per dialect: INSERT ... ON
CONFLICT, and the upsert built on it; and `column IN (values)`, which PostgreSQL reads better
as one array."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import ColumnElement, Connection, Select, Table, any_, bindparam
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


def among(dialect: Dialect, column: ColumnElement, values: Iterable[object]) -> ColumnElement[bool]:
    """`column IN (values)`; on PostgreSQL `column = ANY(array)`, one parameter.

    An IN list is a new statement for every number of values: psycopg converts its text
    again (the texts are too long for its cache) and the server plans it again. With one
    array the text never changes, so psycopg prepares it once and the server keeps the plan
    (an index probe per value, as for IN). On SQLite an IN list is what the planner probes an
    index with, and its statements are cached by SQLAlchemy and sqlite3 alike."""
    values = list(values)
    if dialect.name != "postgresql":
        return column.in_(values)
    element = column.type.copy()
    if getattr(element, "length", None):
        element.length = None  # a cast to VARCHAR(20)[] would cut a longer value to a match
    return column == any_(bindparam(None, values, type_=postgresql.ARRAY(element)))


def skip_locked(conn: Connection, query: Select) -> Select:
    """`query` locking the rows it reads, skipping those another transaction holds (PostgreSQL:
    several dispatchers, on one node or many, claim inbox rows side by side; a row one holds is
    not the other's to decide or to move). SQLite's single writer needs no row locks."""
    if conn.dialect.name == "postgresql":
        return query.with_for_update(skip_locked=True)
    return query
