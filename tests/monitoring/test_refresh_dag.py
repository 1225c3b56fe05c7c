"""The metrics_refresh DAG: scheduled on any of the five store Assets the sync DAGs emit, and
its task rewrites $TONGBAN_HOME/report from the store."""
from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest

from tongban.monitoring.refresh import refresh_report, report_dir

ROOT = Path(__file__).resolve().parents[2]
STORE_URIS = {f"tongban://store/{d}" for d in ("catalog", "case", "case-event", "result", "evaluation")}


def test_refresh_writes_the_report_under_tongban_home(world, tmp_path, monkeypatch):
    monkeypatch.setenv("TONGBAN_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("TONGBAN_DATABASE_URL", world.store.url)
    monkeypatch.setenv("TONGBAN_PARTNERS", str(world.registry_file))
    summary = refresh_report()
    assert report_dir() == tmp_path / "home" / "report"
    assert sorted(Path(f).name for f in summary["files"]) == ["index.html", "metrics.txt", "report.json"]
    assert all(Path(f).parent == report_dir() for f in summary["files"])
    data = json.loads((report_dir() / "report.json").read_text(encoding="utf-8"))
    assert summary["cases"] == next(r["cases"] for r in data["metrics"]["rows"] if r["scope"] == "province") > 0
    assert summary["twoSkins"] == len(world.data.planted_two_skins)
    assert summary["manyNames"] == len(world.data.planted_many_names)
    assert summary["nearDuplicates"] == len(world.data.planted_near_duplicates)
    # wall-clock instant: later than the sandbox's, so at least the sandbox's overdue cases
    assert summary["overdueCases"] >= len(world.data.overdue_at_now)
    assert datetime.fromisoformat(summary["generatedAt"]) > datetime.fromisoformat(world.data.now)


def test_the_dag_is_scheduled_on_any_store_asset_and_runs_the_refresh(world, tmp_path, monkeypatch):
    pytest.importorskip("airflow")
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(ROOT / "dags" / "metrics_refresh.py"))
    assert bag.import_errors == {}
    dag = bag.dags["metrics_refresh"]
    condition = dag.timetable.asset_condition          # schedule=[a | b | …]: AssetAll(AssetAny(…))
    (any_of,) = condition.objects
    assert type(any_of).__name__ == "AssetAny"
    assert {a.uri for a in any_of.objects} == STORE_URIS
    (task,) = dag.tasks
    assert task.task_id == "refresh_report"
    assert [o.uri for o in task.outlets] == ["tongban://monitoring/report"]
    monkeypatch.setenv("TONGBAN_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("TONGBAN_DATABASE_URL", world.store.url)
    monkeypatch.setenv("TONGBAN_PARTNERS", str(world.registry_file))
    summary = task.python_callable()   # the task body itself, without a scheduler
    assert (tmp_path / "home" / "report" / "index.html").is_file()
    assert summary["twoSkins"] == len(world.data.planted_two_skins)
