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


def _next_batch_stored(front, row=None):
    """The rows after a failure are still processed: a later batch's good row is STORED."""
    row = row or {**GOOD, "row_guid": "zz-next-step", "cd_time": "2026-11-06 09:59:00",
                  "event_start_time": "2026-11-04 15:40:00", "process_name": "复核"}
    w = Writer(front, prefix="N")
    w.row("up_pro_process", row)
    w.commit("2026-11-06 09:59:30")
    front.poll()
    got = front.receipts()[("up_pro_process", row["row_guid"])]
    assert got["outcome"] == "STORED", got["findings"]


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


TORN = ["a listed row missing", "a row not listed", "row_count not the manifest's"]


@pytest.mark.parametrize("kind", TORN)
def test_torn_batch_rejects_every_row_and_the_next_batch_is_processed(front, kind):
    w = Writer(front)
    w.row("up_pro_process", _step())
    if kind == "a row not listed":
        w.row("up_pro_process", _step(row_guid="ab-unlisted", event_start_time="2026-11-04 15:31:00"), listed=False)
        w.commit("2026-11-06 09:35:00")
    elif kind == "a listed row missing":
        w.commit("2026-11-06 09:35:00", extra_listed=[("up_pro_process", "never-written")])
    else:
        w.commit("2026-11-06 09:35:00", row_count=2)
    w.row("up_pro_process", GOOD)
    w.commit("2026-11-06 09:36:00")
    front.poll()
    torn = [r for r in front.db.receipts() if r["cd_batch"] == "B00001"]
    assert {r["row_guid"] for r in torn} == {"aa-bad-step"} | ({"ab-unlisted"} if kind == "a row not listed" else set())
    for r in torn:
        assert (r["outcome"], r["rule_ids"], _finding(r)) == ("REJECTED", "TBS-LP-022", [("TBS-LP-022", "", "")])
    assert len(front.export("case-event")) == 3  # SUBMIT, ACCEPT and the good step only
    _good_stored(front)


def test_null_cd_time_is_an_unparseable_time(front):
    """TBS-LP-033 with column cd_time: the empty text is NULL (TBS-LP-012); the receipt's
    row_cd_time is the (empty) text."""
    w = Writer(front)
    w.row("up_pro_process", _step(cd_time=""))
    w.row("up_pro_process", GOOD)
    w.commit("2026-11-06 09:35:00")
    front.poll()
    r = front.receipts()[("up_pro_process", "aa-bad-step")]
    assert (r["outcome"], r["row_cd_time"], _finding(r)) == ("REJECTED", "", [("TBS-LP-033", "", "cd_time")])
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
    _next_batch_stored(front)


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
    _next_batch_stored(front)


ORPHAN_SPECIAL = {"row_guid": "orphan-special", "cd_operation": "I", "cd_time": "2026-11-06 09:34:56",
                  "special_type": "2", "special_name": "公示", "special_reason": "拟准予许可事项依法公示。",
                  "special_time": "2026-11-03 09:00:00", "end_time": "2026-11-03 17:00:00", "handle_user": "赵六"}
CASE9_ACCEPT = {"row_guid": "late-accept", "cd_operation": "I", "cd_time": "2026-11-27 09:10:00",
                "version": 1, "project_no": CASE7[:-1] + "9", "task_code": "11440103007493637K4440120012002",
                "task_name": "公共场所卫生许可（新证）", "project_type": "2", "apply_type": "3",
                "apply_date": "2026-11-26 09:15:00", "accept_date": "2026-11-26 10:02:00",
                "promise_date": "2026-12-10 17:30:00", "org_code": "11440103007493637K",
                "org_name": "广州市荔湾区卫生健康局", "handle_user_name": "王五", "applyer_type": "1",
                "applyer_name": "张三", "applyer_page_type": "111", "applyer_page_code": "11010519491231002X"}


