"""console: each operator's language; indexes for the residents' list and the audit by action

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30 20:00:00

"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: Union[str, Sequence[str], None] = "0006"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table("operators") as batch_op:
        batch_op.add_column(sa.Column("language", sa.String(length=2), nullable=True))
    op.create_index("ix_residents_name_id", "residents", ["name", "id"], unique=False)
    op.create_index("ix_residents_district_id_name_id", "residents",
                    ["district_id", "name", "id"], unique=False)
    op.create_index(op.f("ix_audit_log_action_id"), "audit_log", ["action", "id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_audit_log_action_id"), table_name="audit_log")
    op.drop_index("ix_residents_district_id_name_id", table_name="residents")
    op.drop_index("ix_residents_name_id", table_name="residents")
    with op.batch_alter_table("operators") as batch_op:
        batch_op.drop_column("language")
