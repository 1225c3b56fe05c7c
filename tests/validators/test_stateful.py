"""Stage S5 (stateful rules): the stateful rows of Annex C and the rules of §10, §11, §12 and §13
that need receiver state, each run against the in-memory state and against the store (SQLite,
and PostgreSQL where TONGBAN_TEST_PG_URL is set) with the same expected findings."""
from __future__ import annotations

import copy
import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from store_support import migrated_store
from tongban.store.records import RecordStore
from tongban.validators.report import Severity
from tongban.validators.stateful import (CaseState, MemoryState, Outcome, case_state, evaluate_state,
                                         transition_allowed)

ANNEX_B = Path(__file__).resolve().parents[1] / "data" / "annex_b"
COUNTY = "TB:county:440103:LWZWFW"
CITY = "TB:city:440100:GZZWFW"
PROVINCE = "TB:province:440000:GDZWFW"


def annex(name: str) -> dict:
    return json.loads((ANNEX_B / f"{name}.json").read_text(encoding="utf-8"))


class StoreState:
    """The store as S5's state: every read is a fresh session on the committed rows, every write
    a committed transaction through the store's one write path."""

    def __init__(self, db) -> None:
        self.db = db

    def _read(self, name: str, *args: Any) -> Any:
        with self.db.reading() as s:
            return getattr(RecordStore(s), name)(*args)

    def __getattr__(self, name: str) -> Any:
        if name in ("catalog_current", "case", "case_events", "case_event", "result", "evaluation", "held"):
            return lambda *args: self._read(name, *args)
        raise AttributeError(name)

    def store(self, dataset: str, record: dict[str, Any]) -> None:
        with self.db.transaction() as s:
            records = RecordStore(s)
            records.prefetch(dataset, [record])
            records.store(dataset, record, source=COUNTY)
            records.flush()

    def hold(self, dataset: str, key: tuple[Any, ...], record: dict[str, Any]) -> None:
        with self.db.transaction() as s:
            records = RecordStore(s)
            records.prefetch(dataset, [record])
            records.hold(partner_id=COUNTY, dataset=dataset, key=key, record=record, case_no=record["caseNo"],
                         rule_id="TBS-SYNC-007", location="/records/0", writer=COUNTY,
                         expires_at=datetime.now(timezone.utc) + timedelta(days=1))
            records.flush()


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
def fresh_state(request, tmp_path):
    """An empty S5 state: in memory, or the store on SQLite or PostgreSQL."""
    if request.param == "memory":
        yield MemoryState()
        return
    with migrated_store(request.param, tmp_path) as store:
        yield StoreState(store)


def run(state: MemoryState | StoreState, dataset: str, records: list[dict], writer: str = COUNTY):
    """Process records in array order (TBS-SYNC-003), applying STORED and HELD to the state."""
    verdicts = []
    for i, rec in enumerate(records):
        v = evaluate_state(dataset, rec, index=i, writer=writer, state=state)
        if v.outcome is Outcome.STORED:
            state.store(dataset, rec)
        elif v.outcome is Outcome.HELD:
            key = (rec["caseNo"], rec.get("seq", rec.get("certNo", rec.get("assessNo"))))
            state.hold(dataset, key, rec)
        verdicts.append(v)
    return verdicts


def items(v):
    return sorted((f.severity.value, f.rule_id, f.location) for f in v.report.items)


@pytest.fixture
def with_cases(fresh_state):
    state = fresh_state
    assert [v.outcome for v in run(state, "case", annex("B.2")["records"])] == [Outcome.STORED] * 2
    return state


def test_worked_examples_store_in_order(with_cases):
    verdicts = run(with_cases, "case-event", annex("B.3")["records"])
    assert [v.outcome for v in verdicts] == [Outcome.STORED] * 5 and all(not v.report.items for v in verdicts)
    assert case_state(with_cases.case_events(annex("B.3")["records"][0]["caseNo"])) == \
        CaseState("DELIVERED", "APPROVED_WITH_CERT")
    assert [v.outcome for v in run(with_cases, "result", annex("B.4")["records"])] == [Outcome.STORED]
    assert [v.outcome for v in run(with_cases, "evaluation", annex("B.5")["records"], writer=CITY)] == \
        [Outcome.STORED] * 2


def test_c12_seq_gap_is_held(with_cases):
    events = annex("B.3")["records"]
    verdicts = run(with_cases, "case-event", [events[0], events[2]])
    assert verdicts[0].outcome is Outcome.STORED
    assert verdicts[1].outcome is Outcome.HELD
    assert items(verdicts[1]) == [("INFO", "TBS-SYNC-007", "/records/1/seq")]
    assert verdicts[1].hold.rule_id == "TBS-EVT-007" and "TBS-EVT-007" in verdicts[1].report.items[0].message_en


