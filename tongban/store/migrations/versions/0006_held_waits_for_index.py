"""held records: index on waits_for (every page of case-linked records looks up what is held for its cases)

Revision ID: 0006_held_waits_for_index
Revises: 0005_ledger_coverage
Create Date: 2026-12-05 12:45:00.000000
"""
from __future__ import annotations

from alembic import op

revision = '0006_held_waits_for_index'
down_revision = '0005_ledger_coverage'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_held_records_waits_for', 'held_records', ['waits_for'])


def downgrade() -> None:
    op.drop_index('ix_held_records_waits_for', table_name='held_records')
