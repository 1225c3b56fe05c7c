"""The dashboard: one snapshot of status, metrics and consistency, rendered as a self-contained
HTML page (inline CSS and SVG, no script, no CDN) plus its JSON and OpenMetrics text.

``tongban report --out DIR`` writes ``index.html``, ``report.json`` and ``metrics.txt``;
``tongban serve`` renders the same page live on every request; the ``metrics_refresh`` DAG
calls :func:`write_report` after each sync.
"""
from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Mapping

from jinja2 import Environment, PackageLoader, select_autoescape

from tongban import __version__
from tongban.monitoring import charts
from tongban.monitoring.consistency import ConsistencyReport, Sources, consistency_report, store_sources
from tongban.monitoring.metrics import (CST, DEFINITIONS, MetricsReport, metrics_from_store, region_names,
                                       registry_overdue_rule)
from tongban.monitoring.runs import PartnerStatus, partner_statuses
from tongban.store.store import Store

REPORT_FILES = ("index.html", "report.json", "metrics.txt")
VOLUME_DAYS = 30


@dataclass
class Snapshot:
    """Everything the dashboard shows, computed once."""

    generated_at: datetime
    at: datetime
    store_url: str
    registry_path: str | None
    partners: list[PartnerStatus]
    metrics: MetricsReport
    consistency: ConsistencyReport
    names: Mapping[str, str] = field(default_factory=dict)
    depth_histogram: dict[int, int] = field(default_factory=dict)   # active items per onlineDepth (A.12)

    def as_dict(self) -> dict[str, Any]:
        return {"generatedAt": self.generated_at.isoformat(), "at": self.at.isoformat(), "store": self.store_url,
                "registry": self.registry_path, "version": __version__,
                "partners": [p.as_dict() for p in self.partners], "metrics": self.metrics.as_dict(),
                "consistency": self.consistency.as_dict(), "regionNames": dict(self.names),
                "onlineDepthHistogram": {str(k): v for k, v in sorted(self.depth_histogram.items())}}


def collect(store: Store, registry: Any | None = None, *, at: datetime | None = None, now: datetime | None = None,
            extra_sources: Sources | None = None, with_certification: bool = True) -> Snapshot:
    """Compute a snapshot. ``at`` is the metrics instant (overdue), ``now`` the clock for lag and
    the 24 h failure window; both default to the current time. ``extra_sources`` adds catalog
    records per source system (for example a city's relayed feed) to the two-skins comparison."""
    now = now or datetime.now(timezone.utc)
    at = at or now
    partners = partner_statuses(store, registry, now=now, with_certification=with_certification) \
        if registry is not None else _partners_without_registry(store, now)
    sources = dict(store_sources(store))
    if extra_sources:
        sources.update({label: list(records) for label, records in extra_sources.items()})
    return Snapshot(now, at, store.display_url, str(registry.path) if registry is not None else None, partners,
                    metrics_from_store(store, at, overdue_rule=registry_overdue_rule(registry)),
                    consistency_report(sources), region_names(registry),
                    online_depths(store))


def online_depths(store: Store) -> dict[int, int]:
    """Active current items per onlineDepth (Ⅰ … Ⅳ, A.12): what 事项上网率 is computed over."""
    from sqlalchemy import func, select

    from tongban.store.schema import CatalogItemVersion as C

    with store.reading() as s:
        rows = s.execute(select(C.online_depth, func.count()).where(C.is_current.is_(True), C.status == "ACTIVE")
                         .group_by(C.online_depth)).all()
    return {int(depth): int(n) for depth, n in rows}


def _partners_without_registry(store: Store, now: datetime) -> list[PartnerStatus]:
    return partner_statuses(store, None, now=now, with_certification=False)


# ---------------------------------------------------------------------------------- format
def pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def num(value: float | int | None, digits: int = 2) -> str:
    if value is None:
        return "—"
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:.{digits}f}"


def duration(seconds: int | float | None) -> str:
    """``3d 4h``, ``5h 12m``, ``40s``."""
    if seconds is None:
        return "—"
    s = int(seconds)
    d, rem = divmod(s, 86400)
    h, rem = divmod(rem, 3600)
    m, sec = divmod(rem, 60)
    if d:
        return f"{d}d {h}h"
    if h:
        return f"{h}h {m}m"
    if m:
        return f"{m}m {sec}s"
    return f"{sec}s"


def local_time(value: str | datetime | None) -> str:
    if value is None:
        return "—"
    t = datetime.fromisoformat(value) if isinstance(value, str) else value
    return t.astimezone(CST).strftime("%Y-%m-%d %H:%M")


def certification(value: dict[str, str] | None) -> str:
    if not value:
        return "—"
    return ", ".join(f"{role}: {verdict}" for role, verdict in sorted(value.items()))


