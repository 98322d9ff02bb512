"""quarantine: inbound messages and receipts set aside for what they hold

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26 12:00:00

"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: Union[str, Sequence[str], None] = "0004"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table(
        "quarantine",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=60), nullable=False),
        sa.Column("sender", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("raw", sa.LargeBinary(), nullable=True),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("quarantined_at", sa.DateTime(), nullable=False),
        sa.Column("resolved_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quarantine")),
    )
    op.create_index(op.f("ix_quarantine_state_channel"), "quarantine", ["state", "channel"],
                    unique=False)
    op.create_index(op.f("ix_quarantine_quarantined_at"), "quarantine", ["quarantined_at"],
                    unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_quarantine_quarantined_at"), table_name="quarantine")
    op.drop_index(op.f("ix_quarantine_state_channel"), table_name="quarantine")
    op.drop_table("quarantine")
