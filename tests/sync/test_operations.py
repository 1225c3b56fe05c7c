"""Operations a data team runs without Airflow: ledger verify, quarantine replay, hold
timeouts, case timelines and exports — through the real CLI."""
from __future__ import annotations

import copy
import json
from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from sqlalchemy import select, update

from tongban.cli import main
from tongban.model.canonical import canonical_bytes
from tongban.registry import load_registry
from tongban.store import Store
from tongban.store.schema import CaseEventRecord, LedgerEntry, QuarantineEntry
from tongban.store.store import utcnow
from tongban.sync import ledger
from tongban.sync.ingest import Ingestor
from tongban.validators import ValidationContext

ANNEX_B = Path(__file__).resolve().parents[1] / "data" / "annex_b"
COUNTY = "TB:county:440103:LWZWFW"
BUS = "TB:province:440000:TONGBAN"


def annex(name):
    return json.loads((ANNEX_B / f"{name}.json").read_text(encoding="utf-8"))


@pytest.fixture
def env(tmp_path, monkeypatch):
    db = f"sqlite:///{tmp_path / 'ops.db'}"
    monkeypatch.setenv("TONGBAN_DATABASE_URL", db)
    partners = tmp_path / "partners.yaml"

    def write_registry(allowlist=()):
        bus = {"system_id": BUS}
        if allowlist:
            bus["uscc_allowlist"] = list(allowlist)
        partners.write_text(yaml.safe_dump({"bus": bus, "partners": [{
            "id": COUNTY, "parent": BUS, "transport": "rest", "endpoint": "https://127.0.0.1:1",
            "roles": ["CASE_REPORTER"], "hold_timeout": "PT1M"}]}))
        return partners

    write_registry()
    monkeypatch.setenv("TONGBAN_PARTNERS", str(partners))
    store = Store(db)
    store.upgrade()
    return store, write_registry


def ingest(store, dataset, records, **kw):
    reg = load_registry()
    with store.transaction() as s:
        ing = Ingestor(s, partner_id=COUNTY, writer=COUNTY, hold_timeout_s=60,
                       context=ValidationContext(allowlist=frozenset(reg.bus.uscc_allowlist)), **kw)
        result = ing.ingest(dataset, records)
        ledger.append(s, direction="IN", sender=COUNTY, receiver=BUS, dataset=dataset, binding="REST",
                      envelope_sha256="0" * 64, record_count=len(records), verdict="ACCEPTED",
                      counts=result.counts.as_dict())
    return result


def test_ledger_verify_names_the_edited_entry(env):
    store, _ = env
    for name in ("B.2", "B.3"):
        ingest(store, annex(name)["dataset"], annex(name)["records"])
    runner = CliRunner()
    ok = runner.invoke(main, ["ledger", "verify"])
    assert ok.exit_code == 0 and "2 entries, chain intact" in ok.output
    with store.transaction() as s:
        s.execute(update(LedgerEntry).where(LedgerEntry.seq == 1).values(record_count=3))
    bad = runner.invoke(main, ["ledger", "verify"])
    assert bad.exit_code == 1 and "broken at entry 1" in bad.output and "edited" in bad.output


def test_quarantine_replay_releases_after_the_allowlist_changes(env):
    store, write_registry = env
    cases = copy.deepcopy(annex("B.2")["records"])
    cases[1]["applicant"]["idNo"] = "91440103MA5TB0001A"  # fails the GB 32100 check character
    result = ingest(store, "case", cases)
    assert [r.outcome.value for r in result.results] == ["STORED", "REJECTED"]
    runner = CliRunner()
    listed = runner.invoke(main, ["quarantine", "list"])
    assert "TBS-CODE-014" in listed.output and "quarantine (OPEN): 1" in listed.output
    shown = runner.invoke(main, ["quarantine", "show", "1"])
    assert "/records/1/applicant/idNo" in shown.output and "91440103MA5TB0001A" in shown.output
    still = runner.invoke(main, ["quarantine", "replay"])
    assert still.exit_code == 0 and "released 0, still rejected 1" in still.output
    write_registry(allowlist=["91440103MA5TB0001A"])  # the operator allowlists the code (TBS-CODE-015)
    done = runner.invoke(main, ["quarantine", "replay", "1"])
    assert "released 1, still rejected 0" in done.output
    with store.reading() as s:
        entry = s.get(QuarantineEntry, 1)
        assert entry.status == "RELEASED" and entry.resolved_at is not None
    exported = runner.invoke(main, ["export", "--dataset", "case"]).output.splitlines()
    assert exported == [canonical_bytes(c).decode() for c in sorted(cases, key=lambda c: c["caseNo"])]


