"""The sandbox generator: determinism, validity per TBS-1.0 and the planted ground truth.

The checks here are written from the standard's text, independently of the generator and of
``tongban.validators``; the last tests also run the project's validators over the data.
"""
from __future__ import annotations

import difflib
import hashlib
import re
from collections import Counter, defaultdict
from datetime import date, datetime, time, timedelta, timezone

import pytest

from tongban.model.canonical import canonical_bytes
from tongban.model.codes import (case_no_structured, handling_item_code_ok, impl_code_ok, item_code_ok,
                                 region_code_ok, region_shape, resident_id_check_ok, system_id_ok, uscc_check_ok,
                                 uscc_syntax_ok, valid_calendar_date, within_scope)
from tongban.model.datasets import DATASETS
from tongban.sandbox.generate import default_now, generate_province

CST = timezone(timedelta(hours=8))
STAMP_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\+08:00$")
FILE_NAME_FORBIDDEN = set('/\\:*?"<>|')


@pytest.fixture(scope="module")
def data():
    return generate_province()


@pytest.fixture(scope="module")
def wide():
    """More cities and counties than the default, every county template used."""
    return generate_province(3, cities=3, counties_per_city=3, items_per_county=16, cases_per_county=24)


def ts(value: str) -> datetime:
    assert STAMP_RE.match(value), value
    return datetime.fromisoformat(value)


def owned(d, dataset):
    """(system, record) for every record owned by any system."""
    return [(s, r) for s in d.systems.values() for r in s.records(dataset)]


# ------------------------------------------------------------------------------- determinism
def test_same_seed_gives_byte_identical_output():
    a, b = generate_province(7), generate_province(7)
    assert canonical_bytes(a.snapshot()) == canonical_bytes(b.snapshot())
    assert a.documents == b.documents


def test_different_seed_gives_different_cases_but_the_same_departments():
    a, b = generate_province(7), generate_province(8)
    assert canonical_bytes(a.snapshot()) != canonical_bytes(b.snapshot())
    assert {r["caseNo"] for _, r in owned(a, "case")} != {r["caseNo"] for _, r in owned(b, "case")}
    # implementing bodies are real-world fixtures: their codes do not depend on the seed
    assert {d.uscc for s in a.systems.values() for d in s.departments.values()} == \
        {d.uscc for s in b.systems.values() for d in s.departments.values()}


def test_default_now_is_the_start_of_today_and_every_business_timestamp_is_before_it(data):
    from datetime import datetime, timedelta, timezone

    today = datetime.now(timezone(timedelta(hours=8))).date()
    assert data.now in (f"{today.isoformat()}T00:00:00+08:00",                 # the fixture ran today
                        f"{(today - timedelta(days=1)).isoformat()}T00:00:00+08:00")   # … or just before midnight
    assert default_now(today).isoformat() == f"{today.isoformat()}T00:00:00+08:00"
    now = ts(data.now)
    members = {"catalog": ["updatedAt"], "case": ["submittedAt"], "case-event": ["occurredAt"],
               "result": ["issuedAt"], "evaluation": ["assessedAt"]}
    for ds, names in members.items():
        for _, r in owned(data, ds):
            for m in names:
                assert ts(r[m]) < now, (ds, r)


def test_now_can_be_moved_and_bounds_everything():
    now = datetime(2026, 3, 2, 8, 0, tzinfo=CST)
    d = generate_province(5, cities=1, counties_per_city=1, items_per_county=6, cases_per_county=20, now=now)
    assert d.now == "2026-03-02T08:00:00+08:00"
    assert all(ts(r["occurredAt"]) < now for _, r in owned(d, "case-event"))
    assert all(ts(r["updatedAt"]) < now for _, r in owned(d, "catalog"))


@pytest.mark.parametrize("kwargs", [dict(cities=0), dict(cities=99), dict(counties_per_city=0),
                                    dict(items_per_county=0), dict(items_per_county=99),
                                    dict(cases_per_county=-1), dict(cities=4, counties_per_city=4)])
def test_out_of_range_parameters_are_refused(kwargs):
    with pytest.raises(ValueError):
        generate_province(**kwargs)


