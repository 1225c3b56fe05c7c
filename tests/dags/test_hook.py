"""TongbanHook: the provider entry point registers its connection type; store and registry come
from the connection ``tongban_default`` (then the environment); outside dag.test() a store the
workers cannot share is refused, and a worker without a registry gets an error saying so."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("airflow")

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "tongban" / "templates" / "partners.example.yaml"


def test_the_provider_entry_point_registers_the_tongban_connection_type():
    # a fresh interpreter: the providers manager caches what it discovered
    probe = ("from airflow.providers_manager import ProvidersManager as P\n"
             "m = P(); h = m.hooks['tongban']\n"
             "import json; print(json.dumps([h.hook_class_name, h.connection_type, 'tongban' in m.providers]))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == [
        "tongban.airflow_ext.hooks.TongbanHook", "tongban", True]


@pytest.fixture
def as_on_a_worker(monkeypatch):
    """The hook's checks as in a task process on a worker (not dag.test's in-process run)."""
    from tongban.airflow_ext import pools

    monkeypatch.setattr(pools, "in_process_test_run", lambda: False)


def test_the_connection_wins_over_the_environment(monkeypatch, tmp_path, as_on_a_worker):
    from tongban.airflow_ext.hooks import TongbanHook

    monkeypatch.setenv("TONGBAN_DATABASE_URL", "postgresql+psycopg://env@127.0.0.1/env")
    monkeypatch.setenv("TONGBAN_PARTNERS", str(tmp_path / "missing.yaml"))
    monkeypatch.setenv("AIRFLOW_CONN_TONGBAN_DEFAULT", json.dumps({
        "conn_type": "tongban", "extra": {"database_url": f"sqlite:///{tmp_path}/shared.db",
                                          "partners": str(EXAMPLE)}}))
    hook = TongbanHook()
    assert hook.store_url() == f"sqlite:///{tmp_path}/shared.db"
    assert hook.registry().path == EXAMPLE
    monkeypatch.delenv("AIRFLOW_CONN_TONGBAN_DEFAULT")
    assert TongbanHook().store_url() == "postgresql+psycopg://env@127.0.0.1/env"


@pytest.mark.parametrize("url, says", [
    (None, "no tongban store is configured"),
    ("sqlite:///tongban.db", "relative SQLite path 'tongban.db'"),
    ("sqlite://", "in-memory"),
    ("sqlite:///:memory:", "in-memory"),
])
def test_a_store_the_workers_cannot_share_is_refused(monkeypatch, url, says, as_on_a_worker):
    from tongban.airflow_ext.hooks import StoreConfigError, TongbanHook

    monkeypatch.delenv("AIRFLOW_CONN_TONGBAN_DEFAULT", raising=False)
    if url is None:
        monkeypatch.delenv("TONGBAN_DATABASE_URL", raising=False)
    else:
        monkeypatch.setenv("TONGBAN_DATABASE_URL", url)
    monkeypatch.setenv("AIRFLOW__CORE__EXECUTOR", "CeleryExecutor")
    with pytest.raises(StoreConfigError, match=says) as refused:
        TongbanHook().get_store()
    assert "CeleryExecutor" in str(refused.value)


def test_a_worker_without_a_registry_fails_saying_so(monkeypatch, tmp_path, as_on_a_worker):
    from tongban.airflow_ext.hooks import RegistryUnavailable, TongbanHook

    monkeypatch.delenv("AIRFLOW_CONN_TONGBAN_DEFAULT", raising=False)
    monkeypatch.setenv("TONGBAN_PARTNERS", str(tmp_path / "nowhere.yaml"))
    with pytest.raises(RegistryUnavailable, match="nowhere.yaml.*file not found"):
        TongbanHook().registry()


def test_metrics_refresh_uses_the_connection(monkeypatch, tmp_path):
    """metrics_refresh reads the store of the connection, not TONGBAN_DATABASE_URL."""
    from airflow.utils.state import DagRunState

    from tongban.airflow_ext.local import run_dag
    from tongban.store import Store

    wanted = f"sqlite:///{tmp_path}/connection.db"
    Store(wanted).ensure_schema()
    monkeypatch.setenv("TONGBAN_DATABASE_URL", f"sqlite:///{tmp_path}/environment.db")
    monkeypatch.setenv("TONGBAN_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("AIRFLOW_CONN_TONGBAN_DEFAULT", json.dumps({
        "conn_type": "tongban", "extra": {"database_url": wanted, "partners": str(EXAMPLE)}}))
    dr = run_dag("metrics_refresh")
    assert dr.state == DagRunState.SUCCESS
    report = json.loads((tmp_path / "home" / "report" / "report.json").read_text(encoding="utf-8"))
    assert report["metrics"]["rows"] is not None
    assert not (tmp_path / "environment.db").exists()   # the environment's store was never opened


@pytest.mark.parametrize("kind", ["folder", "object_storage"])
def test_the_report_goes_to_the_configured_artifacts_location(monkeypatch, tmp_path, kind):
    """metrics_refresh writes into a shared folder, or uploads to object storage through
    ObjectStoragePath (here fsspec's memory filesystem, which dag.test's in-process task shares
    with the test), never into the worker's TONGBAN_HOME."""
    from airflow.utils.state import DagRunState

    from tongban.airflow_ext.local import run_dag
    from tongban.store import Store

    store_url = f"sqlite:///{tmp_path}/store.db"
    Store(store_url).ensure_schema()
    location = str(tmp_path / "shared") if kind == "folder" else "memory://tongban-test/artifacts"
    if kind == "object_storage":  # what an installed provider does for s3:// or gs://
        import fsspec
        from airflow.sdk.io import attach

        attach("memory", fs=fsspec.filesystem("memory"))
    monkeypatch.setenv("TONGBAN_HOME", str(tmp_path / "worker-home"))
    monkeypatch.setenv("AIRFLOW_CONN_TONGBAN_DEFAULT", json.dumps({
        "conn_type": "tongban", "extra": {"database_url": store_url, "partners": str(EXAMPLE),
                                          "artifacts": location}}))
    dr = run_dag("metrics_refresh")
    assert dr.state == DagRunState.SUCCESS
    if kind == "folder":
        report = json.loads((tmp_path / "shared" / "report" / "report.json").read_text(encoding="utf-8"))
    else:
        import fsspec

        fs = fsspec.filesystem("memory")
        assert sorted(Path(p).name for p in fs.ls("/tongban-test/artifacts/report", detail=False)) == \
            ["index.html", "metrics.txt", "report.json"]
        report = json.loads(fs.cat("/tongban-test/artifacts/report/report.json"))
    assert "metrics" in report
    assert not (tmp_path / "worker-home" / "report").exists()


