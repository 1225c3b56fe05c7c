"""ledger coverage: per-record hashes of every ledgered store, and the authenticated chain head

Revision ID: 0005_ledger_coverage
Revises: 0004_frontdb
Create Date: 2026-12-04 20:15:00.000000
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0005_ledger_coverage'
down_revision = '0004_frontdb'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('ledger_entries') as batch:
        batch.add_column(sa.Column('records_sha256', sa.String(length=64), nullable=True))
    op.create_table('ledger_records',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('entry_seq', sa.BigInteger(), nullable=False),
    sa.Column('dataset', sa.String(length=16), nullable=False),
    sa.Column('record_key', sa.Text(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_ledger_records_entry_seq', 'ledger_records', ['entry_seq'])
    op.create_index('ix_ledger_records_key', 'ledger_records', ['dataset', 'record_key'])
    op.create_table('ledger_head',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('seq', sa.BigInteger(), nullable=False),
    sa.Column('entry_hash', sa.String(length=64), nullable=False),
    sa.Column('mac', sa.String(length=64), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )


def downgrade() -> None:
    op.drop_table('ledger_head')
    op.drop_index('ix_ledger_records_key', table_name='ledger_records')
    op.drop_index('ix_ledger_records_entry_seq', table_name='ledger_records')
    op.drop_table('ledger_records')
    with op.batch_alter_table('ledger_entries') as batch:
        batch.drop_column('records_sha256')