# ---------------------------------------------------------------------------------- systems
def test_systems_form_a_real_province_city_county_tree(data):
    ids = list(data.systems)
    assert ids == ["TB:province:440000:GDZWFW", "TB:city:440100:GZZWFW", "TB:county:440103:LWZWFW",
                   "TB:county:440104:YXZWFW", "TB:city:440300:SZZWFW", "TB:county:440303:LHZWFW",
                   "TB:county:440304:FTZWFW"]
    for s in data.systems.values():
        assert system_id_ok(s.system_id)                                   # TBS-CODE-001
        assert s.system_id.split(":")[2] == s.region_code
        assert region_shape(s.region_code) == s.level
        if s.parent_id:
            parent = data.system(s.parent_id)
            assert s.system_id in parent.children
            assert within_scope(s.region_code, parent.region_code)
        for dept in s.departments.values():
            assert uscc_syntax_ok(dept.uscc) and uscc_check_ok(dept.uscc)  # GB 32100
            assert dept.uscc[2:8] == s.region_code
        assert set(s.provides) == set(DATASETS)
    assert data.system("TB:county:440103:LWZWFW").departments["health"].as_dept() == {
        "name": "广州市荔湾区卫生健康局", "uscc": "11440103007493637K", "nature": "1"}   # Annex B sample
    assert "CATALOG_CONSUMER" in data.province.roles and "CATALOG_CONSUMER" not in data.counties[0].roles


# ---------------------------------------------------------------------------------- catalog
def check_service_item(item: dict, owner) -> None:
    """TBS-CODE-004..007/-013/-014/-019 and TBS-CAT-002..010 for one ServiceItem."""
    assert item_code_ok(item["itemCode"]) and impl_code_ok(item["implCode"])
    assert uscc_check_ok(item["implCode"][:18]) and uscc_check_ok(item["dept"]["uscc"])
    assert item["itemCode"] == item["implCode"][19:]                       # CAT-002
    assert item["itemType"] == item["itemCode"][2:4]                       # CAT-003
    assert item["dept"]["uscc"] == item["implCode"][:18]                   # CAT-004
    assert item["itemCode"][:2] in ("00", item["regionCode"][:2])          # CAT-005
    assert item["implCode"][18] == item["level"]                           # CODE-019
    assert {"2": "province", "3": "city", "4": "county", "5": "county", "6": "county"}[item["level"]] == \
        region_shape(item["regionCode"])                                   # CAT-006 (no warning wanted)
    if "legalLimit" in item and item["legalLimit"]["unit"] == item["promiseLimit"]["unit"]:
        assert item["promiseLimit"]["value"] <= item["legalLimit"]["value"]  # CAT-007
    assert ("basis" in item["fee"]) == item["fee"]["charged"]             # CAT-008
    mats = item["materials"]
    if item["onlineDepth"] == 4:                                            # CAT-009
        assert {"2", "3"} & set(item["handlingForms"])
        assert item.get("onSiteVisits", 0) == 0
        assert not any(m["required"] and m["form"] == "PAPER" for m in mats)
    for m in mats:                                                          # CAT-010
        if m["form"] == "ELECTRONIC":
            assert m["originals"] == m["copies"] == 0
        else:
            assert m["originals"] + m["copies"] >= 1
    assert len({m["name"] for m in mats}) == len(mats)
    for lst, allowed in (("serviceObjects", "123456"), ("handlingForms", "12349")):
        assert item[lst] == sorted(set(item[lst])) and set(item[lst]) <= set(allowed)
    codes = [h["code"] for h in item.get("handlingItems", [])]
    assert codes == sorted(set(codes))
    assert all(handling_item_code_ok(c) and c.startswith(item["implCode"]) for c in codes)
    assert item["status"] in ("ACTIVE", "SUSPENDED", "REVOKED")
    assert item["caseType"] in ("1", "2", "9") and item["dept"]["nature"] in ("1", "2", "3", "9")
    assert region_code_ok(item["regionCode"]) and item["regionCode"] == owner.region_code   # SEC-003
    assert 1 <= len(item["name"]) <= 200 and 1 <= len(item["dept"]["name"]) <= 100


def test_every_catalog_version_is_a_valid_service_item(data, wide):
    for d in (data, wide):
        for owner, item in owned(d, "catalog"):
            check_service_item(item, owner)
        for city in d.cities:
            for item in city.relayed_records("catalog"):
                parent_scope = city.region_code
                assert within_scope(item["regionCode"], parent_scope)
                check_service_item(item, d.system(next(c for c in city.children
                                                       if d.system(c).region_code == item["regionCode"])))


