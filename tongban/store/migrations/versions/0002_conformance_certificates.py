"""conformance certificates

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28 09:00:00.000000
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('certificates',
    sa.Column('certificate_id', sa.String(length=36), nullable=False),
    sa.Column('role', sa.String(length=32), nullable=False),
    sa.Column('system_id', sa.String(length=64), nullable=False),
    sa.Column('verdict', sa.String(length=16), nullable=False),
    sa.Column('bindings', sa.Text(), nullable=False),
    sa.Column('spec_version', sa.String(length=16), nullable=False),
    sa.Column('suite_version', sa.String(length=16), nullable=False),
    sa.Column('issued_on', sa.String(length=10), nullable=False),
    sa.Column('issuer', sa.String(length=64), nullable=False),
    sa.Column('report_sha256', sa.String(length=64), nullable=False),
    sa.Column('certificate', sa.Text(), nullable=False),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('certificate_id', 'role')
    )
    with op.batch_alter_table('certificates', schema=None) as batch_op:
        batch_op.create_index('ix_certificates_current', ['system_id', 'role', 'spec_version', 'recorded_at'],
                              unique=False)


def downgrade() -> None:
    with op.batch_alter_table('certificates', schema=None) as batch_op:
        batch_op.drop_index('ix_certificates_current')

    op.drop_table('certificates')