@pytest.mark.parametrize("table,guid", [
    ("up_pro_special_procedure", "sp-1"),
    ("up_pro_result", "4d5e6f7a-8b9c-4d0e-9f1a-2b3c4d5e6f7a"),
    ("up_pro_evaluate", "7a8b9c0d-1e2f-4a3b-8c4d-5e6f7a8b9c0d"),
], ids=["special procedure", "result", "evaluation"])
def test_d_of_a_special_procedure_a_result_and_an_evaluation(front, table, guid):
    """TBS-LP-037 on cd_operation for the other immutable kinds: the stored records stay, and
    the rows after it (a new case in a later batch) are processed."""
    w = Writer(front, prefix="S")
    w.row("up_pro_special_procedure", {**ORPHAN_SPECIAL, "row_guid": "sp-1", "project_no": CASE7,
                                       "cd_time": "2026-11-03 17:05:00"})
    w.commit("2026-11-03 17:05:30")
    front.poll()
    front.run_file("8.2-batch2.sql")
    front.run_file("8.3-evaluations.sql")
    front.poll()
    assert {r["outcome"] for r in front.db.receipts()} == {"STORED", "REJECTED"}  # only §8.4's case …0008
    stored = {d: front.export(d) for d in ("case-event", "result", "evaluation")}
    assert [e["type"] for e in stored["case-event"]] == [
        "SUBMIT", "ACCEPT", "SUSPEND", "RESUME", "REVIEW_STEP", "CONCLUDE", "DELIVER"]
    assert len(stored["result"]) == 1 and len(stored["evaluation"]) == 2
    import sqlalchemy as sa

    with front.db.engine.connect() as conn:
        row = dict(conn.execute(sa.text(f"SELECT * FROM {table} WHERE row_guid = :g"), {"g": guid}).mappings().one())
    w.row(table, {**{k: v for k, v in row.items() if k != "cd_batch"}, "cd_operation": "D",
                  "cd_time": "2026-11-27 09:00:00"}, upsert=True)
    w.commit("2026-11-27 09:00:30")
    w.row("up_pro_accept", CASE9_ACCEPT)
    w.commit("2026-11-27 09:10:30")
    front.poll()
    r = [x for x in front.db.receipts() if x["row_guid"] == guid and x["row_cd_time"] == "2026-11-27 09:00:00"]
    assert len(r) == 1 and (r[0]["outcome"], r[0]["rule_ids"]) == ("REJECTED", "TBS-LP-037")
    assert _finding(r[0]) == [("TBS-LP-037", "", "cd_operation")]
    assert {d: [x for x in front.export(d) if x["caseNo"] == CASE7] for d in stored} == stored
    assert front.receipts()[("up_pro_accept", "late-accept")]["outcome"] == "STORED"


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
    assert r["outcome"] == "REJECTED"
    # a supplement request is allowed in SUBMITTED: the next batch is processed
    _next_batch_stored(f, {**GOOD, "row_guid": "zz-next-step", "cd_time": "2026-11-06 09:59:00",
                           "event_name": "5", "process_name": "补正告知", "handle_explain": "请补交营业执照",
                           "event_start_time": "2026-11-02 11:00:00"})


