"""REST connector (TBS-1.0 §15) over httpx.

Retries, page and hash checks are the shared ones of :mod:`~tongban.connectors.http_client`
(transport errors, 5xx and 429/503 retried with back-off and ``Retry-After``; 4xx final).
Redirects are never followed (TBS-REST-001). A push checks that ``X-TB-Request-Hash`` and the
acknowledgement's ``requestHash`` equal the SHA-256 of the envelope's JCS (TBS-ENV-031).
"""
from __future__ import annotations

import ssl
import time
import uuid
from typing import Any, Callable

import httpx

from tongban.connectors.base import (ChangesPage, ConnectorError, CursorExpiredError, ProtocolError, PushResult,
                                     TransportError)
from tongban.connectors.http_client import (RetryingClient, RetryPolicy, changes_page, check_request_hash,
                                            received_now, retry_after, status_error)
from tongban.connectors.rest import headers as H
from tongban.model.canonical import canonical_bytes, sha256_hex


class RestConnector(RetryingClient):
    binding = "REST"

    def __init__(
        self,
        base_url: str,
        *,
        sender: str,
        token: str | None = None,
        spec_version: str = "TBS-1.0",
        verify: bool | str | ssl.SSLContext = True,
        cert: tuple[str, str] | None = None,
        connect_timeout: float = 10.0,
        read_timeout: float = 60.0,
        retries: int = 3,
        backoff: float = 5.0,
        max_backoff: float = 900.0,
        sleep: Callable[[float], None] = time.sleep,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.sender = sender
        self.spec_version = spec_version
        self.retry = RetryPolicy(retries, backoff, max_backoff, sleep)
        hdrs = {H.SENDER: sender, H.SPEC_VERSION: spec_version, "Accept": "application/json"}
        if token:
            hdrs["Authorization"] = f"Bearer {token}"
        if isinstance(verify, str):  # a CA file to trust (the partner's or the sandbox's local CA)
            verify = ssl.create_default_context(cafile=verify)
        if cert is not None:  # mutual TLS (TBS-SEC-001): our client certificate and its key
            if not isinstance(verify, ssl.SSLContext):
                verify = ssl.create_default_context() if verify else ssl._create_unverified_context()
            verify.load_cert_chain(*cert)
        self._client = httpx.Client(
            base_url=self.base_url,
            headers=hdrs,
            verify=verify,
            timeout=httpx.Timeout(read_timeout, connect=connect_timeout),
            follow_redirects=False,
            transport=transport,
        )

    # -- protocol -------------------------------------------------------------------------
    def meta(self) -> dict[str, Any]:
        resp = self._request("GET", f"{H.BASE_PATH}/meta")
        body = self._json(resp)
        if not isinstance(body, dict):
            raise ProtocolError("meta is not a JSON object", endpoint=str(resp.url))
        return body

    def fetch_changes(self, dataset: str, since: str | None, limit: int = 100) -> ChangesPage:
        params: dict[str, Any] = {"limit": limit}
        if since:
            params["since"] = since
        resp = self._request("GET", f"{H.BASE_PATH}/{dataset}/changes", params=params)
        received_at = received_now()
        return changes_page(self._json(resp), limit=limit, raw=resp.content, received_at=received_at,
                            endpoint=str(resp.url), what="changes response", rule_id="TBS-REST-003")

    def push(self, envelope: dict[str, Any]) -> PushResult:
        body = canonical_bytes(envelope)
        expected_hash = sha256_hex(body)
        dataset = envelope.get("dataset", "")
        message_id = str(envelope.get("messageId") or uuid.uuid4())
        resp = self._request(
            "POST", f"{H.BASE_PATH}/{dataset}", content=body,
            headers={"Content-Type": "application/json", H.MESSAGE_ID: message_id}, accept=(200, 422),
        )
        ack = self._json(resp)
        header_hash = resp.headers.get(H.REQUEST_HASH)
        check_request_hash(expected_hash, header_hash, ack, endpoint=str(resp.url))
        return PushResult(ack=ack, request_hash=header_hash, status_code=resp.status_code)

    def get_ack(self, message_id: str) -> dict[str, Any] | None:
        try:
            resp = self._request("GET", f"{H.BASE_PATH}/acks/{message_id}")
        except ProtocolError as exc:
            if exc.status == 404:
                return None
            raise
        return self._json(resp)

    def close(self) -> None:
        self._client.close()

    # -- transport ------------------------------------------------------------------------
    def _request(self, method: str, path: str, *, accept: tuple[int, ...] = (200,), **kw: Any) -> httpx.Response:
        def attempt() -> httpx.Response:
            try:
                resp = self._client.request(method, path, **kw)
            except httpx.TimeoutException as exc:
                raise TransportError(f"timeout: {exc.__class__.__name__}", endpoint=self.base_url + path,
                                     code="TIMEOUT") from exc
            except httpx.TransportError as exc:
                raise TransportError(f"transport error: {exc}", endpoint=self.base_url + path,
                                     code="UNREACHABLE") from exc
            if resp.status_code not in accept:
                raise _status_error(resp)
            return resp
        return self.retry.call(attempt)

    @staticmethod
    def _json(resp: httpx.Response) -> Any:
        from tongban.validators import JsonParseError, parse_json_strict

        ctype = resp.headers.get("content-type", "")
        if not ctype.split(";")[0].strip() == "application/json":
            raise ProtocolError(f"expected application/json, got {ctype or 'no content type'} (TBS-REST-001)",
                                endpoint=str(resp.url), status=resp.status_code)
        try:
            return parse_json_strict(resp.content)
        except JsonParseError as exc:
            raise ProtocolError(f"response is not valid I-JSON: {exc}", endpoint=str(resp.url),
                                status=resp.status_code, code="MALFORMED_JSON") from exc


def _status_error(resp: httpx.Response) -> ConnectorError:
    code, message, rule_id = None, resp.reason_phrase, None
    try:
        body = resp.json()
        if isinstance(body, dict):
            code, message, rule_id = body.get("code"), body.get("message", message), body.get("ruleId")
    except ValueError:
        pass
    where, status = str(resp.url), resp.status_code
    text = f"HTTP {status}: {message}"
    if status == 410:
        return CursorExpiredError(text, endpoint=where, code=code or "CURSOR_EXPIRED", status=status, rule_id=rule_id)
    if status >= 500 and status != 503:
        code = code or "INTERNAL_ERROR"
    return status_error(status, text, retry_after_s=retry_after(resp.headers.get("Retry-After")), endpoint=where,
                        code=code, rule_id=rule_id)
