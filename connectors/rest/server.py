"""REST binding server (TBS-1.0 §15) as a FastAPI app over a :class:`SystemService`.

The server owns the edge: authentication first (401 before anything is parsed,
TBS-SEC-001), headers (TBS-REST-006), media type, ``Content-Encoding: gzip`` (TBS-REST-001,
decoded with the size limit applied to the decoded bytes) and size limits (TBS-SEC-009), strict
JSON parsing (TBS-ENV-001) and the ``X-TB-Request-Hash`` of every POST answer (TBS-REST-007).
Every answer, the framework's own 404/405 included, is a TBS error body with a rule id.
Content decisions belong to the service it is given; it runs in a worker thread, never on the
event loop, so a slow or locked store delays no other request and no authentication.
"""
from __future__ import annotations

import logging
import re
import zlib
from typing import Any, Callable

from fastapi import Depends, FastAPI, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from tongban.connectors.base import ReceivedBody, ServiceError, SystemService
from tongban.connectors.edge import Authenticate, EdgeChecks, Refusal
from tongban.connectors.rest import headers as H
from tongban.connectors.serving import guard_app, json_edge_error
from tongban.model.canonical import canonical_bytes, sha256_hex
from tongban.model.datasets import DATASETS

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 16 * 1024 * 1024
SPEC_VERSION = "TBS-1.0"
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")

__all__ = ["Authenticate", "create_rest_app", "token_table"]


def _json_response(status: int, body: Any, *, request_hash: str | None = None,
                   extra: dict[str, str] | None = None, version: str = SPEC_VERSION) -> Response:
    headers = {H.SPEC_VERSION: version}
    if request_hash:
        headers[H.REQUEST_HASH] = request_hash
    headers.update(extra or {})
    return Response(canonical_bytes(body), status_code=status, media_type="application/json", headers=headers)


def _error(err: ServiceError, *, request_hash: str | None = None, message_id: str | None = None,
           version: str = SPEC_VERSION) -> Response:
    extra = {"Retry-After": str(err.retry_after)} if err.retry_after is not None else None
    return _json_response(err.status, err.body(message_id), request_hash=request_hash, extra=extra, version=version)


def _versions(service: SystemService) -> tuple[str, ...]:
    """The versions ``service`` serves (TBS-1.1 TBS-REST-002): its ``spec_versions``, or TBS-1.0."""
    return tuple(getattr(service, "spec_versions", None) or (SPEC_VERSION,))


class _TooLarge(Exception):
    pass


def _gunzip(raw: bytes, limit: int) -> bytes:
    """Decode a gzip body, refusing more than ``limit`` decoded bytes (a zip bomb stops there)."""
    out = bytearray()
    decoder = zlib.decompressobj(16 + zlib.MAX_WBITS)
    data = raw
    while data:
        out += decoder.decompress(data, limit + 1 - len(out))
        if len(out) > limit:
            raise _TooLarge
        data = decoder.unconsumed_tail
    if not decoder.eof:
        raise zlib.error("truncated gzip stream")
    return bytes(out)


