"""The DAGs: every file imports cleanly, the structure follows the registry (one task group
and pool per partner), and a real ``dag.test()`` run of case_sync against the sandbox lands
the rows — and lands nothing new the second time."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

pytest.importorskip("airflow")

from airflow.dag_processing.dagbag import DagBag  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "tongban" / "templates" / "partners.example.yaml"


def _bag() -> DagBag:
    return DagBag(dag_folder=str(ROOT / "dags"))


def test_every_dag_file_imports_without_errors(monkeypatch):
    monkeypatch.setenv("TONGBAN_PARTNERS", str(EXAMPLE))
    bag = _bag()
    assert bag.import_errors == {}
    files = {p.stem for p in (ROOT / "dags").glob("*.py") if not p.name.startswith("_")}
    assert files <= set(bag.dag_ids), f"DAG files without a DAG of the same name: {files - set(bag.dag_ids)}"


def test_case_sync_has_one_group_and_pool_per_partner(monkeypatch):
    monkeypatch.setenv("TONGBAN_PARTNERS", str(EXAMPLE))
    dag = _bag().dags["case_sync"]
    pools = {t.task_id: t.pool for t in dag.tasks}
    # the example registry has two case reporters: the Guangzhou city (REST) and Liwan county (SOAP)
    assert pools["sync_city_440100_GZZWFW.sync_case"] == "partner_city_440100_GZZWFW"
    assert pools["sync_county_440103_LWZWFW.sync_case_event"] == "partner_county_440103_LWZWFW"
    assert dag.get_task("sync_city_440100_GZZWFW.sync_case_event").upstream_task_ids == \
        {"sync_city_440100_GZZWFW.sync_case"}
    assert not any("YXZWFW" in t for t in pools)  # a result publisher only: no case sync
    summarize = dag.get_task("summarize")
    assert [o.uri for o in summarize.outlets] == ["tongban://store/case", "tongban://store/case-event"]


def test_a_broken_registry_surfaces_as_a_failing_task_not_an_import_error(monkeypatch, tmp_path):
    bad = tmp_path / "partners.yaml"
    bad.write_text("bus: {system_id: nope}\n")
    monkeypatch.setenv("TONGBAN_PARTNERS", str(bad))
    bag = _bag()
    assert bag.import_errors == {}
    assert [t.task_id for t in bag.dags["case_sync"].tasks] == ["registry_error"]


@pytest.fixture(scope="module")
def airflow_db():
    from tongban.airflow_ext.local import ensure_metadata_db

    ensure_metadata_db()


@pytest.fixture
def sandbox(tmp_path, monkeypatch):
    from tongban.sandbox.runtime import Sandbox

    monkeypatch.setenv("TONGBAN_DATABASE_URL", f"sqlite:///{tmp_path / 'store.db'}")
    with Sandbox(tmp_path / "sandbox", seed=11, cities=1, counties=2, admission="off") as sb:
        monkeypatch.setenv("TONGBAN_PARTNERS", str(sb.registry_file))
        yield sb


def test_case_sync_dag_run_lands_the_rows_and_a_rerun_adds_none(airflow_db, sandbox):
    from airflow.utils.state import DagRunState
    from sqlalchemy import func, select

    from tongban.airflow_ext.local import run_dag
    from tongban.store import Store
    from tongban.store.schema import CaseEventRecord, CaseRecord, LedgerEntry, QuarantineEntry

    # a re-reported case appears in the feed once per version; the store keeps the current one
    expected_cases = len({c["caseNo"] for r in sandbox.running if "case" in r.system.provides
                          for c in r.system.records("case")})
    expected_events = sum(len(r.system.records("case-event")) for r in sandbox.running
                          if "case-event" in r.system.provides)
    dr = run_dag("case_sync")
    assert dr.state == DagRunState.SUCCESS
    store = Store()
    with store.reading() as s:
        count = lambda t: s.execute(select(func.count()).select_from(t)).scalar_one()  # noqa: E731
        assert count(QuarantineEntry) == 0
        assert (count(CaseRecord), count(CaseEventRecord)) == (expected_cases, expected_events)
        ledger_after_first = count(LedgerEntry)
    dr2 = run_dag("case_sync")
    assert dr2.state == DagRunState.SUCCESS
    with store.reading() as s:
        assert (count(CaseRecord), count(CaseEventRecord)) == (expected_cases, expected_events)
        assert count(LedgerEntry) > ledger_after_first  # the no-op run is recorded too


def _expected_current(sandbox, dataset: str) -> list[str]:
    """What the province should hold: every served record, the highest version per key."""
    from tongban.model.canonical import canonical_bytes
    from tongban.model.datasets import Dataset

    ds = Dataset(dataset)
    current: dict[tuple, dict] = {}
    for r in sandbox.running:
        if dataset not in r.system.provides:
            continue
        for rec in r.system.records(dataset):
            key = tuple(rec[m] for m in ds.key_members)
            if not ds.versioned or key not in current or rec["version"] > current[key]["version"]:
                current[key] = rec
    return sorted(canonical_bytes(v).decode() for v in current.values())


@pytest.fixture
def mixed_sandbox(tmp_path, monkeypatch):
    from tongban.sandbox.runtime import Sandbox

    monkeypatch.setenv("TONGBAN_DATABASE_URL", f"sqlite:///{tmp_path / 'store.db'}")
    with Sandbox(tmp_path / "sandbox", seed=23, cities=2, counties=2, transports=("rest", "soap", "filedrop"),
                 admission="off", hierarchy="mixed") as sb:
        monkeypatch.setenv("TONGBAN_PARTNERS", str(sb.registry_file))
        yield sb


ALL_DAGS = ("catalog_sync", "case_sync", "result_sync", "evaluation_sync")


def test_every_sync_dag_lands_exactly_the_sandbox_data_and_a_rerun_changes_nothing(airflow_db, mixed_sandbox):
    """Province, 2 cities, 4 counties over REST, SOAP and file drop: the province store holds
    exactly the sandbox's data, compared by content hash per dataset; rerunning every DAG adds
    no row and the ledger records the no-op runs."""
    from airflow.utils.state import DagRunState
    from sqlalchemy import func, select

    from tongban.airflow_ext.local import run_dag
    from tongban.store import Store
    from tongban.store.schema import LedgerEntry, QuarantineEntry, ResultRecord
    from tongban.sync.export import export_current

    assert {r.transport for r in mixed_sandbox.running} == {"rest", "soap", "filedrop"}
    assert sum(r.system.level == "county" for r in mixed_sandbox.running) >= 4
    for dag_id in ALL_DAGS:
        assert run_dag(dag_id).state == DagRunState.SUCCESS, dag_id
    store = Store()
    snapshot = {}
    for dataset in ("catalog", "case", "case-event", "result", "evaluation"):
        stored = sorted(export_current(store, dataset))
        assert stored == _expected_current(mixed_sandbox, dataset), dataset
        snapshot[dataset] = stored
    with store.reading() as s:
        assert s.execute(select(func.count()).select_from(QuarantineEntry)).scalar_one() == 0
        verified = s.execute(select(func.count()).select_from(ResultRecord)
                             .where(ResultRecord.document_verified.is_(True))).scalar_one()
        with_docs = s.execute(select(func.count()).select_from(ResultRecord)
                              .where(ResultRecord.document_sha256.is_not(None))).scalar_one()
        assert verified == with_docs > 0  # every document arrived by file drop and matched
        ledger_before = s.execute(select(func.count()).select_from(LedgerEntry)).scalar_one()
    for dag_id in ALL_DAGS:
        assert run_dag(dag_id).state == DagRunState.SUCCESS, dag_id
    for dataset, stored in snapshot.items():
        assert sorted(export_current(store, dataset)) == stored, dataset
    # county → city → province: the first city's counties were not pulled for case-linked data;
    # their cases arrived through the city's relayed feed (三级数据直连 for the others).
    from tongban.store.schema import CaseRecord, SyncRun

    relayed = {r.system.system_id for r in mixed_sandbox.running if not r.direct}
    assert relayed and all(r.system.level == "county" for r in mixed_sandbox.running if not r.direct)
    with store.reading() as s:
        pulled = set(s.execute(select(SyncRun.partner_id, SyncRun.dataset)).all())
        relay_sources = set(s.execute(select(CaseRecord.source).where(CaseRecord.region_code.in_(
            [r.system.region_code for r in mixed_sandbox.running if not r.direct]))).scalars())
    assert not {(p, d) for p, d in pulled if p in relayed and d != "catalog"}
    assert {(p, "catalog") for p in relayed} <= pulled  # the catalog always comes from its implementer
    assert relay_sources == {next(r.system.parent_id for r in mixed_sandbox.running if not r.direct)}
    with store.reading() as s:
        assert s.execute(select(func.count()).select_from(LedgerEntry)).scalar_one() > ledger_before


def test_only_certified_partners_are_synced(airflow_db, tmp_path, monkeypatch):
    """TBS-CONF-008 at the admission gate: with the gate enforced, case_sync syncs the county
    the conformance suite certified as CASE_REPORTER and skips the uncertified city."""
    from airflow.utils.state import DagRunState
    from sqlalchemy import select

    from tongban.airflow_ext.local import run_dag
    from tongban.conformance.onboard import certify_partner, record_partner_certificate
    from tongban.sandbox.runtime import Sandbox
    from tongban.store import Store
    from tongban.store.schema import CaseRecord, SyncRun

    monkeypatch.setenv("TONGBAN_DATABASE_URL", f"sqlite:///{tmp_path / 'store.db'}")
    with Sandbox(tmp_path / "sandbox", seed=5, cities=1, counties=1) as sb:
        monkeypatch.setenv("TONGBAN_PARTNERS", str(sb.registry_file))
        county = next(r.system for r in sb.running if r.system.level == "county")
        result = certify_partner(county.system_id, ["CASE_REPORTER"], out_root=str(tmp_path / "certs"))
        assert result["verdicts"] == {"CASE_REPORTER": "CONFORMANT"}
        record_partner_certificate(result)
        assert run_dag("case_sync").state == DagRunState.SUCCESS
    with Store().reading() as s:
        synced = set(s.execute(select(SyncRun.partner_id).where(SyncRun.status == "SUCCESS")).scalars())
        skipped = set(s.execute(select(SyncRun.partner_id).where(SyncRun.status == "SKIPPED")).scalars())
        sources = set(s.execute(select(CaseRecord.source)).scalars())
    assert synced == sources == {county.system_id}
    assert skipped and county.system_id not in skipped  # the uncertified city, recorded as skipped


def test_a_run_where_every_partner_was_skipped_fails_and_emits_no_asset_event(airflow_db, tmp_path, monkeypatch):
    """Nobody certified, the gate enforced: case_sync synced nothing, so the run fails (its
    summarize task names the skipped partners), no Asset event is emitted, and `tongban status`
    lists every skipped partner with its datasets."""
    from airflow.models.asset import AssetEvent
    from airflow.utils.session import create_session
    from airflow.utils.state import DagRunState, TaskInstanceState
    from click.testing import CliRunner
    from sqlalchemy import func, select

    from tongban.airflow_ext.local import run_dag
    from tongban.cli import main
    from tongban.sandbox.runtime import Sandbox

    monkeypatch.setenv("TONGBAN_DATABASE_URL", f"sqlite:///{tmp_path / 'store.db'}")
    with Sandbox(tmp_path / "sandbox", seed=5, cities=1, counties=1) as sb:
        monkeypatch.setenv("TONGBAN_PARTNERS", str(sb.registry_file))
        reporters = sorted(r.system.system_id for r in sb.running if "CASE_REPORTER" in r.system.roles
                           and r.direct)
        dr = run_dag("case_sync")
        assert dr.state == DagRunState.FAILED
        states = {ti.task_id: ti.state for ti in dr.get_task_instances()}
        assert states["summarize"] == TaskInstanceState.FAILED
        assert {s for t, s in states.items() if t.startswith("sync_")} == {TaskInstanceState.SKIPPED}
        with create_session() as session:
            events = session.scalar(select(func.count()).select_from(AssetEvent)
                                    .where(AssetEvent.source_run_id == dr.run_id))
        assert events == 0
        status = CliRunner().invoke(main, ["status", "--format", "json"])
        assert status.exit_code == 0, status.output
        import json

        report = json.loads(status.output[status.output.index("{"):])
        skipped = {(p["partnerId"], f["dataset"]) for p in report["partners"] for f in p["feeds"]
                   if f["lastRunStatus"] == "SKIPPED" and "TBS-CONF-008" in (f["skippedReason"] or "")}
        assert {pid for pid, _ in skipped} == set(reporters) and reporters
        text = CliRunner().invoke(main, ["status"]).output
        assert "not admitted (TBS-CONF-008)" in text and all(pid in text.split("not admitted")[1]
                                                            for pid in reporters)


def test_catalog_sync_publishes_the_basic_catalog_down_to_consumers(airflow_db, tmp_path, monkeypatch):
    """The province's basic catalog flows down: after the pulls, catalog_sync pushes the
    province-level items to every CATALOG_CONSUMER (signed, acknowledged, in the ledger);
    a second run offers nothing new."""
    from airflow.utils.state import DagRunState
    from sqlalchemy import select

    from tongban.airflow_ext.local import run_dag
    from tongban.model.codes import region_shape
    from tongban.sandbox.runtime import Sandbox
    from tongban.store import Store
    from tongban.store.schema import LedgerEntry, Publication

    monkeypatch.setenv("TONGBAN_DATABASE_URL", f"sqlite:///{tmp_path / 'store.db'}")
    with Sandbox(tmp_path / "sandbox", seed=13, cities=2, counties=1, admission="off") as sb:
        monkeypatch.setenv("TONGBAN_PARTNERS", str(sb.registry_file))
        assert run_dag("catalog_sync").state == DagRunState.SUCCESS
        consumers = {r.system.system_id for r in sb.running if "CATALOG_CONSUMER" in r.system.roles}
        basic = {c["implCode"]: r.system.system_id for r in sb.running for c in r.system.records("catalog")
                 if region_shape(c["regionCode"]) == "province"}
        with Store().reading() as s:
            rows = set(s.execute(select(Publication.partner_id, Publication.record_key)).all())
            out = s.execute(select(LedgerEntry.receiver, LedgerEntry.verdict)
                            .where(LedgerEntry.direction == "OUT")).all()
        assert basic and consumers
        assert rows == {(c, code) for c in consumers for code, owner in basic.items() if owner != c}
        assert out and {v for _, v in out} == {"ACCEPTED"} and {r for r, _ in out} <= consumers
        assert run_dag("catalog_sync").state == DagRunState.SUCCESS
        with Store().reading() as s:
            again = s.execute(select(LedgerEntry).where(LedgerEntry.direction == "OUT")).all()
        assert len(again) == len(out)


def test_onboard_partner_certifies_a_file_drop_partner_with_attestations(airflow_db, tmp_path, monkeypatch):
    """Through the DAG: a sandbox file-drop partner pushes, the suite withholds one
    acknowledgement and the partner resends it (COM-05, TBS-SYNC-001), its case events span
    several batches (CR-04); with the attestations the suite cannot observe (TBS-CONF-009:
    COM-01 over FILE, ER-04) given as the DAG's parameter, every provider role is CONFORMANT
    and the certificate is recorded for admission."""
    from airflow.utils.state import DagRunState

    from tongban.airflow_ext.local import run_dag
    from tongban.conformance.admission import is_admitted
    from tongban.sandbox.runtime import Sandbox
    from tongban.store import Store

    monkeypatch.setenv("TONGBAN_DATABASE_URL", f"sqlite:///{tmp_path / 'store.db'}")
    with Sandbox(tmp_path / "sandbox", seed=5, cities=1, counties=1, transports=("filedrop",)) as sb:
        monkeypatch.setenv("TONGBAN_PARTNERS", str(sb.registry_file))
        system = next(r.system for r in sb.running if r.transport == "filedrop")
        roles = [r for r in system.roles if r != "CATALOG_CONSUMER"]
        attestations = {"COM-01": {"result": "PASS", "statement": "one SFTP account per sender"},
                        "ER-04": {"result": "PASS", "statement": "citizen evaluations only"}}
        dr = run_dag("onboard_partner", {"system_id": system.system_id, "roles": roles,
                                         "attestations": attestations})
        assert dr.state == DagRunState.SUCCESS
        result = next(ti for ti in dr.get_task_instances() if ti.task_id == "record").xcom_pull(task_ids="record")
        assert result["verdicts"] == {r: "CONFORMANT" for r in roles}
        store = Store()
        assert is_admitted(store, system.system_id, "CASE_REPORTER", "TBS-1.0", "filedrop")
        # without the attestations the same partner cannot be certified over FILE (COM-01 unobservable)
        bare = run_dag("onboard_partner", {"system_id": system.system_id, "roles": ["CASE_REPORTER"]})
        verdicts = next(ti for ti in bare.get_task_instances() if ti.task_id == "record").xcom_pull(task_ids="record")
        assert verdicts["verdicts"] == {"CASE_REPORTER": "NOT_CONFORMANT"}


def test_bad_attestations_are_refused_naming_the_test(tmp_path):
    from tongban.conformance.onboard import OnboardingError, check_attestations

    with pytest.raises(OnboardingError, match="'ER-04'.*PASS"):
        check_attestations({"ER-04": {"result": "MAYBE", "statement": "x"}})
    with pytest.raises(OnboardingError, match="'COM-01'.*statement"):
        check_attestations({"COM-01": {"result": "PASS"}})