def test_deletion_of_a_case_not_yet_accepted(tmp_path, store):
    """TBS-EVT-005, column cd_operation: the CONCLUDE VOIDED of a `D` (TBS-LP-114) of a case
    still SUBMITTED. No conclusion code may conclude SUBMITTED (TBS-1.0 §10.4), so it is the
    type CONCLUDE that is not allowed there (location /type, sourced to cd_operation); the Case
    itself stays stored."""
    f = Front(f"sqlite:///{tmp_path / 'f.db'}", store, LW, "NATIONAL-EXCHANGE", ROLES)
    from frontdb_helpers import DATA

    f.execute((DATA / "8.2-batch1.sql").read_text(encoding="utf-8").replace("'2026-11-02 10:02:00'", "NULL"))
    f.poll()
    with f.db.engine.connect() as conn:
        import sqlalchemy as sa

        row = dict(conn.execute(sa.text("SELECT * FROM up_pro_accept WHERE project_no = :p"),
                                {"p": CASE7}).mappings().one())
    w = Writer(f)
    w.row("up_pro_accept", {**{k: v for k, v in row.items() if k != "cd_batch"}, "cd_operation": "D",
                            "cd_time": "2026-11-06 09:30:00"}, upsert=True)
    w.commit("2026-11-06 09:35:00")
    f.poll()
    r = [x for x in f.db.receipts() if x["row_guid"] == row["row_guid"] and x["row_cd_time"] == "2026-11-06 09:30:00"]
    assert len(r) == 1 and r[0]["outcome"] == "REJECTED"
    assert _finding(r[0]) == [("TBS-EVT-005", "/type", "cd_operation")]
    assert [e["type"] for e in f.export("case-event") if e["caseNo"] == CASE7] == ["SUBMIT"]
    _next_batch_stored(f, {**GOOD, "row_guid": "zz-next-step", "cd_time": "2026-11-06 09:59:00",
                           "event_name": "5", "process_name": "补正告知", "handle_explain": "请补交营业执照",
                           "event_start_time": "2026-11-02 11:00:00"})


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
    assert [e["stepName"] for e in front.export("case-event")][-1] == "审核"  # the stored step stays
    _next_batch_stored(front)


def test_held_rows_then_rejected_at_timeout(front):
    w = Writer(front)
    w.row("up_pro_process", {**GOOD, "row_guid": "orphan-step", "project_no": CASE7[:-1] + "9"})
    w.row("up_task_general_material", {"row_guid": "orphan-mat", "cd_operation": "I",
                                       "cd_time": "2026-11-06 09:34:50", "task_code": "11440103007493637K4449990012002",
                                       "material_name": "申请表", "is_need": "1", "material_format": "1"})
    w.row("up_pro_evaluate", {"row_guid": "orphan-eval", "cd_operation": "I", "cd_time": "2026-11-06 09:34:58",
                              "project_no": CASE7[:-1] + "9", "pf": "1", "satisfaction": "5",
                              "assess_time": "2026-11-06 10:00:00", "assess_number": 1})
    w.row("up_pro_special_procedure", {**ORPHAN_SPECIAL, "project_no": CASE7[:-1] + "9"})
    w.row("up_pro_result", {"row_guid": "orphan-result", "cd_operation": "I", "cd_time": "2026-11-06 09:34:57",
                            "project_no": CASE7[:-1] + "9", "result_date": "2026-11-05 11:00:00",
                            "result_type": "0", "result_cetr_name": "公共场所卫生许可证",
                            "result_cetr_no": "穗荔卫公证字〔2026〕第0189号", "handle_user_name": "赵六"})
    w.commit("2026-11-06 09:35:00")
    front.poll()
    rec = front.receipts()
    assert rec[("up_pro_process", "orphan-step")]["outcome"] == "HELD"
    for table, guid in (("up_pro_special_procedure", "orphan-special"), ("up_pro_result", "orphan-result")):
        assert rec[(table, guid)]["outcome"] == "HELD", rec[(table, guid)]["findings"]
    assert json.loads(rec[("up_pro_process", "orphan-step")]["findings"])[0]["dependsOn"] == "TBS-EVT-009"
    assert rec[("up_task_general_material", "orphan-mat")]["outcome"] == "HELD"
    assert rec[("up_pro_evaluate", "orphan-eval")]["outcome"] == "HELD"
    front.now += timedelta(minutes=3)
    front.poll()
    rec = front.receipts()
    assert _finding(rec[("up_pro_process", "orphan-step")]) == [("TBS-EVT-009", "/caseNo", "project_no")]
    assert _finding(rec[("up_task_general_material", "orphan-mat")]) == [("TBS-LP-046", "", "task_code")]
    assert _finding(rec[("up_pro_special_procedure", "orphan-special")]) == [("TBS-EVT-009", "/caseNo", "project_no")]
    assert _finding(rec[("up_pro_result", "orphan-result")]) == [("TBS-EVT-009", "/caseNo", "project_no")]
    assert rec[("up_pro_evaluate", "orphan-eval")]["rule_ids"] == "TBS-EVAL-006"
    assert [x[:2] for x in _finding(rec[("up_pro_evaluate", "orphan-eval")])] == [("TBS-EVAL-006", "/caseNo")]
    assert {r["outcome"] for r in rec.values() if r["row_guid"].startswith("orphan")} == {"REJECTED"}
    _next_batch_stored(front)


