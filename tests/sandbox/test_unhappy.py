"""The unhappy paths planted into a running sandbox reach the bus as they should: the invalid
cases are quarantined with the rule they break, the event whose Case arrives later is held and
then released, the one whose Case never arrives stays held (and expires after its timeout)."""
from __future__ import annotations

import json

from click.testing import CliRunner
from sqlalchemy import select

from tongban.cli import main
from tongban.sandbox.generate import generate_province
from tongban.sandbox.unhappy import plan_unhappy_paths
from tongban.validators import ValidationContext
from tongban.validators.engine import validate_record


def test_each_planted_invalid_case_fails_validation_and_the_others_are_valid():
    data = generate_province(7, cities=1, counties_per_city=1)
    county = next(s for s in data.systems.values() if s.level == "county")
    plan = plan_unhappy_paths(county)
    for dataset, record in plan.now + plan.later:
        report = validate_record(dataset, record, index=0, writer=None, context=ValidationContext())
        errors = [i.rule_id for i in report.items if i.severity.value == "ERROR"]
        assert bool(errors) == (record["caseNo"] in plan.invalid and dataset == "case"), (record["caseNo"], errors)
    existing = {c["caseNo"] for c in county.records("case")}
    assert not existing & ({*plan.invalid, *plan.released, *plan.expiring})


def test_a_running_sandbox_shows_quarantine_hold_release(tmp_path, monkeypatch):
    from tongban.sandbox.runtime import Sandbox
    from tongban.store import Store
    from tongban.store.schema import CaseEventRecord, HeldRecord, QuarantineEntry

    monkeypatch.setenv("TONGBAN_DATABASE_URL", f"sqlite:///{tmp_path / 'store.db'}")
    runner = CliRunner()
    with Sandbox(tmp_path / "sandbox", seed=7, cities=1, counties=1, admission="off") as sb:
        monkeypatch.setenv("TONGBAN_PARTNERS", str(sb.registry_file))
        plan = sb.plant_unhappy_paths()
        assert "hold_timeout: PT1M" in sb.registry_file.read_text(encoding="utf-8")
        for dataset in ("case", "case-event"):
            done = runner.invoke(main, ["sync", "--partner", plan.system_id, "--dataset", dataset])
            assert done.exit_code == 0, done.output
        store = Store()
        with store.reading() as s:
            quarantined = {q.record_key: q.rule_ids for q in s.scalars(select(QuarantineEntry))}
            held = {json.loads(c)["caseNo"] for c in s.scalars(select(HeldRecord.content))}
        assert {k for k in quarantined if any(n in k for n in plan.invalid)} and len(quarantined) == 2
        assert sorted(rules.split()[0] for rules in quarantined.values()) == ["TBS-CASE-004", "TBS-CODE-017"]
        assert held == {*plan.released, *plan.expiring}
        sb.deliver_late()
        for dataset in ("case", "case-event"):
            assert runner.invoke(main, ["sync", "--partner", plan.system_id, "--dataset", dataset]).exit_code == 0
        with store.reading() as s:
            held = {json.loads(c)["caseNo"] for c in s.scalars(select(HeldRecord.content))}
            released = set(s.scalars(select(CaseEventRecord.case_no).where(CaseEventRecord.case_no.in_(plan.released))))
        assert held == set(plan.expiring) and released == set(plan.released)
        store.dispose()