def test_c14_illegal_transition_then_successors_held(with_cases):
    events = copy.deepcopy(annex("B.3")["records"])
    events[1]["type"] = "CONCLUDE"
    events[1]["conclusionCode"] = "APPROVED_WITH_CERT"
    verdicts = run(with_cases, "case-event", events)
    assert verdicts[1].outcome is Outcome.REJECTED
    assert items(verdicts[1]) == [("ERROR", "TBS-EVT-005", "/records/1/type")]
    assert [v.outcome for v in verdicts[2:]] == [Outcome.HELD] * 3
    assert all(v.report.items[0].rule_id == "TBS-SYNC-007" for v in verdicts[2:])


def test_c16_follow_up_without_first_is_held(with_cases):
    run(with_cases, "case-event", annex("B.3")["records"])
    follow_up = annex("B.5")["records"][1]
    [v] = run(with_cases, "evaluation", [follow_up], writer=CITY)
    assert v.outcome is Outcome.HELD and items(v) == [("INFO", "TBS-SYNC-007", "/records/0/assessNo")]
    assert v.hold.rule_id == "TBS-EVAL-004"


def test_c17_lower_version_is_stale(fresh_state):
    state = fresh_state
    item = annex("B.1")["records"][0]
    assert run(state, "catalog", [item])[0].outcome is Outcome.STORED
    [v] = run(state, "catalog", [{**item, "version": 2}])
    assert v.outcome is Outcome.STALE and items(v) == [("WARNING", "TBS-SYNC-004", "/records/0/version")]


def test_c18_conflicting_event_resend(with_cases):
    events = annex("B.3")["records"]
    run(with_cases, "case-event", events)
    changed = {**events[2], "opinion": "同意。"}
    [v] = run(with_cases, "case-event", [changed])
    assert v.outcome is Outcome.REJECTED and items(v) == [("ERROR", "TBS-EVT-008", "/records/0/seq")]
    [dup] = run(with_cases, "case-event", [events[2]])
    assert dup.outcome is Outcome.DUPLICATE and items(dup) == [("INFO", "TBS-SYNC-006", "/records/0")]


def test_c19_certificate_for_not_permitted_case(with_cases):
    events = copy.deepcopy(annex("B.3")["records"][:4])
    events[3]["conclusionCode"] = "NOT_PERMITTED"
    events[3]["opinion"] = "不符合卫生要求。"
    assert [v.outcome for v in run(with_cases, "case-event", events)] == [Outcome.STORED] * 4
    [v] = run(with_cases, "result", annex("B.4")["records"])
    assert v.outcome is Outcome.REJECTED and items(v) == [("ERROR", "TBS-RES-005", "/records/0/resultType")]


def test_equal_version_with_other_content_is_a_conflict(fresh_state):
    state = fresh_state
    item = annex("B.1")["records"][0]
    run(state, "catalog", [item])
    [v] = run(state, "catalog", [{**item, "name": "公共场所卫生许可"}])
    assert v.outcome is Outcome.REJECTED and items(v) == [("ERROR", "TBS-SYNC-005", "/records/0/version")]


def test_field_authority_county_cannot_change_basic_fields(fresh_state):
    state = fresh_state
    item = annex("B.1")["records"][0]
    run(state, "catalog", [item])
    newer = {**item, "version": 4, "name": "改名后的事项", "legalBasis": "另一依据", "onlineDepth": 3,
             "handlingForms": ["1", "2"], "updatedAt": "2026-11-28T09:00:00+08:00"}
    [v] = run(state, "catalog", [newer])
    assert items(v) == [("ERROR", "TBS-SYNC-009", "/records/0/legalBasis"), ("ERROR", "TBS-SYNC-009", "/records/0/name")]
    [ok] = run(state, "catalog", [{**newer, "name": item["name"], "legalBasis": item["legalBasis"]}])
    assert ok.outcome is Outcome.STORED
    # the province owns the basic fields but not the county's implementation fields
    [prov] = run(state, "catalog", [{**item, "version": 5, "name": "省定名称", "onlineDepth": 2,
                                     "updatedAt": "2026-11-28T09:30:00+08:00"}], writer=PROVINCE)
    assert items(prov) == [("ERROR", "TBS-SYNC-009", "/records/0/handlingForms"),
                           ("ERROR", "TBS-SYNC-009", "/records/0/onlineDepth")]