_env = Environment(loader=PackageLoader("tongban.monitoring", "templates"), autoescape=select_autoescape(["html"]),
                   trim_blocks=True, lstrip_blocks=True)
def age(value: str | datetime | None, now: datetime) -> str:
    """How long ago ``value`` was, at ``now``."""
    if value is None:
        return "—"
    t = datetime.fromisoformat(value) if isinstance(value, str) else value
    return duration(max(0.0, (now - t).total_seconds()))


_env.filters.update(pct=pct, num=num, duration=duration, local_time=local_time, certification=certification, age=age)


# ----------------------------------------------------------------------------------- render
def _daily_points(snapshot: Snapshot, days: int = VOLUME_DAYS) -> list[tuple[str, float]]:
    province = snapshot.metrics.scope("province")
    by_day: dict[str, int] = {}
    for row in province:
        for day, n in row.cases_by_day.items():
            by_day[day] = by_day.get(day, 0) + n
    end = snapshot.at.astimezone(CST).date()
    return [((end - timedelta(days=k)).strftime("%m-%d"), float(by_day.get((end - timedelta(days=k)).isoformat(), 0)))
            for k in range(days - 1, -1, -1)]


DEPTH_NAMES = {1: "Ⅰ级 办事指南", 2: "Ⅱ级 在线预审", 3: "Ⅲ级 网上受理", 4: "Ⅳ级 全程网办"}


def render_html(snapshot: Snapshot, *, refresh_seconds: int | None = None) -> str:
    """The page; ``refresh_seconds`` makes a browser reload it (the live page of ``tongban serve``)."""
    m = snapshot.metrics
    regions = m.scope("region")
    label = lambda code: f"{snapshot.names.get(code, '')} {code}".strip()  # noqa: E731
    # 事项上网率 counts depth ≥ 2 and is often 100 % everywhere: the chart shows the two rates that
    # vary, and the depth distribution below shows what 事项上网率 is computed over
    rate_chart = charts.hbar_chart(
        [(label(r.key), (r.items_fully_online_rate, r.fully_online_case_rate)) for r in regions],
        title="全程网办事项占比 · 全程网办率（按区划）",
        series=("全程网办事项占比", "全程网办率"), chart_id="chart-rates")
    depth_chart = charts.bar_chart(
        [(DEPTH_NAMES.get(d, str(d)), float(snapshot.depth_histogram.get(d, 0))) for d in (1, 2, 3, 4)],
        title="在用事项的网上办理深度（事项上网率 = Ⅱ级及以上 ÷ 全部）", width=480, fmt=lambda v: f"{v:.0f}",
        color=charts.PALETTE[1], chart_id="chart-online-depth")
    volume_chart = charts.bar_chart(_daily_points(snapshot), title=f"办件量（按申请日，近{VOLUME_DAYS}天）",
                                    label_every=5, fmt=lambda v: f"{v:.0f}", chart_id="chart-volume")
    satisfaction_chart = charts.bar_chart(
        [(f"{k} {'非常不满意 不满意 基本满意 满意 非常满意'.split()[k - 1]}", float(v))
         for k, v in sorted(m.satisfaction_histogram.items())],
        title="满意度分布（5 = 非常满意）", width=480, fmt=lambda v: f"{v:.0f}", color=charts.PALETTE[2],
        chart_id="chart-satisfaction")
    provinces = m.scope("province")
    return _env.get_template("report.html").render(
        s=snapshot, m=m, province=provinces[0] if provinces else None, definitions=DEFINITIONS,
        rate_chart=rate_chart, volume_chart=volume_chart, satisfaction_chart=satisfaction_chart,
        depth_chart=depth_chart, refresh_seconds=refresh_seconds, now=snapshot.generated_at,
        names=snapshot.names, version=__version__, top_items=m.by_item[:15], overdue=m.overdue[:20],
        c=snapshot.consistency)


def write_report(snapshot: Snapshot, out_dir: str | os.PathLike[str], *, store: Store | None = None,
                 registry: Any | None = None) -> list[Path]:
    """Write the report files into ``out_dir`` (each replaced atomically); returns their paths."""
    from tongban.monitoring.openmetrics import exposition

    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    contents: dict[str, bytes] = {
        "index.html": render_html(snapshot).encode("utf-8"),
        "report.json": json.dumps(snapshot.as_dict(), ensure_ascii=False, indent=2, default=_json_default)
                           .encode("utf-8"),
    }
    if store is not None:
        contents["metrics.txt"] = exposition(store, registry, now=snapshot.generated_at, metrics=snapshot.metrics)
    written = []
    for name, data in contents.items():
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{name}.")
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, folder / name)   # readers (a web server) never see a half-written page
        written.append(folder / name)
    return written


def _json_default(value: Any) -> Any:
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    raise TypeError(f"not JSON serializable: {type(value).__name__}")
