"""permits: one unique (keypad, code) index instead of unique code plus an index on keypad

Codes stay unique; both lookups (by code, by the keypad digits typed over USSD) use the one
index, and issuing a permit writes one random index page fewer. PostgreSQL locks the table
while the new index is built (see docs/deployment.md); SQLite copies the table.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25 21:30:00

"""
from typing import Sequence, Union

from alembic import op

revision: str = "0004"
down_revision: Union[str, Sequence[str], None] = "0003"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table("permits") as batch_op:
        batch_op.drop_constraint(op.f("uq_permits_code"), type_="unique")
        batch_op.drop_index(op.f("ix_permits_keypad"))
        batch_op.create_unique_constraint(op.f("uq_permits_keypad_code"), ["keypad", "code"])


def downgrade() -> None:
    with op.batch_alter_table("permits") as batch_op:
        batch_op.drop_constraint(op.f("uq_permits_keypad_code"), type_="unique")
        batch_op.create_index(op.f("ix_permits_keypad"), ["keypad"], unique=False)
        batch_op.create_unique_constraint(op.f("uq_permits_code"), ["code"])
