"""The demo's summary of what did not go straight through counts a front database's refusals and
holds too: they are answered in the front database's receipts and kept in its row mirror
(TBS-LP-1.0), not in the quarantine and hold tables."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from tongban import demo
from tongban.store import Store
from tongban.store.schema import FrontdbBatch, FrontdbReceipt, FrontdbRow

PARTNER = "TB:county:440303:LHZWFW"


def _receipt(batch: str, guid: str, outcome: str, rule: str = "") -> FrontdbReceipt:
    return FrontdbReceipt(partner_id=PARTNER, table_name="up_pro_process", row_guid=guid,
                          row_cd_time="2026-12-04 23:02:01", cd_batch=batch, outcome=outcome, rule_ids=rule,
                          message="", findings="[]", processed_at="2026-12-05 09:00:00")


def test_front_database_refusals_and_waiting_rows_are_in_the_summary(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'store.db'}")
    store.upgrade()
    now = datetime.now(timezone.utc)
    with store.transaction() as s:
        s.add(FrontdbBatch(partner_id=PARTNER, cd_batch="B-BEFORE", processed_at=now - timedelta(hours=1)))
        s.add(FrontdbBatch(partner_id=PARTNER, cd_batch="B-NOW", processed_at=now))
        s.add(_receipt("B-BEFORE", "g0", "REJECTED", "TBS-LP-036"))     # an earlier run's: not counted
        s.add(_receipt("B-NOW", "g1", "REJECTED", "TBS-LP-034"))
        s.add(_receipt("B-NOW", "g2", "REJECTED", "TBS-LP-034 TBS-LP-022"))
        s.add(_receipt("B-NOW", "g3", "STORED"))
        for guid, outcome in (("h1", "HELD"), ("h2", "HELD"), ("s1", "STORED")):
            s.add(FrontdbRow(partner_id=PARTNER, table_name="up_task_general_material", row_guid=guid,
                             cd_time="2025-09-05 09:00:00", cd_batch="B-NOW", state="{}", digest="0" * 64,
                             outcome=outcome))
    summary = demo._print_unhappy_paths(store, now - timedelta(minutes=1), 0)
    store.dispose()
    assert summary["frontdbRefused"] == 2 and summary["frontdbReasons"] == {"TBS-LP-034": 2}
    assert summary["stillHeld"] == 2 and summary["quarantined"] == 0