def test_catalog_histories_follow_the_sync_rules(data, wide):
    for d in (data, wide):
        for s in d.systems.values():
            by_impl = defaultdict(list)
            for item in s.records("catalog"):
                by_impl[item["implCode"]].append(item)
            for versions in by_impl.values():
                assert [v["version"] for v in versions] == list(range(1, len(versions) + 1))  # SYNC-014
                times = [ts(v["updatedAt"]) for v in versions]
                assert times == sorted(times) and len(set(times)) == len(times)               # SYNC-011
                for a, b in zip(versions, versions[1:]):
                    assert canonical_bytes(a) != canonical_bytes(b)
                    for basic in ("itemCode", "name", "itemType", "legalBasis"):              # SYNC-009
                        assert a[basic] == b[basic]
                    if a["status"] == "REVOKED":                                               # SYNC-010
                        assert b["status"] == "REVOKED"
        statuses = Counter(i["status"] for _, i in owned(d, "catalog"))
        assert statuses["REVOKED"] >= 1 and statuses["SUSPENDED"] >= 1
        assert any(i["version"] > 1 and i["status"] == "ACTIVE" for _, i in owned(d, "catalog"))
        assert any(i["onlineDepth"] == 4 for _, i in owned(d, "catalog"))
        assert {i["level"] for _, i in owned(d, "catalog")} >= {"2", "3", "4", "5"}


def test_each_county_implements_the_requested_number_of_items(data):
    for county in data.counties:
        assert len({i["implCode"] for i in county.records("catalog")}) == 12
    small = generate_province(1, cities=1, counties_per_city=1, items_per_county=3, cases_per_county=0)
    assert len({i["implCode"] for i in small.counties[0].records("catalog")}) == 3
    assert all(not s.records("case") for s in small.systems.values())


def test_basic_catalog_lists_every_implemented_item_code(data):
    basic = {b["itemCode"]: b for b in data.basic_catalog}
    assert list(basic) == sorted(basic)
    for _, item in owned(data, "catalog"):
        entry = basic[item["itemCode"]]
        assert entry["itemType"] == item["itemType"] and entry["legalBasis"] == item["legalBasis"]


# ------------------------------------------------------------------------------------ cases
def check_party(party: dict, at: datetime) -> None:
    assert party["kind"] in ("PERSON", "ORG") and 1 <= len(party["name"]) <= 100
    if party["kind"] == "ORG":                                              # CASE-002
        assert party["idType"] == "USCC"
    else:
        assert party["idType"] in ("111", "414", "511", "516", "553", "990")
    no = party["idNo"]
    if party["idType"] == "111":                                           # CODE-016/017
        assert re.fullmatch(r"[0-9]{17}[0-9X]", no) and region_code_ok(no[:2] + "0000")
        assert valid_calendar_date(no[6:14]) and "19000101" <= no[6:14] <= at.strftime("%Y%m%d")
        assert resident_id_check_ok(no)
    elif party["idType"] == "USCC":                                        # CODE-018/014
        assert uscc_syntax_ok(no) and uscc_check_ok(no)
    else:
        assert re.fullmatch(r"[0-9A-Z-]{1,50}", no)


def test_cases_are_valid_and_structured(data, wide):
    for d in (data, wide):
        for owner, case in owned(d, "case"):
            no = case["caseNo"]
            assert re.fullmatch(r"[0-9A-Z]{1,50}", no) and case_no_structured(no)   # CODE-008/012
            assert no[:31] == case["implCode"]                                      # CODE-009
            submitted = ts(case["submittedAt"])
            assert valid_calendar_date(no[31:39])                                  # CODE-010
            assert no[31:39] == submitted.astimezone(CST).strftime("%Y%m%d")       # CODE-011
            assert case["caseType"] in ("1", "2") and case["channel"] in ("1", "2", "3", "4")
            if case["caseType"] == "2":
                assert "promisedBy" in case                                         # CASE-003
            if "promisedBy" in case:
                assert ts(case["promisedBy"]) >= submitted                          # CASE-004
            check_party(case["applicant"], submitted)
            if "agent" in case:
                check_party(case["agent"], submitted)
            if "handlingItemCode" in case:
                assert handling_item_code_ok(case["handlingItemCode"])
                assert case["handlingItemCode"].startswith(case["implCode"])       # CODE-007
            assert case["regionCode"] == owner.region_code                          # SEC-003
            item = [i for i in owner.records("catalog") if i["implCode"] == case["implCode"]][-1]   # current
            assert item["status"] == "ACTIVE"
            assert case["itemName"] == item["name"] and case["caseType"] == item["caseType"]
            assert case["channel"] in item["handlingForms"]


def test_case_versions_increase_and_some_cases_are_re_reported(data):
    versions = defaultdict(list)
    for _, case in owned(data, "case"):
        versions[case["caseNo"]].append(case)
    for vs in versions.values():
        assert [v["version"] for v in vs] == list(range(1, len(vs) + 1))
        for a, b in zip(vs, vs[1:]):
            assert canonical_bytes(a) != canonical_bytes(b) and a["submittedAt"] == b["submittedAt"]
    assert any(len(vs) > 1 for vs in versions.values())
    assert any("agent" in vs[0] for vs in versions.values())
    kinds = Counter(vs[0]["applicant"]["kind"] for vs in versions.values())
    assert kinds["PERSON"] > 0 and kinds["ORG"] > 0
    assert {vs[0]["caseType"] for vs in versions.values()} == {"1", "2"}


