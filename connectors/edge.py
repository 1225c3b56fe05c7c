"""The edge checks the REST and SOAP servers share, written once.

Authentication (TBS-SEC-001), the identity headers (TBS-REST-006, TBS-SEC-002) and the body
size limit (TBS-SEC-009) are the same for both bindings; only the order they run in and the
form of the answer differ (a TBS error body for REST, a SOAP fault for SOAP). Each check
raises :class:`Refusal`; a server registers one exception handler that writes a refusal in
its own format, so a check can also serve as a FastAPI dependency
(``caller: str = Depends(edge.identified_caller)``).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from fastapi import Request

from tongban.connectors.base import ServiceError
from tongban.connectors.mtls import caller_of
from tongban.connectors.rest import headers as H

SPEC_VERSION = "TBS-1.0"

Authenticate = Callable[[str | None], str | None]
"""Bearer token (or None) → the authenticated system id, or None when refused."""


class Refusal(Exception):
    """A request refused at the edge: the error, and what the answer must carry with it."""

    def __init__(self, error: ServiceError, *, request_hash: str | None = None,
                 message_id: str | None = None) -> None:
        super().__init__(error.message)
        self.error = error
        self.request_hash = request_hash
        self.message_id = message_id


@dataclass(frozen=True)
class EdgeChecks:
    authenticate: Authenticate
    max_body_bytes: int
    # the versions the server supports (TBS-1.1 TBS-REST-002), read per request
    versions: Callable[[], tuple[str, ...]] = lambda: (SPEC_VERSION,)

    def caller(self, request: Request) -> str:
        """The system a client certificate or the bearer token authenticates (TBS-SEC-001),
        before anything is read."""
        auth = request.headers.get("authorization", "")
        token = auth[7:].strip() if auth.lower().startswith("bearer ") else None
        caller = caller_of(self.authenticate, token, request.scope)
        if caller is None:
            raise Refusal(ServiceError(401, "UNAUTHENTICATED", "missing or invalid bearer token or client "
                                       "certificate", rule_id="TBS-SEC-001"))
        return caller

    def check_sender(self, request: Request, caller: str, *, request_hash: str | None = None) -> None:
        """``X-TB-Sender`` and ``X-TB-Spec-Version`` present (TBS-REST-006), the sender the caller (TBS-SEC-002)."""
        sender = request.headers.get(H.SENDER)
        version, versions = request.headers.get(H.SPEC_VERSION), self.versions()
        if not sender or version not in versions:
            if sender and version and versions != (SPEC_VERSION,):
                # TBS-1.1 TBS-REST-006: a server that knows TBS-1.1 names the unsupported version;
                # a TBS-1.0 server answers BAD_HEADER as TBS-1.0 does
                raise Refusal(ServiceError(400, "UNSUPPORTED_VERSION", f"{H.SPEC_VERSION} {version[:20]!r} is not "
                                           f"supported; supported: {', '.join(versions)}", rule_id="TBS-REST-006"),
                              request_hash=request_hash)
            raise Refusal(ServiceError(400, "BAD_HEADER", f"{H.SENDER} and {H.SPEC_VERSION}: {' or '.join(versions)} "
                                       "are required", rule_id="TBS-REST-006"), request_hash=request_hash)
        if sender != caller:
            raise Refusal(ServiceError(403, "FORBIDDEN", f"{H.SENDER} {sender} is not the authenticated system",
                                       rule_id="TBS-SEC-002"), request_hash=request_hash)

    def identified_caller(self, request: Request) -> str:
        """Authentication and identity headers, for requests without a body (a FastAPI dependency)."""
        caller = self.caller(request)
        self.check_sender(request, caller)
        return caller

    def _too_large(self, what: str = "body") -> Refusal:
        return Refusal(ServiceError(413, "PAYLOAD_TOO_LARGE", f"{what} over {self.max_body_bytes} bytes",
                                    rule_id="TBS-SEC-009"))

    def check_declared_size(self, request: Request) -> None:
        """A ``Content-Length`` over the limit is refused before a byte is read (TBS-SEC-009)."""
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > self.max_body_bytes:
            raise self._too_large()

    async def body(self, request: Request) -> bytes:
        """The request body, refused as soon as it outgrows the limit (TBS-SEC-009). A client
        gone before its body was complete (or cut off by the server's body deadline) is a
        refusal whose answer nobody reads, not an error of the server."""
        from starlette.requests import ClientDisconnect

        body = bytearray()
        try:
            async for chunk in request.stream():
                body.extend(chunk)
                if len(body) > self.max_body_bytes:
                    raise self._too_large()
        except ClientDisconnect:
            raise Refusal(ServiceError(400, "BAD_PARAMETER", "the client closed the connection or was cut off "
                                       "before its request body was complete", rule_id="TBS-REST-008")) from None
        return bytes(body)
