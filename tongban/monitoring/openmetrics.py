"""OpenMetrics exposition of the sync counters and the headline supervision metrics.

Built with ``prometheus_client`` as a custom collector that reads the store on every scrape
(nothing is cached in the process, so several servers or a DAG writing the store stay
consistent). Served at ``/metrics`` by ``tongban serve`` and written as ``metrics.txt`` by
``tongban report``.

Families (labels in braces):

* ``tongban_sync_records_total{partner,dataset,outcome}`` — records per TBS-1.0 §13.2 outcome
  (and ``pulled``) summed over all runs;
* ``tongban_sync_runs_total{partner,dataset,status}`` — runs by final status;
* ``tongban_sync_last_success_timestamp_seconds{partner,dataset}``;
* ``tongban_sync_lag_seconds{partner,dataset}`` — now minus the newest source timestamp held;
* ``tongban_sync_failures_24h{partner,dataset}``;
* ``tongban_quarantine_open{partner,dataset}``, ``tongban_held_records{partner,dataset}``;
* ``tongban_metric{metric,scope,region}`` — each rate, count and average of
  :data:`tongban.monitoring.metrics.DEFINITIONS` per scope (ratios as 0–1).
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Callable, Iterator

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.openmetrics.exposition import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import func, select

from tongban.monitoring.metrics import MetricsReport, metrics_from_store, registry_overdue_rule
from tongban.monitoring.runs import OUTCOME_COLUMNS, FeedStatus, feed_statuses, parse_instant
from tongban.store.schema import SyncRun
from tongban.store.store import Store

CONTENT_TYPE = CONTENT_TYPE_LATEST
EXPORTED_METRICS = ("items_active", "items_online_rate", "items_fully_online_rate", "cases", "cases_concluded",
                    "fully_online_case_rate", "overdue_cases", "overdue_rate", "evaluations", "satisfaction_avg",
                    "bad_review_rate", "conclusion_hours_p50", "conclusion_hours_p90")


class StoreCollector:
    """A ``prometheus_client`` collector over the tongban store."""

    def __init__(self, store: Store, registry: Any | None = None, *,
                 now: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
                 metrics: Callable[[], MetricsReport] | None = None) -> None:
        self.store = store
        self.registry = registry
        self.now = now
        rule = registry_overdue_rule(registry)
        self.metrics = metrics or (lambda: metrics_from_store(store, self.now(), overdue_rule=rule))

    def collect(self) -> Iterator[Metric]:
        feeds = feed_statuses(self.store, self.registry, now=self.now())
        yield from self._sync_families(feeds)
        yield from self._run_family()
        yield self._metric_family(self.metrics())

    @staticmethod
    def _sync_families(feeds: list[FeedStatus]) -> Iterator[Metric]:
        labels = ["partner", "dataset"]
        records = CounterMetricFamily("tongban_sync_records", "Records per sync outcome, summed over all runs "
                                      "(TBS-1.0 §13.2; pulled = records received)", labels=[*labels, "outcome"])
        last = GaugeMetricFamily("tongban_sync_last_success_timestamp_seconds",
                                 "Finish time of the last successful run (Unix seconds)", labels=labels,
                                 unit="seconds")
        lag = GaugeMetricFamily("tongban_sync_lag_seconds", "Now minus the newest source timestamp held from "
                                "this feed", labels=labels, unit="seconds")
        failures = GaugeMetricFamily("tongban_sync_failures_24h", "Failed runs in the last 24 hours", labels=labels)
        quarantine = GaugeMetricFamily("tongban_quarantine_open", "Open quarantine entries", labels=labels)
        held = GaugeMetricFamily("tongban_held_records", "Records held for a prerequisite (TBS-SYNC-007)",
                                 labels=labels)
        for f in feeds:
            key = [f.partner_id, f.dataset]
            for outcome in OUTCOME_COLUMNS:
                records.add_metric([*key, outcome], f.totals.get(outcome, 0))
            success = parse_instant(f.last_success_at)
            if success is not None:
                last.add_metric(key, success.timestamp())
            if f.lag_seconds is not None:
                lag.add_metric(key, f.lag_seconds)
            failures.add_metric(key, len(f.failures_24h))
            quarantine.add_metric(key, f.quarantine_open)
            held.add_metric(key, f.held)
        yield from (records, last, lag, failures, quarantine, held)

    def _run_family(self) -> Iterator[Metric]:
        runs = CounterMetricFamily("tongban_sync_runs", "Sync runs by final status",
                                   labels=["partner", "dataset", "status"])
        with self.store.reading() as s:
            for partner, dataset, status, n in s.execute(
                    select(SyncRun.partner_id, SyncRun.dataset, SyncRun.status, func.count())
                    .group_by(SyncRun.partner_id, SyncRun.dataset, SyncRun.status)
                    .order_by(SyncRun.partner_id, SyncRun.dataset, SyncRun.status)):
                runs.add_metric([partner, dataset, status], n)
        yield runs

    @staticmethod
    def _metric_family(report: MetricsReport) -> Metric:
        family = GaugeMetricFamily("tongban_metric", "Supervision metrics per scope (see the definitions table; "
                                   "ratios 0-1, hours for conclusion times)", labels=["metric", "scope", "region"])
        for row in report.rows:
            for name in EXPORTED_METRICS:
                value = getattr(row, name)
                if value is not None:
                    family.add_metric([name, row.scope, row.key], float(value))
        return family


def exposition(store: Store, registry: Any | None = None, *, now: datetime | None = None,
               metrics: MetricsReport | None = None) -> bytes:
    """The OpenMetrics text (``# EOF`` terminated) for one scrape."""
    collector_registry = CollectorRegistry(auto_describe=False)
    collector_registry.register(StoreCollector(
        store, registry, now=(lambda: now) if now else (lambda: datetime.now(timezone.utc)),
        metrics=(lambda: metrics) if metrics is not None else None))
    return generate_latest(collector_registry)
