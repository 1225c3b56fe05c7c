"""REST connector (TBS-1.0 §15) over httpx.

Retries only what may succeed on a second try — transport errors, 5xx, 429/503 with
``Retry-After`` — with exponential back-off; 4xx answers are final. Redirects are never
followed (TBS-REST-001). A push checks that ``X-TB-Request-Hash`` and the acknowledgement's
``requestHash`` equal the SHA-256 of the envelope's JCS (TBS-ENV-031).
"""
from __future__ import annotations

import ssl
import time
import uuid
from datetime import datetime, timezone
from typing import Any, Callable

import httpx

from tongban.connectors.base import (ChangesPage, ConnectorError, CursorExpiredError, ProtocolError, PushResult,
                                     RateLimitedError, TransportError)
from tongban.connectors.rest import headers as H
from tongban.model.canonical import canonical_bytes, sha256_hex

RETRIABLE_STATUS = {500, 502, 503, 504, 429}


class RestConnector:
    binding = "REST"

    def __init__(
        self,
        base_url: str,
        *,
        sender: str,
        token: str | None = None,
        spec_version: str = "TBS-1.0",
        verify: bool | str | ssl.SSLContext = True,
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
        self.retries = retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self._sleep = sleep
        hdrs = {H.SENDER: sender, H.SPEC_VERSION: spec_version, "Accept": "application/json"}
        if token:
            hdrs["Authorization"] = f"Bearer {token}"
        if isinstance(verify, str):  # a CA file to trust (the partner's or the sandbox's local CA)
            verify = ssl.create_default_context(cafile=verify)
        self._client = httpx.Client(
            base_url=self.base_url,
            headers=hdrs,
            verify=verify,
            timeout=httpx.Timeout(read_timeout, connect=connect_timeout),
            follow_redirects=False,
            transport=transport,
        )
        self.attempts = 0  # total HTTP attempts, for tests and run records

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
        received_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
        body = self._json(resp)
        where = str(resp.url)
        if not isinstance(body, dict):
            raise ProtocolError("changes response is not a JSON object (TBS-REST-003)", endpoint=where)
        records, next_cursor, has_more = body.get("records"), body.get("nextCursor"), body.get("hasMore")
        if not isinstance(records, list) or not isinstance(next_cursor, str) or not isinstance(has_more, bool):
            raise ProtocolError("changes response needs records (array), nextCursor (string) and hasMore (boolean)"
                                " (TBS-REST-003)", endpoint=where)
        if len(records) > limit:
            raise ProtocolError(f"changes response holds {len(records)} records, more than limit={limit}",
                                endpoint=where)
        return ChangesPage(records=records, next_cursor=next_cursor, has_more=has_more, raw=resp.content,
                           received_at=received_at)

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
        if header_hash != expected_hash or (isinstance(ack, dict) and ack.get("requestHash") != expected_hash):
            raise ProtocolError(
                f"request hash mismatch: sent {expected_hash}, header {header_hash}, "
                f"ack {ack.get('requestHash') if isinstance(ack, dict) else None} (TBS-ENV-031)",
                endpoint=str(resp.url))
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

    def __enter__(self) -> "RestConnector":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- transport ------------------------------------------------------------------------
    def _request(self, method: str, path: str, *, accept: tuple[int, ...] = (200,), **kw: Any) -> httpx.Response:
        delay = self.backoff
        for attempt in range(self.retries + 1):
            self.attempts += 1
            last = attempt == self.retries
            try:
                resp = self._client.request(method, path, **kw)
            except httpx.TimeoutException as exc:
                error: ConnectorError = TransportError(f"timeout: {exc.__class__.__name__}",
                                                       endpoint=self.base_url + path, code="TIMEOUT")
            except httpx.TransportError as exc:
                error = TransportError(f"transport error: {exc}", endpoint=self.base_url + path,
                                       code="UNREACHABLE")
            else:
                if resp.status_code in accept:
                    return resp
                error = _status_error(resp)
                if not error.retriable:
                    raise error
            if last:
                raise error
            wait = delay
            if isinstance(error, RateLimitedError) and error.retry_after is not None:
                wait = max(wait, error.retry_after)  # TBS-SEC-013: honour Retry-After
            self._sleep(min(wait, self.max_backoff))
            delay = min(delay * 2, self.max_backoff)
        raise AssertionError("unreachable")

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
    where = str(resp.url)
    status = resp.status_code
    text = f"HTTP {status}: {message}"
    if status == 410:
        return CursorExpiredError(text, endpoint=where, code=code or "CURSOR_EXPIRED", status=status, rule_id=rule_id)
    if status in RETRIABLE_STATUS:
        retry_after = _retry_after(resp.headers.get("Retry-After"))
        if status in (429, 503):
            return RateLimitedError(text, retry_after=retry_after, endpoint=where, code=code, status=status,
                                    rule_id=rule_id)
        return TransportError(text, endpoint=where, code=code or "INTERNAL_ERROR", status=status, rule_id=rule_id)
    return ProtocolError(text, endpoint=where, code=code, status=status, rule_id=rule_id)


def _retry_after(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None
