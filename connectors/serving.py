"""Serve an ASGI app (REST or SOAP binding) on loopback from a background thread.

Used by the sandbox, the conformance kit's server role and the tests: a real uvicorn
server on a free port, optionally over TLS with a certificate from a local CA.

The HTTP protocol is h11 with edge guards uvicorn does not have by itself: a request head must
arrive within :data:`HEADER_TIMEOUT_S` of its first byte and its body within
:data:`BODY_TIMEOUT_S` of the end of the head, or the connection is closed (a client trickling
headers or a body, slowloris, cannot hold a connection), and h11 buffers at most 256 KiB of a head.
:class:`HeaderLimit` (installed by :func:`guard_app`) answers 431 to headers over
:data:`MAX_HEADER_BYTES`. The answers are in the binding's own error format when the app says
how (``app.state.edge_error``).
"""
from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from uvicorn.protocols.http.h11_impl import H11Protocol

MAX_HEADER_BYTES = 32 * 1024
HEADER_TIMEOUT_S = 10.0
# TBS-REST-011: a server should answer a POST within 30 s; a body still arriving by then is cut off.
BODY_TIMEOUT_S = 30.0
_HARD_HEAD_LIMIT = 256 * 1024  # h11's own buffer cap, far above what the guard allows

EdgeError = Callable[[int, str, str, str], tuple[int, bytes, str]]
"""(status, code, message, rule id) → (status, body, media type) in the binding's error format
(SOAP answers every fault with 500, TBS-SOAP-005)."""


def json_edge_error(status: int, code: str, message: str, rule_id: str) -> tuple[int, bytes, str]:
    import json

    body = {"code": code, "message": message, "ruleId": rule_id}
    return status, json.dumps(body, separators=(",", ":"), sort_keys=True).encode(), "application/json"


class HeaderLimit:
    """ASGI middleware: a request whose headers exceed ``max_bytes`` (names, values and their
    separators) or 100 fields is answered 431 in the binding's error format before the app
    sees it. Installed by :func:`guard_app`."""

    def __init__(self, app: Any, edge_error: EdgeError, max_bytes: int = MAX_HEADER_BYTES,
                 max_fields: int = 100) -> None:
        self.app, self.edge_error, self.max_bytes, self.max_fields = app, edge_error, max_bytes, max_fields

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            headers = scope.get("headers") or []
            size = sum(len(k) + len(v) + 4 for k, v in headers)
            if size > self.max_bytes or len(headers) > self.max_fields:
                status, body, media = self.edge_error(431, "BAD_HEADER", f"request headers over {self.max_bytes} bytes or "
                                              f"{self.max_fields} fields", "TBS-REST-006")
                await send({"type": "http.response.start", "status": status, "headers": [
                    (b"content-type", media.encode()), (b"content-length", str(len(body)).encode()),
                    (b"x-tb-spec-version", b"TBS-1.0"), (b"connection", b"close")]})
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)


def guard_app(app: Any, edge_error: EdgeError = json_edge_error) -> None:
    """Install the edge guards of a binding server on a FastAPI/Starlette ``app``."""
    app.state.edge_error = edge_error
    app.add_middleware(HeaderLimit, edge_error=edge_error)


def _with_client_certificate(app: Any, der: bytes) -> Any:
    async def with_certificate(scope: Any, receive: Any, send: Any) -> None:
        if scope.get("type") == "http":
            extensions = dict(scope.get("extensions") or {})
            extensions["tls"] = {**extensions.get("tls", {}), "client_cert_der": der}
            scope = {**scope, "extensions": extensions}
        await app(scope, receive, send)
    return with_certificate


