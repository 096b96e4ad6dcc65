"""events: agent_time (an out-of-bounds agent time stamp, kept when the receive time replaced it) and an
index on received_at (retention's time basis for events and snapshots); cameras: the agent's backlog and
dead letters from its latest stats

Revision ID: 0002
Revises: 0005
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import dashboard.models

revision = '0002'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('cameras', schema=None) as batch_op:
        batch_op.add_column(sa.Column('agent_backlog', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('agent_dead_letters', sa.Integer(), nullable=True))
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('agent_time', dashboard.models.UTCDateTime(), nullable=True))
        batch_op.create_index(batch_op.f('ix_events_received_at'), ['received_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_events_received_at'))
        batch_op.drop_column('agent_time')
    with op.batch_alter_table('cameras', schema=None) as batch_op:
        batch_op.drop_column('agent_dead_letters')
        batch_op.drop_column('agent_backlog')