def test_a_worker_without_a_registry_gets_the_task_it_starts_failing_at_once(monkeypatch, tmp_path):
    """The DAG as the worker's task runner parses it (its ``parse(what, log)`` frame, stood in for
    by a function of that name and module): the task being started exists, so Airflow does not
    reschedule a "task not found", and it fails, never retried, with the registry's problem."""
    from types import SimpleNamespace

    from airflow.dag_processing.dagbag import DagBag

    monkeypatch.setenv("TONGBAN_PARTNERS", str(tmp_path / "nowhere.yaml"))
    monkeypatch.delenv("AIRFLOW_CONN_TONGBAN_DEFAULT", raising=False)
    runner = {"__name__": "airflow.sdk.execution_time.task_runner", "DagBag": DagBag,
              "path": str(ROOT / "dags" / "case_sync.py")}
    exec(compile("def parse(what, log=None):\n    return DagBag(dag_folder=path).dags\n", "task_runner", "exec"),
         runner)
    wanted = "sync_city_440100_GZZWFW.sync_case"
    dags = runner["parse"](SimpleNamespace(ti=SimpleNamespace(dag_id="case_sync", task_id=wanted)))
    (task,) = dags["case_sync"].tasks
    assert task.task_id == wanted and task.retries == 0
    # the dag-processor (no task starting) still shows one registry_error task
    assert [t.task_id for t in DagBag(dag_folder=runner["path"]).dags["case_sync"].tasks] == ["registry_error"]
