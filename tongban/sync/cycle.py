"""One cycle over every partner and dataset: ``tongban sync --all --workers N``.

A partner's datasets run in order within one task (prerequisites first: catalog, cases, their
events, results, evaluations — TBS-SYNC-007 would hold an event whose case has not come yet);
at most ``workers`` partners run at once. Each task has its own engine over the shared store. A
partner that pushes over MQTT has nothing to pull: it is listed as skipped (its records reach
the bus through the gateway's subscriber). A refusal by the admission gate skips that feed only;
a failed feed ends that partner's task (the later datasets depend on it), never the others.
"""
from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable

from tongban.model.datasets import DATASETS
from tongban.registry import PartnerConfig, Registry, Transport
from tongban.store.store import Store

__all__ = ["CycleReport", "PartnerOutcome", "feeds_of", "run_cycle"]


@dataclass
class PartnerOutcome:
    partner_id: str
    reports: list[Any] = field(default_factory=list)      # SyncReport per dataset run
    skipped: list[tuple[str, str]] = field(default_factory=list)   # (dataset or "*", why)
    failed: list[tuple[str, str]] = field(default_factory=list)    # (dataset, error)

    def as_dict(self) -> dict[str, Any]:
        return {"partner": self.partner_id, "runs": [r.as_dict() for r in self.reports],
                "skipped": [{"dataset": d, "reason": w} for d, w in self.skipped],
                "failed": [{"dataset": d, "error": e} for d, e in self.failed]}


@dataclass
class CycleReport:
    workers: int
    duration_s: float = 0.0
    partners: list[PartnerOutcome] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return any(p.failed for p in self.partners)

    def totals(self) -> dict[str, int]:
        t = {"partners": len(self.partners), "runs": 0, "pulled": 0, "stored": 0, "duplicate": 0, "stale": 0,
             "held": 0, "rejected": 0, "skipped": 0, "failed": 0}
        for p in self.partners:
            t["skipped"] += len(p.skipped)
            t["failed"] += len(p.failed)
            for r in p.reports:
                t["runs"] += 1
                t["pulled"] += r.pulled
                c = r.counts
                t["stored"] += c.stored + c.released
                t["duplicate"] += c.duplicate
                t["stale"] += c.stale
                t["held"] += c.held
                t["rejected"] += c.rejected
        return t

    def as_dict(self) -> dict[str, Any]:
        return {"workers": self.workers, "durationS": round(self.duration_s, 3), "totals": self.totals(),
                "partners": [p.as_dict() for p in self.partners]}


def feeds_of(registry: Registry, partner: PartnerConfig) -> list[str]:
    """The datasets the bus pulls or collects from ``partner`` itself, in prerequisite order."""
    return [d for d in DATASETS if registry.pulls(partner, d)]


def run_cycle(store: Store, registry: Registry, *, workers: int = 4, admission: Any = None,
              trigger: str = "cli", on_done: Callable[[PartnerOutcome], None] | None = None) -> CycleReport:
    """Sync every partner's feeds with at most ``workers`` partners at once."""
    from tongban.store.locks import AlreadyRunning
    from tongban.sync.engine import NotAdmitted, SyncEngine, SyncFailed

    if workers < 1:
        raise ValueError("workers must be at least 1")
    report = CycleReport(workers)
    done = threading.Lock()

    def one(partner: PartnerConfig) -> PartnerOutcome:
        outcome = PartnerOutcome(partner.id)
        if partner.transport is Transport.MQTT:
            outcome.skipped.append(("*", "pushes over MQTT: its records arrive on the gateway's subscriber"))
        else:
            engine = SyncEngine(store, registry, trigger=trigger, admission=admission)
            for dataset in feeds_of(registry, partner):
                try:
                    outcome.reports.append(engine.sync(partner.id, dataset))
                except NotAdmitted as exc:
                    outcome.skipped.append((dataset, str(exc)))
                except AlreadyRunning as exc:
                    outcome.skipped.append((dataset, str(exc)))
                except SyncFailed as exc:
                    outcome.reports.append(exc.report)
                    outcome.failed.append((dataset, str(exc)))
                    break
        with done:
            report.partners.append(outcome)
            if on_done:
                on_done(outcome)
        return outcome

    t0 = time.monotonic()
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="tongban-sync") as pool:
        for future in [pool.submit(one, p) for p in registry.partners]:
            future.result()  # a programming error surfaces here, after the others finished
    report.duration_s = time.monotonic() - t0
    order = {p.id: i for i, p in enumerate(registry.partners)}
    report.partners.sort(key=lambda o: order[o.partner_id])
    return report
