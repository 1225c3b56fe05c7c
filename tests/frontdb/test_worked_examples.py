"""TBS-LP-1.0 §8: each worked example maps to exactly the records the document shows
(copied from the document into tests/data/frontdb/expected_records.json), and the rejected
rows get exactly the receipts of §8.4 and §8.5."""
from __future__ import annotations

import json

import pytest

from frontdb_helpers import EXPECTED, JN, LW, MARIADB_URL, PG_URL, Front, mariadb_database, postgresql_schema

NE_ROLES = ["CATALOG_PROVIDER", "CASE_REPORTER", "RESULT_PUBLISHER", "EVALUATION_REPORTER"]


@pytest.fixture(params=["sqlite", "mariadb", "postgresql"])
def front_url(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'front.db'}"
        return
    if request.param == "postgresql":
        if not PG_URL:
            pytest.skip("TONGBAN_TEST_PG_URL is not set: PostgreSQL front-database tests run in CI (.ci/run)")
        url, drop = postgresql_schema()
        yield url
        drop()
        return
    if not MARIADB_URL:
        pytest.skip("TONGBAN_TEST_MARIADB_URL is not set: MariaDB front-database tests run in CI (.ci/run)")
    url, drop = mariadb_database()
    yield url
    drop()


@pytest.fixture
def store(tmp_path):
    from tongban.store import Store

    s = Store(f"sqlite:///{tmp_path / 'store.db'}")
    s.upgrade()
    yield s
    s.dispose()


def _national(front_url, store) -> Front:
    return Front(front_url, store, LW, "NATIONAL-EXCHANGE", NE_ROLES)


def test_8_1_item_is_annex_b1_and_all_six_rows_stored(front_url, store):
    f = _national(front_url, store)
    f.run_file("8.1-item.sql")
    f.poll()
    assert f.export("catalog") == EXPECTED["8.1"]["catalog"]
    receipts = f.receipts()
    assert len(receipts) == 6
    assert {r["outcome"] for r in receipts.values()} == {"STORED"}
    assert {r["rule_ids"] for r in receipts.values()} == {""}


def test_8_2_case_events_result_and_8_4_receipt(front_url, store):
    f = _national(front_url, store)
    f.run_file("8.2-batch1.sql")
    f.run_file("8.2-batch2.sql")
    f.poll()
    assert f.export("case") == EXPECTED["8.2"]["case"]
    assert f.export("case-event") == EXPECTED["8.2"]["case-event"]
    assert f.export("result") == EXPECTED["8.2"]["result"]
    r = f.receipts()[("up_pro_accept", "1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d")]
    assert r == {
        "table_name": "up_pro_accept",
        "row_guid": "1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d",
        "row_cd_time": "2026-11-02 10:04:00",
        "cd_batch": "LW20261102100500001",
        "outcome": "REJECTED",
        "rule_ids": "TBS-CODE-017",
        "message": "TBS-CODE-017 /agent/idNo",
        "findings": '[{"dataset":"case","key":"{\\"caseNo\\":\\"11440103007493637K4440120012002202611020008\\",'
                    '\\"version\\":1}","location":"/agent/idNo","ruleId":"TBS-CODE-017","severity":"ERROR",'
                    '"source":{"column":"contact_code","rowGuid":"1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d",'
                    '"table":"up_pro_accept"}}]',
        "processed_at": r["processed_at"],
    }
    assert str(r["processed_at"]).startswith("2026-11-28 10:00:00")
    others = [x for k, x in f.receipts().items() if k[1] != "1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d"]
    assert len(others) == 4 and {x["outcome"] for x in others} == {"STORED"}


def test_8_3_evaluations_under_hcp_national(front_url, store):
    f = _national(front_url, store)
    f.run_file("8.2-batch1.sql")
    f.run_file("8.2-batch2.sql")
    f.run_file("8.3-evaluations.sql")
    f.poll()
    assert f.export("evaluation") == EXPECTED["8.3"]["evaluation"]


def test_8_3_same_rows_under_gb39046_reverse_satisfaction(front_url, store):
    f = Front(front_url, store, LW, "NATIONAL-EXCHANGE", NE_ROLES, dialect="GB39046")
    f.run_file("8.2-batch1.sql")
    f.run_file("8.2-batch2.sql")
    f.run_file("8.3-evaluations.sql")
    f.poll()
    # §8.3: 1 (非常不满意) for the first evaluation and 4 (满意) for the follow-up
    assert [e["satisfaction"] for e in f.export("evaluation")] == [1, 4]


def test_8_5_ea_jc_step_case_and_its_rejected_filing_step(front_url, store):
    f = Front(front_url, store, JN, "EA-JC-STEP", ["CASE_REPORTER", "RESULT_PUBLISHER"], dialect=None,
              t_read="2026-10-24T08:00:00+08:00")
    f.run_file("8.5-ea-jc-step.sql")
    f.poll()
    assert f.export("case") == EXPECTED["8.5"]["case"]
    assert f.export("case-event") == EXPECTED["8.5"]["case-event"]
    assert f.export("result") == EXPECTED["8.5"]["result"]
    r = f.receipts()[("EA_JC_STEP_PROC", "a1000000-0000-4000-8000-000000000007")]
    assert {k: v for k, v in r.items() if k != "processed_at"} == {
        "table_name": "EA_JC_STEP_PROC",
        "row_guid": "a1000000-0000-4000-8000-000000000007",
        "row_cd_time": "2026-10-23 11:40:07",
        "cd_batch": "JN20261023114000001",
        "outcome": "REJECTED",
        "rule_ids": "TBS-LP-034",
        "message": "TBS-LP-034 NODERESULT",
        "findings": '[{"dataset":"","key":"","location":"","ruleId":"TBS-LP-034","severity":"ERROR",'
                    '"source":{"column":"NODERESULT","rowGuid":"a1000000-0000-4000-8000-000000000007",'
                    '"table":"EA_JC_STEP_PROC"}}]',
    }
    assert str(r["processed_at"]).startswith("2026-10-24 08:00:00")
    assert json.loads(r["findings"])[0]["ruleId"] == "TBS-LP-034"
    others = [x for k, x in f.receipts().items() if k[1] != "a1000000-0000-4000-8000-000000000007"]
    assert len(others) == 6 and {x["outcome"] for x in others} == {"STORED"}
