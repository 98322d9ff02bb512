"""The web console's tables: operators, their audit log, and failed logins (for slowing down).

They live on the ledger's MetaData so Alembic sees them (migration 0002).
"""

from __future__ import annotations

from sqlalchemy import Boolean, Column, Index, Integer, String, Table

from storage.base import UtcDateTime, metadata
from storage.tables.messages import outbox

operators = Table(
    "operators", metadata,
    Column("id", Integer, primary_key=True),
    Column("username", String(60), nullable=False, unique=True),
    Column("password_hash", String(256), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("active", Boolean, nullable=False, default=True),
)

# Who did what and when. `detail` never holds a full phone number: masked ones and row ids only.
audit_log = Table(
    "audit_log", metadata,
    Column("id", Integer, primary_key=True),
    Column("at", UtcDateTime, nullable=False),
    Column("operator", String(60), nullable=False),
    Column("action", String(40), nullable=False),
    Column("detail", String(500), nullable=False, default=""),
    Index(None, "at"),
)

# Failed logins per (username, address): in the database so every node slows the same guesser.
login_failures = Table(
    "login_failures", metadata,
    Column("username", String(60), primary_key=True),
    Column("address", String(64), primary_key=True),
    Column("failures", Integer, nullable=False),
    Column("last_at", UtcDateTime, nullable=False),
)

# The status page and /metrics read sent, delivered and failed replies by time of their last
# change; without this index that is a scan of every reply ever sent.
outbox_state_updated = Index("ix_outbox_state_updated_at", outbox.c.state, outbox.c.updated_at)
