"""EA-JC-STEP (TBS-LP-1.0 §4) in the sandbox: a provincial department's case system writes
EA_JC_STEP_* rows into its front database (SQLite, and MariaDB in CI), the bus reads them
through FRONTDB, and ``tongban export`` equals the department's cases, steps and Results as
the profile carries them (computed below from the tables of §4.2–§4.4, not by the code under
test); the planted rows get their receipts; a second sync stores nothing."""
from __future__ import annotations

import copy
import json
from datetime import datetime, timedelta

import pytest

from frontdb_helpers import MARIADB_URL, Front, mariadb_database
from tongban.connectors.frontdb.writer import guid
from tongban.model.canonical import canonical_bytes
from tongban.model.clock import CST
from tongban.sandbox.frontdb import DEPARTMENT_ROLES, ea_writer, provincial_department
from tongban.sandbox.generate import generate_province
from tongban.sync.export import export_current

SUBMIT_STEP = {"1": "窗口申请", "2": "网上申报"}  # M12, by the mapped channel; else 申请
DATASETS = ("case", "case-event", "result")


@pytest.fixture(params=["sqlite", "mariadb"])
def front_url(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'front.db'}"
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


def expected(dept) -> dict[str, list[dict]]:
    """The department's records with what EA-JC-STEP cannot carry removed or fixed (§4.2–§4.4,
    TBS-LP-145): no agent; channel 1, 2 kept, others "9"; caseType 1, 2 kept, others "9"; no
    DELIVER or WITHDRAW; SUBMIT without handler, named by channel; special steps named by the
    code table with the accepting body as the handler's unit; a suspension's code "2"; CONCLUDE
    named 办结; the Result issued at the CONCLUDE by the accepting body, without document."""
    by_case: dict[str, tuple[list, list, list]] = {}
    for c in dept.records("case"):
        by_case.setdefault(c["caseNo"], ([], [], []))[0].append(c)
    for e in dept.records("case-event"):
        by_case.setdefault(e["caseNo"], ([], [], []))[1].append(e)
    for r in dept.records("result"):
        by_case.setdefault(r["caseNo"], ([], [], []))[2].append(r)
    out = {d: [] for d in DATASETS}
    for case_no in sorted(by_case):
        versions, events, results = by_case[case_no]
        case = copy.deepcopy(versions[-1])
        case.pop("agent", None)
        case["channel"] = case["channel"] if case.get("channel") in ("1", "2") else "9"
        case["caseType"] = case["caseType"] if case.get("caseType") in ("1", "2") else "9"
        out["case"].append(case)
        body = results[0]["issuer"]["uscc"] if results else next(
            (e["handler"]["deptUscc"] for e in events if e["type"] == "CONCLUDE" and e.get("handler")),
            next((e["handler"]["deptUscc"] for e in events if e.get("handler")), None))
        kept = [e for e in events if e["type"] not in ("DELIVER", "WITHDRAW")]
        assert [e["seq"] for e in kept] == list(range(1, len(kept) + 1)), "only trailing events are dropped"
        conclude = None
        for e in kept:
            e = copy.deepcopy(e)
            t = e["type"]
            if t == "SUBMIT":
                e.pop("handler", None)
                e.pop("opinion", None)
                e["stepName"] = SUBMIT_STEP.get(case["channel"], "申请")
            elif t == "REQUEST_SUPPLEMENT":
                e["stepName"] = "预审补齐补正告知"
            elif t == "SUPPLEMENT":
                e["stepName"] = "补正材料提交"
                e.pop("handler", None)
                e.pop("opinion", None)
            elif t == "SUSPEND":
                e["stepName"] = "挂起"
                e["specialProcedure"]["code"] = "2"
                e.pop("opinion", None)
                suspend_handler = e.get("handler")
            elif t == "RESUME":
                e["stepName"] = "特别程序结束"
                e.pop("opinion", None)
                e.pop("handler", None)
                if suspend_handler:
                    e["handler"] = dict(suspend_handler)
            elif t == "CONCLUDE":
                e["stepName"] = "办结"
                conclude = e
            if t in ("REQUEST_SUPPLEMENT", "SUSPEND", "RESUME", "CONCLUDE") and e.get("handler"):
                e["handler"]["deptUscc"] = body
            out["case-event"].append(e)
        for r in results[:1]:
            r = copy.deepcopy(r)
            r.pop("document", None)
            r["issuer"] = {"name": r["issuer"]["name"], "uscc": body}
            r["issuedAt"] = conclude["occurredAt"]
            out["result"].append(r)
    out["case-event"].sort(key=lambda e: (e["caseNo"], e["seq"]))
    out["result"].sort(key=lambda r: (r["caseNo"], r["certNo"]))
    return out


