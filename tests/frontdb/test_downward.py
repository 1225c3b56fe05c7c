"""TBS-LP-057, -058, -115 (§8.6): the province's items become dn_task_directory rows in the
front database of a CATALOG_CONSUMER partner, and none for a partner without the role."""
from __future__ import annotations

import json
from datetime import timedelta

import pytest
import sqlalchemy as sa

from frontdb_helpers import DATA, EXPECTED, LW, Front
from tongban.sync.ingest import Ingestor
from tongban.validators import ValidationContext

PROVINCE = "TB:province:440000:GDZWFW"


@pytest.fixture
def store(tmp_path):
    from tongban.store import Store

    s = Store(f"sqlite:///{tmp_path / 'store.db'}")
    s.upgrade()
    item = EXPECTED["8.6"]["catalog"][0]
    with s.transaction() as session:
        result = Ingestor(session, partner_id=PROVINCE, writer=PROVINCE, hold_timeout_s=86400,
                          context=ValidationContext()).ingest("catalog", [item])
        assert result.results[0].outcome.value == "STORED", result.results[0].report.to_json()
    yield s
    s.dispose()


def _dn(front):
    with front.db.engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(sa.text("SELECT * FROM dn_task_directory"))]


def test_8_6_the_dn_row(tmp_path, store):
    f = Front(f"sqlite:///{tmp_path / 'front.db'}", store, LW, "NATIONAL-EXCHANGE",
              ["CATALOG_PROVIDER", "CATALOG_CONSUMER"], t_read="2026-11-28T10:00:03+08:00")
    f.poll()
    rows = _dn(f)
    assert len(rows) == 1
    row = {k: v for k, v in rows[0].items() if v is not None}
    assert row == {"row_guid": "c1030ca38076f1cface41a5768899a13", "cd_operation": "I",
                   "cd_time": "2026-11-28 10:00:03", "cd_batch": "TB20261128100003001", "data_source": "TBS",
                   "version": 1, "catalog_code": "440120012002", "task_name": "公共场所卫生许可（新证）",
                   "task_type": "01", "task_state": "1", "task_version": 5, "use_level": "2",
                   "by_law": "《公共场所卫生管理条例》第四条"}
    f.now += timedelta(minutes=1)
    f.poll()
    assert len(_dn(f)) == 1 and _dn(f)[0]["version"] == 1  # unchanged: not written again
    # the row sent down is in the ledger, once, as an OUT entry to the partner
    from sqlalchemy import select

    from tongban.store.schema import LedgerEntry

    with store.reading() as s:
        out = s.execute(select(LedgerEntry).where(LedgerEntry.direction == "OUT")).scalars().all()
    assert [(e.receiver, e.dataset, e.binding, e.message_id) for e in out] == [
        (LW, "catalog", "FRONTDB", "TB20261128100003001")]


def test_no_dn_row_without_catalog_consumer(tmp_path, store):
    f = Front(f"sqlite:///{tmp_path / 'front.db'}", store, LW, "NATIONAL-EXCHANGE", ["CATALOG_PROVIDER"])
    f.poll()
    assert _dn(f) == []
