"""evidence: event revisions, snapshot region, review, face crops (issue 17)

Revision ID: 0005
Revises: 0006
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import dashboard.models

revision = '0005'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('revision', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('snapshot_region', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('review', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('review_label', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('reviewed_by', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('reviewed_at', dashboard.models.UTCDateTime(), nullable=True))
    with op.batch_alter_table('snapshots', schema=None) as batch_op:
        batch_op.add_column(sa.Column('revision', sa.Integer(), server_default='0', nullable=False))
    op.create_table('face_crops',
    sa.Column('event_id', sa.String(length=64), nullable=False),
    sa.Column('camera_id', sa.Integer(), nullable=False),
    sa.Column('path', sa.Text(), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('received_at', dashboard.models.UTCDateTime(), nullable=False),
    sa.Column('revision', sa.Integer(), server_default='0', nullable=False),
    sa.ForeignKeyConstraint(['camera_id'], ['cameras.id'], name=op.f('fk_face_crops_camera_id_cameras'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('event_id', name=op.f('pk_face_crops'))
    )
    with op.batch_alter_table('face_crops', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_face_crops_camera_id'), ['camera_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_face_crops_received_at'), ['received_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('face_crops', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_face_crops_received_at'))
        batch_op.drop_index(batch_op.f('ix_face_crops_camera_id'))
    op.drop_table('face_crops')
    with op.batch_alter_table('snapshots', schema=None) as batch_op:
        batch_op.drop_column('revision')
    with op.batch_alter_table('events', schema=None) as batch_op:
        for col in ('reviewed_at', 'reviewed_by', 'review_label', 'review', 'snapshot_region', 'revision'):
            batch_op.drop_column(col)
