"""``tongban serve``: the dashboard live, plus ``/metrics`` (OpenMetrics) and ``/report.json``.

Every request reads the store afresh; the page is the same as the static report.
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Callable

from fastapi import FastAPI
from fastapi.responses import HTMLResponse, JSONResponse, Response

from tongban.monitoring.dashboard import collect, render_html
from tongban.monitoring.metrics import metrics_from_store, registry_overdue_rule
from tongban.monitoring.openmetrics import CONTENT_TYPE, exposition
from tongban.store.store import Store


def create_app(store: Store, registry_loader: Callable[[], Any | None] = lambda: None, *,
               at: datetime | None = None, refresh_seconds: int = 30) -> FastAPI:
    """The dashboard app. ``registry_loader`` is called per request, so an edited
    ``partners.yaml`` shows up without a restart; ``at`` pins the metrics instant (tests); the
    page tells the browser to reload it every ``refresh_seconds`` (no script needed)."""
    app = FastAPI(title="tongban monitoring", docs_url=None, redoc_url=None, openapi_url=None)

    def snapshot():
        return collect(store, registry_loader(), at=at)

    @app.get("/", response_class=HTMLResponse)
    @app.get("/index.html", response_class=HTMLResponse)
    def index() -> HTMLResponse:
        return HTMLResponse(render_html(snapshot(), refresh_seconds=refresh_seconds))

    @app.get("/impact.html", response_class=HTMLResponse)
    def impact_page(target: str = "TBS-1.1", base: str = "TBS-1.0", since: str | None = None) -> HTMLResponse:
        """``tongban spec impact`` as a page; replays every stored record, so it is computed on request only."""
        from tongban.monitoring.impact_page import render_impact_html
        from tongban.specimpact import impact

        try:
            partners = impact(store, target.upper(), base.upper(), since=since)
        except LookupError as exc:
            return HTMLResponse(f"unknown spec version: {exc}", status_code=404)
        registry = registry_loader()
        names = {p.id: getattr(p, "name", "") for p in getattr(registry, "partners", [])} if registry else {}
        return HTMLResponse(render_impact_html(partners, target=target.upper(), base=base.upper(), since=since,
                                               names=names))

    @app.get("/report.json")
    def report_json() -> JSONResponse:
        return JSONResponse(snapshot().as_dict())

    @app.get("/metrics")
    @app.get("/metrics.txt")
    def metrics() -> Response:
        registry = registry_loader()
        pinned = (metrics_from_store(store, at, overdue_rule=registry_overdue_rule(registry))
                  if at is not None else None)
        return Response(exposition(store, registry, now=datetime.now(timezone.utc), metrics=pinned),
                        media_type=CONTENT_TYPE)

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        with store.reading() as s:
            s.connection()   # the store answers
        return {"status": "ok"}

    return app
