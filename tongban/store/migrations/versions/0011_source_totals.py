"""source_totals: per (source partner, dataset) the stored count and newest business time,
kept by the store's write path, in place of migration 0010's (source, timestamp) index on every
record table — one index entry per stored record cost ingest more than the status query saved

Revision ID: 0011_source_totals
Revises: 0010_record_source_indexes
Create Date: 2026-12-05 21:20:00.000000
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0011_source_totals'
down_revision = '0010_record_source_indexes'
branch_labels = None
depends_on = None

INDEXES_0010 = (
    ('ix_catalog_source_updated', 'catalog_item_versions', ['source', 'updated_at', 'is_current']),
    ('ix_cases_source_submitted', 'cases', ['source', 'submitted_at']),
    ('ix_case_events_source_occurred', 'case_events', ['source', 'occurred_at']),
    ('ix_results_source_issued', 'results', ['source', 'issued_at']),
    ('ix_evaluations_source_assessed', 'evaluations', ['source', 'assessed_at']),
)


def upgrade() -> None:
    op.create_table(
        'source_totals',
        sa.Column('source', sa.String(length=64), nullable=False),
        sa.Column('dataset', sa.String(length=16), nullable=False),
        sa.Column('stored', sa.BigInteger(), nullable=False),
        sa.Column('newest_at', sa.String(length=40), nullable=True),
        sa.PrimaryKeyConstraint('source', 'dataset'),
    )
    # the totals of what is stored already: one grouped scan per record table
    from tongban.store.totals import recount

    recount(op.get_bind())
    for name, table, _columns in INDEXES_0010:
        op.drop_index(name, table_name=table)


def downgrade() -> None:
    for name, table, columns in INDEXES_0010:
        op.create_index(name, table, columns)
    op.drop_table('source_totals')
