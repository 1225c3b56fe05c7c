"""Recompute the numbers and rewrite the static report: the body of the ``metrics_refresh``
DAG, callable without Airflow."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from tongban.store.config import home_dir


def report_dir() -> Path:
    """``$TONGBAN_HOME/report``: where the refreshed dashboard lives."""
    return home_dir() / "report"


def refresh_report(out_dir: str | os.PathLike[str] | None = None, *, registry_file: str | None = None,
                   database_url: str | None = None) -> dict[str, Any]:
    """Write index.html, report.json and metrics.txt; returns a short summary (an XCom)."""
    from tongban.monitoring.dashboard import collect, write_report
    from tongban.registry import RegistryError, load_registry
    from tongban.store.store import Store

    store = Store(database_url)
    try:
        store.ensure_schema()
        try:
            registry = load_registry(registry_file)
        except RegistryError:
            registry = None   # the report still shows what the store holds
        snapshot = collect(store, registry)
        files = write_report(snapshot, out_dir or report_dir(), store=store, registry=registry)
    finally:
        store.dispose()
    province = snapshot.metrics.scope("province")
    head = province[0] if province else None
    return {"files": [str(f) for f in files], "generatedAt": snapshot.generated_at.isoformat(),
            "cases": head.cases if head else 0, "overdueCases": head.overdue_cases if head else 0,
            "twoSkins": snapshot.consistency.two_skins.count, "manyNames": len(snapshot.consistency.many_names),
            "nearDuplicates": len(snapshot.consistency.near_duplicates)}
