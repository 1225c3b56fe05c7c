"""OpenMetrics output parses with prometheus_client's OpenMetrics parser and carries the real
sync counters; ``tongban serve``'s app serves it at /metrics over real HTTP on loopback,
next to the live dashboard and its JSON."""
from __future__ import annotations

from datetime import datetime

import httpx
import pytest
from prometheus_client.openmetrics.parser import text_string_to_metric_families

from tongban.connectors.serving import ServerThread
from tongban.monitoring.app import create_app
from tongban.monitoring.metrics import metrics_from_store
from tongban.monitoring.openmetrics import exposition


def _samples(text: str) -> dict[tuple[str, tuple], float]:
    out = {}
    for family in text_string_to_metric_families(text):   # raises on any grammar violation
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def _value(samples, name, **labels):
    return samples[(name, tuple(sorted(labels.items())))]


@pytest.fixture(scope="module")
def at(world):
    return datetime.fromisoformat(world.data.now)


@pytest.fixture(scope="module")
def live(world, at):
    server = ServerThread(create_app(world.store, lambda: world.registry, at=at)).start()
    yield server.url
    server.stop()


def _check_counters(samples, world):
    for (partner, dataset), report in world.reports.items():
        pulled = report.pulled + (world.relay_reports[partner].pulled
                                  if dataset == "catalog" and partner in world.relay_reports else 0)
        assert _value(samples, "tongban_sync_records_total", partner=partner, dataset=dataset,
                      outcome="pulled") == pulled
        assert _value(samples, "tongban_sync_records_total", partner=partner, dataset=dataset,
                      outcome="stored") == report.counts.stored + report.counts.released
        assert _value(samples, "tongban_sync_last_success_timestamp_seconds", partner=partner, dataset=dataset) > 0
    down = world.down_partner
    assert _value(samples, "tongban_sync_failures_24h", partner=down, dataset="case") == 1
    assert _value(samples, "tongban_sync_runs_total", partner=down, dataset="case", status="FAILED") == 1
    for city, report in world.relay_reports.items():
        assert _value(samples, "tongban_quarantine_open", partner=city, dataset="catalog") == report.counts.rejected


def test_exposition_parses_and_carries_the_sync_counters(world, at):
    text = exposition(world.store, world.registry, metrics=metrics_from_store(world.store, at)).decode("utf-8")
    assert text.endswith("# EOF\n")
    samples = _samples(text)
    _check_counters(samples, world)
    province = metrics_from_store(world.store, at).row("province", "440000")
    assert _value(samples, "tongban_metric", metric="cases", scope="province", region="440000") == province.cases
    assert _value(samples, "tongban_metric", metric="overdue_cases", scope="province",
                  region="440000") == province.overdue_cases
    assert _value(samples, "tongban_metric", metric="bad_review_rate", scope="province",
                  region="440000") == pytest.approx(province.bad_review_rate)


def test_metrics_endpoint_serves_openmetrics(live, world):
    response = httpx.get(f"{live}/metrics", timeout=30)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/openmetrics-text; version=1.0.0")
    _check_counters(_samples(response.text), world)


def test_live_dashboard_json_and_health(live, world, at):
    page = httpx.get(f"{live}/", timeout=30)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "tongban monitoring" in page.text and world.down_partner in page.text
    report = httpx.get(f"{live}/report.json", timeout=30).json()
    assert report["at"] == at.isoformat()
    province = next(r for r in report["metrics"]["rows"] if r["scope"] == "province")
    assert province["cases"] == metrics_from_store(world.store, at).row("province", "440000").cases
    assert report["consistency"]["twoSkins"]["count"] == len(world.data.planted_two_skins)
    assert httpx.get(f"{live}/healthz", timeout=30).json() == {"status": "ok"}
