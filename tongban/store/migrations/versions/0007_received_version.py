"""received version: each stored record keeps the version it arrived in (TBS-1.1 TBS-SYNC-015 (a));
certNo up to 100 characters (TBS-1.1 change 15)

Revision ID: 0007_received_version
Revises: 0006_held_waits_for_index
Create Date: 2026-12-05 12:40:00.000000
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0007_received_version'
down_revision = '0006_held_waits_for_index'
branch_labels = None
depends_on = None

TABLES = ('catalog_item_versions', 'cases', 'case_events', 'results', 'evaluations')


def upgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column('spec_version', sa.String(length=16), nullable=False,
                                       server_default='TBS-1.0'))
    with op.batch_alter_table('results') as batch:
        batch.alter_column('cert_no', existing_type=sa.String(length=50), type_=sa.String(length=100),
                           existing_nullable=False)


def downgrade() -> None:
    with op.batch_alter_table('results') as batch:
        batch.alter_column('cert_no', existing_type=sa.String(length=100), type_=sa.String(length=50),
                           existing_nullable=False)
    for table in reversed(TABLES):
        with op.batch_alter_table(table) as batch:
            batch.drop_column('spec_version')
