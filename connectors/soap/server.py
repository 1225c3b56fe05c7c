"""SOAP 1.1 binding server (TBS-1.0 §16) as a FastAPI app over a :class:`SystemService`.

Why lxml and a small dispatcher rather than a SOAP framework (spyne): TBS-SOAP-004 makes the
published ``tbs-1.0.wsdl`` / ``tbs-1.0.xsd`` normative, so the server must serve *that* file
(only the endpoint address is filled in) instead of a description generated from code, and
verdicts come from the TBS-SOAP-003 mapping, not from a framework's schema validation or object
binding. With the mapping in :mod:`.mapping`, what is left is four operations, one fault shape
and the edge rules shared with REST — the same FastAPI/uvicorn stack as the REST server.

Order at the edge: authentication before anything is read (TBS-SEC-001), the 16 MiB body limit
(TBS-SEC-009), the headers of TBS-REST-006 and SOAPAction (TBS-SOAP-001), the hardened parse
(TBS-SEC-010); then the operation. Technical failures are SOAP faults with HTTP 500:
``soap:Client`` for the REST 4xx cases, ``soap:Server`` for 5xx and ``soap:Server.RateLimited``
for RATE_LIMITED (TBS-SOAP-005, TBS-SEC-013). An envelope rejected by validation is a normal
``PushBatchResponse`` whose ack has status REJECTED.

Versions (TBS-1.1 TBS-SOAP-001): a service whose ``spec_versions`` lists TBS-1.1 reads each
request under the version its body namespace names (``urn:tbs:1.0`` / ``urn:tbs:1.1``) and
answers in that namespace; a namespace of a version it does not support is a ``soap:Client``
fault ``UNSUPPORTED_VERSION``, and a ``SOAPAction``, ``X-TB-Spec-Version`` or (PushBatch) envelope
``specVersion`` naming another version than the namespace is ``BAD_HEADER``. Both WSDLs are
served at the endpoint (``?wsdl`` takes the version from ``version=`` or ``X-TB-Spec-Version``).
A TBS-1.0-only service answers exactly as TBS-1.0 does (``urn:tbs:1.1`` is a foreign namespace).
"""
from __future__ import annotations

import inspect
import logging
import re
from functools import cache
from typing import Any, Callable

from fastapi import FastAPI, Request
from fastapi.responses import Response
from lxml import etree
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from tongban.connectors.base import ReceivedBody, ServiceError, SystemService
from tongban.connectors.edge import Authenticate, EdgeChecks, Refusal
from tongban.connectors.rest import headers as H
from tongban.connectors.serving import guard_app
from tongban.model.canonical import canonical_bytes, sha256_hex
from tongban.specs import spec_dir

from . import mapping
from .mapping import SoapFault, Unmappable
from .xsd_model import NAMESPACES, namespace_of

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 16 * 1024 * 1024
SPEC_VERSION = "TBS-1.0"
SOAP_PATH = f"{H.BASE_PATH}/soap"
XML_MEDIA_TYPE = "text/xml; charset=utf-8"
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
WSDL_NS = {"wsdl": "http://schemas.xmlsoap.org/wsdl/", "soap": "http://schemas.xmlsoap.org/wsdl/soap/"}

__all__ = ["Authenticate", "create_soap_app", "normative_wsdl", "normative_xsd", "wsdl_for"]


def _faultcode(err: ServiceError) -> str:
    if err.code == "RATE_LIMITED":
        return "Server.RateLimited"
    return "Client" if err.status < 500 else "Server"


def _versions(service: SystemService) -> tuple[str, ...]:
    """The versions ``service`` serves (TBS-1.1 TBS-REST-002): its ``spec_versions``, or TBS-1.0."""
    return tuple(getattr(service, "spec_versions", None) or (SPEC_VERSION,))


def _xml_response(body: bytes, *, status: int = 200, request_hash: str | None = None,
                  extra: dict[str, str] | None = None, version: str = SPEC_VERSION) -> Response:
    headers = {H.SPEC_VERSION: version}
    if request_hash:
        headers[H.REQUEST_HASH] = request_hash
    headers.update(extra or {})
    return Response(body, status_code=status, media_type=XML_MEDIA_TYPE, headers=headers)


@cache
def normative_wsdl(version: str = SPEC_VERSION) -> bytes:
    namespace_of(version)  # only versions with a SOAP binding
    return (spec_dir(version) / f"{version.lower()}.wsdl").read_bytes()


@cache
def normative_xsd(version: str = SPEC_VERSION) -> bytes:
    namespace_of(version)
    return (spec_dir(version) / f"{version.lower()}.xsd").read_bytes()


