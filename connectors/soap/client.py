"""SOAP connector (TBS-1.0 §16) with zeep against the normative WSDL.

zeep reads ``tbs-1.0.wsdl``/``tbs-1.0.xsd`` (the published files, not a copy fetched from the
partner), gives the operations, their SOAPActions and the transport, and builds the GetMeta,
GetChanges and GetAck requests. Responses are taken raw and mapped by :mod:`.mapping` — the same
hardened parser and TBS-SOAP-003 typing the server uses — and PushBatch bodies are written by
:func:`.mapping.envelope_to_push_batch`, so an envelope is sent exactly as its JSON says, even a
deliberately invalid one from the conformance kit, which zeep's object binding would refuse.

Versions (TBS-1.1 TBS-SOAP-001): the connector speaks the version it is given (``spec_version``,
the one negotiated by TBS-ENV-034): zeep reads that version's WSDL (``tbs-1.1.wsdl`` in
``urn:tbs:1.1``), requests carry its namespace, SOAPAction and ``X-TB-Spec-Version``. A response
is read under the version its namespace names; one in another version than asked for (an
acknowledgement excepted: it comes back in the version it was written in, TBS-ENV-029), or whose
``X-TB-Spec-Version`` or acknowledgement ``specVersion`` names another version than its
namespace, is refused as a :class:`ProtocolError` naming both.

Faults map onto the :class:`ConnectorError` tree by the REST code in their detail
(TBS-SOAP-005): ``soap:Server`` (5xx) and transport failures are retriable
:class:`TransportError` s, RATE_LIMITED / ``Server.RateLimited`` a :class:`RateLimitedError` with
``Retry-After``, CURSOR_EXPIRED a :class:`CursorExpiredError`, other ``soap:Client`` faults a
:class:`ProtocolError`. Retries, page and hash checks are the shared ones of
:mod:`~tongban.connectors.http_client`. Redirects are never followed (TBS-REST-001).
"""
from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any, Callable

import requests
import zeep
import zeep.transports

from tongban.connectors.base import (ChangesPage, ConnectorError, CursorExpiredError, ProtocolError, PushResult,
                                     RateLimitedError, TransportError)
from tongban.connectors.http_client import (RetryingClient, RetryPolicy, changes_page, check_request_hash,
                                            received_now, retry_after, status_error)
from tongban.connectors.rest import headers as H
from tongban.model.canonical import canonical_bytes, sha256_hex
from tongban.specs import spec_dir

from . import mapping
from .mapping import SoapFault, Unmappable
from .xsd_model import namespace_of

#: HTTP status of each REST error code (TBS-REST-008), carried on errors built from faults.
STATUS_OF_CODE: dict[str, int] = {
    "MALFORMED_JSON": 400, "BAD_HEADER": 400, "BAD_PARAMETER": 400, "BAD_CURSOR": 400,
    "UNAUTHENTICATED": 401, "FORBIDDEN": 403, "NOT_FOUND": 404, "MESSAGE_ID_CONFLICT": 409,
    "CURSOR_EXPIRED": 410, "PAYLOAD_TOO_LARGE": 413, "UNSUPPORTED_MEDIA_TYPE": 415,
    "RATE_LIMITED": 429, "INTERNAL_ERROR": 500, "UNAVAILABLE": 503,
}


def binding_name(spec_version: str) -> str:
    """The WSDL binding of ``spec_version`` (``{urn:tbs:1.1}TbsSoap11`` for TBS-1.1)."""
    return f"{{{namespace_of(spec_version)}}}TbsSoap11"


BINDING_NAME = binding_name("TBS-1.0")


class _Transport(zeep.transports.Transport):
    """zeep's transport with redirects off (TBS-REST-001) and split connect/read timeouts."""

    def post(self, address: str, message: bytes | str, headers: dict[str, str]) -> requests.Response:
        # verify is passed per request: requests lets REQUESTS_CA_BUNDLE override a session's
        # verify (psf/requests#3829), which would silently distrust the partner's own CA file.
        return self.session.post(address, data=message, headers=headers, timeout=self.operation_timeout,
                                 allow_redirects=False, verify=self.session.verify)


