"""TBS-LP-1.0 §6: every failure kind of legacy data ends in its receipt — the right rule,
outcome, location and column — and the rows after it are still processed."""
from __future__ import annotations

import json
from datetime import timedelta

import pytest

from frontdb_helpers import LW, Front, Writer

CASE7 = "11440103007493637K4440120012002202611020007"
ROLES = ["CATALOG_PROVIDER", "CASE_REPORTER", "RESULT_PUBLISHER", "EVALUATION_REPORTER"]
GOOD = {"row_guid": "zz-good-step", "cd_operation": "I", "cd_time": "2026-11-06 09:34:59", "project_no": CASE7,
        "process_name": "审核", "event_name": "1", "handle_user_name": "赵六",
        "event_start_time": "2026-11-04 15:30:00"}


@pytest.fixture
def store(tmp_path):
    from tongban.store import Store

    s = Store(f"sqlite:///{tmp_path / 'store.db'}")
    s.upgrade()
    yield s
    s.dispose()


@pytest.fixture
def front(tmp_path, store):
    """Case …0007 stored (SUBMIT, ACCEPT) by the first batch of §8.2."""
    f = Front(f"sqlite:///{tmp_path / 'front.db'}", store, LW, "NATIONAL-EXCHANGE", ROLES, hold="PT2M")
    f.run_file("8.2-batch1.sql")
    f.poll()
    return f


def _step(**changes):
    row = {**GOOD, "row_guid": "aa-bad-step", "cd_time": "2026-11-06 09:34:58"}
    row.update(changes)
    return row


def _finding(receipt):
    return [(x["ruleId"], x["location"], x["source"]["column"]) for x in json.loads(receipt["findings"])]


def _good_stored(front):
    assert front.receipts()[("up_pro_process", "zz-good-step")]["outcome"] == "STORED"


L1_CASES = [
    ("wrong type", "up_pro_evaluate", {"row_guid": "aa-bad", "cd_operation": "I", "cd_time": "2026-11-06 09:34:58",
                                       "project_no": CASE7, "pf": "1", "satisfaction": "5",
                                       "assess_time": "2026-11-06 10:00:00", "assess_number": "第1次"},
     "TBS-LP-031", "assess_number"),
    ("too long", "up_pro_process", _step(process_name="审" * 101), "TBS-LP-032", "process_name"),
    ("unparseable time", "up_pro_process", _step(event_start_time="20260931101500"), "TBS-LP-033", "event_start_time"),
    ("zero date", "up_pro_process", _step(event_start_time="0000-00-00 00:00:00"), "TBS-LP-033", "event_start_time"),
    ("offset", "up_pro_process", _step(event_start_time="2026-11-04T15:30:00+08:00"), "TBS-LP-033",
     "event_start_time"),
    ("unknown code", "up_pro_process", _step(event_name="4"), "TBS-LP-034", "event_name"),
    ("unknown operation", "up_pro_process", _step(cd_operation="X"), "TBS-LP-034", "cd_operation"),
]


@pytest.mark.parametrize("kind,table,row,rule,column", L1_CASES, ids=[c[0] for c in L1_CASES])
def test_row_check_failures(front, kind, table, row, rule, column):
    w = Writer(front)
    w.row(table, row)
    w.row("up_pro_process", GOOD)
    w.commit("2026-11-06 09:35:00")
    front.poll()
    r = front.receipts()[(table, row["row_guid"])]
    assert (r["outcome"], r["rule_ids"]) == ("REJECTED", rule)
    assert _finding(r) == [(rule, "", column)]
    _good_stored(front)


def test_torn_batch_rejects_every_row_and_the_next_batch_is_processed(front):
    w = Writer(front)
    w.row("up_pro_process", _step())
    w.commit("2026-11-06 09:35:00", extra_listed=[("up_pro_process", "never-written")])
    w.row("up_pro_process", GOOD)
    w.commit("2026-11-06 09:36:00")
    front.poll()
    r = front.receipts()[("up_pro_process", "aa-bad-step")]
    assert (r["outcome"], r["rule_ids"], _finding(r)) == ("REJECTED", "TBS-LP-022", [("TBS-LP-022", "", "")])
    _good_stored(front)


def test_superseded_row_has_no_receipt_in_its_first_batch(front):
    w = Writer(front)
    w.row("up_pro_process", GOOD)
    first = w.commit("2026-11-06 09:35:00")
    w.row("up_pro_process", {**GOOD, "cd_time": "2026-11-06 09:36:30"}, upsert=True)  # updated in place
    second = w.commit("2026-11-06 09:37:00")
    front.poll()
    rows = [r for r in front.db.receipts() if r["row_guid"] == "zz-good-step"]
    assert [(r["cd_batch"], r["outcome"]) for r in rows] == [(second, "STORED")]
    assert first != second


