"""regimes per district with a schedule, temporary residents, registrations by SMS

`districts.enabled` becomes `districts.regime` (on / registry_only, as enable / disable meant),
and each district's state so far becomes its first change, so a scheduled change that ends
gives the district back the state it had.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 12:00:00

"""
import datetime as dt
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: Union[str, Sequence[str], None] = "0008"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    changes = op.create_table(
        "regime_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("district_id", sa.String(length=40), nullable=True),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("starts_at", sa.DateTime(), nullable=False),
        sa.Column("ends_at", sa.DateTime(), nullable=True),
        sa.Column("created_by", sa.String(length=60), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["district_id"], ["districts.id"],
                                name=op.f("fk_regime_changes_district_id_districts")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_regime_changes")),
    )
    with op.batch_alter_table("districts") as batch_op:
        batch_op.add_column(sa.Column("regime", sa.String(length=20), nullable=False,
                                      server_default="registry_only"))
    op.execute("UPDATE districts SET regime = 'on' WHERE enabled")
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    states = op.get_bind().execute(sa.text("SELECT id, regime FROM districts")).all()
    if states:
        op.bulk_insert(changes, [{"district_id": district, "state": state, "starts_at": now,
                                  "ends_at": None, "created_by": "migration", "created_at": now}
                                 for district, state in states])
    with op.batch_alter_table("districts") as batch_op:
        batch_op.alter_column("regime", server_default=None)
        batch_op.drop_column("enabled")

    with op.batch_alter_table("residents") as batch_op:
        batch_op.add_column(sa.Column("until", sa.Date(), nullable=True))
        batch_op.create_index(batch_op.f("ix_residents_until"), ["until"], unique=False)

    op.create_table(
        "registrations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("phone", sa.String(length=20), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("district_id", sa.String(length=40), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("language", sa.String(length=2), nullable=False),
        sa.Column("channel", sa.String(length=60), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("asked_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["district_id"], ["districts.id"],
                                name=op.f("fk_registrations_district_id_districts")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_registrations")),
        sa.UniqueConstraint("phone", name=op.f("uq_registrations_phone")),
    )
    op.create_index(op.f("ix_registrations_state_asked_at"), "registrations",
                    ["state", "asked_at"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_registrations_state_asked_at"), table_name="registrations")
    op.drop_table("registrations")
    with op.batch_alter_table("residents") as batch_op:
        batch_op.drop_index(batch_op.f("ix_residents_until"))
        batch_op.drop_column("until")
    with op.batch_alter_table("districts") as batch_op:
        batch_op.add_column(sa.Column("enabled", sa.Boolean(), nullable=False,
                                      server_default=sa.false()))
    op.execute("UPDATE districts SET enabled = (regime = 'on')")
    with op.batch_alter_table("districts") as batch_op:
        batch_op.alter_column("enabled", server_default=None)
        batch_op.drop_column("regime")
    op.drop_table("regime_changes")