# --------------------------------------------------------- case events: the §10 state machine
# Written from the §10.3 and §10.4 tables; None is the state before the first event.
ALLOWED = {
    "SUBMIT": ({None}, "SUBMITTED"),
    "REQUEST_SUPPLEMENT": ({"SUBMITTED"}, "SUPPLEMENT_REQUESTED"),
    "SUPPLEMENT": ({"SUPPLEMENT_REQUESTED"}, "SUBMITTED"),
    "ACCEPT": ({"SUBMITTED"}, "ACCEPTED"),
    "REJECT_ACCEPTANCE": ({"SUBMITTED", "SUPPLEMENT_REQUESTED"}, "NOT_ACCEPTED"),
    "REVIEW_STEP": ({"ACCEPTED", "IN_REVIEW"}, "IN_REVIEW"),
    "SUSPEND": ({"ACCEPTED", "IN_REVIEW"}, "SUSPENDED"),
    "RESUME": ({"SUSPENDED"}, "IN_REVIEW"),
    "CONCLUDE": (None, "CONCLUDED"),
    "DELIVER": ({"CONCLUDED"}, "DELIVERED"),
    "WITHDRAW": ({"SUBMITTED", "SUPPLEMENT_REQUESTED", "ACCEPTED", "IN_REVIEW", "SUSPENDED"}, "WITHDRAWN"),
}
CONCLUDE_FROM = {
    "APPROVED_WITH_CERT": {"ACCEPTED", "IN_REVIEW"},
    "NOT_PERMITTED": {"ACCEPTED", "IN_REVIEW"},
    "VOIDED": {"ACCEPTED", "IN_REVIEW", "SUSPENDED"},
    "TRANSFERRED": {"ACCEPTED", "IN_REVIEW"},
    "RETURNED": {"SUPPLEMENT_REQUESTED", "ACCEPTED", "IN_REVIEW", "SUSPENDED"},
    "NOT_ACCEPTED": {"NOT_ACCEPTED"},
}
DELIVERABLE = {"APPROVED_WITH_CERT", "NOT_PERMITTED", "NOT_ACCEPTED"}
REQUIRED = {"REQUEST_SUPPLEMENT": {"handler", "opinion"}, "ACCEPT": {"handler"},
            "REJECT_ACCEPTANCE": {"handler", "opinion"}, "REVIEW_STEP": {"handler", "action"},
            "SUSPEND": {"handler", "specialProcedure"}, "RESUME": {"handler"},
            "CONCLUDE": {"handler", "conclusionCode"}, "DELIVER": {"handler"}}
FORBIDDEN_DEFAULT = {"action", "conclusionCode", "specialProcedure"}
FORBIDDEN = {"REVIEW_STEP": {"conclusionCode", "specialProcedure"}, "SUSPEND": {"action", "conclusionCode"},
             "CONCLUDE": {"action", "specialProcedure"}}
EVENT_MEMBERS = {"caseNo", "seq", "type", "occurredAt", "handler", "stepName", "action", "opinion",
                 "conclusionCode", "specialProcedure"}


def walk(events: list[dict]) -> tuple[str, str | None]:
    """Apply the events in seq order; return the final state and the conclusion code."""
    state, conclusion = None, None
    for e in events:
        allowed, nxt = ALLOWED[e["type"]]
        if e["type"] == "CONCLUDE":
            assert state in CONCLUDE_FROM[e["conclusionCode"]], (state, e)
            conclusion = e["conclusionCode"]
        elif e["type"] == "DELIVER":
            assert state == "CONCLUDED" and conclusion in DELIVERABLE, (state, conclusion, e)
        else:
            assert state in allowed, (state, e)
        state = nxt
    return state, conclusion


def histories(d):
    """caseNo → (owner, latest Case, events in feed order)."""
    out = {}
    for s in d.systems.values():
        cases = {c["caseNo"]: c for c in s.records("case")}
        events = defaultdict(list)
        for e in s.records("case-event"):
            events[e["caseNo"]].append(e)
        for no, case in cases.items():
            out[no] = (s, case, events[no])
    return out


