"""The web console's tables: operators and their open sessions, their audit log, and failed
logins (for slowing down).

They live on the ledger's MetaData so Alembic sees them (migrations 0002, 0007 and 0008), with
the indexes the console's pages need on the pipeline's and the ledger's tables.
"""

from __future__ import annotations

from sqlalchemy import Boolean, Column, ForeignKey, Index, Integer, String, Table

from storage.base import UtcDateTime, metadata
from storage.tables.ledger import residents
from storage.tables.messages import outbox

operators = Table(
    "operators", metadata,
    Column("id", Integer, primary_key=True),
    Column("username", String(60), nullable=False, unique=True),
    Column("password_hash", String(256), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("active", Boolean, nullable=False, default=True),
    Column("language", String(2)),  # the console's language this operator chose (migration 0007)
    # `viewer` or `admin` (web.operators.Role); operators older than migration 0008 are admins.
    Column("role", String(10), nullable=False, server_default="admin"),
)

# One row per logged-in browser, read on every request: deleting a row ends that session at
# once on every node sharing the database. `id` is the SHA-256 of the cookie's token, so the
# table alone opens no session (migration 0008).
console_sessions = Table(
    "console_sessions", metadata,
    Column("id", String(64), primary_key=True),
    Column("operator_id", Integer, ForeignKey("operators.id"), nullable=False, index=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("seen_at", UtcDateTime, nullable=False),
)

# Who did what and when. `detail` never holds a full phone number: masked ones and row ids only.
audit_log = Table(
    "audit_log", metadata,
    Column("id", Integer, primary_key=True),
    Column("at", UtcDateTime, nullable=False),
    Column("operator", String(60), nullable=False),
    Column("action", String(40), nullable=False),
    Column("detail", String(500), nullable=False, default=""),  # JSON facts (see sms_gateway.audit)
    Index(None, "at"),
    Index(None, "action", "id"),  # one action's entries, newest first (removed residents)
)

# Failed logins per throttle key (web.throttle: a username from anywhere, an address whatever
# the username, a remembered browser): in the database so every node slows the same guesser.
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

# The residents' list is read in name order, page after page, in all or in one district
# (migration 0007).
residents_by_name = Index("ix_residents_name_id", residents.c.name, residents.c.id)
residents_by_district = Index("ix_residents_district_id_name_id", residents.c.district_id,
                              residents.c.name, residents.c.id)
