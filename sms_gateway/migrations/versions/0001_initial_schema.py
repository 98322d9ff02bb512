"""initial schema

Revision ID: 0001
Revises: 
Create Date: 2026-11-25 17:30:22.652049

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = "0001"
down_revision: Union[str, Sequence[str], None] = None
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('delivery_receipts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('channel', sa.String(length=60), nullable=False),
    sa.Column('message_id', sa.String(length=80), nullable=False),
    sa.Column('state', sa.String(length=10), nullable=False),
    sa.Column('error', sa.String(length=200), nullable=True),
    sa.Column('received_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_delivery_receipts'))
    )
    with op.batch_alter_table('delivery_receipts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_delivery_receipts_message_id'), ['message_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_delivery_receipts_received_at'), ['received_at'], unique=False)

    op.create_table('districts',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_districts'))
    )
    op.create_table('inbox',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('channel', sa.String(length=60), nullable=False),
    sa.Column('sender', sa.String(length=32), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('raw', sa.LargeBinary(), nullable=True),
    sa.Column('received_at', sa.DateTime(), nullable=False),
    sa.Column('stored_at', sa.DateTime(), nullable=False),
    sa.Column('dedup_key', sa.String(length=120), nullable=True),
    sa.Column('priority', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=10), nullable=False),
    sa.Column('outcome', sa.String(length=20), nullable=True),
    sa.Column('handled_at', sa.DateTime(), nullable=True),
    sa.Column('ussd_op', sa.Integer(), nullable=True),
    sa.Column('ussd_session', sa.String(length=64), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_inbox')),
    sa.UniqueConstraint('dedup_key', name=op.f('uq_inbox_dedup_key'))
    )
    with op.batch_alter_table('inbox', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_inbox_state_priority_id'), ['state', 'priority', 'id'], unique=False)
        batch_op.create_index(batch_op.f('ix_inbox_stored_at'), ['stored_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_inbox_sender'), ['sender'], unique=False)

    op.create_table('inbox_parts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('channel', sa.String(length=60), nullable=False),
    sa.Column('sender', sa.String(length=32), nullable=False),
    sa.Column('reference', sa.Integer(), nullable=False),
    sa.Column('total', sa.Integer(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('raw', sa.LargeBinary(), nullable=True),
    sa.Column('received_at', sa.DateTime(), nullable=False),
    sa.Column('stored_at', sa.DateTime(), nullable=False),
    sa.Column('dedup_key', sa.String(length=120), nullable=True),
    sa.Column('assembled', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_inbox_parts')),
    sa.UniqueConstraint('sender', 'reference', 'total', 'seq', name=op.f('uq_inbox_parts_sender_reference_total_seq'))
    )
    with op.batch_alter_table('inbox_parts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_inbox_parts_stored_at'), ['stored_at'], unique=False)

    op.create_table('link_health',
    sa.Column('channel', sa.String(length=60), nullable=False),
    sa.Column('node', sa.String(length=60), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('up', sa.Boolean(), nullable=False),
    sa.Column('details', sa.Text(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('channel', 'node', name=op.f('pk_link_health'))
    )
    op.create_table('officers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('phone', sa.String(length=20), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_officers')),
    sa.UniqueConstraint('phone', name=op.f('uq_officers_phone'))
    )
    op.create_table('ussd_sessions',
    sa.Column('phone', sa.String(length=32), nullable=False),
    sa.Column('session', sa.String(length=64), nullable=False),
    sa.Column('inputs', sa.Text(), nullable=False),
    sa.Column('expires_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('phone', 'session', name=op.f('pk_ussd_sessions'))
    )
    op.create_table('nodes',
    sa.Column('name', sa.String(length=60), nullable=False),
    sa.Column('host', sa.String(length=120), nullable=False),
    sa.Column('pid', sa.Integer(), nullable=False),
    sa.Column('started_at', sa.DateTime(), nullable=False),
    sa.Column('heartbeat_at', sa.DateTime(), nullable=False),
    sa.Column('transports', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_nodes'))
    )
    op.create_table('daily_counts',
    sa.Column('local_day', sa.Date(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('reason', sa.Integer(), nullable=False),
    sa.Column('district_id', sa.String(length=40), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('local_day', 'kind', 'reason', 'district_id', name=op.f('pk_daily_counts'))
    )
    op.create_table('outbox',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('inbox_id', sa.Integer(), nullable=True),
    sa.Column('channel', sa.String(length=60), nullable=False),
    sa.Column('recipient', sa.String(length=32), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('priority', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=10), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.Column('expires_at', sa.DateTime(), nullable=True),
    sa.Column('permit_id', sa.Integer(), nullable=True),
    sa.Column('transport_message_id', sa.String(length=80), nullable=True),
    sa.Column('delivery_state', sa.String(length=10), nullable=True),
    sa.Column('last_error', sa.String(length=200), nullable=True),
    sa.Column('maybe_sent', sa.Boolean(), nullable=False),
    sa.Column('claimed_by', sa.String(length=60), nullable=True),
    sa.Column('ussd_op', sa.Integer(), nullable=True),
    sa.Column('ussd_session', sa.String(length=64), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_outbox'))
    )
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_outbox_recipient_created_at'), ['recipient', 'created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_outbox_state_channel_priority_next_attempt_at'), ['state', 'channel', 'priority', 'next_attempt_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_outbox_transport_message_id'), ['transport_message_id'], unique=False)

    op.create_table('outcomes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.Column('local_day', sa.Date(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('reason', sa.Integer(), nullable=True),
    sa.Column('district_id', sa.String(length=40), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_outcomes'))
    )
    with op.batch_alter_table('outcomes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_outcomes_local_day_kind'), ['local_day', 'kind'], unique=False)

    op.create_table('reply_counts',
    sa.Column('phone', sa.String(length=20), nullable=False),
    sa.Column('hour', sa.DateTime(), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('phone', 'hour', name=op.f('pk_reply_counts'))
    )
    op.create_table('residents',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('phone', sa.String(length=20), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('district_id', sa.String(length=40), nullable=False),
    sa.Column('document', sa.String(length=40), nullable=True),
    sa.Column('self_registered', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['district_id'], ['districts.id'], name=op.f('fk_residents_district_id_districts')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_residents')),
    sa.UniqueConstraint('phone', name=op.f('uq_residents_phone'))
    )
    op.create_table('permits',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=8), nullable=False),
    sa.Column('keypad', sa.String(length=8), nullable=False),
    sa.Column('resident_id', sa.Integer(), nullable=False),
    sa.Column('local_day', sa.Date(), nullable=False),
    sa.Column('slot', sa.Integer(), nullable=True),
    sa.Column('reason', sa.Integer(), nullable=False),
    sa.Column('issued_at', sa.DateTime(), nullable=False),
    sa.Column('valid_from', sa.DateTime(), nullable=False),
    sa.Column('valid_until', sa.DateTime(), nullable=False),
    sa.Column('state', sa.String(length=10), nullable=False),
    sa.Column('issued_by', sa.String(length=60), nullable=False),
    sa.Column('revoked_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['resident_id'], ['residents.id'], name=op.f('fk_permits_resident_id_residents')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_permits')),
    sa.UniqueConstraint('code', name=op.f('uq_permits_code')),
    sa.UniqueConstraint('resident_id', 'local_day', 'slot', name=op.f('uq_permits_resident_id_local_day_slot'))
    )
    with op.batch_alter_table('permits', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_permits_local_day'), ['local_day'], unique=False)
        batch_op.create_index(batch_op.f('ix_permits_keypad'), ['keypad'], unique=False)
        batch_op.create_index(batch_op.f('ix_permits_resident_id_valid_until'), ['resident_id', 'valid_until'], unique=False)

    op.create_table('verifications',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('officer_phone', sa.String(length=20), nullable=False),
    sa.Column('typed', sa.String(length=40), nullable=False),
    sa.Column('permit_id', sa.Integer(), nullable=True),
    sa.Column('outcome', sa.String(length=16), nullable=False),
    sa.Column('channel', sa.String(length=60), nullable=False),
    sa.Column('checked_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['permit_id'], ['permits.id'], name=op.f('fk_verifications_permit_id_permits')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_verifications'))
    )
    with op.batch_alter_table('verifications', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_verifications_checked_at'), ['checked_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_verifications_officer_phone_checked_at'), ['officer_phone', 'checked_at'], unique=False)



def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('verifications', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_verifications_officer_phone_checked_at'))
        batch_op.drop_index(batch_op.f('ix_verifications_checked_at'))

    op.drop_table('verifications')
    with op.batch_alter_table('permits', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_permits_resident_id_valid_until'))
        batch_op.drop_index(batch_op.f('ix_permits_local_day'))
        batch_op.drop_index(batch_op.f('ix_permits_keypad'))

    op.drop_table('permits')
    op.drop_table('residents')
    op.drop_table('reply_counts')
    with op.batch_alter_table('outcomes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_outcomes_local_day_kind'))

    op.drop_table('outcomes')
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_outbox_transport_message_id'))
        batch_op.drop_index(batch_op.f('ix_outbox_state_channel_priority_next_attempt_at'))
        batch_op.drop_index(batch_op.f('ix_outbox_recipient_created_at'))

    op.drop_table('ussd_sessions')
    op.drop_table('nodes')
    op.drop_table('daily_counts')
    op.drop_table('outbox')
    op.drop_table('officers')
    op.drop_table('link_health')
    with op.batch_alter_table('inbox_parts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_inbox_parts_stored_at'))

    op.drop_table('inbox_parts')
    with op.batch_alter_table('inbox', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_inbox_stored_at'))
        batch_op.drop_index(batch_op.f('ix_inbox_sender'))
        batch_op.drop_index(batch_op.f('ix_inbox_state_priority_id'))

    op.drop_table('inbox')
    op.drop_table('districts')
    with op.batch_alter_table('delivery_receipts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_delivery_receipts_received_at'))
        batch_op.drop_index(batch_op.f('ix_delivery_receipts_message_id'))

    op.drop_table('delivery_receipts')