def test_every_case_history_is_a_legal_walk_of_the_state_machine(data, wide):
    for d in (data, wide):
        assert {e["caseNo"] for _, e in owned(d, "case-event")} <= {c["caseNo"] for _, c in owned(d, "case")}
        for no, (owner, case, events) in histories(d).items():
            assert [e["seq"] for e in events] == list(range(1, len(events) + 1))   # EVT-004/007, SYNC-013
            assert events[0]["type"] == "SUBMIT" and all(e["type"] != "SUBMIT" for e in events[1:])
            assert events[0]["occurredAt"] == case["submittedAt"]                   # EVT-010
            times = [ts(e["occurredAt"]) for e in events]
            assert times == sorted(times)                                          # EVT-006
            for e in events:
                assert set(e) <= EVENT_MEMBERS
                assert REQUIRED.get(e["type"], set()) <= set(e), e                 # EVT-002
                assert not (FORBIDDEN.get(e["type"], FORBIDDEN_DEFAULT) & set(e)), e
                if e["type"] == "CONCLUDE" and e["conclusionCode"] != "APPROVED_WITH_CERT":
                    assert e.get("opinion"), e                                     # EVT-003
                if "handler" in e:
                    assert uscc_check_ok(e["handler"]["deptUscc"]) and 1 <= len(e["handler"]["name"]) <= 50
                if "specialProcedure" in e:
                    assert e["specialProcedure"]["code"] in ("1", "2") and e["specialProcedure"]["reason"]
                if "action" in e:
                    assert e["action"] in ("APPROVE", "RETURN", "OTHER")
                assert 1 <= len(e["stepName"]) <= 100
            walk(events)


def test_the_required_case_paths_all_occur(data):
    """CR-01..CR-03 material: approval to delivery, non-approval, non-acceptance, supplement,
    suspend/resume, withdrawal and open cases, in every county."""
    for county in data.counties:
        paths = Counter()
        for no, (owner, _, events) in histories(data).items():
            if owner is not county:
                continue
            types = [e["type"] for e in events]
            state, conclusion = walk(events)
            if types[:2] == ["SUBMIT", "ACCEPT"] and "REVIEW_STEP" in types and types[-2:] == ["CONCLUDE", "DELIVER"] \
                    and conclusion == "APPROVED_WITH_CERT":
                paths["approval"] += 1
            if conclusion == "NOT_PERMITTED":
                paths["not_permitted"] += 1
            if types[:3] == ["SUBMIT", "REJECT_ACCEPTANCE", "CONCLUDE"] and conclusion == "NOT_ACCEPTED":
                paths["not_accepted"] += 1
            if "SUPPLEMENT" in types:
                paths["supplement"] += 1
            if "RESUME" in types:
                paths["suspend_resume"] += 1
            if state == "WITHDRAWN":
                paths["withdrawn"] += 1
            if state not in ("CONCLUDED", "DELIVERED", "WITHDRAWN"):
                paths["open"] += 1
            if any(e["type"] == "REVIEW_STEP" and e["action"] == "RETURN" for e in events):
                paths["review_return"] += 1
        for path in ("approval", "not_permitted", "not_accepted", "supplement", "suspend_resume", "withdrawn", "open"):
            assert paths[path] >= 1, (county.system_id, path, paths)


# ---------------------------------------------------------------------- overdue (EVT-011/012)
def independent_overdue(case: dict, events: list[dict], at: datetime) -> bool:
    if not any(e["type"] == "ACCEPT" for e in events) or any(e["type"] == "WITHDRAW" for e in events):
        return False
    if "promisedBy" in case:
        due = ts(case["promisedBy"])
    else:
        accept = next(e for e in events if e["type"] == "ACCEPT")
        due = datetime.combine(ts(accept["occurredAt"]).date(), time(23, 59, 59), CST)
    conclude = next((e for e in events if e["type"] == "CONCLUDE"), None)
    t = ts(conclude["occurredAt"]) if conclude else at
    paused = timedelta()
    for i, e in enumerate(events):
        if e["type"] == "SUSPEND":
            paused += (ts(events[i + 1]["occurredAt"]) if i + 1 < len(events) else t) - ts(e["occurredAt"])
    return t > due + paused


def test_overdue_ground_truth_matches_the_standard_definition(data):
    now = ts(data.now)
    listed = {o["caseNo"]: o for o in data.overdue_at_now}
    for no, (owner, case, events) in histories(data).items():
        assert independent_overdue(case, events, now) == (no in listed), no
        if no in listed:
            assert listed[no]["systemId"] == owner.system_id and listed[no]["overdueSeconds"] > 0
    open_overdue = [no for no in listed if data.case_paths[no] == "overdue_open"]
    late_closed = [no for no in listed if data.case_paths[no] == "late"]
    assert open_overdue and late_closed
    assert len(listed) < len(histories(data)) / 3   # overdue is the exception