def _guarded_protocol(edge_error: EdgeError, header_timeout: float,
                      body_timeout: float = BODY_TIMEOUT_S) -> type[H11Protocol]:
    class GuardedH11Protocol(H11Protocol):
        """h11 with a size limit and a deadline on each request head, and a deadline on each
        request body (from the end of its head)."""

        _head_timer: Any = None
        _body_timer: Any = None
        _body_cycle: Any = None   # the request whose body the body timer watches

        def _awaiting_head(self) -> bool:
            return self.cycle is None or self.cycle.response_complete

        def _awaiting_body(self) -> bool:
            cycle = self.cycle
            return cycle is not None and cycle.more_body and not cycle.response_complete

        def data_received(self, data: bytes) -> None:
            waiting = self._awaiting_head()
            if waiting and self._head_timer is None:
                self._head_timer = self.loop.call_later(header_timeout, self._head_too_slow)
            super().data_received(data)
            if not self._awaiting_head() or self.transport.is_closing():
                self._cancel_head_timer()
            self._watch_body()

        def _watch_body(self) -> None:
            """Arm the body deadline once per request whose body is still to come; disarm it
            when the body is complete, the answer is out or the connection is closing."""
            if self.transport.is_closing() or not self._awaiting_body():
                self._cancel_body_timer()
            elif self._body_cycle is not self.cycle:
                self._cancel_body_timer()
                self._body_cycle = self.cycle
                self._body_timer = self.loop.call_later(body_timeout, self._body_too_slow)

        def _cancel_head_timer(self) -> None:
            if self._head_timer is not None:
                self._head_timer.cancel()
                self._head_timer = None

        def _cancel_body_timer(self) -> None:
            if self._body_timer is not None:
                self._body_timer.cancel()
                self._body_timer = None
            self._body_cycle = None

        def _head_too_slow(self) -> None:
            self._head_timer = None
            if self._awaiting_head() and not self.transport.is_closing():
                self.transport.close()  # a slow client gets no answer, only its connection closed

        def _body_too_slow(self) -> None:
            watched, self._body_timer, self._body_cycle = self._body_cycle, None, None
            if watched is self.cycle and self._awaiting_body() and not self.transport.is_closing():
                # No answer: without the whole body there is no X-TB-Request-Hash to give
                # (TBS-REST-007). The app reading the body sees the client gone.
                self.logger.warning("request body from %s not complete within %.0f s of its head; connection "
                                    "closed", "%s:%d" % self.client if self.client else "?", body_timeout)
                self.transport.close()

        def connection_lost(self, exc: Exception | None) -> None:
            self._cancel_head_timer()
            self._cancel_body_timer()
            super().connection_lost(exc)

        def connection_made(self, transport: Any) -> None:  # type: ignore[override]
            super().connection_made(transport)
            # Mutual TLS (tongban.connectors.mtls): the client certificate of this connection
            # travels with each of its requests.
            ssl_object = transport.get_extra_info("ssl_object")
            der = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
            if der:
                self.app = _with_client_certificate(self.app, der)

        def send_400_response(self, msg: str) -> None:
            # h11 could not parse the request, or its head outgrew h11's buffer
            self._refuse(400, "BAD_HEADER", f"not a valid HTTP/1.1 request (or its head is over "
                         f"{_HARD_HEAD_LIMIT} bytes)", "TBS-REST-006")

        def _refuse(self, status: int, code: str, message: str, rule_id: str) -> None:
            from http import HTTPStatus

            status, body, media = edge_error(status, code, message, rule_id)
            head = (f"HTTP/1.1 {status} {HTTPStatus(status).phrase}\r\ncontent-type: {media}\r\n"
                    f"content-length: {len(body)}\r\nx-tb-spec-version: TBS-1.0\r\nconnection: close\r\n\r\n")
            self.transport.write(head.encode("ascii") + body)
            self.transport.close()

    return GuardedH11Protocol


@dataclass(frozen=True)
class TlsFiles:
    """Server certificate chain and key (PEM files), plus the CA a client should trust."""

    cert_file: Path
    key_file: Path
    ca_file: Path
    client_ca_file: Path | None = None   # mutual TLS: ask clients for a certificate of this CA


