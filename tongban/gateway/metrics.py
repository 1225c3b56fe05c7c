"""The gateway's OpenMetrics counters (``/metrics``), per partner, binding and outcome.

prometheus_client (already a dependency of the monitoring views) writes the exposition format;
each gateway process counts its own traffic in a registry of its own, so a scraper sums the
processes (every process answers ``/metrics`` on the shared port in turn: scrape each process by
its own address, or add the ``process`` label of the scrape target).
"""
from __future__ import annotations

from typing import Any, Mapping

from prometheus_client import CollectorRegistry, Counter
from prometheus_client.openmetrics.exposition import CONTENT_TYPE_LATEST, generate_latest

__all__ = ["GatewayMetrics", "CONTENT_TYPE_LATEST"]

RECORD_OUTCOMES = ("stored", "duplicate", "stale", "held", "rejected")


class GatewayMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.envelopes = Counter(
            "tongban_gateway_envelopes", "Envelopes received per partner, binding and outcome: the acknowledgement "
            "status (ACCEPTED, PARTIAL, REJECTED) or the TBS error code of a refusal (NOT_ADMITTED, FORBIDDEN …)",
            ("partner", "binding", "outcome"), registry=self.registry)
        self.records = Counter(
            "tongban_gateway_records", "Records of received envelopes per partner, dataset and outcome (§7.2 counts)",
            ("partner", "dataset", "outcome"), registry=self.registry)
        self.responses = Counter(
            "tongban_gateway_http_responses", "HTTP answers of the REST and SOAP endpoints per binding and status "
            "(refusals at the edge, 401 included, never reach a partner's count)",
            ("binding", "status"), registry=self.registry)

    def acknowledged(self, partner: str, binding: str, dataset: str, ack: Mapping[str, Any]) -> None:
        self.envelopes.labels(partner, binding, str(ack.get("status", "UNKNOWN"))).inc()
        counts = ack.get("counts") or {}
        for outcome in RECORD_OUTCOMES:
            n = counts.get(outcome) or 0
            if n:
                self.records.labels(partner, dataset, outcome).inc(n)

    def refused(self, partner: str, binding: str, code: str) -> None:
        self.envelopes.labels(partner, binding, code).inc()

    def answered(self, binding: str, status: int) -> None:
        self.responses.labels(binding, str(status)).inc()

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