# ---------------------------------------------------------------------------------- results
def test_results_only_for_concluded_cases_with_matching_documents(data, wide):
    for d in (data, wide):
        h = histories(d)
        seen_types = Counter()
        for owner, res in owned(d, "result"):
            s, case, events = h[res["caseNo"]]
            assert s is owner
            state, conclusion = walk(events)
            assert state in ("CONCLUDED", "DELIVERED")                              # RES-004
            if res["resultType"] == "CERTIFICATE":
                assert conclusion == "APPROVED_WITH_CERT"                           # RES-005
            if conclusion == "NOT_PERMITTED":
                assert res["resultType"] == "DECISION"
            seen_types[(conclusion, res["resultType"])] += 1
            issued = ts(res["issuedAt"])
            assert issued >= ts(case["submittedAt"])                                 # RES-007
            if "validUntil" in res:
                assert date.fromisoformat(res["validUntil"]) >= issued.astimezone(CST).date()   # RES-002
            assert uscc_check_ok(res["issuer"]["uscc"]) and 1 <= len(res["certNo"]) <= 50
            doc = res["document"]
            content = d.documents[doc["sha256"]]
            assert hashlib.sha256(content).hexdigest() == doc["sha256"] and len(content) == doc["size"]  # RES-003
            assert doc["mediaType"] in ("application/pdf", "application/ofd", "image/jpeg", "image/png")
            assert not FILE_NAME_FORBIDDEN & set(doc["fileName"]) and 1 <= len(doc["fileName"]) <= 255
            if doc["mediaType"] == "application/pdf":
                assert content.startswith(b"%PDF-") and content.rstrip().endswith(b"%%EOF")
            else:
                assert content.startswith(b"PK\x03\x04")   # OFD is a ZIP container
        assert seen_types[("APPROVED_WITH_CERT", "CERTIFICATE")] and seen_types[("NOT_PERMITTED", "DECISION")]
        keys = [(r["caseNo"], r["certNo"]) for _, r in owned(d, "result")]
        assert len(keys) == len(set(keys))
        concluded = {no for no, (_, _, ev) in h.items()
                     if walk(ev)[1] in ("APPROVED_WITH_CERT", "NOT_PERMITTED", "NOT_ACCEPTED")}
        assert concluded == {r["caseNo"] for _, r in owned(d, "result")}


# ------------------------------------------------------------------------------ evaluations
def test_evaluations_follow_the_haochaping_rules(data, wide):
    for d in (data, wide):
        h = histories(d)
        by_case = defaultdict(dict)
        for owner, ev in owned(d, "evaluation"):
            s, case, _ = h[ev["caseNo"]]
            assert s is owner                                                      # EVAL-006
            assert ev["assessNo"] in (1, 2) and ev["assessNo"] not in by_case[ev["caseNo"]]   # EVAL-003
            by_case[ev["caseNo"]][ev["assessNo"]] = ev
            assert 1 <= ev["satisfaction"] <= 5
            if ev["satisfaction"] < 3:
                assert "detailCodes" in ev or "text" in ev                          # EVAL-002
            if ev["channel"] in ("HALL_PAD", "HALL_OTHER"):
                assert set(ev["dimensions"]) == {"quality", "efficiency", "attitude"}   # EVAL-009
            if "detailCodes" in ev:
                codes = ev["detailCodes"]
                assert codes == sorted(set(codes)) and all(re.fullmatch(r"[0-9A-Za-z]{1,16}", c) for c in codes)
            assert ts(ev["assessedAt"]) >= ts(case["submittedAt"])                 # EVAL-010
        for evs in by_case.values():
            assert 1 in evs                                                         # EVAL-004
            if 2 in evs:
                assert ts(evs[2]["assessedAt"]) > ts(evs[1]["assessedAt"])          # EVAL-005
        sats = Counter(e["satisfaction"] for _, e in owned(d, "evaluation"))
        assert sats[5] > 0 and (sats[1] + sats[2]) > 0
        assert any(2 in evs for evs in by_case.values())


# ------------------------------------------------------------------------------- feed order
def test_records_come_in_change_order(data):
    stamp_of = {"catalog": "updatedAt", "case-event": "occurredAt", "result": "issuedAt", "evaluation": "assessedAt"}
    for s in data.systems.values():
        for ds, member in stamp_of.items():
            times = [ts(r[member]) for r in s.records(ds)]
            assert times == sorted(times), (s.system_id, ds)
        last_seq = {}
        for e in s.records("case-event"):                                          # SYNC-013
            assert e["seq"] > last_seq.get(e["caseNo"], 0)
            last_seq[e["caseNo"]] = e["seq"]
        merged = s.feed_records("case-event", include_relayed=True)
        assert len(merged) == len(s.records("case-event")) + len(s.relayed_records("case-event"))