def wsdl_for(address: str, version: str = SPEC_VERSION) -> bytes:
    """``version``'s normative WSDL with ``soap:address/@location`` set to ``address``; nothing else changes."""
    doc = etree.fromstring(normative_wsdl(version), etree.XMLParser(resolve_entities=False, no_network=True))
    for location in doc.iterfind("wsdl:service/wsdl:port/soap:address", WSDL_NS):
        location.set("location", address)
    return etree.tostring(doc, xml_declaration=True, encoding="UTF-8")


def _accepts(func: Callable[..., Any], keyword: str) -> bool:
    try:
        params = inspect.signature(func).parameters.values()
    except (TypeError, ValueError):  # pragma: no cover - builtins without a signature
        return False
    return any(p.name == keyword or p.kind is inspect.Parameter.VAR_KEYWORD for p in params)


def create_soap_app(service: SystemService, *, authenticate: Authenticate,
                    max_body_bytes: int = MAX_BODY_BYTES, public_url: str | None = None) -> FastAPI:
    """An ASGI app serving ``service`` at ``/tbs/v1/soap`` (TBS-SOAP-001), the WSDL at ``?wsdl``.

    ``public_url`` is the endpoint address written into the served WSDL; by default the address
    the request came to. The XSD the WSDL imports is served next to it (``/tbs/v1/tbs-1.0.xsd``,
    ``/tbs/v1/tbs-1.1.xsd``).
    """
    app = FastAPI(title="TBS SOAP binding", openapi_url=None, docs_url=None, redoc_url=None)
    app.state.refused = {}  # fault code -> count, for the sandbox's and tests' eyes
    passes_findings = _accepts(service.receive, "binding_findings")

    def served() -> tuple[str, ...]:
        return tuple(v for v in _versions(service) if v in NAMESPACES) or (SPEC_VERSION,)

    def fault(err: ServiceError, *, request_hash: str | None = None, message_id: str | None = None,
              version: str | None = None) -> Response:
        """A fault written in the request's version when it is supported; otherwise in the highest
        version the server supports (as TBS-1.1 TBS-REST-007 has it for REST errors)."""
        app.state.refused[err.code] = app.state.refused.get(err.code, 0) + 1
        versions = served()
        version = version if version in versions else max(versions)
        body = mapping.fault_to_xml(SoapFault(_faultcode(err), err.message, err.code, err.message, err.rule_id,
                                              message_id), version)
        extra = {"Retry-After": str(err.retry_after)} if err.retry_after is not None else None
        return _xml_response(body, status=500, request_hash=request_hash, extra=extra, version=version)

    edge = EdgeChecks(authenticate, max_body_bytes, served)

    @app.exception_handler(StarletteHTTPException)
    async def framework_error(request: Request, exc: StarletteHTTPException) -> Response:
        # Routing's own answers (no such path, wrong method) as Client faults (TBS-SOAP-005).
        code = "NOT_FOUND" if exc.status_code == 404 else "BAD_PARAMETER"
        return fault(ServiceError(exc.status_code, code, f"{request.method} {request.url.path[:128]}: {exc.detail}; "
                                  f"SOAP requests are POST {SOAP_PATH}", rule_id="TBS-SOAP-001"))

    @app.exception_handler(Refusal)
    async def refused(request: Request, exc: Refusal) -> Response:
        return fault(exc.error, request_hash=exc.request_hash, message_id=exc.message_id)

    @app.get(SOAP_PATH)
    def describe(request: Request) -> Response:
        if "wsdl" not in {k.lower() for k in request.query_params}:
            return fault(ServiceError(404, "NOT_FOUND", f"GET {SOAP_PATH}: use ?wsdl for the service description; "
                                      "SOAP requests are POST", rule_id="TBS-SOAP-001"))
        address = public_url or str(request.url.replace(query=""))
        # TBS-1.1 TBS-SOAP-001: a dual-version server serves both WSDLs at the endpoint; the
        # version is asked for by ``version=`` or X-TB-Spec-Version, else the lowest served
        # (TBS-1.0 during the transition), so a TBS-1.0 client's plain ``?wsdl`` is unchanged.
        versions = served()
        asked = request.query_params.get("version") or request.headers.get(H.SPEC_VERSION)
        if asked is not None and asked not in versions:
            return fault(ServiceError(400, "UNSUPPORTED_VERSION", f"no WSDL for {asked[:20]!r}: served versions are "
                                      f"{', '.join(versions)}", rule_id="TBS-SOAP-001"))
        version = asked or min(versions)
        return _xml_response(wsdl_for(address, version), version=version)

    def schema_route(version: str) -> None:
        @app.get(f"{H.BASE_PATH}/{version.lower()}.xsd")
        def schema() -> Response:
            if version not in served():
                return fault(ServiceError(404, "NOT_FOUND", f"{version} is not served here", rule_id="TBS-SOAP-004"))
            return _xml_response(normative_xsd(version), version=version)

    for known in NAMESPACES:
        schema_route(known)

    @app.post(SOAP_PATH)
    async def call(request: Request) -> Response:
        # TBS-SEC-001: authentication first; nothing of the body is read for a stranger.
        caller = edge.caller(request)
        edge.check_declared_size(request)
        edge.check_sender(request, caller)
        raw = await edge.body(request)
        raw_hash = sha256_hex(raw)
        media, _, params = request.headers.get("content-type", "").partition(";")
        charset = re.search(r"charset\s*=\s*\"?([^\";\s]+)", params or "")
        if media.strip().lower() != "text/xml" or (charset and charset.group(1).lower() != "utf-8"):
            return fault(ServiceError(415, "UNSUPPORTED_MEDIA_TYPE", "Content-Type must be text/xml; charset=utf-8",
                                      rule_id="TBS-SOAP-001"), request_hash=raw_hash)
        versions = served()
        dual = versions != (SPEC_VERSION,)
        try:
            # a TBS-1.0-only server knows only urn:tbs:1.0: urn:tbs:1.1 is its mapping fault
            operation, op = mapping.parse_operation(raw, tuple(NAMESPACES) if dual else (SPEC_VERSION,))
        except Unmappable as exc:
            return fault(_unmappable(exc), request_hash=raw_hash)
        version = mapping.version_of(op)
        if version not in versions:
            return fault(ServiceError(400, "UNSUPPORTED_VERSION", f"namespace {namespace_of(version)} is {version}, "
                                      f"which is not supported here; supported: {', '.join(versions)}",
                                      rule_id="TBS-SOAP-001"), request_hash=raw_hash)
        action = request.headers.get("soapaction", "").strip().strip('"')
        namespace = namespace_of(version)
        if action != f"{namespace}#{operation}":
            return fault(ServiceError(400, "BAD_HEADER", f'SOAPAction must be "{namespace}#{operation}" '
                                      f"(the namespace of the body)", rule_id="TBS-SOAP-001"),
                         request_hash=raw_hash, version=version)
        header = request.headers.get(H.SPEC_VERSION)
        if header != version:
            return fault(ServiceError(400, "BAD_HEADER", f"{H.SPEC_VERSION} {str(header)[:20]!r} and the body "
                                      f"namespace {namespace} ({version}) name different versions",
                                      rule_id="TBS-SOAP-001"), request_hash=raw_hash, version=version)
        try:
            if operation == "PushBatch":
                return await push(request, op, caller, raw, raw_hash, version, dual)
            if operation == "GetMeta":
                return _xml_response(mapping.meta_to_xml(await run_in_threadpool(service.meta), version),
                                     version=version)
            if operation == "GetChanges":
                return await changes(op, version, dual)
            return await get_ack(op, caller)
        except ServiceError as err:
            return fault(err, request_hash=raw_hash if operation == "PushBatch" else None, version=version)
        except Unmappable as exc:  # GetChanges / GetAck parameters that cannot be mapped
            return fault(_unmappable(exc), version=version)
        except Exception:  # noqa: BLE001 - the edge turns every failure into a Server fault
            log.exception("SOAP %s failed", operation)
            return fault(ServiceError(500, "INTERNAL_ERROR", "internal error"),
                         request_hash=raw_hash if operation == "PushBatch" else None, version=version)

    async def push(request: Request, op: etree._Element, caller: str, raw: bytes, raw_hash: str,
                   version: str, dual: bool) -> Response:
        try:
            envelope, findings = mapping.envelope_from_push_batch(op)
        except Unmappable as exc:
            return fault(_unmappable(exc), request_hash=raw_hash, version=version)
        request_hash = sha256_hex(canonical_bytes(envelope))  # TBS-ENV-031: of the mapped JSON
        message_id = request.headers.get(H.MESSAGE_ID)
        env_mid = envelope.get("messageId")
        if not message_id or not UUID_RE.match(message_id) or message_id != env_mid or envelope.get("sender") != caller:
            return fault(ServiceError(400, "BAD_HEADER", f"{H.MESSAGE_ID} must equal the envelope's messageId and "
                                      f"{H.SENDER} its sender", rule_id="TBS-REST-006"),
                         request_hash=request_hash, message_id=env_mid if isinstance(env_mid, str) else None,
                         version=version)
        if dual and envelope.get("specVersion") != version:
            # TBS-1.1 TBS-SOAP-001 (a TBS-1.0 server leaves a wrong specVersion to TBS-ENV-021)
            return fault(ServiceError(400, "BAD_HEADER", f"the envelope's specVersion "
                                      f"{str(envelope.get('specVersion'))[:20]!r} and the body namespace "
                                      f"{namespace_of(version)} ({version}) name different versions",
                                      rule_id="TBS-SOAP-001"),
                         request_hash=request_hash, message_id=env_mid if isinstance(env_mid, str) else None,
                         version=version)
        extra: dict[str, Any] = {}
        if findings:
            if passes_findings:
                extra["binding_findings"] = tuple(findings)
            else:
                log.warning("service %r takes no binding_findings: %d SOAP mapping findings not reported",
                            type(service).__name__, len(findings))
        try:
            ack = await run_in_threadpool(lambda: service.receive(
                envelope, binding="SOAP", request_hash=request_hash, authenticated_sender=caller,
                received=ReceivedBody(raw, mapping.record_item_texts), **extra))
        except ServiceError as err:
            return fault(err, request_hash=request_hash, message_id=message_id, version=version)
        # TBS-1.1 TBS-ENV-029: the acknowledgement is written in the envelope's version, or, when the
        # sender's profile does not list it (TBS-ENV-021), in the highest version both support;
        # the response is in the namespace of the version the acknowledgement is written in
        written = ack.get("specVersion")
        answer = written if written in NAMESPACES else version
        return _xml_response(mapping.ack_to_xml(ack, version=answer), request_hash=request_hash, version=answer)

    async def changes(op: etree._Element, version: str, dual: bool) -> Response:
        params, findings = mapping.get_changes_params(op)
        dataset, since, limit = params.get("dataset"), params.get("since"), params.get("limit", 100)
        if findings or not isinstance(dataset, str) or not (since is None or isinstance(since, str)):
            raise ServiceError(400, "BAD_PARAMETER", "GetChanges needs dataset, and optionally since and limit",
                               rule_id="TBS-SOAP-002")
        if not isinstance(limit, int) or not 1 <= limit <= 1000:
            raise ServiceError(400, "BAD_PARAMETER", "limit must be an integer from 1 to 1000",
                               rule_id="TBS-REST-003")
        if not dual:
            page = await run_in_threadpool(service.changes, dataset, since, limit)
        else:  # TBS-1.1 TBS-REST-012: the feed written in the version the request names
            page = await run_in_threadpool(lambda: service.changes(dataset, since, limit, version=version))
        return _xml_response(mapping.changes_to_xml(page, dataset, version), version=version)

    async def get_ack(op: etree._Element, caller: str) -> Response:
        params, findings = mapping.get_ack_params(op)
        message_id = params.get("messageId")
        if findings or not isinstance(message_id, str):
            raise ServiceError(400, "BAD_PARAMETER", "GetAck needs messageId", rule_id="TBS-SOAP-002")
        ack = await run_in_threadpool(service.get_ack, message_id, caller)
        if ack is None:
            raise ServiceError(404, "NOT_FOUND", "no acknowledgement for this messageId from you",
                               rule_id="TBS-REST-010")
        # TBS-1.1 TBS-REST-012: an acknowledgement is returned in the version it was written in
        written = ack.get("specVersion")
        version = written if written in NAMESPACES else SPEC_VERSION
        return _xml_response(mapping.ack_to_xml(ack, "GetAck", version), request_hash=ack.get("requestHash"),
                             version=version)

    guard_app(app, _edge_fault)
    return app


def _edge_fault(status: int, code: str, message: str, rule_id: str) -> tuple[int, bytes, str]:
    """Refusals made before the app runs (oversized or unparsable request heads) as SOAP faults."""
    return 500, mapping.fault_to_xml(SoapFault("Client" if status < 500 else "Server", message, code, message,
                                          rule_id)), XML_MEDIA_TYPE


def _unmappable(exc: Unmappable) -> ServiceError:
    """XML that cannot be mapped is a Client fault (TBS-SOAP-005) with the REST code of an
    unparseable body and the rule of the mapping finding (TBS-SEC-010, TBS-ENV-001/-002/-005)."""
    f = exc.finding
    where = f" at {f.location}" if f.location else ""
    return ServiceError(400, "MALFORMED_JSON", f"XML cannot be mapped{where}: {f.message_en}", rule_id=f.rule_id)