def test_rewritten_row_still_i_and_changed_key_are_rejected_identical_is_duplicate(front):
    w = Writer(front)
    w.row("up_pro_process", GOOD)
    w.commit("2026-11-06 09:35:00")
    front.poll()
    w.row("up_pro_process", {**GOOD, "cd_time": "2026-11-06 09:40:00", "handle_explain": "补记"}, upsert=True)
    w.commit("2026-11-06 09:40:01")
    front.poll()
    w.row("up_pro_process", {**GOOD, "cd_time": "2026-11-06 09:41:00", "cd_operation": "U",
                             "project_no": CASE7[:-1] + "8"}, upsert=True)
    w.commit("2026-11-06 09:41:01")
    front.poll()
    w.row("up_pro_process", {**GOOD, "cd_time": "2026-11-06 09:42:00"}, upsert=True)
    w.commit("2026-11-06 09:42:01")
    front.poll()
    got = {r["row_cd_time"]: (r["outcome"], r["rule_ids"], _finding(r)) for r in front.db.receipts()
           if r["row_guid"] == "zz-good-step"}
    assert got["2026-11-06 09:40:00"] == ("REJECTED", "TBS-LP-035", [("TBS-LP-035", "", "cd_operation")])
    assert got["2026-11-06 09:41:00"] == ("REJECTED", "TBS-LP-035", [("TBS-LP-035", "", "project_no")])
    assert got["2026-11-06 09:42:00"][0] == "DUPLICATE"


def test_d_of_unknown_key_and_of_a_step(front):
    w = Writer(front)
    w.row("up_pro_process", GOOD)
    w.commit("2026-11-06 09:35:00")
    front.poll()
    w.row("up_pro_process", _step(cd_operation="D", row_guid="unknown-row"))
    w.row("up_pro_process", {**GOOD, "cd_operation": "D", "cd_time": "2026-11-06 09:50:00"}, upsert=True)
    w.commit("2026-11-06 09:50:01")
    front.poll()
    rec = front.receipts()
    assert _finding(rec[("up_pro_process", "unknown-row")]) == [("TBS-LP-036", "", "cd_operation")]
    assert _finding(rec[("up_pro_process", "zz-good-step")]) == [("TBS-LP-037", "", "cd_operation")]
    assert len(front.export("case-event")) == 3  # the stored step stays


def test_hcp_alt_default_evaluation(tmp_path, store):
    f = Front(f"sqlite:///{tmp_path / 'f.db'}", store, LW, "NATIONAL-EXCHANGE", ROLES, dialect="HCP-ALT")
    f.run_file("8.2-batch1.sql")
    f.poll()
    w = Writer(f)
    w.row("up_pro_evaluate", {"row_guid": "aa-default", "cd_operation": "I", "cd_time": "2026-11-06 09:34:58",
                              "project_no": CASE7, "pf": "7", "satisfaction": "5",
                              "assess_time": "2026-11-06 10:00:00", "assess_number": 1})
    w.row("up_pro_process", GOOD)
    w.commit("2026-11-06 09:35:00")
    f.poll()
    r = f.receipts()[("up_pro_evaluate", "aa-default")]
    assert (r["outcome"], _finding(r)) == ("REJECTED", [("TBS-LP-163", "", "pf")])
    assert f.export("evaluation") == []
    _good_stored(f)


S_CASES = [
    ("missing mandatory source", _step(process_name=None), "TBS-ENV-005", "/stepName", "process_name"),
    ("time after T_read + 300 s", _step(event_start_time="2099-01-01 00:00:00"), "TBS-ENV-011", "/occurredAt",
     "event_start_time"),
    ("earlier than the last stored event", _step(event_start_time="2026-11-02 10:00:00"), "TBS-EVT-006",
     "/occurredAt", "event_start_time"),
]


@pytest.mark.parametrize("kind,row,rule,location,column", S_CASES, ids=[c[0] for c in S_CASES])
def test_tbs_rules_name_the_legacy_column(front, kind, row, rule, location, column):
    w = Writer(front)
    w.row("up_pro_process", row)
    w.row("up_pro_process", GOOD)
    w.commit("2026-11-06 09:35:00")
    front.poll()
    r = front.receipts()[("up_pro_process", row["row_guid"])]
    assert r["outcome"] == "REJECTED"
    assert (rule, location, column) in _finding(r), _finding(r)
    _good_stored(front)