def test_records_are_copies(data):
    county = data.counties[0]
    county.records("case")[0]["caseNo"] = "TAMPERED"
    assert county.records("case")[0]["caseNo"] != "TAMPERED"


# ------------------------------------------------------------------------ planted defects
def differing_members(a: dict, b: dict) -> list[str]:
    return sorted(m for m in set(a) | set(b) if m not in a or m not in b or canonical_bytes(a[m]) != canonical_bytes(b[m]))


def test_relays_copy_the_counties_except_the_planted_two_skins(data, wide):
    for d in (data, wide):
        planted = {(p["implCode"], p["version"]): p for p in d.planted_two_skins}
        assert 1 <= len(planted) <= 3
        for city in d.cities:
            for ds in DATASETS:
                own = [r for c in city.children for r in d.system(c).records(ds)]
                relayed = city.relayed_records(ds)
                assert len(own) == len(relayed)
                def unplanted(records):
                    return sorted(canonical_bytes(r) for r in records
                                  if ds != "catalog" or (r["implCode"], r["version"]) not in planted)
                assert unplanted(own) == unplanted(relayed)
        for p in d.planted_two_skins:
            county_id, city_id = p["systemIds"]
            assert d.system(county_id).parent_id == city_id
            mine = next(r for r in d.system(county_id).records("catalog")
                        if r["implCode"] == p["implCode"] and r["version"] == p["version"])
            copy_ = next(r for r in d.system(city_id).relayed_records("catalog")
                         if r["implCode"] == p["implCode"] and r["version"] == p["version"])
            assert differing_members(mine, copy_) == p["fields"] and p["fields"]
            assert mine["itemCode"] == p["itemCode"]
            check_service_item(copy_, d.system(county_id))   # each skin is valid on its own
        assert len({tuple(p["fields"]) for p in d.planted_two_skins}) == len(d.planted_two_skins)


def test_many_names_ground_truth(data, wide):
    for d in (data, wide):
        assert d.planted_many_names
        basic = {b["itemCode"]: b["name"] for b in d.basic_catalog}
        names_by_code = defaultdict(dict)
        for owner, item in owned(d, "catalog"):
            names_by_code[item["itemCode"]][(owner.system_id, item["implCode"])] = item["name"]
        planted_codes = set()
        for g in d.planted_many_names:
            planted_codes.add(g["itemCode"])
            actual = names_by_code[g["itemCode"]]
            assert {(e["systemId"], e["implCode"]): e["name"] for e in g["implementations"]} == actual
            assert g["basicName"] == basic[g["itemCode"]] and len(set(actual.values())) >= 2
            assert g["names"] == sorted(set(actual.values()))
            assert g["variantSystemIds"] == sorted(sid for (sid, _), n in actual.items() if n != g["basicName"])
            assert all(d.system(sid).level == "county" for sid in g["variantSystemIds"])
        for code, impls in names_by_code.items():   # nothing else is named differently
            if code not in planted_codes:
                assert set(impls.values()) == {basic[code]}, code


def test_near_duplicate_ground_truth(data, wide):
    for d in (data, wide):
        assert d.planted_near_duplicates
        basic = {b["itemCode"]: b["name"] for b in d.basic_catalog}
        for pair in d.planted_near_duplicates:
            a, b = pair["itemCodes"]
            assert a != b and [basic[a], basic[b]] == pair["names"]
            assert difflib.SequenceMatcher(None, *pair["names"]).ratio() >= 0.8
            codes_seen = {e["itemCode"] for e in pair["implementations"]} if "itemCode" in pair["implementations"][0] \
                else {e["implCode"][19:] for e in pair["implementations"]}
            assert codes_seen == {a, b}
        listed = {frozenset(p["itemCodes"]) for p in d.planted_near_duplicates}
        names_ = sorted(basic.items())
        for i, (ca, na) in enumerate(names_):   # no other pair of basic names is that close
            for cb, nb in names_[i + 1:]:
                if frozenset((ca, cb)) not in listed:
                    assert difflib.SequenceMatcher(None, na, nb).ratio() < 0.7, (na, nb)


