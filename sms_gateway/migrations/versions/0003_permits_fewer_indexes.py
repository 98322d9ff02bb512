"""permits: drop the (resident_id, valid_until) index

A resident's permits are read through the unique (resident_id, local_day, slot) index, from
the first day a permit still running can have been issued; the dropped index only cost a
random page write per issued permit.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 20:30:00

"""
from typing import Sequence, Union

from alembic import op

revision: str = "0003"
down_revision: Union[str, Sequence[str], None] = "0002"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.drop_index(op.f("ix_permits_resident_id_valid_until"), table_name="permits")


def downgrade() -> None:
    op.create_index(op.f("ix_permits_resident_id_valid_until"), "permits",
                    ["resident_id", "valid_until"], unique=False)