def test_held_event_is_rejected_when_its_hold_times_out(env):
    store, _ = env
    events = annex("B.3")["records"]
    ingest(store, "case", annex("B.2")["records"])
    result = ingest(store, "case-event", [events[0], events[2]])
    assert [r.outcome.value for r in result.results] == ["STORED", "HELD"]
    with store.transaction() as s:
        ing = Ingestor(s, partner_id=COUNTY, writer=COUNTY, hold_timeout_s=60, context=ValidationContext())
        assert ing.expire_holds(utcnow() + timedelta(seconds=30)) == 0  # not yet
        assert ing.expire_holds(utcnow() + timedelta(minutes=2)) == 1
    with store.reading() as s:
        entry = s.execute(select(QuarantineEntry)).scalar_one()
        assert entry.rule_ids == "TBS-EVT-007" and json.loads(entry.raw) == events[2]
        assert json.loads(entry.report)["items"][0]["location"] == "/records/1/seq"


def test_held_events_are_released_in_seq_order_when_the_gap_fills(env):
    store, _ = env
    events = annex("B.3")["records"]
    ingest(store, "case", annex("B.2")["records"])
    first = ingest(store, "case-event", [events[4], events[2], events[0], events[3]])
    assert [r.outcome.value for r in first.results] == ["HELD", "HELD", "STORED", "HELD"]
    filled = ingest(store, "case-event", [events[1]])
    assert filled.results[0].outcome.value == "STORED" and filled.counts.released == 3
    with store.reading() as s:
        assert s.execute(select(CaseEventRecord.seq).order_by(CaseEventRecord.seq)).scalars().all() == [1, 2, 3, 4, 5]


def test_case_show_prints_the_timeline(env):
    store, _ = env
    ingest(store, "case", annex("B.2")["records"])
    ingest(store, "case-event", annex("B.3")["records"])
    case_no = annex("B.3")["records"][0]["caseNo"]
    res = CliRunner().invoke(main, ["case", "show", case_no])
    assert res.exit_code == 0
    assert "DELIVERED" in res.output and "APPROVED_WITH_CERT" in res.output
    for text in ("网上申报", "赵六", "材料齐全，现场核查符合卫生要求，同意。", "证照送达（邮寄）"):
        assert text in res.output
    data = json.loads(CliRunner().invoke(main, ["case", "show", case_no, "--format", "json"]).output)
    assert data["state"] == "DELIVERED" and [e["seq"] for e in data["events"]] == [1, 2, 3, 4, 5]
    missing = CliRunner().invoke(main, ["case", "show", "NOSUCHCASE"])
    assert missing.exit_code == 1 and "no case NOSUCHCASE" in missing.output


def test_case_show_and_list_flag_an_open_case_past_its_promised_date_and_show_results_and_evaluations(env):
    """An accepted, unconcluded case whose promisedBy has passed is flagged OVERDUE (TBS-EVT-011/012);
    a concluded one is not; show lists the case's results and evaluations."""
    from datetime import datetime, timezone

    store, _ = env
    cases = annex("B.2")["records"]
    events = annex("B.3")["records"]
    done_no, open_no = cases[0]["caseNo"], cases[1]["caseNo"]
    ingest(store, "case", cases)
    ingest(store, "case-event", events + [{**e, "caseNo": open_no} for e in events[:2]])   # submitted, accepted
    ingest(store, "result", annex("B.4")["records"])
    ingest(store, "evaluation", annex("B.5")["records"])
    promised = datetime.fromisoformat(cases[1]["promisedBy"])
    assert datetime.now(timezone.utc) > promised      # the worked example's date is in the past
    runner = CliRunner()
    shown = runner.invoke(main, ["case", "show", open_no])
    assert shown.exit_code == 0 and "OVERDUE" in shown.output and "ACCEPTED" in shown.output
    done = runner.invoke(main, ["case", "show", done_no])
    assert "OVERDUE" not in done.output and "concluded late" not in done.output     # concluded 11-05, due 11-16
    cert_no = annex("B.4")["records"][0]["certNo"]
    assert cert_no in done.output and "satisfaction 5" in done.output and "satisfaction 2" in done.output
    data = json.loads(runner.invoke(main, ["case", "show", done_no, "--format", "json"]).output)
    assert [r["certNo"] for r in data["results"]] == [cert_no] and len(data["evaluations"]) == 2
    listed = json.loads(runner.invoke(main, ["case", "list", "--format", "json"]).output)
    by_no = {c["caseNo"]: c for c in listed["cases"]}
    assert by_no[open_no]["open"] and by_no[open_no]["overdueSeconds"] > 0
    assert not by_no[done_no]["open"] and by_no[done_no]["overdueSeconds"] is None
    overdue = json.loads(runner.invoke(main, ["case", "list", "--overdue", "--format", "json"]).output)
    assert [c["caseNo"] for c in overdue["cases"]] == [open_no]
    text = runner.invoke(main, ["case", "list"], env={"COLUMNS": "120"})
    assert text.exit_code == 0 and open_no in text.output and "1 open case(s) past their promised date" in text.output