def test_event_not_allowed_in_the_case_state(tmp_path, store):
    f = Front(f"sqlite:///{tmp_path / 'f.db'}", store, LW, "NATIONAL-EXCHANGE", ROLES)
    from frontdb_helpers import DATA

    body = (DATA / "8.2-batch1.sql").read_text(encoding="utf-8").replace("'2026-11-02 10:02:00'", "NULL")
    f.execute(body)  # case …0007 without accept_date: SUBMITTED only
    f.poll()
    w = Writer(f)
    w.row("up_pro_process", GOOD)
    w.commit("2026-11-06 09:35:00")
    f.poll()
    r = f.receipts()[("up_pro_process", "zz-good-step")]
    assert ("TBS-EVT-005", "/type", "event_name") in _finding(r)


def test_step_changed_after_storage(front):
    w = Writer(front)
    w.row("up_pro_process", GOOD)
    w.commit("2026-11-06 09:35:00")
    front.poll()
    w.row("up_pro_process", {**GOOD, "cd_operation": "U", "cd_time": "2026-11-06 09:50:00",
                             "handle_explain": "改"}, upsert=True)
    w.commit("2026-11-06 09:50:01")
    front.poll()
    r = [x for x in front.db.receipts() if x["row_cd_time"] == "2026-11-06 09:50:00"][0]
    assert (r["outcome"], _finding(r)) == ("REJECTED", [("TBS-EVT-008", "/seq", "")])


def test_held_rows_then_rejected_at_timeout(front):
    w = Writer(front)
    w.row("up_pro_process", {**GOOD, "row_guid": "orphan-step", "project_no": CASE7[:-1] + "9"})
    w.row("up_task_general_material", {"row_guid": "orphan-mat", "cd_operation": "I",
                                       "cd_time": "2026-11-06 09:34:50", "task_code": "11440103007493637K4449990012002",
                                       "material_name": "申请表", "is_need": "1", "material_format": "1"})
    w.row("up_pro_evaluate", {"row_guid": "orphan-eval", "cd_operation": "I", "cd_time": "2026-11-06 09:34:58",
                              "project_no": CASE7[:-1] + "9", "pf": "1", "satisfaction": "5",
                              "assess_time": "2026-11-06 10:00:00", "assess_number": 1})
    w.commit("2026-11-06 09:35:00")
    front.poll()
    rec = front.receipts()
    assert rec[("up_pro_process", "orphan-step")]["outcome"] == "HELD"
    assert json.loads(rec[("up_pro_process", "orphan-step")]["findings"])[0]["dependsOn"] == "TBS-EVT-009"
    assert rec[("up_task_general_material", "orphan-mat")]["outcome"] == "HELD"
    assert rec[("up_pro_evaluate", "orphan-eval")]["outcome"] == "HELD"
    front.now += timedelta(minutes=3)
    front.poll()
    rec = front.receipts()
    assert _finding(rec[("up_pro_process", "orphan-step")]) == [("TBS-EVT-009", "/caseNo", "project_no")]
    assert _finding(rec[("up_task_general_material", "orphan-mat")]) == [("TBS-LP-046", "", "task_code")]
    assert rec[("up_pro_evaluate", "orphan-eval")]["rule_ids"] == "TBS-EVAL-006"
    assert {r["outcome"] for r in rec.values() if r["row_guid"].startswith("orphan")} == {"REJECTED"}


def test_child_before_parent_is_stored_when_the_parent_arrives(front):
    other = CASE7[:-1] + "9"
    w = Writer(front)
    w.row("up_pro_process", {**GOOD, "row_guid": "early-step", "project_no": other})
    w.commit("2026-11-06 09:35:00")
    front.poll()
    assert front.receipts()[("up_pro_process", "early-step")]["outcome"] == "HELD"
    w.row("up_pro_accept", {"row_guid": "late-accept", "cd_operation": "I", "cd_time": "2026-11-06 09:36:00",
                            "version": 1, "project_no": other, "task_code": "11440103007493637K4440120012002",
                            "task_name": "公共场所卫生许可（新证）", "project_type": "2", "apply_type": "3",
                            "apply_date": "2026-11-02 09:15:00", "accept_date": "2026-11-02 10:02:00",
                            "promise_date": "2026-11-16 17:30:00", "org_code": "11440103007493637K",
                            "org_name": "广州市荔湾区卫生健康局", "handle_user_name": "王五", "applyer_type": "1",
                            "applyer_name": "张三", "applyer_page_type": "111",
                            "applyer_page_code": "11010519491231002X"})
    w.commit("2026-11-06 09:36:01")
    front.poll()
    rows = [r for r in front.db.receipts() if r["row_guid"] == "early-step"]
    assert [r["outcome"] for r in rows] == ["STORED"]
    events = [e for e in front.export("case-event") if e["caseNo"] == other]
    assert [e["type"] for e in events] == ["SUBMIT", "ACCEPT", "REVIEW_STEP"]