def test_follow_up_evaluation_without_the_first(front):
    """TBS-SYNC-007 HELD with dependsOn TBS-EVAL-004, then TBS-EVAL-004 at /assessNo, column
    assess_number, when the hold expires; the rows after it are processed meanwhile."""
    w = Writer(front)
    w.row("up_pro_evaluate", {"row_guid": "follow-up", "cd_operation": "I", "cd_time": "2026-11-06 09:34:58",
                              "project_no": CASE7, "pf": "1", "satisfaction": "4",
                              "assess_time": "2026-11-06 10:00:00", "assess_number": 2})
    w.row("up_pro_process", GOOD)
    w.commit("2026-11-06 09:35:00")
    front.poll()
    r = front.receipts()[("up_pro_evaluate", "follow-up")]
    assert r["outcome"] == "HELD"
    assert [(f["ruleId"], f.get("dependsOn")) for f in json.loads(r["findings"])] == [("TBS-SYNC-007", "TBS-EVAL-004")]
    _good_stored(front)
    front.now += timedelta(minutes=3)
    _next_batch_stored(front)
    r = front.receipts()[("up_pro_evaluate", "follow-up")]
    assert (r["outcome"], r["rule_ids"]) == ("REJECTED", "TBS-EVAL-004")
    assert _finding(r) == [("TBS-EVAL-004", "/assessNo", "assess_number")]
    assert front.export("evaluation") == []


def test_held_row_replaced_by_a_newer_state_is_stale(front):
    """TBS-LP-047: the held state's receipt turns STALE with no finding; the newer state is
    processed (here: held again, since its case has still not arrived)."""
    orphan = {**GOOD, "row_guid": "orphan-step", "project_no": CASE7[:-1] + "9"}
    w = Writer(front)
    w.row("up_pro_process", orphan)
    w.commit("2026-11-06 09:35:00")
    front.poll()
    w.row("up_pro_process", {**orphan, "cd_operation": "U", "cd_time": "2026-11-06 09:40:00",
                             "handle_explain": "补记"}, upsert=True)
    w.commit("2026-11-06 09:40:01")
    front.poll()
    got = {r["row_cd_time"]: (r["outcome"], r["rule_ids"]) for r in front.db.receipts()
           if r["row_guid"] == "orphan-step"}
    assert got == {"2026-11-06 09:34:59": ("STALE", ""), "2026-11-06 09:40:00": ("HELD", "TBS-SYNC-007")}
    _next_batch_stored(front)


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


TC = "11440103007493637K4440120012002"
BASIC = {"row_guid": "basic-1", "cd_operation": "I", "cd_time": "2026-11-06 09:34:00", "version": 2,
         "task_code": TC, "task_handle_item": "11440103007493637K444012001200201",
         "catalog_code": "440120012002", "task_name": "公共场所卫生许可（新证）", "task_type": "01",
         "task_state": "1", "by_law": "《公共场所卫生管理条例》第四条", "dept_code": "11440103007493637K",
         "dept_name": "广州市荔湾区卫生健康局", "dept_type": "1", "anticipate_day": 20, "anticipate_type": "1",
         "promise_day": 10, "promise_type": "1", "project_type": "2", "is_fee": "0", "server_type": "1",
         "handle_type": "1,2,3", "limit_scene_num": 0}
EXTEND = {"row_guid": "ext-1", "cd_operation": "I", "cd_time": "2026-11-06 09:34:01", "task_code": TC,
          "online_handle_depth": 4}
NEXT_STEP = {**GOOD, "row_guid": "zz-next-step", "cd_time": "2026-11-06 09:59:00",
             "event_start_time": "2026-11-04 15:40:00", "process_name": "复核"}