def make_local_ca(folder: Path, hostnames: tuple[str, ...] = ("127.0.0.1", "localhost")) -> TlsFiles:
    """Create a local CA and a server certificate for loopback (trustme), as PEM files."""
    import trustme

    folder.mkdir(parents=True, exist_ok=True)
    ca = trustme.CA(organization_name="tongban sandbox CA")
    cert = ca.issue_cert(*hostnames)
    files = TlsFiles(folder / "server.pem", folder / "server.key", folder / "ca.pem")
    cert.private_key_pem.write_to_path(str(files.key_file))
    ca.private_key_pem.write_to_path(str(folder / "ca.key"))   # to issue client certificates later
    (folder / "ca.key").chmod(0o600)
    with open(files.cert_file, "wb") as fh:
        for blob in cert.cert_chain_pems:
            fh.write(blob.bytes())
    ca.cert_pem.write_to_path(str(files.ca_file))
    files.key_file.chmod(0o600)
    return files


def issue_client_certificate(folder: Path, common_name: str, *, name: str | None = None,
                             not_before: Any = None, not_after: Any = None) -> tuple[Path, Path]:
    """A client certificate (mutual TLS) from the local CA of :func:`make_local_ca` in ``folder``:
    ``(certificate, key)`` PEM files named after ``name`` (default the common name)."""
    import trustme

    ca = trustme.CA.from_pem((folder / "ca.pem").read_bytes(), (folder / "ca.key").read_bytes())
    issued = ca.issue_cert(common_name=common_name, not_before=not_before, not_after=not_after)
    stem = folder / f"client-{name or common_name}"
    cert_file, key_file = stem.with_suffix(".pem"), stem.with_suffix(".key")
    issued.cert_chain_pems[0].write_to_path(str(cert_file))
    issued.private_key_pem.write_to_path(str(key_file))
    key_file.chmod(0o600)
    return cert_file, key_file


class ServerThread:
    """``with ServerThread(app) as srv: httpx.get(srv.url + "/tbs/v1/meta")``."""

    def __init__(self, app: Any, *, host: str = "127.0.0.1", port: int = 0, tls: TlsFiles | None = None,
                 log_level: str = "warning", header_timeout: float = HEADER_TIMEOUT_S,
                 body_timeout: float = BODY_TIMEOUT_S, reuse_port: bool = False,
                 graceful_timeout: float = 2.0) -> None:
        import uvicorn

        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse_port:  # several processes serve one port; the kernel spreads the connections
            self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        self._sock.bind((host, port))
        self.host, self.port = self._sock.getsockname()[:2]
        self.tls = tls
        self._graceful_timeout = graceful_timeout
        kwargs: dict[str, Any] = {}
        if tls is not None:
            kwargs.update(ssl_certfile=str(tls.cert_file), ssl_keyfile=str(tls.key_file))
            if tls.client_ca_file is not None:
                import ssl

                # optional: a partner without a certificate may still present a bearer token
                kwargs.update(ssl_cert_reqs=ssl.CERT_OPTIONAL, ssl_ca_certs=str(tls.client_ca_file))
        edge_error = getattr(getattr(app, "state", None), "edge_error", None) or json_edge_error
        config = uvicorn.Config(app, log_level=log_level, access_log=False, lifespan="off",
                                timeout_graceful_shutdown=graceful_timeout,
                                http=_guarded_protocol(edge_error, header_timeout, body_timeout),
                                h11_max_incomplete_event_size=_HARD_HEAD_LIMIT, **kwargs)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [self._sock]},
                                        name=f"tongban-server-{self.port}", daemon=True)

    @property
    def url(self) -> str:
        scheme = "https" if self.tls else "http"
        return f"{scheme}://{self.host}:{self.port}"

    def start(self, timeout: float = 10.0) -> "ServerThread":
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"server on {self.url} did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=self._graceful_timeout + 8)
        self._sock.close()

    def __enter__(self) -> "ServerThread":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
