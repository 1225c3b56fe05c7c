"""The gateway's HTTP side: the TBS-1.0 REST and SOAP binding servers of the bus on one port,
with the operations endpoints beside them.

| path | what |
|---|---|
| ``POST /tbs/v1/{dataset}`` (and ``meta``, ``acks``) | REST binding (§15), the bus's own OpenAPI at ``GET /tbs/v1/openapi.yaml`` |
| ``POST /tbs/v1/soap`` | SOAP binding (§16), WSDL at ``GET /tbs/v1/soap?wsdl`` |
| ``GET /healthz`` | liveness: the process answers (200) |
| ``GET /readyz`` | readiness: the store answers, its schema is current, every MQTT broker is connected, not shutting down (200, else 503 naming what is not ready) |
| ``GET /metrics`` | OpenMetrics counters per partner and outcome |

The binding servers are the ones of :mod:`tongban.connectors.rest.server` and
:mod:`tongban.connectors.soap.server` unchanged (authentication first, size limits, the edge
checks of :mod:`tongban.connectors.edge`); a small ASGI dispatcher sends each request to one of
them by path. The operations endpoints are plain functions FastAPI runs in its thread pool, so
the store check of ``/readyz`` never blocks the event loop either.
"""
from __future__ import annotations

import json
from typing import Any, Callable

import yaml
from fastapi import FastAPI, Request
from fastapi.responses import Response

from tongban.connectors.edge import Authenticate
from tongban.connectors.rest.server import create_rest_app
from tongban.connectors.soap.server import SOAP_PATH, create_soap_app
from tongban.specs import spec_dir

from .metrics import CONTENT_TYPE_LATEST, GatewayMetrics

OPS_PATHS = frozenset({"/healthz", "/readyz", "/metrics", "/tbs/v1/openapi.yaml"})
SOAP_PATHS = frozenset({SOAP_PATH, "/tbs/v1/tbs-1.0.xsd"})

Readiness = Callable[[], dict[str, str]]
"""→ {check: problem} for every check that is not ready (empty: ready)."""


def bus_openapi(public_url: str | None) -> bytes:
    """The normative OpenAPI document of the REST binding with ``servers`` naming this gateway."""
    doc = yaml.safe_load((spec_dir("TBS-1.0") / "openapi.yaml").read_text(encoding="utf-8"))
    if public_url:
        doc["servers"] = [{"url": public_url.rstrip("/"), "description": "the bus's inbound gateway"}]
    return yaml.safe_dump(doc, allow_unicode=True, sort_keys=False).encode("utf-8")


def create_ops_app(metrics: GatewayMetrics, readiness: Readiness, *, public_url: str | None) -> FastAPI:
    app = FastAPI(title="tongban gateway operations", openapi_url=None, docs_url=None, redoc_url=None)

    @app.get("/healthz")
    def healthz() -> Response:
        return Response(b'{"status":"ok"}', media_type="application/json")

    @app.get("/readyz")
    def readyz() -> Response:
        problems = readiness()
        body = json.dumps({"status": "not ready" if problems else "ready", "problems": problems},
                          ensure_ascii=False, sort_keys=True).encode("utf-8")
        return Response(body, status_code=503 if problems else 200, media_type="application/json")

    @app.get("/metrics")
    def openmetrics() -> Response:
        return Response(metrics.exposition(), media_type=CONTENT_TYPE_LATEST)

    @app.get("/tbs/v1/openapi.yaml")
    def openapi(request: Request) -> Response:
        base = public_url or str(request.base_url)
        return Response(bus_openapi(base), media_type="application/yaml")

    return app


def create_gateway_app(service: Any, *, authenticate: Authenticate, metrics: GatewayMetrics, readiness: Readiness,
                       public_url: str | None = None) -> Callable[..., Any]:
    """One ASGI app: the REST and SOAP binding servers over ``service``, and the operations endpoints."""
    rest = create_rest_app(service, authenticate=authenticate)
    soap = create_soap_app(service, authenticate=authenticate,
                           public_url=public_url.rstrip("/") + SOAP_PATH if public_url else None)
    ops = create_ops_app(metrics, readiness, public_url=public_url)

    async def gateway(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await rest(scope, receive, send)
            return
        path = scope.get("path", "")
        if path in OPS_PATHS:
            await ops(scope, receive, send)
            return
        binding, app = ("SOAP", soap) if path in SOAP_PATHS else ("REST", rest)

        async def counted(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                metrics.answered(binding, int(message["status"]))
            await send(message)

        await app(scope, receive, counted)

    return gateway
