"""outages: link_health.down_since, outbox.sent_at

How long each link has been down (the status page, `permit_gateway_link_down_seconds`,
rerouting after `reroute_after_seconds`), and when the network took each reply (a repeat of
a request that arrived before its reply left is answered once). Both nullable: adding them
rewrites nothing on PostgreSQL.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26 12:00:00

"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: Union[str, Sequence[str], None] = "0005"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table("link_health") as batch_op:
        batch_op.add_column(sa.Column("down_since", sa.DateTime(), nullable=True))
    with op.batch_alter_table("outbox") as batch_op:
        batch_op.add_column(sa.Column("sent_at", sa.DateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("outbox") as batch_op:
        batch_op.drop_column("sent_at")
    with op.batch_alter_table("link_health") as batch_op:
        batch_op.drop_column("down_since")
