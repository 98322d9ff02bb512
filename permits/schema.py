"""The ledger's tables. SQLAlchemy Core tables: the hot path uses them directly."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable

from sqlalchemy import (
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    UniqueConstraint,
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


districts = Table(
    "districts", metadata,
    Column("id", String(40), primary_key=True),
    Column("name", String(120), nullable=False),
    Column("enabled", Boolean, nullable=False, default=False),
)

residents = Table(
    "residents", metadata,
    Column("id", Integer, primary_key=True),
    Column("phone", String(20), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    Column("district_id", String(40), ForeignKey("districts.id"), nullable=False),
    Column("document", String(40)),
    Column("self_registered", Boolean, nullable=False, default=False),
    Column("created_at", UtcDateTime, nullable=False),
)

officers = Table(
    "officers", metadata,
    Column("id", Integer, primary_key=True),
    Column("phone", String(20), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    Column("active", Boolean, nullable=False, default=True),
    Column("created_at", UtcDateTime, nullable=False),
)

# A slot is one of the day's `per_day` permits; the unique constraint is the quota itself.
# A refunded permit gives its slot back (slot NULL), a revoked one keeps it.
permits = Table(
    "permits", metadata,
    Column("id", Integer, primary_key=True),
    Column("code", String(8), nullable=False),
    Column("keypad", String(8), nullable=False),  # the code as phone keypad digits (USSD)
    Column("resident_id", Integer, ForeignKey("residents.id"), nullable=False),
    Column("local_day", Date, nullable=False),
    Column("slot", Integer),
    Column("reason", Integer, nullable=False),
    Column("issued_at", UtcDateTime, nullable=False),
    Column("valid_from", UtcDateTime, nullable=False),
    Column("valid_until", UtcDateTime, nullable=False),
    Column("state", String(10), nullable=False, default="issued"),
    Column("issued_by", String(60), nullable=False, default="sms"),
    Column("revoked_at", UtcDateTime),
    # The quota, and the index by which a resident's recent permits are read.
    UniqueConstraint("resident_id", "local_day", "slot"),
    Index(None, "local_day"),
    # Codes are unique. Keyed by their keypad digits first, one index serves both lookups
    # (by code, and by the digits an officer keys in over USSD); a second random index
    # would cost another page write per permit issued.
    UniqueConstraint("keypad", "code"),
)

verifications = Table(
    "verifications", metadata,
    Column("id", Integer, primary_key=True),
    Column("officer_phone", String(20), nullable=False),
    Column("typed", String(40), nullable=False),
    Column("permit_id", Integer, ForeignKey("permits.id")),
    Column("outcome", String(16), nullable=False),
    Column("channel", String(60), nullable=False),
    Column("checked_at", UtcDateTime, nullable=False),
    Index(None, "officer_phone", "checked_at"),
    Index(None, "checked_at"),
)

# Replies per number and hour: the brake that stops two automatic systems from looping.
reply_counts = Table(
    "reply_counts", metadata,
    Column("phone", String(20), primary_key=True),
    Column("hour", UtcDateTime, primary_key=True),
    Column("count", Integer, nullable=False),
)

# What retention keeps of old requests: counts per local day, kind, reason and district.
daily_counts = Table(
    "daily_counts", metadata,
    Column("local_day", Date, primary_key=True),
    Column("kind", String(20), primary_key=True),
    Column("reason", Integer, primary_key=True),
    Column("district_id", String(40), primary_key=True),
    Column("count", Integer, nullable=False),
)

# One row per handled request, for the status page's figures (issued, refused and why).
outcomes = Table(
    "outcomes", metadata,
    Column("id", Integer, primary_key=True),
    Column("at", UtcDateTime, nullable=False),
    Column("local_day", Date, nullable=False),
    Column("kind", String(20), nullable=False),
    Column("reason", Integer),
    Column("district_id", String(40)),
    Index(None, "local_day", "kind"),
)
