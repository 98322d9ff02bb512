"""Time arithmetic in SQL, which SQLite and PostgreSQL spell differently.

Timestamps are stored as naive UTC on both, so epoch seconds come out the same. Numbers are
literals, not bound parameters: a GROUP BY must repeat its SELECT expression exactly, and
PostgreSQL counts two parameters as two different expressions.
"""

from __future__ import annotations

from sqlalchemy import Connection, Float, Integer, cast, func, literal_column
from sqlalchemy.sql import ColumnElement


def epoch_seconds(conn: Connection, column: ColumnElement) -> ColumnElement:
    if conn.dialect.name == "postgresql":
        return func.extract("epoch", column)
    unix_epoch_day, day = literal_column("2440587.5"), literal_column("86400.0")
    return cast((func.julianday(column) - unix_epoch_day) * day, Float)


def minute_of(conn: Connection, column: ColumnElement) -> ColumnElement:
    """Whole minutes since the epoch: the bucket of a per-minute chart. (PostgreSQL rounds when
    casting to integer, so it floors first; SQLite truncates, the same for times after 1970.)"""
    minutes = epoch_seconds(conn, column) / literal_column("60")
    if conn.dialect.name == "postgresql":
        minutes = func.floor(minutes)
    return cast(minutes, Integer)