def test_revoked_is_final_and_updated_at_should_not_go_back(fresh_state):
    state = fresh_state
    item = annex("B.1")["records"][0]
    run(state, "catalog", [{**item, "status": "REVOKED"}])
    [v] = run(state, "catalog", [{**item, "version": 4, "updatedAt": "2026-11-01T00:00:00+08:00"}])
    assert items(v) == [("ERROR", "TBS-SYNC-010", "/records/0/status"),
                        ("WARNING", "TBS-SYNC-011", "/records/0/updatedAt")]


def test_events_before_their_case_are_held_and_results_wait_for_conclusion(fresh_state):
    state = fresh_state
    [ev] = run(state, "case-event", annex("B.3")["records"][:1])
    assert ev.outcome is Outcome.HELD and ev.hold.rule_id == "TBS-EVT-009"
    assert items(ev) == [("INFO", "TBS-SYNC-007", "/records/0/caseNo")]
    run(state, "case", annex("B.2")["records"])
    run(state, "case-event", annex("B.3")["records"][:3])
    [res] = run(state, "result", annex("B.4")["records"])
    assert res.outcome is Outcome.HELD and res.hold.rule_id == "TBS-RES-004"


def test_withdrawn_case_rejects_result_at_once(with_cases):
    events = annex("B.3")["records"][:2] + [{
        "caseNo": annex("B.3")["records"][0]["caseNo"], "seq": 3, "type": "WITHDRAW",
        "occurredAt": "2026-11-03T08:00:00+08:00", "stepName": "申请人撤回"}]
    assert [v.outcome for v in run(with_cases, "case-event", events)] == [Outcome.STORED] * 3
    [res] = run(with_cases, "result", annex("B.4")["records"])
    assert res.outcome is Outcome.REJECTED and items(res) == [("ERROR", "TBS-RES-004", "/records/0/caseNo")]


def test_time_ordering_rules(with_cases):
    events = copy.deepcopy(annex("B.3")["records"])
    events[2]["occurredAt"] = "2026-11-02T10:00:00+08:00"  # before ACCEPT at 10:02
    events[0]["occurredAt"] = "2026-11-02T09:16:00+08:00"  # differs from submittedAt
    verdicts = run(with_cases, "case-event", events[:3])
    assert items(verdicts[0]) == [("WARNING", "TBS-EVT-010", "/records/0/occurredAt")]
    assert verdicts[0].outcome is Outcome.STORED
    assert items(verdicts[2]) == [("ERROR", "TBS-EVT-006", "/records/2/occurredAt")]
    ev = copy.deepcopy(annex("B.5")["records"])
    ev[1]["assessedAt"] = "2026-11-06T09:00:00+08:00"  # before the first evaluation
    run(with_cases, "case-event", annex("B.3")["records"][3:])
    verdicts = run(with_cases, "evaluation", ev, writer=CITY)
    assert items(verdicts[1]) == [("ERROR", "TBS-EVAL-005", "/records/1/assessedAt")]


def test_case_linked_record_outside_writer_scope(with_cases):
    [v] = run(with_cases, "case-event", annex("B.3")["records"][:1], writer="TB:county:440104:YXZWFW")
    assert v.outcome is Outcome.REJECTED and items(v) == [("ERROR", "TBS-SEC-003", "/records/0/caseNo")]


@pytest.mark.parametrize("state, event, expected", [
    (CaseState("SUBMITTED"), {"type": "CONCLUDE", "conclusionCode": "APPROVED_WITH_CERT"}, (False, True)),
    (CaseState("SUPPLEMENT_REQUESTED"), {"type": "CONCLUDE", "conclusionCode": "APPROVED_WITH_CERT"}, (True, False)),
    (CaseState("SUPPLEMENT_REQUESTED"), {"type": "CONCLUDE", "conclusionCode": "RETURNED"}, (True, True)),
    (CaseState("NOT_ACCEPTED"), {"type": "CONCLUDE", "conclusionCode": "NOT_ACCEPTED"}, (True, True)),
    (CaseState("NOT_ACCEPTED"), {"type": "CONCLUDE", "conclusionCode": "VOIDED"}, (True, False)),
    (CaseState("NOT_ACCEPTED"), {"type": "WITHDRAW"}, (False, True)),
    (CaseState("SUSPENDED"), {"type": "CONCLUDE", "conclusionCode": "VOIDED"}, (True, True)),
    (CaseState("CONCLUDED", "VOIDED"), {"type": "DELIVER"}, (False, True)),
    (CaseState("CONCLUDED", "NOT_ACCEPTED"), {"type": "DELIVER"}, (True, True)),
    (CaseState("DELIVERED", "APPROVED_WITH_CERT"), {"type": "REVIEW_STEP"}, (False, True)),
    (CaseState(None), {"type": "ACCEPT"}, (False, True)),
])
def test_transition_table(state, event, expected):
    assert transition_allowed(state, event) == expected
