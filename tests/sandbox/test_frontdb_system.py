"""A sandbox county that publishes only through a front database: the bus syncs it and the
receipts show what was stored, held and rejected."""
from __future__ import annotations

import os

import yaml

from tongban.registry import load_registry
from tongban.sandbox.generate import generate_province
from tongban.sandbox.runtime import BUS_ID, partner_entry
from tongban.sandbox.frontdb import start_frontdb
from tongban.store import Store
from tongban.sync.engine import SyncEngine


def test_county_over_a_front_database(tmp_path, monkeypatch):
    monkeypatch.delenv("TONGBAN_SANDBOX_MARIADB_URL", raising=False)
    data = generate_province(7, cities=1, counties_per_city=1, items_per_county=3, cases_per_county=6)
    county = next(s for s in data.systems.values() if s.level == "county")
    running = start_frontdb(county, tmp_path, None)
    entry = {**partner_entry(running, None), "parent": BUS_ID}
    assert entry["transport"] == "frontdb" and "://" not in yaml.safe_dump(entry)
    (tmp_path / "partners.yaml").write_text(yaml.safe_dump({"bus": {"system_id": BUS_ID, "admission": "off"},
                                                            "partners": [entry]}))
    store = Store(f"sqlite:///{tmp_path / 'store.db'}")
    store.upgrade()
    report = SyncEngine(store, load_registry(tmp_path / "partners.yaml")).sync(county.system_id, "case")
    assert report.status == "SUCCESS"
    from tongban.connectors.frontdb.database import FrontDatabase
    from tongban.connectors.frontdb.profile import load_profile

    p = load_profile("NATIONAL-EXCHANGE")
    db = FrontDatabase(os.environ[entry["database_url_env"]], p, p.tables_for(set(county.roles)))
    db_receipts = db.receipts()
    rules = {r["rule_ids"] for r in db_receipts if r["outcome"] == "REJECTED"}
    held = [r for r in db_receipts if r["outcome"] == "HELD"]
    db.close()
    assert {"TBS-LP-034", "TBS-LP-036", "TBS-LP-022"} <= rules
    # the step written before its case waited for it and was stored when it came (TBS-LP-045, -047)
    from tongban.connectors.frontdb.writer import guid

    early = [r for r in db_receipts if r["row_guid"] == guid("sandbox", "early-step")]
    assert [r["outcome"] for r in early] == ["STORED"]
    assert "up_pro_process" not in {r["table_name"] for r in held}
    assert report.counts.stored > 20


def test_the_planted_early_step_is_held_then_stored_when_its_case_arrives(tmp_path, monkeypatch):
    """TBS-LP-045, -047 (TBS-SYNC-007): the sandbox's step written before its case is HELD with
    dependsOn TBS-EVT-009 and, once the case's accept row arrives in a later batch, its receipt
    is rewritten STORED and the step is numbered after the case's SUBMIT and ACCEPT."""
    import json
    from datetime import datetime, timedelta

    from tongban.connectors.frontdb.database import FrontDatabase
    from tongban.connectors.frontdb.profile import load_profile
    from tongban.connectors.frontdb.writer import guid
    from tongban.model.clock import CST
    from tongban.registry import PartnerConfig
    from tongban.sandbox.frontdb import legacy_writer
    from tongban.sync.export import export_current
    from tongban.sync.frontdb import FrontdbSync

    data = generate_province(7, cities=1, counties_per_city=1, items_per_county=3, cases_per_county=6)
    county = next(s for s in data.systems.values() if s.level == "county")
    p = load_profile("NATIONAL-EXCHANGE")
    db = FrontDatabase(f"sqlite:///{tmp_path / 'front.db'}", p, p.tables_for(set(county.roles)))
    db.create_schema()
    store = Store(f"sqlite:///{tmp_path / 'store.db'}")
    store.upgrade()
    w = legacy_writer(county)
    w.batches.sort(key=lambda b: b.at)  # the order write() commits them in
    early_guid, parent_guid = guid("sandbox", "early-step"), guid("sandbox", "late-accept")
    parent_at = next(i for i, b in enumerate(w.batches) if any(r["row_guid"] == parent_guid for _, r in b.rows))
    early_at = next(i for i, b in enumerate(w.batches) if any(r["row_guid"] == early_guid for _, r in b.rows))
    assert early_at < parent_at
    orphan = next(r for _, r in w.batches[parent_at].rows)["project_no"]
    partner = PartnerConfig(id=county.system_id, transport="frontdb", database_url_env="UNUSED",
                            profile="NATIONAL-EXCHANGE 1.0", roles=list(county.roles),
                            evaluation_dialect="HCP-NATIONAL")
    now = datetime.strptime(w.batches[parent_at].at, "%Y-%m-%d %H:%M:%S").replace(tzinfo=CST) + timedelta(minutes=1)
    sync = FrontdbSync(store, None, partner, front=db, clock=lambda: now)
    w.write(db.engine, start=0, stop=parent_at)
    sync.poll()
    held = [r for r in db.receipts() if r["row_guid"] == early_guid]
    assert [r["outcome"] for r in held] == ["HELD"]
    assert [(f["ruleId"], f["dependsOn"], f["location"]) for f in json.loads(held[0]["findings"])] == [
        ("TBS-SYNC-007", "TBS-EVT-009", "/caseNo")]
    assert not [e for e in map(json.loads, export_current(store, "case-event")) if e["caseNo"] == orphan]
    w.write(db.engine, start=parent_at)
    sync.poll()
    released = [r for r in db.receipts() if r["row_guid"] == early_guid]
    assert [(r["cd_batch"], r["outcome"], r["rule_ids"]) for r in released] == [(held[0]["cd_batch"], "STORED", "")]
    events = [e for e in map(json.loads, export_current(store, "case-event")) if e["caseNo"] == orphan]
    assert [(e["seq"], e["type"], e["stepName"]) for e in events] == [
        (1, "SUBMIT", events[0]["stepName"]), (2, "ACCEPT", events[1]["stepName"]), (3, "REVIEW_STEP", "审查")]
    db.close()
    store.dispose()


