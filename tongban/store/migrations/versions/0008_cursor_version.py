"""cursor version: the version a changes feed was read in (TBS-1.1 TBS-REST-012: a client that
changes the version it reads a feed in restarts that feed from its beginning)

Revision ID: 0008_cursor_version
Revises: 0007_received_version
Create Date: 2026-12-05 13:10:00.000000
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0008_cursor_version'
down_revision = '0007_received_version'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('sync_cursors') as batch:
        batch.add_column(sa.Column('spec_version', sa.String(length=16), nullable=False, server_default='TBS-1.0'))


def downgrade() -> None:
    with op.batch_alter_table('sync_cursors') as batch:
        batch.drop_column('spec_version')