@pytest.fixture
def item_front(front):
    """§8.2's case …0007 and a county implementation item (version 2) stored."""
    w = Writer(front, prefix="I")
    w.row("up_task_general_basic", BASIC)
    w.row("up_task_general_extend", EXTEND)
    w.commit("2026-11-06 09:34:30")
    front.poll()
    r = front.receipts()[("up_task_general_basic", "basic-1")]
    assert r["outcome"] == "STORED", r["findings"]
    return front


def _item_row_then_good(front, table, row, at):
    """Write one item row state and, in the same batch, the good step (processed after it,
    table rank 6); then a later batch with another step: both must be STORED."""
    w = Writer(front, prefix="J")
    w.row(table, row, upsert=True)  # an update in place of a stored row, or a new row
    w.row("up_pro_process", GOOD)
    w.commit(at)
    front.poll()
    w.row("up_pro_process", NEXT_STEP)
    w.commit("2026-11-06 09:59:30")
    front.poll()
    rec = [x for x in front.db.receipts() if x["row_guid"] == row["row_guid"] and x["row_cd_time"] == row["cd_time"]]
    assert len(rec) == 1, rec
    _good_stored(front)
    assert front.receipts()[("up_pro_process", "zz-next-step")]["outcome"] == "STORED"
    return rec[0]


def test_item_changed_without_a_higher_version(item_front):
    """TBS-SYNC-005 at /version, column version: a material added to the stored item while
    the basic row keeps version 2."""
    r = _item_row_then_good(item_front, "up_task_general_material",
                            {"row_guid": "mat-1", "cd_operation": "I", "cd_time": "2026-11-06 09:36:00",
                             "task_code": TC, "material_name": "申请表", "is_need": "1", "material_format": "2"},
                            "2026-11-06 09:36:01")
    assert (r["outcome"], r["rule_ids"]) == ("REJECTED", "TBS-SYNC-005")
    assert _finding(r) == [("TBS-SYNC-005", "/version", "version")]
    assert [i["version"] for i in item_front.export("catalog")] == [2]


def test_a_county_changes_a_basic_field(item_front):
    """TBS-SYNC-009 at the member, the column as source: county LW (440103) is authoritative for
    the implementation fields of its item, not for its basic fields (name, legalBasis)."""
    r = _item_row_then_good(item_front, "up_task_general_basic",
                            {**BASIC, "cd_operation": "U", "cd_time": "2026-11-06 09:37:00", "version": 3,
                             "task_name": "公共场所卫生许可（改名）", "by_law": "《某条例》"},
                            "2026-11-06 09:37:01")
    assert (r["outcome"], r["rule_ids"]) == ("REJECTED", "TBS-SYNC-009")
    assert _finding(r) == [("TBS-SYNC-009", "/legalBasis", "by_law"), ("TBS-SYNC-009", "/name", "task_name")]
    item = item_front.export("catalog")[0]
    assert (item["version"], item["name"]) == (2, "公共场所卫生许可（新证）")


def test_a_county_changes_an_implementation_field_with_a_higher_version(item_front):
    """The counterpart that must pass: a field the county owns, with version 3, is STORED."""
    r = _item_row_then_good(item_front, "up_task_general_basic",
                            {**BASIC, "cd_operation": "U", "cd_time": "2026-11-06 09:37:00", "version": 3,
                             "promise_day": 5}, "2026-11-06 09:37:01")
    assert (r["outcome"], r["rule_ids"]) == ("STORED", "")
    assert item_front.export("catalog")[0]["promiseLimit"]["value"] == 5


def test_a_lower_version_is_stale(item_front):
    r = _item_row_then_good(item_front, "up_task_general_basic",
                            {**BASIC, "cd_operation": "U", "cd_time": "2026-11-06 09:37:00", "version": 1,
                             "task_name": "改名"}, "2026-11-06 09:37:01")
    assert r["outcome"] == "STALE"
    assert ("TBS-SYNC-004", "/version", "version") in _finding(r)
    assert item_front.export("catalog")[0]["version"] == 2


