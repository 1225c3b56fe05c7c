"""FRONTDB writer tests LP-21, LP-23 and LP-26 (TBS-LP-1.0 §7.2): the kit observes a writer's
front database over time. The reference writer (the sandbox county's data written in two
sessions, items and cases updated in place) passes; writers with one defect each fail with the
requirement they break."""
from __future__ import annotations

from datetime import datetime

import pytest
import sqlalchemy as sa

from tongban.conformance.frontdb_writer import (lp21_rows, lp23_versions, lp24_cases, lp25_dialect, lp26_times,
                                                lp27_receipts_shown, snapshot)
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


# --- LP-24, LP-25, LP-27 ------------------------------------------------------------------------
CASE_KINDS = {"approval": "CONCLUDE", "non-acceptance": "REJECT_ACCEPTANCE", "supplement": "REQUEST_SUPPLEMENT",
              "suspension": "SUSPEND"}


@pytest.fixture
def entered(tmp_path):
    """The sandbox county as the writer: its cases and evaluations entered, written (without the
    reader's planted faults) into its front database; the scripted cases picked from them."""
    from tongban.sandbox.frontdb import legacy_writer

    data = generate_province(7, cities=1, counties_per_city=1, items_per_county=4, cases_per_county=12)
    county = next(s for s in data.systems.values() if s.level == "county")
    p = load_profile("NATIONAL-EXCHANGE")
    db = FrontDatabase(f"sqlite:///{tmp_path / 'front.db'}", p, p.tables_for(ROLES))
    db.create_schema()
    w = legacy_writer(county, plant=False)
    # the sessions enter cases and evaluations; items are not part of LP-24 (and, read only after
    # all their versions were written in place, an item's first version is superseded, TBS-LP-022)
    w.batches = [b for b in w.batches if not any(t.startswith("up_task_") for t, _ in b.rows)]
    w.write(db.engine)
    events = county.records("case-event")
    cases = {kind: next(e["caseNo"] for e in events if e["type"] == t
                        and (kind != "approval" or e.get("conclusionCode") == "APPROVED_WITH_CERT"))
             for kind, t in CASE_KINDS.items()}
    very = [(e["caseNo"], e["assessNo"]) for e in county.records("evaluation") if e["satisfaction"] == 5]
    yield db, county.system_id, cases, very
    db.close()


def test_lp24_the_reference_writers_scripted_cases_are_all_stored(entered):
    db, system, cases, _ = entered
    result = lp24_cases(db, system_id=system, profile="NATIONAL-EXCHANGE", roles=sorted(ROLES),
                        dialect="HCP-NATIONAL", cases=cases)
    assert result.result is Result.PASS, result.reason
    assert db.receipts() == []  # the reference reader writes nothing into the writer's database


def test_lp24_a_writer_with_a_bad_step_fails(entered):
    db, system, cases, _ = entered
    with db.engine.begin() as conn:
        conn.execute(sa.text("UPDATE up_pro_process SET event_name = '4' WHERE project_no = :p"),
                     {"p": cases["supplement"]})
    result = lp24_cases(db, system_id=system, profile="NATIONAL-EXCHANGE", roles=sorted(ROLES),
                        dialect="HCP-NATIONAL", cases=cases)
    assert result.result is Result.FAIL
    assert "REJECTED TBS-LP-034" in " ".join(f.message_en for f in result.findings)
    assert any("supplement case" in f.message_en for f in result.findings)


def test_lp25_declared_dialect_stores_very_satisfied_as_5(entered):
    db, system, _, very = entered
    assert very
    ok = lp25_dialect(db, system_id=system, profile="NATIONAL-EXCHANGE", roles=sorted(ROLES),
                      dialect="HCP-NATIONAL", very_satisfied=very)
    assert ok.result is Result.PASS, ok.reason
    # the same rows declared in the other direction: 非常满意 is read as 1 (and then, without the
    # detail a low rating needs, not stored at all) — never as 5
    wrong = lp25_dialect(db, system_id=system, profile="NATIONAL-EXCHANGE", roles=sorted(ROLES),
                         dialect="GB39046", very_satisfied=very)
    assert wrong.result is Result.FAIL and {f.requirement_id for f in wrong.findings} == {"TBS-LP-160"}
    assert len(wrong.findings) == len(very)
    none = lp25_dialect(db, system_id=system, profile="NATIONAL-EXCHANGE", roles=sorted(ROLES), dialect=None,
                        very_satisfied=very)
    assert [f.requirement_id for f in none.findings] == ["TBS-LP-160"]


def test_lp27_is_an_attestation():
    assert lp27_receipts_shown({}).result is Result.SKIP
    assert lp27_receipts_shown({"LP-27": {"result": "PASS", "statement": "shown in 回执查询"}}).result is Result.PASS
    failed = lp27_receipts_shown({"LP-27": {"result": "FAIL"}})
    assert failed.result is Result.FAIL and failed.findings[0].requirement_id == "TBS-LP-050"