def test_provincial_department_over_an_ea_jc_step_front_database(tmp_path, monkeypatch):
    """The sandbox's provincial department publishes through EA-JC-STEP: its registry entry
    names the profile, and a sync through the engine stores its cases and writes receipts
    (the planted filing step REJECTED under TBS-LP-034)."""
    from tongban.connectors.frontdb.database import FrontDatabase
    from tongban.connectors.frontdb.profile import load_profile
    from tongban.sandbox.frontdb import provincial_department

    monkeypatch.delenv("TONGBAN_SANDBOX_MARIADB_URL", raising=False)
    data = generate_province(7, cities=1, counties_per_city=1, items_per_county=3, cases_per_county=6)
    dept = provincial_department(data)
    running = start_frontdb(dept, tmp_path, None)
    entry = {**partner_entry(running, None), "parent": BUS_ID}
    assert (entry["transport"], entry["profile"]) == ("frontdb", "EA-JC-STEP 1.0")
    assert "evaluation_dialect" not in entry  # no EVALUATION_REPORTER: no dialect (TBS-LP-160)
    (tmp_path / "partners.yaml").write_text(yaml.safe_dump({"bus": {"system_id": BUS_ID, "admission": "off"},
                                                            "partners": [entry]}))
    store = Store(f"sqlite:///{tmp_path / 'store.db'}")
    store.upgrade()
    report = SyncEngine(store, load_registry(tmp_path / "partners.yaml")).sync(dept.system_id, "case")
    assert report.status == "SUCCESS", report.error
    p = load_profile("EA-JC-STEP")
    db = FrontDatabase(os.environ[entry["database_url_env"]], p, p.tables_for(set(dept.roles)))
    receipts = db.receipts()
    db.close()
    assert {r["table_name"] for r in receipts} >= {"EA_JC_STEP_BASICINFO", "EA_JC_STEP_PROC", "EA_JC_STEP_DONE"}
    assert {r["rule_ids"] for r in receipts if r["outcome"] == "REJECTED"} == {"TBS-LP-034"}
    n_cases = len({c["caseNo"] for c in dept.records("case")})
    assert report.counts.stored >= n_cases + 1  # every case, the planted one included, and their steps


def test_a_sandbox_with_a_front_database_county_certified_and_synced(tmp_path, monkeypatch):
    """What ``make demo`` runs: the sandbox serves its last directly pulled county through a front
    database; the kit certifies it as a FRONTDB writer (LP-22), admission (enforced) lets it be
    synced, and the run is recorded with the counts of its receipts."""
    from tongban.conformance.admission import is_admitted, record_certificate
    from tongban.conformance.onboard import certify_frontdb_writer
    from tongban.sandbox.runtime import Sandbox
    from tongban.sync.engine import NotAdmitted

    monkeypatch.delenv("TONGBAN_SANDBOX_MARIADB_URL", raising=False)
    with Sandbox(tmp_path / "sb", cities=2, counties=2, transports=("rest",), hierarchy="mixed", insecure_http=True,
                 frontdb_county=True) as sandbox:
        front = [r for r in sandbox.running if r.transport == "frontdb"]
        assert len(front) == 1 and front[0].system.level == "county" and front[0].direct
        county = front[0]
        registry = load_registry(sandbox.registry_file)
        assert registry.get(county.system.system_id).transport.value == "frontdb"
        store = Store(f"sqlite:///{tmp_path / 'store.db'}")
        store.upgrade()
        engine = SyncEngine(store, registry, admission=is_admitted)
        try:
            engine.sync(county.system.system_id, "case")
            raise AssertionError("an uncertified FRONTDB partner was synced")
        except NotAdmitted:
            pass
        result = certify_frontdb_writer(county.system.system_id, list(county.system.roles),
                                        profile=county.registry_extra["profile"],
                                        database_url=os.environ[county.registry_extra["database_url_env"]])
        assert set(result["verdicts"].values()) == {"CONFORMANT"}
        record_certificate(store, result["certificate"])
        report = engine.sync(county.system.system_id, "case")
        assert report.status == "SUCCESS", report.error
        assert report.counts.stored > 20 and report.counts.rejected >= 3  # the planted rows' receipts
        from tongban.connectors.frontdb.database import FrontDatabase
        from tongban.connectors.frontdb.profile import load_profile
        from tongban.connectors.frontdb.writer import guid

        p = load_profile("NATIONAL-EXCHANGE")
        db = FrontDatabase(os.environ[county.registry_extra["database_url_env"]], p, p.tables_for(set(county.system.roles)))
        outcomes = {r["row_guid"]: r["outcome"] for r in db.receipts()}
        db.close()
        # the step before its case, and the case that arrives later, are both stored
        assert outcomes[guid("sandbox", "early-step")] == outcomes[guid("sandbox", "late-accept")] == "STORED"
