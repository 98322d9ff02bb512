"""The web console's tables: operators, their audit log, and failed logins (for slowing down).

They live on the ledger's MetaData so Alembic sees them (migrations 0002 and 0007), with the
indexes the console's pages need on the pipeline's and the ledger's tables.
"""

from __future__ import annotations

from sqlalchemy import Boolean, Column, Index, Integer, String, Table

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

# The residents' list is read in name order, page after page, in all or in one district
# (migration 0007).
residents_by_name = Index("ix_residents_name_id", residents.c.name, residents.c.id)
residents_by_district = Index("ix_residents_district_id_name_id", residents.c.district_id,
                              residents.c.name, residents.c.id)
