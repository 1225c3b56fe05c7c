"""ledger record lists: one row per ledger entry holding the canonical JSON text of the
records it stored (the bytes its records_sha256 is the SHA-256 of), in place of one
ledger_records row per stored record, which cost ingest about 8 % of its time

The upgrade writes, per entry_seq, the rows of ledger_records in id order as
canonical_bytes([[dataset, record_key, sha256], ...]) — the very bytes records_sha256 was
computed from — so every chain verifies as before; rows of an entry not in the chain keep
their (orphan) list, which ledger verify reports as before.

Revision ID: 0012_ledger_record_lists
Revises: 0011_source_totals
Create Date: 2026-12-05 22:00:00.000000
"""
from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op

revision = '0012_ledger_record_lists'
down_revision = '0011_source_totals'
branch_labels = None
depends_on = None

ROWS = 20_000   # ledger_records rows read per query
LISTS = 500     # lists written per executemany / read per query on the way back


def _canonical(rows: list[list[str]]) -> str:
    from tongban.model.canonical import canonical_bytes

    return canonical_bytes(rows).decode("utf-8")


def upgrade() -> None:
    op.create_table(
        'ledger_record_lists',
        sa.Column('entry_seq', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=False,
                  nullable=False),
        sa.Column('records', sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint('entry_seq'),
    )
    conn = op.get_bind()
    read = sa.text(
        "SELECT id, entry_seq, dataset, record_key, sha256 FROM ledger_records"
        " WHERE entry_seq >= :seq AND (entry_seq > :seq OR id > :id)"   # a range on the entry_seq index
        " ORDER BY entry_seq, id LIMIT :n")
    write = sa.text("INSERT INTO ledger_record_lists (entry_seq, records) VALUES (:entry_seq, :records)")
    seq, last_id = -1, -1
    current: int | None = None
    rows: list[list[str]] = []
    pending: list[dict] = []
    while True:
        batch = conn.execute(read, {"seq": seq, "id": last_id, "n": ROWS}).all()
        for id_, entry_seq, dataset, record_key, sha256 in batch:
            if entry_seq != current:
                if rows:
                    pending.append({"entry_seq": current, "records": _canonical(rows)})
                current, rows = entry_seq, []
            rows.append([dataset, record_key, sha256])
        if len(pending) >= LISTS or (not batch and pending):
            conn.execute(write, pending)
            pending = []
        if not batch:
            break
        seq, last_id = batch[-1][1], batch[-1][0]
    if rows:
        conn.execute(write, [{"entry_seq": current, "records": _canonical(rows)}])
    op.drop_index('ix_ledger_records_entry_seq', table_name='ledger_records')
    op.drop_table('ledger_records')


def downgrade() -> None:
    # ledger_records as migrations 0005 and 0009 left it
    op.create_table(
        'ledger_records',
        sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
        sa.Column('entry_seq', sa.BigInteger(), nullable=False),
        sa.Column('dataset', sa.String(length=16), nullable=False),
        sa.Column('record_key', sa.Text(), nullable=False),
        sa.Column('sha256', sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_ledger_records_entry_seq', 'ledger_records', ['entry_seq'])
    conn = op.get_bind()
    read = sa.text("SELECT entry_seq, records FROM ledger_record_lists WHERE entry_seq > :seq"
                   " ORDER BY entry_seq LIMIT :n")
    write = sa.text("INSERT INTO ledger_records (entry_seq, dataset, record_key, sha256)"
                    " VALUES (:entry_seq, :dataset, :record_key, :sha256)")
    seq = -1
    while True:
        batch = conn.execute(read, {"seq": seq, "n": LISTS}).all()
        if not batch:
            break
        rows = [{"entry_seq": entry_seq, "dataset": d, "record_key": k, "sha256": h}
                for entry_seq, text in batch for d, k, h in json.loads(text)]
        for i in range(0, len(rows), ROWS):   # ids in entry_seq, then list order: the order verify reads
            conn.execute(write, rows[i:i + ROWS])
        seq = batch[-1][0]
    op.drop_table('ledger_record_lists')
