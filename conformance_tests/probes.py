"""Raw protocol probes of a REST or SOAP SUT, below the connectors.

Connectors hide exactly what some tests must see (headers, status codes, the shape of an error
body or a SOAP fault) and refuse to send what a negative test needs to send (no credentials,
a missing header). A probe sends one request with httpx and returns an :class:`Answer`
normalised across the two bindings: for SOAP, ``code`` is the REST error code of the fault
detail (TBS-SOAP-005) and ``fault`` the parsed fault.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tongban.connectors.rest import headers as H

if TYPE_CHECKING:
    from .session import Session


@dataclass
class Answer:
    status: int | None
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    code: str | None = None             # REST error code (error body or SOAP fault detail)
    fault: Any = None                   # connectors.soap.mapping.SoapFault for SOAP faults
    error: str | None = None            # transport failure or unreadable body
    exchange: int | None = None

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "")

    def json(self) -> Any:
        try:
            return json.loads(self.body)
        except ValueError:
            return None

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {"status": self.status}
        if self.code:
            out["code"] = self.code
        if self.fault is not None:
            out["faultcode"] = self.fault.faultcode
        if self.error:
            out["error"] = self.error
        if self.exchange is not None:
            out["exchange"] = self.exchange
        return out


def _base(session: "Session") -> str:
    endpoint = session.config.endpoint.rstrip("/")
    if session.config.binding == "SOAP":
        return endpoint if endpoint.endswith("/soap") else endpoint + "/tbs/v1/soap"
    return endpoint


SESSION_SPEC: str = "<the session's spec version>"
"""The default ``spec`` of the probes: the X-TB-Spec-Version of the session's version."""


def _headers(session: "Session", *, token: str | None, sender: str | None, spec: str | None,
             extra: dict[str, str] | None = None) -> dict[str, str]:
    out: dict[str, str] = {}
    if token:
        out["Authorization"] = f"Bearer {token}"
    if sender:
        out[H.SENDER] = sender
    if spec == SESSION_SPEC:
        spec = session.config.spec_version
    if spec:
        out[H.SPEC_VERSION] = spec
    out.update(extra or {})
    return out


def send(session: "Session", method: str, url: str, *, headers: dict[str, str], content: bytes | None = None,
         params: dict[str, Any] | None = None) -> Answer:
    import httpx

    client = session.http_client()
    try:
        resp = client.request(method, url, headers=headers, content=content, params=params)
    except httpx.HTTPError as exc:
        return Answer(None, error=f"{type(exc).__name__}: {exc}")
    finally:
        client.close()
    answer = Answer(resp.status_code, {k.lower(): v for k, v in resp.headers.items()}, resp.content,
                    exchange=len(session.exchanges) - 1)
    if session.config.binding == "SOAP":
        _read_fault(answer)
    else:
        body = answer.json()
        if isinstance(body, dict) and isinstance(body.get("code"), str):
            answer.code = body["code"]
    return answer


def _read_fault(answer: Answer) -> None:
    from tongban.connectors.soap import mapping

    if not answer.body:
        return
    try:
        answer.fault = mapping.xml_to_fault(answer.body)
    except mapping.Unmappable as exc:
        answer.error = f"unreadable SOAP answer: {exc.finding.message_en}"
        return
    if answer.fault is not None:
        answer.code = answer.fault.code


def soap_call(session: "Session", operation: str, body: bytes, *, token: str | None, sender: str | None,
              spec: str | None = SESSION_SPEC, action: str | None = None, extra: dict[str, str] | None = None) -> Answer:
    headers = _headers(session, token=token, sender=sender, spec=spec, extra={
        "Content-Type": "text/xml; charset=utf-8",
        "SOAPAction": f'"{action if action is not None else "urn:tbs:1.0#" + operation}"', **(extra or {})})
    return send(session, "POST", _base(session), headers=headers, content=body)


def get_meta(session: "Session", *, token: str | None, sender: str | None, spec: str | None = SESSION_SPEC) -> Answer:
    """``GET /tbs/v1/meta`` or SOAP ``GetMeta`` with exactly these credentials and headers."""
    if session.config.binding == "SOAP":
        from tongban.connectors.soap import mapping

        return soap_call(session, "GetMeta", mapping.get_meta_request(), token=token, sender=sender, spec=spec)
    return send(session, "GET", _base(session) + f"{H.BASE_PATH}/meta",
                headers=_headers(session, token=token, sender=sender, spec=spec))


def get_changes(session: "Session", dataset: str, *, since: str | None = None, limit: int | None = None,
                token: str | None, sender: str | None, spec: str | None = SESSION_SPEC) -> Answer:
    if session.config.binding == "SOAP":
        from tongban.connectors.soap import mapping

        return soap_call(session, "GetChanges", mapping.get_changes_request(dataset, since, limit), token=token,
                         sender=sender, spec=spec)
    params: dict[str, Any] = {}
    if since is not None:
        params["since"] = since
    if limit is not None:
        params["limit"] = limit
    return send(session, "GET", _base(session) + f"{H.BASE_PATH}/{dataset}/changes",
                headers=_headers(session, token=token, sender=sender, spec=spec), params=params)


def post_envelope(session: "Session", dataset: str, body: bytes, *, token: str | None, sender: str | None,
                  message_id: str | None, spec: str | None = SESSION_SPEC,
                  content_type: str = "application/json") -> Answer:
    """A raw POST (REST) or PushBatch (SOAP; ``body`` is then the SOAP request)."""
    extra = {H.MESSAGE_ID: message_id} if message_id else {}
    if session.config.binding == "SOAP":
        return soap_call(session, "PushBatch", body, token=token, sender=sender, spec=spec, extra=extra)
    headers = _headers(session, token=token, sender=sender, spec=spec, extra={"Content-Type": content_type, **extra})
    return send(session, "POST", _base(session) + f"{H.BASE_PATH}/{dataset}", headers=headers, content=body)
