"""initial store schema

Revision ID: 0001
Revises: 
Create Date: 2026-11-28 06:05:48.890230
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table('case_events',
    sa.Column('case_no', sa.String(length=50), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('type', sa.String(length=24), nullable=False),
    sa.Column('occurred_at', sa.String(length=40), nullable=False),
    sa.Column('conclusion_code', sa.String(length=24), nullable=True),
    sa.Column('source', sa.String(length=64), nullable=False),
    sa.Column('content', sa.Text(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('case_no', 'seq')
    )
    op.create_table('cases',
    sa.Column('case_no', sa.String(length=50), nullable=False),
    sa.Column('version', sa.BigInteger(), nullable=False),
    sa.Column('impl_code', sa.String(length=31), nullable=False),
    sa.Column('region_code', sa.String(length=6), nullable=False),
    sa.Column('case_type', sa.String(length=2), nullable=False),
    sa.Column('channel', sa.String(length=2), nullable=False),
    sa.Column('submitted_at', sa.String(length=40), nullable=False),
    sa.Column('promised_by', sa.String(length=40), nullable=True),
    sa.Column('source', sa.String(length=64), nullable=False),
    sa.Column('content', sa.Text(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('case_no')
    )
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_cases_impl_code'), ['impl_code'], unique=False)
        batch_op.create_index(batch_op.f('ix_cases_region_code'), ['region_code'], unique=False)

    op.create_table('catalog_item_versions',
    sa.Column('impl_code', sa.String(length=31), nullable=False),
    sa.Column('version', sa.BigInteger(), nullable=False),
    sa.Column('item_code', sa.String(length=12), nullable=False),
    sa.Column('region_code', sa.String(length=6), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('online_depth', sa.Integer(), nullable=False),
    sa.Column('updated_at', sa.String(length=40), nullable=False),
    sa.Column('is_current', sa.Boolean(), nullable=False),
    sa.Column('source', sa.String(length=64), nullable=False),
    sa.Column('content', sa.Text(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('impl_code', 'version')
    )
    with op.batch_alter_table('catalog_item_versions', schema=None) as batch_op:
        batch_op.create_index('ix_catalog_current', ['impl_code', 'is_current'], unique=False)
        batch_op.create_index(batch_op.f('ix_catalog_item_versions_item_code'), ['item_code'], unique=False)
        batch_op.create_index(batch_op.f('ix_catalog_item_versions_region_code'), ['region_code'], unique=False)

    op.create_table('evaluations',
    sa.Column('case_no', sa.String(length=50), nullable=False),
    sa.Column('assess_no', sa.Integer(), nullable=False),
    sa.Column('satisfaction', sa.Integer(), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('assessed_at', sa.String(length=40), nullable=False),
    sa.Column('source', sa.String(length=64), nullable=False),
    sa.Column('content', sa.Text(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('case_no', 'assess_no')
    )
    op.create_table('held_records',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('partner_id', sa.String(length=64), nullable=False),
    sa.Column('dataset', sa.String(length=16), nullable=False),
    sa.Column('record_key', sa.Text(), nullable=False),
    sa.Column('waits_for', sa.Text(), nullable=False),
    sa.Column('rule_id', sa.String(length=16), nullable=False),
    sa.Column('location', sa.Text(), nullable=False),
    sa.Column('content', sa.Text(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('writer', sa.String(length=64), nullable=False),
    sa.Column('held_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('dataset', 'record_key', name='uq_held_key')
    )
    with op.batch_alter_table('held_records', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_held_records_expires_at'), ['expires_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_held_records_partner_id'), ['partner_id'], unique=False)

    op.create_table('ledger_entries',
    sa.Column('seq', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('recorded_at', sa.String(length=40), nullable=False),
    sa.Column('direction', sa.String(length=8), nullable=False),
    sa.Column('sender', sa.String(length=64), nullable=False),
    sa.Column('receiver', sa.String(length=64), nullable=False),
    sa.Column('dataset', sa.String(length=16), nullable=False),
    sa.Column('binding', sa.String(length=8), nullable=False),
    sa.Column('message_id', sa.String(length=64), nullable=True),
    sa.Column('envelope_sha256', sa.String(length=64), nullable=False),
    sa.Column('record_count', sa.Integer(), nullable=False),
    sa.Column('verdict', sa.String(length=16), nullable=False),
    sa.Column('counts', sa.Text(), nullable=False),
    sa.Column('prev_hash', sa.String(length=64), nullable=False),
    sa.Column('entry_hash', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('seq'),
    sa.UniqueConstraint('entry_hash'),
    sa.UniqueConstraint('prev_hash')
    )
    op.create_table('outbox',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('topic', sa.Text(), nullable=False),
    sa.Column('dataset', sa.String(length=16), nullable=False),
    sa.Column('message_id', sa.String(length=36), nullable=False),
    sa.Column('envelope', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('message_id')
    )
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_outbox_sent_at'), ['sent_at'], unique=False)

    op.create_table('partners',
    sa.Column('system_id', sa.String(length=64), nullable=False),
    sa.Column('level', sa.String(length=16), nullable=False),
    sa.Column('region_code', sa.String(length=6), nullable=False),
    sa.Column('parent', sa.String(length=64), nullable=True),
    sa.Column('transport', sa.String(length=16), nullable=False),
    sa.Column('endpoint', sa.Text(), nullable=False),
    sa.Column('roles', sa.Text(), nullable=False),
    sa.Column('spec_version', sa.String(length=16), nullable=False),
    sa.Column('config', sa.Text(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('system_id')
    )
    op.create_table('quarantine',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('partner_id', sa.String(length=64), nullable=False),
    sa.Column('dataset', sa.String(length=16), nullable=False),
    sa.Column('record_key', sa.Text(), nullable=True),
    sa.Column('raw', sa.Text(), nullable=False),
    sa.Column('report', sa.Text(), nullable=False),
    sa.Column('rule_ids', sa.Text(), nullable=False),
    sa.Column('envelope_sha256', sa.String(length=64), nullable=True),
    sa.Column('location', sa.Text(), nullable=True),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('quarantine', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_quarantine_dataset'), ['dataset'], unique=False)
        batch_op.create_index(batch_op.f('ix_quarantine_partner_id'), ['partner_id'], unique=False)

    op.create_table('results',
    sa.Column('case_no', sa.String(length=50), nullable=False),
    sa.Column('cert_no', sa.String(length=50), nullable=False),
    sa.Column('result_type', sa.String(length=16), nullable=False),
    sa.Column('issued_at', sa.String(length=40), nullable=False),
    sa.Column('document_sha256', sa.String(length=64), nullable=True),
    sa.Column('document_verified', sa.Boolean(), nullable=True),
    sa.Column('source', sa.String(length=64), nullable=False),
    sa.Column('content', sa.Text(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('case_no', 'cert_no')
    )
    op.create_table('seen_messages',
    sa.Column('message_id', sa.String(length=36), nullable=False),
    sa.Column('sender', sa.String(length=64), nullable=False),
    sa.Column('request_hash', sa.String(length=64), nullable=False),
    sa.Column('ack', sa.Text(), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('message_id')
    )
    with op.batch_alter_table('seen_messages', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_seen_messages_received_at'), ['received_at'], unique=False)

    op.create_table('sync_cursors',
    sa.Column('partner_id', sa.String(length=64), nullable=False),
    sa.Column('dataset', sa.String(length=16), nullable=False),
    sa.Column('cursor', sa.Text(), nullable=True),
    sa.Column('records_seen', sa.BigInteger(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('partner_id', 'dataset')
    )
    op.create_table('sync_runs',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('partner_id', sa.String(length=64), nullable=False),
    sa.Column('dataset', sa.String(length=16), nullable=False),
    sa.Column('trigger', sa.String(length=16), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('pages', sa.Integer(), nullable=False),
    sa.Column('pulled', sa.Integer(), nullable=False),
    sa.Column('stored', sa.Integer(), nullable=False),
    sa.Column('duplicate', sa.Integer(), nullable=False),
    sa.Column('stale', sa.Integer(), nullable=False),
    sa.Column('held', sa.Integer(), nullable=False),
    sa.Column('rejected', sa.Integer(), nullable=False),
    sa.Column('cursor_before', sa.Text(), nullable=True),
    sa.Column('cursor_after', sa.Text(), nullable=True),
    sa.Column('newest_source_at', sa.String(length=40), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('error_code', sa.String(length=32), nullable=True),
    sa.Column('error_hop', sa.String(length=16), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('sync_runs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sync_runs_partner_id'), ['partner_id'], unique=False)




def downgrade() -> None:

    with op.batch_alter_table('sync_runs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sync_runs_partner_id'))

    op.drop_table('sync_runs')
    op.drop_table('sync_cursors')
    with op.batch_alter_table('seen_messages', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_seen_messages_received_at'))

    op.drop_table('seen_messages')
    op.drop_table('results')
    with op.batch_alter_table('quarantine', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_quarantine_partner_id'))
        batch_op.drop_index(batch_op.f('ix_quarantine_dataset'))

    op.drop_table('quarantine')
    op.drop_table('partners')
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_outbox_sent_at'))

    op.drop_table('outbox')
    op.drop_table('ledger_entries')
    with op.batch_alter_table('held_records', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_held_records_partner_id'))
        batch_op.drop_index(batch_op.f('ix_held_records_expires_at'))

    op.drop_table('held_records')
    op.drop_table('evaluations')
    with op.batch_alter_table('catalog_item_versions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_catalog_item_versions_region_code'))
        batch_op.drop_index(batch_op.f('ix_catalog_item_versions_item_code'))
        batch_op.drop_index('ix_catalog_current')

    op.drop_table('catalog_item_versions')
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_cases_region_code'))
        batch_op.drop_index(batch_op.f('ix_cases_impl_code'))

    op.drop_table('cases')
    op.drop_table('case_events')

