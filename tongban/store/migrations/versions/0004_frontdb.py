"""frontdb: mirror, processed batches, event origins and receipts of front databases (TBS-LP-1.0)

Revision ID: 0004_frontdb
Revises: 0003
Create Date: 2026-12-04 20:00:00.000000
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0004_frontdb'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('frontdb_rows',
    sa.Column('partner_id', sa.String(length=64), nullable=False),
    sa.Column('table_name', sa.String(length=64), nullable=False),
    sa.Column('row_guid', sa.String(length=50), nullable=False),
    sa.Column('entity', sa.String(length=64), nullable=True),
    sa.Column('cd_time', sa.String(length=19), nullable=False),
    sa.Column('cd_batch', sa.String(length=32), nullable=False),
    sa.Column('state', sa.Text(), nullable=False),
    sa.Column('digest', sa.String(length=64), nullable=False),
    sa.Column('outcome', sa.String(length=10), nullable=False),
    sa.Column('held_since', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('partner_id', 'table_name', 'row_guid')
    )
    op.create_index('ix_frontdb_rows_entity', 'frontdb_rows', ['partner_id', 'table_name', 'entity'])
    op.create_table('frontdb_batches',
    sa.Column('partner_id', sa.String(length=64), nullable=False),
    sa.Column('cd_batch', sa.String(length=32), nullable=False),
    sa.Column('processed_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('partner_id', 'cd_batch')
    )
    op.create_table('frontdb_origins',
    sa.Column('partner_id', sa.String(length=64), nullable=False),
    sa.Column('table_name', sa.String(length=64), nullable=False),
    sa.Column('row_guid', sa.String(length=64), nullable=False),
    sa.Column('part', sa.String(length=20), nullable=False),
    sa.Column('case_no', sa.String(length=64), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=True),
    sa.Column('source_row', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('partner_id', 'table_name', 'row_guid', 'part')
    )
    op.create_table('frontdb_receipts',
    sa.Column('partner_id', sa.String(length=64), nullable=False),
    sa.Column('table_name', sa.String(length=64), nullable=False),
    sa.Column('row_guid', sa.String(length=50), nullable=False),
    sa.Column('row_cd_time', sa.String(length=32), nullable=False),
    sa.Column('cd_batch', sa.String(length=32), nullable=False),
    sa.Column('outcome', sa.String(length=10), nullable=False),
    sa.Column('rule_ids', sa.String(length=1000), nullable=False),
    sa.Column('message', sa.String(length=2000), nullable=False),
    sa.Column('findings', sa.Text(), nullable=False),
    sa.Column('processed_at', sa.String(length=19), nullable=False),
    sa.Column('written', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('partner_id', 'table_name', 'row_guid', 'row_cd_time', 'cd_batch')
    )


def downgrade() -> None:
    op.drop_table('frontdb_receipts')
    op.drop_table('frontdb_origins')
    op.drop_table('frontdb_batches')
    op.drop_index('ix_frontdb_rows_entity', table_name='frontdb_rows')
    op.drop_table('frontdb_rows')
