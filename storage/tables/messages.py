"""The pipeline's tables: inbox (with parts awaiting reassembly), outbox and link health.

They share the ledger's MetaData so one Alembic history covers the whole database.
"""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy import (
    Boolean,
    Column,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from storage.base import UtcDateTime, metadata


class InboxState(StrEnum):
    """new -> done (decided, replies queued). A message the rules fail on alone leaves the
    inbox for the quarantine; rows of older versions may still read `failed`."""

    NEW = "new"
    DONE = "done"


class OutboxState(StrEnum):
    """pending -> sending -> sent -> delivered | failed; pending -> expired (slot refunded)."""

    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    DELIVERED = "delivered"
    FAILED = "failed"
    EXPIRED = "expired"


inbox = Table(
    "inbox", metadata,
    Column("id", Integer, primary_key=True),
    Column("channel", String(60), nullable=False),
    Column("sender", String(32), nullable=False),
    Column("text", Text, nullable=False),
    Column("raw", LargeBinary),
    Column("received_at", UtcDateTime, nullable=False),
    Column("stored_at", UtcDateTime, nullable=False),
    Column("dedup_key", String(120), unique=True),
    Column("priority", Integer, nullable=False, default=0),
    Column("state", String(10), nullable=False, default=InboxState.NEW),
    Column("outcome", String(20)),
    Column("handled_at", UtcDateTime),
    Column("ussd_op", Integer),
    Column("ussd_session", String(64)),
    Index(None, "state", "priority", "id"),
    Index(None, "stored_at"),
    Index(None, "sender"),
)

# Parts of concatenated messages, kept until the last one arrives (or the timeout).
inbox_parts = Table(
    "inbox_parts", metadata,
    Column("id", Integer, primary_key=True),
    Column("channel", String(60), nullable=False),
    Column("sender", String(32), nullable=False),
    Column("reference", Integer, nullable=False),
    Column("total", Integer, nullable=False),
    Column("seq", Integer, nullable=False),
    Column("text", Text, nullable=False),
    Column("raw", LargeBinary),
    Column("received_at", UtcDateTime, nullable=False),
    Column("stored_at", UtcDateTime, nullable=False),
    Column("dedup_key", String(120)),
    Column("assembled", Boolean, nullable=False, default=False),
    UniqueConstraint("sender", "reference", "total", "seq"),
    Index(None, "stored_at"),
)

outbox = Table(
    "outbox", metadata,
    Column("id", Integer, primary_key=True),
    Column("inbox_id", Integer),
    Column("channel", String(60), nullable=False),
    Column("recipient", String(32), nullable=False),
    Column("text", Text, nullable=False),
    Column("priority", Integer, nullable=False, default=0),
    Column("state", String(10), nullable=False, default=OutboxState.PENDING),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", UtcDateTime, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime),
    Column("permit_id", Integer),
    Column("transport_message_id", String(80)),
    Column("delivery_state", String(10)),
    Column("last_error", String(200)),
    Column("maybe_sent", Boolean, nullable=False, default=False),  # never refund these
    Column("claimed_by", String(60)),
    Column("ussd_op", Integer),
    Column("ussd_session", String(64)),
    # When the network took it: a repeat of the request that arrived before is a duplicate.
    Column("sent_at", UtcDateTime),
    Index(None, "state", "channel", "priority", "next_attempt_at"),
    Index(None, "transport_message_id"),
    Index(None, "recipient", "created_at"),
)

# Every delivery receipt as it came, so one that overtakes our record of the send still counts.
delivery_receipts = Table(
    "delivery_receipts", metadata,
    Column("id", Integer, primary_key=True),
    Column("channel", String(60), nullable=False),
    Column("message_id", String(80), nullable=False),
    Column("state", String(10), nullable=False),
    Column("error", String(200)),
    Column("received_at", UtcDateTime, nullable=False),
    Index(None, "message_id"),
    Index(None, "received_at"),
)

# A USSD session's answers so far, so any node can continue it; short-lived.
ussd_sessions = Table(
    "ussd_sessions", metadata,
    Column("phone", String(32), primary_key=True),
    Column("session", String(64), primary_key=True),
    Column("inputs", Text, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
)

# Each gateway node's heartbeat, so operators see which nodes run and with which links.
nodes = Table(
    "nodes", metadata,
    Column("name", String(60), primary_key=True),
    Column("host", String(120), nullable=False),
    Column("pid", Integer, nullable=False),
    Column("started_at", UtcDateTime, nullable=False),
    Column("heartbeat_at", UtcDateTime, nullable=False),
    Column("transports", Text, nullable=False, default=""),
)

link_health = Table(
    "link_health", metadata,
    Column("channel", String(60), primary_key=True),
    Column("node", String(60), primary_key=True),
    Column("kind", String(20), nullable=False),
    Column("up", Boolean, nullable=False),
    Column("details", Text, nullable=False, default="{}"),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("down_since", UtcDateTime),  # NULL while up
)

# What a transport handed over but the inbox could not take (a value no column holds, a PDU
# nothing decodes): kept, shown, acknowledged, never redelivered into the same failure.
# `content` is the item as JSON with every non-ASCII char escaped, so NUL and lone surrogates
# are stored as text; `raw` the bytes as the transport read them.
quarantine = Table(
    "quarantine", metadata,
    Column("id", Integer, primary_key=True),
    Column("channel", String(60), nullable=False),
    Column("sender", String(32), nullable=False),
    Column("kind", String(10), nullable=False),
    Column("content", Text, nullable=False),
    Column("raw", LargeBinary),
    Column("reason", String(200), nullable=False),
    Column("state", String(10), nullable=False),
    Column("quarantined_at", UtcDateTime, nullable=False),
    Column("resolved_at", UtcDateTime),
    Index(None, "state", "channel"),
    Index(None, "quarantined_at"),
)