def create_rest_app(service: SystemService, *, authenticate: Authenticate,
                    max_body_bytes: int = MAX_BODY_BYTES) -> FastAPI:
    app = FastAPI(title="TBS-1.0 REST binding", openapi_url=None, docs_url=None, redoc_url=None)
    app.state.refused = {}  # reason -> count, for the sandbox's and tests' eyes

    @app.exception_handler(StarletteHTTPException)
    async def framework_error(request: Request, exc: StarletteHTTPException) -> Response:
        # Routing's own answers (no such path, wrong method) in the TBS error format.
        code = "NOT_FOUND" if exc.status_code == 404 else "BAD_PARAMETER"
        return refuse(ServiceError(exc.status_code, code, f"{request.method} {request.url.path}: {exc.detail}",
                                   rule_id="TBS-REST-008"))

    def refuse(err: ServiceError, **kw: Any) -> Response:
        app.state.refused[err.code] = app.state.refused.get(err.code, 0) + 1
        # TBS-1.1 TBS-REST-007: an error names the highest version the server supports
        return _error(err, version=max(_versions(service)), **kw)

    edge = EdgeChecks(authenticate, max_body_bytes, lambda: _versions(service))

    def answered(call: Callable[[], Response], what: str) -> Response:
        """``call``'s answer; a ServiceError is refused as itself, anything else as a TBS 500.
        An exception let through to the server would also cost the keep-alive connection
        (uvicorn closes it once the 500 is sent), and a client reusing it sees a dropped request."""
        try:
            return call()
        except ServiceError as err:
            return refuse(err)
        except Exception:  # noqa: BLE001 - the edge answers every failure in the TBS format
            log.exception("%s failed", what)
            return refuse(ServiceError(500, "INTERNAL_ERROR", "internal error"))

    @app.exception_handler(Refusal)
    async def refused(request: Request, exc: Refusal) -> Response:
        return refuse(exc.error, request_hash=exc.request_hash, message_id=exc.message_id)

    @app.get(f"{H.BASE_PATH}/meta")
    def meta(request: Request, caller: str = Depends(edge.identified_caller)) -> Response:
        version = request.headers[H.SPEC_VERSION]   # TBS-1.1 TBS-REST-012: same members in every version
        return answered(lambda: _json_response(200, service.meta(), version=version), "meta")

    @app.get(H.BASE_PATH + "/{dataset}/changes")
    def changes(dataset: str, request: Request, caller: str = Depends(edge.identified_caller)) -> Response:
        since = request.query_params.get("since")
        raw_limit = request.query_params.get("limit", "100")
        if not re.fullmatch(r"[0-9]{1,4}", raw_limit) or not 1 <= int(raw_limit) <= 1000:
            return refuse(ServiceError(400, "BAD_PARAMETER", "limit must be an integer from 1 to 1000",
                                       rule_id="TBS-REST-003"))
        version = request.headers[H.SPEC_VERSION]
        if _versions(service) == (SPEC_VERSION,):
            return answered(lambda: _json_response(200, service.changes(dataset, since, int(raw_limit))),
                            f"changes of {dataset[:64]!r}")
        # TBS-1.1 TBS-REST-012: the feed written in the version the request names
        return answered(lambda: _json_response(200, service.changes(dataset, since, int(raw_limit), version=version),
                                               version=version), f"changes of {dataset[:64]!r}")

    @app.get(H.BASE_PATH + "/acks/{message_id}")
    def get_ack(message_id: str, caller: str = Depends(edge.identified_caller)) -> Response:
        try:
            ack = service.get_ack(message_id, caller)
        except Exception:  # noqa: BLE001 - the edge answers every failure in the TBS format
            log.exception("acknowledgement lookup of %s failed", message_id[:64])
            return refuse(ServiceError(500, "INTERNAL_ERROR", "internal error"))
        if ack is None:
            return refuse(ServiceError(404, "NOT_FOUND", "no acknowledgement for this messageId from you",
                                       rule_id="TBS-REST-010"))
        return _json_response(200, ack, request_hash=ack.get("requestHash"),
                              version=str(ack.get("specVersion", SPEC_VERSION)))

    @app.post(H.BASE_PATH + "/{dataset}")
    async def push(dataset: str, request: Request) -> Response:
        edge.check_declared_size(request)
        # Authentication before the body is read or parsed (TBS-SEC-001); every later refusal
        # carries the request hash (TBS-REST-007), so the body is read before headers are judged.
        caller = edge.caller(request)
        raw = await edge.body(request)
        raw_hash = sha256_hex(raw)
        edge.check_sender(request, caller, request_hash=raw_hash)
        if dataset not in DATASETS:  # TBS-REST-008: a dataset the system does not accept
            return refuse(ServiceError(404, "NOT_FOUND", f"no dataset {dataset[:64]!r} is accepted here "
                                       f"(one of {', '.join(DATASETS)})", rule_id="TBS-REST-005"),
                          request_hash=raw_hash)
        ctype = request.headers.get("content-type", "")
        media, _, params = ctype.partition(";")
        charset = re.search(r"charset\s*=\s*\"?([^\";\s]+)", params or "")
        if media.strip().lower() != "application/json" or (charset and charset.group(1).lower() != "utf-8"):
            return refuse(ServiceError(415, "UNSUPPORTED_MEDIA_TYPE", "Content-Type must be application/json; "
                                       "charset=utf-8", rule_id="TBS-REST-001"), request_hash=raw_hash)
        encoding = request.headers.get("content-encoding", "identity").strip().lower()
        if encoding not in ("identity", "gzip"):
            return refuse(ServiceError(415, "UNSUPPORTED_MEDIA_TYPE", f"Content-Encoding {encoding[:32]!r}: only "
                                       "gzip is allowed", rule_id="TBS-REST-001"), request_hash=raw_hash)
        if encoding == "gzip":
            try:
                raw = _gunzip(raw, max_body_bytes)
            except _TooLarge:
                return refuse(ServiceError(413, "PAYLOAD_TOO_LARGE", f"decoded body over {max_body_bytes} bytes",
                                           rule_id="TBS-SEC-009"), request_hash=raw_hash)
            except zlib.error as exc:
                return refuse(ServiceError(400, "MALFORMED_JSON", f"not a gzip stream: {exc}", rule_id="TBS-ENV-001"),
                              request_hash=raw_hash)
            raw_hash = sha256_hex(raw)  # TBS-ENV-031 hashes the JSON text, not its transfer coding
        from tongban.validators import JsonParseError, parse_json_strict

        try:
            envelope = parse_json_strict(raw)
        except JsonParseError as exc:
            return refuse(ServiceError(400, "MALFORMED_JSON", f"not valid I-JSON: {exc}", rule_id="TBS-ENV-001"),
                          request_hash=raw_hash)
        request_hash = sha256_hex(canonical_bytes(envelope))
        message_id = request.headers.get(H.MESSAGE_ID)
        if isinstance(envelope, dict):
            env_mid, env_sender = envelope.get("messageId"), envelope.get("sender")
            if not message_id or not UUID_RE.match(message_id) or message_id != env_mid or env_sender != caller:
                return refuse(ServiceError(400, "BAD_HEADER", f"{H.MESSAGE_ID} must equal the envelope's messageId "
                                           f"and {H.SENDER} its sender", rule_id="TBS-REST-006"),
                              request_hash=request_hash, message_id=env_mid if isinstance(env_mid, str) else None)
            header = request.headers.get(H.SPEC_VERSION)
            if _versions(service) != (SPEC_VERSION,) and envelope.get("specVersion") != header:
                return refuse(ServiceError(400, "BAD_HEADER", f"{H.SPEC_VERSION} must equal the envelope's "
                                           "specVersion (TBS-1.1 TBS-REST-006)", rule_id="TBS-REST-006"),
                              request_hash=request_hash, message_id=env_mid if isinstance(env_mid, str) else None)
        # JSON that is not an object is an envelope-level ERROR (TBS-ENV-005): the service
        # answers it with a REJECTED acknowledgement (422) and ledgers it like any other.
        try:
            ack = await run_in_threadpool(lambda: service.receive(
                envelope, binding="REST", request_hash=request_hash, authenticated_sender=caller,
                binding_dataset=dataset, received=ReceivedBody(raw)))
        except ServiceError as err:
            return refuse(err, request_hash=request_hash, message_id=message_id)
        except Exception:  # noqa: BLE001 - the edge answers every failure in the TBS format
            log.exception("REST push of %s failed", message_id)
            return refuse(ServiceError(500, "INTERNAL_ERROR", "internal error"), request_hash=request_hash,
                          message_id=message_id)
        status = 422 if ack.get("envelopeReport", {}).get("result") == "FAILURE" else 200
        return _json_response(status, ack, request_hash=request_hash, version=str(ack.get("specVersion", SPEC_VERSION)))

    guard_app(app, json_edge_error)
    return app


def token_table(tokens: dict[str, str]) -> Authenticate:
    """An :data:`Authenticate` over a ``{token: system_id}`` table (constant-time compare)."""
    import hmac

    items = list(tokens.items())

    def authenticate(token: str | None) -> str | None:
        if not token:
            return None
        found = None
        for known, system_id in items:
            if hmac.compare_digest(known.encode(), token.encode()):
                found = system_id
        return found

    return authenticate
