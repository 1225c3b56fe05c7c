"""publications: what the bus delivered downward to each consumer

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28 07:40:00.000000
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('publications',
    sa.Column('partner_id', sa.String(length=64), nullable=False),
    sa.Column('dataset', sa.String(length=16), nullable=False),
    sa.Column('record_key', sa.String(length=128), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('message_id', sa.String(length=36), nullable=False),
    sa.Column('acknowledged_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('partner_id', 'dataset', 'record_key')
    )


def downgrade() -> None:
    op.drop_table('publications')