def test_clean_items_are_consistent_everywhere(data, wide):
    for d in (data, wide):
        assert len(d.planted_clean) >= 2
        basic = {b["itemCode"]: b["name"] for b in d.basic_catalog}
        defect_codes = {g["itemCode"] for g in d.planted_many_names} | \
            {c for p in d.planted_near_duplicates for c in p["itemCodes"]}
        skinned = {p["implCode"] for p in d.planted_two_skins}
        for c in d.planted_clean:
            county = d.system(c["systemId"])
            mine = [r for r in county.records("catalog") if r["implCode"] == c["implCode"]]
            relayed = [r for r in d.system(county.parent_id).relayed_records("catalog") if r["implCode"] == c["implCode"]]
            assert mine and mine == relayed
            assert all(r["name"] == basic[c["itemCode"]] and r["status"] == "ACTIVE" for r in mine)
            assert c["itemCode"] not in defect_codes and c["implCode"] not in skinned


# ------------------------------------------------------------- the project's own validators
def test_every_record_passes_stateless_validation_as_its_owner(data):
    validators = pytest.importorskip("tongban.validators")
    context = validators.ValidationContext(received_at=ts(data.now))
    problems = []
    for s in data.systems.values():
        for ds in DATASETS:
            for i, record in enumerate(s.records(ds)):
                report = validators.validate_record(ds, record, index=i, writer=s.system_id, context=context)
                bad = [f for f in report.items if f.severity.value in ("ERROR", "WARNING")]
                if bad:
                    problems.append((s.system_id, ds, [f.identity for f in bad]))
    assert problems == []


def test_feeds_consumed_in_order_are_stored_without_rejection(data):
    """What the province sees pulling each system's feeds dataset by dataset: every record
    STORED (stateful S5, as CR-01 requires for an approval case)."""
    stateful = pytest.importorskip("tongban.validators.stateful")
    for s in data.systems.values():
        state = stateful.MemoryState()
        for ds in ("catalog", "case", "case-event", "result", "evaluation"):
            for i, record in enumerate(s.records(ds)):
                verdict = stateful.evaluate_state(ds, record, index=i, writer=s.system_id, state=state)
                assert verdict.outcome == stateful.Outcome.STORED, (s.system_id, ds, record, verdict.report.items)
                state.store(ds, record)


def test_a_planted_two_skins_copy_conflicts_with_the_county_version(data):
    """Pulled after the county's own feed, the city's differing copy is a TBS-SYNC-005 conflict;
    every other relayed catalog record is an identical duplicate."""
    stateful = pytest.importorskip("tongban.validators.stateful")
    planted = {(p["implCode"], p["version"]) for p in data.planted_two_skins}
    for city in data.cities:
        state = stateful.MemoryState()
        for county_id in city.children:
            for record in data.system(county_id).records("catalog"):
                state.store("catalog", record)
        for i, record in enumerate(city.relayed_records("catalog")):
            latest = state.catalog_current(record["implCode"])
            if record["version"] < latest["version"]:
                continue   # older versions are STALE by design
            verdict = stateful.evaluate_state("catalog", record, index=i, writer=city.system_id, state=state)
            if (record["implCode"], record["version"]) in planted:
                assert verdict.outcome == stateful.Outcome.REJECTED
                assert {f.rule_id for f in verdict.report.items} == {"TBS-SYNC-005"}
            else:
                assert verdict.outcome == stateful.Outcome.DUPLICATE


def test_province_view_holds_every_owned_record_and_owner_of_finds_it(data):
    for ds in DATASETS:
        view = data.province_view(ds)
        assert sorted(map(canonical_bytes, view)) == sorted(canonical_bytes(r) for _, r in owned(data, ds))
    case = data.counties[1].records("case")[0]
    assert data.owner_of("case", {"caseNo": case["caseNo"]}) == data.counties[1].system_id
    assert data.owner_of("case", {"caseNo": "0" * 43}) is None


def test_the_data_is_deterministic_per_seed_and_per_day_and_moves_with_the_day():
    """Dates are relative to the day the sandbox runs (so lag and overdue stay meaningful);
    the same seed on the same day gives the same bytes, on another day the same cases shifted."""
    from datetime import date, timedelta

    day = date(2027, 3, 10)
    a = generate_province(7, cities=1, counties_per_city=1, now=default_now(day))
    b = generate_province(7, cities=1, counties_per_city=1, now=default_now(day))
    later = generate_province(7, cities=1, counties_per_city=1, now=default_now(day + timedelta(days=30)))
    assert canonical_bytes(a.snapshot()) == canonical_bytes(b.snapshot())
    assert canonical_bytes(a.snapshot()) != canonical_bytes(later.snapshot())
    newest = max(ts(r["submittedAt"]) for _, r in owned(a, "case"))
    assert timedelta(0) < ts(a.now) - newest < timedelta(days=14)       # recent, not months old
    newest_later = max(ts(r["submittedAt"]) for _, r in owned(later, "case"))
    assert newest_later - newest > timedelta(days=20)
