"""FRONTDB writer tests LP-21, LP-23 and LP-26 (TBS-LP-1.0 §7.2): the kit observes a writer's
front database over time. The reference writer (the sandbox county's data written in two
sessions, items and cases updated in place) passes; writers with one defect each fail with the
requirement they break."""
from __future__ import annotations

from datetime import datetime

import pytest
import sqlalchemy as sa

from tongban.conformance.frontdb_writer import lp21_rows, lp23_versions, lp26_times, snapshot
from tongban.conformance.results import Result
from tongban.connectors.frontdb.database import FrontDatabase
from tongban.connectors.frontdb.profile import load_profile
from tongban.connectors.frontdb.writer import NationalExchangeWriter
from tongban.model.clock import CST
from tongban.sandbox.generate import generate_province

ROLES = {"CATALOG_PROVIDER", "CASE_REPORTER", "RESULT_PUBLISHER", "EVALUATION_REPORTER"}


def _county_writer() -> NationalExchangeWriter:
    from tongban.sandbox.frontdb import legacy_writer

    data = generate_province(7, cities=1, counties_per_city=1, items_per_county=4, cases_per_county=8)
    county = next(s for s in data.systems.values() if s.level == "county")
    w = legacy_writer(county)
    w.batches = [b for b in w.batches if not getattr(b, "torn", False)]  # the planted faults are the reader's
    return w


@pytest.fixture
def sessions(tmp_path):
    """The reference writer's two sessions and the snapshots after each."""
    p = load_profile("NATIONAL-EXCHANGE")
    db = FrontDatabase(f"sqlite:///{tmp_path / 'front.db'}", p, p.tables_for(ROLES))
    db.create_schema()
    w = _county_writer()
    w.batches.sort(key=lambda b: b.at)
    w._sorted = True
    guids = [{(t, r["row_guid"]) for t, r in b.rows} for b in w.batches]
    # split where the most rows of the first session are written again in the second
    half = max(range(1, len(w.batches)), key=lambda k: len(set().union(*guids[:k]) & set().union(*guids[k:])))
    w.write(db.engine, stop=half)
    first = snapshot(db)
    w.write(db.engine, start=half)
    second = snapshot(db)
    yield db, first, second
    db.close()


def test_the_reference_writer_passes(sessions):
    db, first, second = sessions
    changed = [k for k in first if first[k] != second.get(k)]
    assert changed, "the second session must update rows in place, or LP-21/LP-23 prove nothing"
    for result in (lp21_rows([first, second]), lp23_versions([first, second]),
                   lp26_times(db, datetime.now(CST))):
        assert result.result is Result.PASS, result.reason


def _update(db, sql, **params):
    with db.engine.begin() as conn:
        assert conn.execute(sa.text(sql), params).rowcount >= 1


def test_a_physical_delete_fails_lp21(sessions):
    db, _, second = sessions
    g = next(g for (t, g) in second if t == "up_pro_process")
    _update(db, "DELETE FROM up_pro_process WHERE row_guid = :g", g=g)
    result = lp21_rows([second, snapshot(db)])
    assert result.result is Result.FAIL
    assert [f.requirement_id for f in result.findings] == ["TBS-LP-014"] and "deleted physically" in result.reason


def test_a_changed_row_still_written_as_i_fails_lp21(sessions):
    db, _, second = sessions
    g = next(g for (t, g), r in second.items() if t == "up_pro_process" and r.op == "I")
    _update(db, "UPDATE up_pro_process SET handle_explain = '补记' WHERE row_guid = :g", g=g)
    result = lp21_rows([second, snapshot(db)])
    assert [f.requirement_id for f in result.findings] == ["TBS-LP-014"] and "written as I" in result.reason


def test_a_new_row_guid_for_the_same_case_fails_lp21(sessions):
    db, _, second = sessions
    g = next(g for (t, g) in second if t == "up_pro_accept")
    _update(db, "UPDATE up_pro_accept SET row_guid = 'renamed-row' WHERE row_guid = :g", g=g)
    findings = {f.requirement_id for f in lp21_rows([second, snapshot(db)]).findings}
    assert findings == {"TBS-LP-013", "TBS-LP-014"}  # a new row_guid, and the old row gone


def test_a_material_changed_without_a_higher_version_fails_lp23(sessions):
    db, _, second = sessions
    g = next(g for (t, g), r in second.items() if t == "up_task_general_material" and r.op != "D")
    _update(db, "UPDATE up_task_general_material SET material_name = '申请书（新）', cd_operation = 'U' "
                "WHERE row_guid = :g", g=g)
    result = lp23_versions([second, snapshot(db)])
    assert [f.requirement_id for f in result.findings] == ["TBS-LP-103"]
    assert lp21_rows([second, snapshot(db)]).result is Result.PASS  # written in place as U: only LP-23 fails


def test_a_case_changed_without_a_higher_version_fails_lp23(sessions):
    db, _, second = sessions
    g = next(g for (t, g) in second if t == "up_pro_accept")
    _update(db, "UPDATE up_pro_accept SET promise_date = '2027-01-01 17:30:00', cd_operation = 'U' "
                "WHERE row_guid = :g", g=g)
    assert [f.requirement_id for f in lp23_versions([second, snapshot(db)]).findings] == ["TBS-LP-104"]


def test_fractions_and_a_fast_clock_fail_lp26(sessions):
    db, _, _ = sessions
    _update(db, "UPDATE tb_batch SET cd_time = '2026-11-28 10:00:00.500' WHERE cd_batch = "
                "(SELECT MIN(cd_batch) FROM tb_batch)")
    _update(db, "UPDATE tb_batch SET cd_time = '2099-01-01 00:00:00' WHERE cd_batch = "
                "(SELECT MAX(cd_batch) FROM tb_batch)")
    result = lp26_times(db, datetime.now(CST))
    assert result.result is Result.FAIL
    assert sorted({f.requirement_id for f in result.findings}) == ["TBS-LP-055", "TBS-LP-056"]
