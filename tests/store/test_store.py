"""The store: migrations, transactions, cursors — on SQLite and PostgreSQL alike."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from tongban.store import Store, StoreError
from tongban.store.records import RecordStore
from tongban.store.schema import CaseEventRecord, CaseRecord, CatalogItemVersion, SyncCursor
from tongban.sync.cursor import ChangeCursor, CursorError

EXPECTED_TABLES = {"partners", "sync_cursors", "catalog_item_versions", "cases", "case_events", "results",
                   "evaluations", "ledger_entries", "quarantine", "sync_runs", "held_records", "outbox",
                   "seen_messages", "alembic_version"}

EVENT = {"caseNo": "11440103007493637K4440120012002202611020007", "seq": 1, "type": "SUBMIT",
         "occurredAt": "2026-11-02T09:15:00+08:00", "stepName": "网上申报"}


def test_upgrade_creates_every_table_and_is_repeatable(store):
    from alembic.script import ScriptDirectory

    assert EXPECTED_TABLES <= store.table_names()
    head = ScriptDirectory.from_config(store.alembic_config()).get_current_head()
    assert store.upgrade() == head  # a second upgrade is a no-op at head


def test_transaction_rolls_back_on_error(store):
    with pytest.raises(RuntimeError):
        with store.transaction() as s:
            records = RecordStore(s)
            records.store("case-event", EVENT, source="TB:county:440103:LWZWFW")
            records.flush()
            raise RuntimeError("crash before commit")
    with store.reading() as s:
        assert s.execute(select(CaseEventRecord)).first() is None


def test_stored_record_keeps_canonical_content(store):
    with store.transaction() as s:
        records = RecordStore(s)
        records.store("case-event", EVENT, source="TB:county:440103:LWZWFW")
        records.flush()
    with store.reading() as s:
        rs = RecordStore(s)
        assert rs.case_event(EVENT["caseNo"], 1) == EVENT
        row = s.get(CaseEventRecord, (EVENT["caseNo"], 1))
        assert row.content.startswith('{"caseNo":') and " " not in row.content.split('"stepName"')[0]


def test_catalog_versions_keep_history_and_one_current(store):
    item = {"implCode": "11440103007493637K4440120012002", "itemCode": "440120012002", "regionCode": "440103",
            "name": "公共场所卫生许可", "status": "ACTIVE", "onlineDepth": 4, "updatedAt": "2026-11-01T00:00:00+08:00",
            "version": 1}
    with store.transaction() as s:
        records = RecordStore(s)
        records.store("catalog", item, source="x")
        records.flush()   # version 1 stored and current
        records.store("catalog", {**item, "version": 2, "status": "SUSPENDED"}, source="x")
        records.store("catalog", {**item, "version": 3, "status": "REVOKED"}, source="x")
        records.flush()   # supersedes a stored version and a staged one
    with store.reading() as s:
        current = RecordStore(s).catalog_current(item["implCode"])
        rows = s.execute(select(CatalogItemVersion.version, CatalogItemVersion.is_current)
                         .order_by(CatalogItemVersion.version)).all()
    assert current["version"] == 3 and current["status"] == "REVOKED"
    assert [tuple(r) for r in rows] == [(1, False), (2, False), (3, True)]


def test_a_case_keeps_its_latest_version_only(store):
    case = {"caseNo": "11440103007493637K4440120012002202611020007", "version": 1, "implCode": "x" * 31,
            "regionCode": "440103", "caseType": "2", "channel": "2", "submittedAt": "2026-11-02T09:15:00+08:00",
            "promisedBy": "2026-11-20T17:30:00+08:00"}
    with store.transaction() as s:
        records = RecordStore(s)
        records.store("case", case, source="x")
        records.flush()
        records.store("case", {**case, "version": 2, "promisedBy": "2026-11-21T17:30:00+08:00"}, source="x")
        records.flush()
    with store.reading() as s:
        rows = s.execute(select(CaseRecord.version, CaseRecord.promised_by)).all()
        assert RecordStore(s).case(case["caseNo"])["version"] == 2
    assert [tuple(r) for r in rows] == [(2, "2026-11-21T17:30:00+08:00")]


def test_cursor_commits_only_with_its_transaction(store):
    with pytest.raises(RuntimeError):
        with store.transaction() as s:
            cur = ChangeCursor.load(s, "TB:county:440103:LWZWFW", "case-event")
            cur.advance(s, "c-0000000000000010", 10)
            raise RuntimeError("crash")
    assert store.cursor("TB:county:440103:LWZWFW", "case-event") is None
    with store.transaction() as s:
        cur = ChangeCursor.load(s, "TB:county:440103:LWZWFW", "case-event")
        assert cur.position is None
        cur.advance(s, "c-0000000000000010", 10)
    assert store.cursor("TB:county:440103:LWZWFW", "case-event") == "c-0000000000000010"
    with store.reading() as s:
        assert s.get(SyncCursor, ("TB:county:440103:LWZWFW", "case-event")).records_seen == 10


def test_cursor_refuses_malformed_positions(store):
    with pytest.raises(CursorError, match="TBS-REST-004"):
        ChangeCursor("p", "case", initial="bad cursor with spaces")
    with store.transaction() as s:
        cur = ChangeCursor.load(s, "p", "case")
        with pytest.raises(CursorError):
            cur.advance(s, "../etc", 1)


def test_unreachable_database_is_reported_with_its_url():
    bad = Store("postgresql+psycopg://nobody:secret@127.0.0.1:1/nowhere")
    with pytest.raises(StoreError) as info:
        bad.upgrade()
    assert "127.0.0.1:1/nowhere" in str(info.value) and "secret" not in str(info.value)
