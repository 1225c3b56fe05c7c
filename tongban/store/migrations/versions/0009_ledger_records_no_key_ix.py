"""ledger records without the business-key index: one row is written per stored record and
nothing looks a ledger record up by its key (ledger verify reads them all in order), so the
index on (dataset, record_key) cost every ingest about a tenth of its time for no query

Revision ID: 0009_ledger_records_no_key_ix
Revises: 0008_cursor_version
Create Date: 2026-12-05 17:05:00.000000
"""
from __future__ import annotations

from alembic import op

revision = '0009_ledger_records_no_key_ix'
down_revision = '0008_cursor_version'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index('ix_ledger_records_key', table_name='ledger_records')


def downgrade() -> None:
    op.create_index('ix_ledger_records_key', 'ledger_records', ['dataset', 'record_key'])
