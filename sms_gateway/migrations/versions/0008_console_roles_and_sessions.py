"""console: operators' roles (existing operators become admins) and server-side sessions

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 12:00:00

"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: Union[str, Sequence[str], None] = "0007"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table("operators") as batch_op:
        batch_op.add_column(sa.Column("role", sa.String(length=10), nullable=False,
                                      server_default="admin"))
    op.create_table(
        "console_sessions",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("operator_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("seen_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["operator_id"], ["operators.id"],
                                name=op.f("fk_console_sessions_operator_id_operators")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_console_sessions")),
    )
    op.create_index(op.f("ix_console_sessions_operator_id"), "console_sessions",
                    ["operator_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_console_sessions_operator_id"), table_name="console_sessions")
    op.drop_table("console_sessions")
    with op.batch_alter_table("operators") as batch_op:
        batch_op.drop_column("role")