def test_provincial_department_over_ea_jc_step(front_url, store):
    data = generate_province(7, cities=1, counties_per_city=1, items_per_county=4, cases_per_county=12)
    dept = provincial_department(data)
    assert dept.system_id == "TB:department:440000:GDSCJGJ"
    w = ea_writer(dept)
    w.batches.sort(key=lambda b: b.at)  # the order write() commits them in
    last = datetime.strptime(w.batches[-1].at, "%Y-%m-%d %H:%M:%S").replace(tzinfo=CST)
    f = Front(front_url, store, dept.system_id, "EA-JC-STEP", list(DEPARTMENT_ROLES), dialect=None,
              t_read=(last + timedelta(minutes=1)).isoformat())
    early = guid("sandbox", "ea-early-step")
    held_seen = False
    for i in range(len(w.batches)):  # the department writes, the bus polls, batch by batch
        w.write(f.db.engine, start=i, stop=i + 1)
        f.poll()
        held_seen |= any(r["row_guid"] == early and r["outcome"] == "HELD" for r in f.db.receipts())
    receipts = f.db.receipts()
    by_guid = {r["row_guid"]: r for r in receipts}
    bad = by_guid[guid("sandbox", "ea-bad-step")]
    assert (bad["outcome"], bad["rule_ids"], json.loads(bad["findings"])[0]["source"]["column"]) == (
        "REJECTED", "TBS-LP-034", "NODERESULT")
    assert held_seen and by_guid[early]["outcome"] == "STORED"  # held, then released by its case
    planted = {early, guid("sandbox", "ea-bad-step"), guid("sandbox", "ea-late-basic")}
    others = [r for r in receipts if r["row_guid"] not in planted and r["outcome"] != "STORED"]
    assert not others, "\n".join(f"{r['table_name']} {r['outcome']} {r['findings']}" for r in others)
    orphan = next(r for r in receipts if r["row_guid"] == guid("sandbox", "ea-late-basic"))
    assert orphan["outcome"] == "STORED"

    want = expected(dept)
    orphan_no = w.state[("EA_JC_STEP_BASICINFO", guid("EA_JC_STEP_BASICINFO", want["case"][0]["caseNo"]))]
    planted_case = orphan_no["PROJID"][:-4] + "9999"
    for dataset in DATASETS:
        got = [line for line in export_current(store, dataset) if planted_case not in line]
        want_lines = [canonical_bytes(r).decode() for r in want[dataset]]
        diff = [(g, x) for g, x in zip(got, want_lines) if g != x]
        assert got == want_lines, f"{dataset}: {len(got)} vs {len(want_lines)} lines; first difference {diff[:1]}"
    assert len(want["case"]) >= 10 and {e["type"] for e in want["case-event"]} >= {
        "SUBMIT", "ACCEPT", "REVIEW_STEP", "REQUEST_SUPPLEMENT", "SUPPLEMENT", "SUSPEND", "RESUME",
        "REJECT_ACCEPTANCE", "CONCLUDE"}
    events = [json.loads(x) for x in export_current(store, "case-event") if planted_case in x]
    assert [(e["seq"], e["type"]) for e in events] == [(1, "SUBMIT"), (2, "ACCEPT")]
    before = {d: list(export_current(store, d)) for d in DATASETS}
    report = f.poll()
    assert report.batches == 0
    assert {d: list(export_current(store, d)) for d in DATASETS} == before
    assert f.db.receipts() == receipts