def test_region_outside_the_partners_scope_through_the_org_lookup(item_front):
    """TBS-SEC-003 at /regionCode, sourced to up_uc_gov_org.region_code (TBS-LP-102)."""
    w = Writer(item_front, prefix="K")
    w.row("up_uc_gov_org", {"row_guid": "org-1", "cd_operation": "I", "cd_time": "2026-11-06 09:38:00",
                            "org_cc_code": "11440103007493637K", "region_code": "440104000000"})
    w.commit("2026-11-06 09:38:00")
    item_front.poll()
    r = _item_row_then_good(item_front, "up_task_general_basic",
                            {**BASIC, "cd_operation": "U", "cd_time": "2026-11-06 09:38:01", "version": 3},
                            "2026-11-06 09:38:02")
    assert r["outcome"] == "REJECTED"
    assert ("TBS-SEC-003", "/regionCode", "region_code") in _finding(r)
    src = {f["source"]["table"] for f in json.loads(r["findings"]) if f["ruleId"] == "TBS-SEC-003"}
    assert src == {"up_uc_gov_org"}


def test_missing_extend_row_is_a_missing_mandatory_source(front):
    """TBS-ENV-005 at /onlineDepth: an item without its extend row; the source is the extend
    table's column with row_guid "" (TBS-LP-004)."""
    r = _item_row_then_good(front, "up_task_general_basic", BASIC, "2026-11-06 09:35:00")
    assert r["outcome"] == "REJECTED"
    found = [f for f in json.loads(r["findings"]) if f["ruleId"] == "TBS-ENV-005"]
    assert [(f["location"], f["source"]) for f in found] == [
        ("/onlineDepth", {"table": "up_task_general_extend", "rowGuid": "", "column": "online_handle_depth"})]
    assert front.export("catalog") == []


CHECK_CASES = [
    ("USCC of the department", "up_task_general_basic", {**BASIC, "dept_code": "11440103007493637A"},
     "TBS-CODE-014", "/dept/uscc", "dept_code"),
    ("resident identity number of the applicant", "up_pro_accept",
     {"row_guid": "acc-bad-id", "cd_operation": "I", "cd_time": "2026-11-06 09:34:40", "version": 1,
      "project_no": CASE7[:-1] + "9", "task_code": TC, "task_name": "公共场所卫生许可（新证）", "project_type": "2",
      "apply_type": "3", "apply_date": "2026-11-02 09:15:00", "promise_date": "2026-11-16 17:30:00",
      "org_code": "11440103007493637K", "org_name": "广州市荔湾区卫生健康局", "applyer_type": "1",
      "applyer_name": "张三", "applyer_page_type": "111", "applyer_page_code": "110105194912310021"},
     "TBS-CODE-017", "/applicant/idNo", "applyer_page_code"),
]


@pytest.mark.parametrize("kind,table,row,rule,location,column", CHECK_CASES, ids=[c[0] for c in CHECK_CASES])
def test_wrong_check_character(front, kind, table, row, rule, location, column):
    """TBS-LP-1.0 §6: a wrong check character is judged by TBS-1.0 S2 and sourced to the column."""
    w_rows = [(table, row)] + ([("up_task_general_extend", EXTEND)] if table == "up_task_general_basic" else [])
    w = Writer(front, prefix="C")
    for t, x in w_rows:
        w.row(t, x)
    w.row("up_pro_process", GOOD)
    w.commit("2026-11-06 09:35:00")
    front.poll()
    w.row("up_pro_process", NEXT_STEP)
    w.commit("2026-11-06 09:59:30")
    front.poll()
    r = front.receipts()[(table, row["row_guid"])]
    assert (r["outcome"], r["rule_ids"]) == ("REJECTED", rule)
    assert _finding(r) == [(rule, location, column)]
    _good_stored(front)
    assert front.receipts()[("up_pro_process", "zz-next-step")]["outcome"] == "STORED"


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
