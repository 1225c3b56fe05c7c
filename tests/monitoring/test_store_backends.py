"""The monitoring queries on both store backends (SQLite here, PostgreSQL where
TONGBAN_TEST_PG_URL is set): a small sandbox synced for real, then status, metrics,
consistency and OpenMetrics read back the same numbers as the generated data."""
from __future__ import annotations

from datetime import datetime, timezone

from monitoring_oracle import expected_metrics
from prometheus_client.openmetrics.parser import text_string_to_metric_families

from tongban.model.datasets import DATASETS
from tongban.monitoring.consistency import consistency_report, store_sources
from tongban.monitoring.metrics import metrics_from_store
from tongban.monitoring.openmetrics import exposition
from tongban.monitoring.runs import feed_statuses
from tongban.registry import load_registry
from tongban.sandbox.runtime import Sandbox
from tongban.sync.engine import SyncEngine

TIMESTAMP = {"catalog": "updatedAt", "case": "submittedAt", "case-event": "occurredAt", "result": "issuedAt",
             "evaluation": "assessedAt"}


def test_monitoring_reads_the_same_numbers_on_each_backend(store, tmp_path):
    with Sandbox(tmp_path / "sandbox", seed=31, cities=1, counties=2, admission="off") as sandbox:
        registry = load_registry(sandbox.registry_file)
        engine = SyncEngine(store, registry, trigger="test")
        for p in registry.partners:
            for ds in DATASETS:
                if ds in p.datasets:
                    engine.sync(p.id, ds)
    data = sandbox.data
    now = datetime.now(timezone.utc)
    feeds = {(f.partner_id, f.dataset): f for f in feed_statuses(store, registry, now=now)}
    for system in data.systems.values():
        for ds in system.provides:
            f = feeds[(system.system_id, ds)]
            own = system.records(ds)
            assert f.totals["pulled"] == f.totals["stored"] == len(own)
            newest = max(datetime.fromisoformat(r[TIMESTAMP[ds]]) for r in own)
            assert datetime.fromisoformat(f.newest_source_at) == newest
            assert f.last_run_status == "SUCCESS" and f.failures_24h == []

    at = datetime.fromisoformat(data.now)
    expected = expected_metrics(data, at)
    report = metrics_from_store(store, at)
    assert {(r.scope, r.key) for r in report.rows} == set(expected)
    for r in report.rows:
        e = expected[(r.scope, r.key)]
        assert (r.cases, r.items_active, r.overdue_cases, r.evaluations) == \
               (e["cases"], e["items_active"], e["overdue_cases"], e["evaluations"])

    assert data.planted_many_names
    consistency = consistency_report(store_sources(store))
    assert {m.item_code for m in consistency.many_names} == {p["itemCode"] for p in data.planted_many_names}
    assert consistency.two_skins.count == 0      # nothing relayed here: one source per item

    families = list(text_string_to_metric_families(exposition(store, registry, now=now).decode("utf-8")))
    assert {f.name for f in families} >= {"tongban_sync_records", "tongban_sync_runs", "tongban_metric"}
