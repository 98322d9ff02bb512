"""The ledger's tables: districts, residents, officers, permits, checks, counters.

SQLAlchemy Core tables: the hot path uses them directly; `permits/` owns what they hold.
"""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy import (
    Boolean,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    UniqueConstraint,
)

from storage.base import UtcDateTime, metadata


class PermitState(StrEnum):
    """issued -> revoked (the slot stays spent) | refunded (its reply never left: slot back).
    Whether an issued permit is valid now is a matter of time, not of state."""

    ISSUED = "issued"
    REVOKED = "revoked"
    REFUNDED = "refunded"


class Regime(StrEnum):
    """What applies in a district: `off` (no regime: nobody needs a permit), `on` (permits
    required and issued by SMS), `registry_only` (permits required, issued elsewhere: SMS
    permits are not rolled out there yet)."""

    OFF = "off"
    ON = "on"
    REGISTRY_ONLY = "registry_only"


class RegistrationState(StrEnum):
    """A registration by SMS: `consent` (asked to reply ДА; expires), `approval` (consented,
    waiting for an operator), `removal` (a resident's СТОП, waiting for their ДА; expires)."""

    CONSENT = "consent"
    APPROVAL = "approval"
    REMOVAL = "removal"


# `regime` is the state in force now: what the rules read with each resident (no extra query
# per batch). The scheduler derives it from `regime_changes` (permits.regime).
districts = Table(
    "districts", metadata,
    Column("id", String(40), primary_key=True),
    Column("name", String(120), nullable=False),
    Column("regime", String(20), nullable=False, default=Regime.REGISTRY_ONLY),
)

# Every change of regime, made now or scheduled: for one district, or the whole region
# (district_id NULL), from `starts_at` until `ends_at` (NULL: for good). Among the changes in
# force the one that started last wins; when a change ends, the one before it applies again.
regime_changes = Table(
    "regime_changes", metadata,
    Column("id", Integer, primary_key=True),
    Column("district_id", String(40), ForeignKey("districts.id")),
    Column("state", String(20), nullable=False),
    Column("starts_at", UtcDateTime, nullable=False),
    Column("ends_at", UtcDateTime),
    Column("created_by", String(60), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
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
    # A temporary resident's last local day (included); after it the number is unknown.
    Column("until", Date),
    Index(None, "until"),
)

# Registrations by SMS in progress: one row per number. Before consent it holds only what the
# resident's ДА needs (the number, the surname and district they sent) and expires.
registrations = Table(
    "registrations", metadata,
    Column("id", Integer, primary_key=True),  # how the console names one (never by number)
    Column("phone", String(20), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    Column("district_id", String(40), ForeignKey("districts.id"), nullable=False),
    Column("state", String(10), nullable=False),
    Column("language", String(2), nullable=False),
    Column("channel", String(60), nullable=False),  # where the answer to an approval goes
    Column("attempts", Integer, nullable=False),
    Column("asked_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime),  # NULL while waiting for an operator
    Index(None, "state", "asked_at"),
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
    Column("state", String(10), nullable=False, default=PermitState.ISSUED),
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