def test_region_outside_scope_and_item_version_rules(front):
    basic = {"row_guid": "basic-1", "cd_operation": "I", "cd_time": "2026-11-06 09:34:00", "version": 2,
             "task_code": "11440103007493637K4440120012002", "task_handle_item": "11440103007493637K444012001200201",
             "catalog_code": "440120012002", "task_name": "公共场所卫生许可（新证）", "task_type": "01",
             "task_state": "1", "by_law": "《公共场所卫生管理条例》第四条", "dept_code": "11440103007493637K",
             "dept_name": "广州市荔湾区卫生健康局", "dept_type": "1", "anticipate_day": 20, "anticipate_type": "1",
             "promise_day": 10, "promise_type": "1", "project_type": "2", "is_fee": "0", "server_type": "1",
             "handle_type": "1,2,3", "limit_scene_num": 0}
    ext = {"row_guid": "ext-1", "cd_operation": "I", "cd_time": "2026-11-06 09:34:01",
           "task_code": basic["task_code"], "online_handle_depth": 4}
    w = Writer(front)
    w.row("up_task_general_basic", basic)
    w.row("up_task_general_extend", ext)
    w.commit("2026-11-06 09:35:00")
    front.poll()
    assert front.receipts()[("up_task_general_basic", "basic-1")]["outcome"] == "STORED", front.receipts()[("up_task_general_basic", "basic-1")]["findings"]
    # a material added without a higher version: TBS-SYNC-005 at /version, column version
    w.row("up_task_general_material", {"row_guid": "mat-1", "cd_operation": "I", "cd_time": "2026-11-06 09:36:00",
                                       "task_code": basic["task_code"], "material_name": "申请表", "is_need": "1",
                                       "material_format": "2"})
    w.commit("2026-11-06 09:36:01")
    front.poll()
    r = front.receipts()[("up_task_general_material", "mat-1")]
    assert ("TBS-SYNC-005", "/version", "version") in _finding(r)
    # a lower version: STALE
    w.row("up_task_general_basic", {**basic, "cd_operation": "U", "cd_time": "2026-11-06 09:37:00", "version": 1,
                                    "task_name": "改名"}, upsert=True)
    w.commit("2026-11-06 09:37:01")
    front.poll()
    r = [x for x in front.db.receipts() if x["row_cd_time"] == "2026-11-06 09:37:00"][0]
    assert r["outcome"] == "STALE"
    # a region outside the partner's scope through up_uc_gov_org: TBS-SEC-003 at /regionCode
    w.row("up_uc_gov_org", {"row_guid": "org-1", "cd_operation": "I", "cd_time": "2026-11-06 09:38:00",
                            "org_cc_code": "11440103007493637K", "region_code": "440104000000"})
    w.row("up_task_general_basic", {**basic, "cd_operation": "U", "cd_time": "2026-11-06 09:38:01", "version": 3},
          upsert=True)
    w.commit("2026-11-06 09:38:02")
    front.poll()
    r = [x for x in front.db.receipts() if x["row_cd_time"] == "2026-11-06 09:38:01"][0]
    assert ("TBS-SEC-003", "/regionCode", "region_code") in _finding(r)


def test_companion_rows_of_a_rejected_item_row(front):
    w = Writer(front)
    tc = "11440103007493637K4440120012002"
    w.row("up_task_general_basic", {"row_guid": "b-bad", "cd_operation": "I", "cd_time": "2026-11-06 09:34:00",
                                    "version": 1, "task_code": tc, "task_state": "9"})
    w.row("up_task_general_material", {"row_guid": "m-ok", "cd_operation": "I", "cd_time": "2026-11-06 09:34:01",
                                       "task_code": tc, "material_name": "申请表", "is_need": "1",
                                       "material_format": "1"})
    w.row("up_pro_process", GOOD)
    w.commit("2026-11-06 09:35:00")
    front.poll()
    rec = front.receipts()
    assert _finding(rec[("up_task_general_basic", "b-bad")]) == [("TBS-LP-034", "", "task_state")]
    assert _finding(rec[("up_task_general_material", "m-ok")]) == [("TBS-LP-041", "", "")]
    _good_stored(front)