class SoapConnector(RetryingClient):
    """:class:`~tongban.connectors.base.Connector` for a partner's ``{base}/tbs/v1/soap`` endpoint."""

    binding = "SOAP"

    def __init__(
        self,
        endpoint: str,
        *,
        sender: str,
        token: str | None = None,
        spec_version: str = "TBS-1.0",
        wsdl: str | Path | None = None,
        verify: bool | str = True,
        cert: str | tuple[str, str] | None = None,
        connect_timeout: float = 10.0,
        read_timeout: float = 60.0,
        retries: int = 3,
        backoff: float = 5.0,
        max_backoff: float = 900.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        """``endpoint`` is the SOAP address (``https://host/tbs/v1/soap``); a base URL gets the path added."""
        self.endpoint = endpoint if endpoint.rstrip("/").endswith("/soap") else endpoint.rstrip("/") + "/tbs/v1/soap"
        self.sender = sender
        try:
            namespace_of(spec_version)
        except ValueError as exc:
            raise ValueError(f"SOAP connector for {self.endpoint}: {exc}") from None
        self.spec_version = spec_version
        self.retry = RetryPolicy(retries, backoff, max_backoff, sleep)
        session = requests.Session()
        session.verify = verify
        session.cert = cert
        session.max_redirects = 0
        session.headers.update({H.SENDER: sender, H.SPEC_VERSION: spec_version})
        if token:
            session.headers["Authorization"] = f"Bearer {token}"
        self._transport = _Transport(session=session, operation_timeout=(connect_timeout, read_timeout))
        # The normative WSDL is a local file: loading it fetches nothing from the network.
        wsdl_path = str(wsdl or spec_dir(spec_version) / f"{spec_version.lower()}.wsdl")
        self._client = zeep.Client(wsdl_path, transport=self._transport,
                                   settings=zeep.Settings(forbid_dtd=True, forbid_external=True))
        binding = binding_name(spec_version)
        if binding not in self._client.wsdl.bindings:
            raise ValueError(f"WSDL {wsdl_path} has no binding {binding}: it is not the WSDL of {spec_version}")
        self._service = self._client.create_service(binding, self.endpoint)
        self._push_action = self._client.wsdl.bindings[binding].get("PushBatch").soapaction

    # -- protocol -------------------------------------------------------------------------
    def meta(self) -> dict[str, Any]:
        resp = self._call("GetMeta")
        meta = self._map(resp, "GetMeta", lambda op: mapping.decode(self._member(op, "meta"), "Meta")[0])
        if not isinstance(meta, dict):
            raise ProtocolError("GetMetaResponse holds no meta object", endpoint=self.endpoint)
        return meta

    def fetch_changes(self, dataset: str, since: str | None, limit: int = 100) -> ChangesPage:
        resp = self._call("GetChanges", dataset=dataset, since=since, limit=limit)
        received_at = received_now()
        body, _findings = self._map(resp, "GetChanges",
                                    lambda op: mapping.decode(op, "GetChangesResponse", dataset=dataset))
        page = changes_page(body, limit=limit, raw=resp.content, received_at=received_at, endpoint=self.endpoint,
                            what="GetChangesResponse", rule_id="TBS-SOAP-002", cut=mapping.record_item_texts)
        # the records are validated under the version of the response (TBS-1.1 TBS-ENV-029),
        # which _map has checked to be the one asked for
        return dataclasses.replace(page, spec_version=self.spec_version)

    def push(self, envelope: dict[str, Any]) -> PushResult:
        try:
            body = mapping.envelope_to_push_batch(envelope, self.spec_version)
        except ValueError as exc:
            raise ProtocolError(f"envelope cannot be sent over SOAP: {exc}", endpoint=self.endpoint) from exc
        # TBS-ENV-031: the receiver hashes the JSON it maps our XML to; compute the same.
        mapped, _ = mapping.push_batch_to_envelope(body)
        expected_hash = sha256_hex(canonical_bytes(mapped))
        headers = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": f'"{self._push_action}"'}
        if isinstance(envelope.get("messageId"), str):
            headers[H.MESSAGE_ID] = envelope["messageId"]
        resp = self._send(lambda: self._transport.post(self.endpoint, body, headers))
        # the acknowledgement of an envelope in a version the receiver does not take from us is
        # written in another version (TBS-1.1 TBS-ENV-029): its namespace says which
        ack = self._map(resp, "PushBatch", lambda op: self._ack(op), any_version=True)
        header_hash = resp.headers.get(H.REQUEST_HASH)
        check_request_hash(expected_hash, header_hash, ack, endpoint=self.endpoint)
        return PushResult(ack=ack, request_hash=header_hash, status_code=resp.status_code)

    def get_ack(self, message_id: str) -> dict[str, Any] | None:
        """The current acknowledgement of a message we sent (TBS-REST-010), None when unknown."""
        try:
            resp = self._call("GetAck", messageId=message_id)
        except ProtocolError as exc:
            if exc.code == "NOT_FOUND":
                return None
            raise
        # TBS-1.1 TBS-REST-012: an acknowledgement comes back in the version it was written in
        return self._map(resp, "GetAck", lambda op: self._ack(op), any_version=True)

    def close(self) -> None:
        self._transport.session.close()

    # -- transport ------------------------------------------------------------------------
    def _call(self, operation: str, **params: Any) -> requests.Response:
        """Send one request built by zeep from the WSDL; the raw HTTP response comes back."""
        def send() -> requests.Response:
            with self._client.settings(raw_response=True):
                return getattr(self._service, operation)(**params)
        return self._send(send)

    def _send(self, send: Callable[[], requests.Response]) -> requests.Response:
        def attempt() -> requests.Response:
            try:
                resp = send()
            except requests.exceptions.Timeout as exc:
                raise TransportError(f"timeout: {exc.__class__.__name__}", endpoint=self.endpoint,
                                     code="TIMEOUT") from exc
            except requests.exceptions.RequestException as exc:
                raise TransportError(f"transport error: {exc}", endpoint=self.endpoint, code="UNREACHABLE") from exc
            if resp.status_code != 200:
                raise self._error(resp)
            return resp
        return self.retry.call(attempt)

    def _map(self, resp: requests.Response, operation: str, read: Callable[[Any], Any], *,
             any_version: bool = False) -> Any:
        """``read`` applied to the response wrapper of ``operation``, after the version checks
        of TBS-1.1 TBS-SOAP-001 (namespace, ``X-TB-Spec-Version``)."""
        try:
            op = mapping.response_wrapper(resp.content, operation)
            version = mapping.version_of(op)
            header = resp.headers.get(H.SPEC_VERSION)
            if not any_version and version != self.spec_version:
                raise ProtocolError(f"{operation}Response is in namespace {namespace_of(version)} ({version}), "
                                    f"but the request was {self.spec_version} ({namespace_of(self.spec_version)}): "
                                    "a response is written in the version asked for (TBS-SOAP-001, TBS-REST-012)",
                                    endpoint=self.endpoint, status=resp.status_code, rule_id="TBS-SOAP-001")
            if header is not None and header != version:
                raise ProtocolError(f"{operation}Response: {H.SPEC_VERSION} {header[:20]!r} and the body namespace "
                                    f"{namespace_of(version)} ({version}) name different versions (TBS-SOAP-001)",
                                    endpoint=self.endpoint, status=resp.status_code, rule_id="TBS-SOAP-001")
            return read(op)
        except Unmappable as exc:
            raise ProtocolError(f"malformed SOAP response: {exc.finding.message_en} at "
                                f"{exc.finding.location or '/'}", endpoint=self.endpoint,
                                status=resp.status_code, rule_id=exc.finding.rule_id) from exc

    @staticmethod
    def _member(op: Any, name: str) -> Any:
        el = mapping.wrapper_member(op, name)
        assert el is not None
        return el

    def _ack(self, op: Any) -> dict[str, Any]:
        """The acknowledgement of a response wrapper; its ``specVersion`` must be the namespace's."""
        ack = mapping.decode(self._member(op, "ack"), "Ack")[0]
        version = mapping.version_of(op)
        if isinstance(ack, dict) and ack.get("specVersion") != version:
            raise ProtocolError(f"acknowledgement specVersion {str(ack.get('specVersion'))[:20]!r} and the body "
                                f"namespace {namespace_of(version)} ({version}) name different versions "
                                "(TBS-SOAP-001)", endpoint=self.endpoint, rule_id="TBS-SOAP-001")
        return ack

    def _error(self, resp: requests.Response) -> ConnectorError:
        status = resp.status_code
        fault: SoapFault | None = None
        if resp.content:
            try:
                fault = mapping.xml_to_fault(resp.content)
            except Unmappable:
                fault = None
        retry_after_s = retry_after(resp.headers.get("Retry-After"))
        if fault is None:  # not a SOAP answer at all: judge by the HTTP status
            return status_error(status, f"HTTP {status} without a SOAP fault", retry_after_s=retry_after_s,
                                endpoint=self.endpoint)
        code = fault.code
        text = f"SOAP fault {fault.faultcode}: {fault.message or fault.faultstring}"
        kw: dict[str, Any] = {"endpoint": self.endpoint, "code": code, "rule_id": fault.rule_id,
                              "status": STATUS_OF_CODE.get(code or "", 500 if fault.faultcode.startswith("Server")
                                                           else 400)}
        if code == "CURSOR_EXPIRED":
            return CursorExpiredError(text, **kw)
        if code == "RATE_LIMITED" or fault.faultcode == "Server.RateLimited" or code == "UNAVAILABLE":
            return RateLimitedError(text, retry_after=retry_after_s, **kw)
        if fault.faultcode.startswith("Server"):
            return TransportError(text, **kw)
        return ProtocolError(text, **kw)

