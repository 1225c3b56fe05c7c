"""record tables: an index on (source, business timestamp) each (with is_current for the
catalog), so that ``tongban status`` reads per source partner the newest business time (one
index lookup plus the last two days' entries) and the stored count (an index range) instead of
every record table whole

Revision ID: 0010_record_source_indexes
Revises: 0009_ledger_records_no_key_ix
Create Date: 2026-12-05 17:30:00.000000
"""
from __future__ import annotations

from alembic import op

revision = '0010_record_source_indexes'
down_revision = '0009_ledger_records_no_key_ix'
branch_labels = None
depends_on = None

INDEXES = (
    ('ix_catalog_source_updated', 'catalog_item_versions', ['source', 'updated_at', 'is_current']),
    ('ix_cases_source_submitted', 'cases', ['source', 'submitted_at']),
    ('ix_case_events_source_occurred', 'case_events', ['source', 'occurred_at']),
    ('ix_results_source_issued', 'results', ['source', 'issued_at']),
    ('ix_evaluations_source_assessed', 'evaluations', ['source', 'assessed_at']),
)


def upgrade() -> None:
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns)


def downgrade() -> None:
    for name, table, _columns in reversed(INDEXES):
        op.drop_index(name, table_name=table)
