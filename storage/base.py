"""The one MetaData every table joins (one Alembic history for the whole database) and the
time column every table uses."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable

from sqlalchemy import (
    DateTime,
    MetaData,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class UtcDateTime(TypeDecorator):
    """Aware UTC datetimes in Python, naive UTC in the database (same on SQLite and PG)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None,
                           dialect: object) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the ledger; use UTC-aware values")
        return value.astimezone(dt.UTC).replace(tzinfo=None)

    def process_result_value(self, value: dt.datetime | None,
                             dialect: object) -> dt.datetime | None:
        return None if value is None else value.replace(tzinfo=dt.UTC)

    def bind_processor(self, dialect: Dialect) -> Callable[[object], object] | None:
        """On SQLite, write the stored text in one step: converting every time stamp twice
        (to naive, then to text) was the hot path's largest cost after SQLite itself."""
        if dialect.name != "sqlite":
            return super().bind_processor(dialect)
        return _sqlite_text


def _sqlite_text(value: dt.datetime | None) -> str | None:
    """SQLAlchemy's own SQLite storage format (always with microseconds), from aware UTC."""
    if value is None:
        return None
    if value.tzinfo is None:
        raise ValueError("naive datetime given to the ledger; use UTC-aware values")
    if value.tzinfo is not dt.UTC:
        value = value.astimezone(dt.UTC)
    return _utc_text(value)


@functools.lru_cache(maxsize=4096)
def _utc_text(value: dt.datetime) -> str:
    """Cached: a batch writes the same few instants (its `now`, the ends of its permits) into
    thousands of columns. UTC values only: in a zone with daylight saving two instants an
    hour apart can compare equal."""
    return value.replace(tzinfo=None).isoformat(" ", "microseconds")
