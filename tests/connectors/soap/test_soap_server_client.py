"""SOAP server and zeep client against each other, on a real uvicorn server on 127.0.0.1."""
from __future__ import annotations

import copy
import json
import socket
from pathlib import Path
from typing import Any

import httpx
import pytest
from lxml import etree

from tongban.connectors.base import (Connector, CursorExpiredError, ProtocolError, RateLimitedError, ServiceError,
                                     TransportError)
from tongban.connectors.rest.server import token_table
from tongban.connectors.serving import ServerThread
from tongban.connectors.soap import mapping
from tongban.connectors.soap.client import SoapConnector
from tongban.connectors.soap.server import create_soap_app
from tongban.model.canonical import canonical_bytes, records_sha256, sha256_hex

ANNEX_B = Path(__file__).resolve().parents[2] / "data" / "annex_b"
COUNTY = "TB:county:440103:LWZWFW"
CITY = "TB:city:440100:GZZWFW"
TOKENS = {"county-token": COUNTY, "other-token": "TB:county:440104:YXZWFW"}
SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
BAD_ID_NO = "340524198001010010"  # B.7: check character mismatch


def example(name: str) -> dict[str, Any]:
    return json.loads((ANNEX_B / f"{name}.json").read_text(encoding="utf-8"))


def report(items: list[dict[str, Any]]) -> dict[str, Any]:
    errors = sum(1 for i in items if i["severity"] == "ERROR")
    return {"result": "FAILURE" if errors else "SUCCESS", "counters": {"errors": errors, "warnings": 0, "infos": 0},
            "items": items}


class MemoryService:
    """A tiny SystemService: one case feed, a rule that rejects B.7's bad identity number."""

    def __init__(self) -> None:
        feed = example("B.2")["records"]
        self.feed = [dict(feed[i % 2], caseNo=feed[i % 2]["caseNo"][:-4] + f"{i:04d}") for i in range(5)]
        self.acks: dict[str, tuple[str, dict[str, Any]]] = {}
        self.received: list[dict[str, Any]] = []
        self.fail_with: Exception | None = None

    def meta(self) -> dict[str, Any]:
        return {"systemId": CITY, "roles": ["CASE_REPORTER"], "datasets": ["case", "case-event"],
                "specVersions": ["TBS-1.0"], "bindings": ["REST", "SOAP"],
                "limits": {"maxRecords": 1000, "maxBodyBytes": 16777216}}

    def changes(self, dataset: str, since: str | None, limit: int) -> dict[str, Any]:
        if self.fail_with:
            raise self.fail_with
        if dataset != "case":
            raise ServiceError(404, "NOT_FOUND", "dataset not provided")
        if since == "c-expired":
            raise ServiceError(410, "CURSOR_EXPIRED", "cursor expired", rule_id="TBS-REST-004")
        if since is not None and not (since.startswith("c-") and since[2:].isdigit()):
            raise ServiceError(400, "BAD_CURSOR", "cursor cannot be interpreted", rule_id="TBS-REST-004")
        start = int(since[2:]) if since else 0
        records = self.feed[start:start + limit]
        end = start + len(records)
        return {"records": records, "nextCursor": f"c-{end:016d}" if records else (since or "c-0"),
                "hasMore": end < len(self.feed)}

    def receive(self, envelope: dict[str, Any], *, binding: str, request_hash: str,
                authenticated_sender: str | None, binding_dataset: str | None = None,
                topic_region: str | None = None, binding_findings: Any = (), received: Any = None) -> dict[str, Any]:
        if self.fail_with:
            raise self.fail_with
        self.received.append({"envelope": envelope, "binding": binding, "request_hash": request_hash,
                              "authenticated_sender": authenticated_sender, "findings": list(binding_findings)})
        rejected = []
        for i, record in enumerate(envelope["records"]):
            if record.get("agent", {}).get("idNo") == BAD_ID_NO:
                rejected.append({"index": i, "key": {"caseNo": record["caseNo"]}, "report": report([{
                    "severity": "ERROR", "ruleId": "TBS-CODE-017", "location": f"/records/{i}/agent/idNo",
                    "message": {"zh": "居民身份证号码校验码错误", "en": "Resident identity number: check character mismatch"},
                    "value": "340524********0010"}])})
        n = len(envelope["records"])
        ack = {"specVersion": "TBS-1.0", "requestMessageId": envelope["messageId"], "requestHash": request_hash,
               "sender": CITY, "receiver": envelope["sender"], "receivedAt": "2026-11-02T10:05:02+08:00",
               "status": "ACCEPTED" if not rejected else ("REJECTED" if len(rejected) == n else "PARTIAL"),
               "final": True, "envelopeReport": report([]),
               "counts": {"received": n, "stored": n - len(rejected), "duplicate": 0, "stale": 0, "held": 0,
                          "rejected": len(rejected)},
               "accepted": n - len(rejected), "rejected": rejected, "notes": []}
        self.acks[envelope["messageId"]] = (authenticated_sender or "", ack)
        return ack

    def get_ack(self, message_id: str, caller: str) -> dict[str, Any] | None:
        found = self.acks.get(message_id)
        return found[1] if found and found[0] == caller else None


@pytest.fixture(scope="module")
def server() -> Any:
    service = MemoryService()
    app = create_soap_app(service, authenticate=token_table(TOKENS), max_body_bytes=256 * 1024)
    with ServerThread(app) as srv:
        srv.service = service
        yield srv


@pytest.fixture()
def service(server: Any) -> MemoryService:
    server.service.fail_with = None
    server.service.received.clear()
    return server.service


@pytest.fixture()
def client(server: Any, service: MemoryService) -> Any:
    with SoapConnector(server.url, sender=COUNTY, token="county-token", retries=0) as c:
        yield c


def raw_post(server: Any, body: bytes, *, token: str | None = "county-token", action: str = "PushBatch",
             sender: str = COUNTY, content_type: str = "text/xml; charset=utf-8",
             extra: dict[str, str] | None = None) -> httpx.Response:
    headers = {"Content-Type": content_type, "SOAPAction": f'"urn:tbs:1.0#{action}"',
               "X-TB-Sender": sender, "X-TB-Spec-Version": "TBS-1.0", **(extra or {})}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return httpx.post(f"{server.url}/tbs/v1/soap", content=body, headers=headers, timeout=10)


def fault_of(resp: httpx.Response) -> mapping.SoapFault:
    assert resp.status_code == 500 and resp.headers["X-TB-Spec-Version"] == "TBS-1.0"
    fault = mapping.xml_to_fault(resp.content)
    assert fault is not None
    return fault


# --------------------------------------------------------------------------- WSDL and protocol

def test_server_serves_the_normative_wsdl_that_zeep_loads_with_its_own_address(server: Any) -> None:
    import zeep

    resp = httpx.get(f"{server.url}/tbs/v1/soap?wsdl", timeout=10)
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/xml")
    client = zeep.Client(f"{server.url}/tbs/v1/soap?wsdl")  # fetches the imported XSD from the server too
    assert client.service._binding_options["address"] == f"{server.url}/tbs/v1/soap"
    binding = next(iter(client.wsdl.bindings.values()))
    assert {op.soapaction for op in binding._operations.values()} == {
        "urn:tbs:1.0#GetMeta", "urn:tbs:1.0#GetChanges", "urn:tbs:1.0#PushBatch", "urn:tbs:1.0#GetAck"}


def test_connector_satisfies_the_connector_protocol(client: SoapConnector) -> None:
    assert isinstance(client, Connector) and client.binding == "SOAP"


def test_meta(client: SoapConnector, service: MemoryService) -> None:
    assert client.meta() == service.meta()


def test_changes_are_paged_with_the_cursor_until_the_end(client: SoapConnector, service: MemoryService) -> None:
    pages, since = [], None
    while True:
        page = client.fetch_changes("case", since, limit=2)
        pages.append(page)
        since = page.next_cursor
        if not page.has_more:
            break
    assert [len(p.records) for p in pages] == [2, 2, 1]
    assert canonical_bytes([r for p in pages for r in p.records]) == canonical_bytes(service.feed)
    assert pages[0].raw.startswith(b"<?xml") and pages[0].received_at
    end = client.fetch_changes("case", since, limit=2)
    assert end.records == [] and end.has_more is False and end.next_cursor == since


def test_push_returns_the_ack_and_the_request_hash_of_the_mapped_envelope(
        client: SoapConnector, service: MemoryService) -> None:
    envelope = example("B.2")
    result = client.push(envelope)
    assert result.ack["status"] == "ACCEPTED" and result.ack["counts"]["stored"] == 2
    assert result.request_hash == sha256_hex(canonical_bytes(envelope)) == result.ack["requestHash"]
    (call,) = service.received
    assert call["binding"] == "SOAP" and call["authenticated_sender"] == COUNTY and call["findings"] == []
    assert canonical_bytes(call["envelope"]) == canonical_bytes(envelope)
    assert client.get_ack(envelope["messageId"]) == result.ack


def test_push_with_a_rejected_record_gives_a_partial_ack(client: SoapConnector) -> None:
    envelope = example("B.2")
    envelope["messageId"] = "0b9e4c71-2d3a-4e8f-a5b6-7c8d9e0f1a2c"
    envelope["records"][1]["agent"]["idNo"] = BAD_ID_NO
    envelope["integrity"]["recordsSha256"] = records_sha256(envelope["records"])
    ack = client.push(envelope).ack
    assert ack["status"] == "PARTIAL" and ack["accepted"] == 1 and ack["counts"]["rejected"] == 1
    (rejected,) = ack["rejected"]
    assert rejected["index"] == 1 and rejected["key"] == {"caseNo": envelope["records"][1]["caseNo"]}
    assert [(i["ruleId"], i["location"]) for i in rejected["report"]["items"]] == [
        ("TBS-CODE-017", "/records/1/agent/idNo")]


def test_get_ack_of_an_unknown_or_foreign_message_is_none(server: Any, client: SoapConnector) -> None:
    assert client.get_ack("00000000-0000-4000-8000-000000000000") is None
    client.push(example("B.3"))
    with SoapConnector(server.url, sender="TB:county:440104:YXZWFW", token="other-token", retries=0) as other:
        assert other.get_ack(example("B.3")["messageId"]) is None


def test_mapping_findings_reach_the_service(server: Any, service: MemoryService) -> None:
    envelope = example("B.4")
    xml = mapping.envelope_to_push_batch(envelope).replace(
        b"<tbs:certNo>", b"<tbs:certNo>X</tbs:certNo><tbs:certNo>", 1)
    resp = raw_post(server, xml, extra={"X-TB-Message-Id": envelope["messageId"]})
    assert resp.status_code == 200
    ack = mapping.xml_to_ack(resp.content)
    assert resp.headers["X-TB-Request-Hash"] == ack["requestHash"]
    (call,) = service.received
    assert [f.identity for f in call["findings"]] == [("ERROR", "TBS-ENV-001", "/records/0/certNo")]
    assert call["envelope"]["records"][0]["certNo"] == "X"


# --------------------------------------------------------------------------- faults

def test_bad_cursor_is_a_client_fault_mapped_to_protocol_error(server: Any, client: SoapConnector) -> None:
    with pytest.raises(ProtocolError) as info:
        client.fetch_changes("case", "not a cursor!", 10)
    err = info.value
    assert (err.code, err.status, err.rule_id, err.retriable) == ("BAD_CURSOR", 400, "TBS-REST-004", False)
    resp = raw_post(server, mapping.get_changes_request("case", "zzz", 10), action="GetChanges")
    fault = fault_of(resp)
    assert (fault.faultcode, fault.code) == ("Client", "BAD_CURSOR")


def test_expired_cursor_and_unknown_dataset(client: SoapConnector) -> None:
    with pytest.raises(CursorExpiredError) as info:
        client.fetch_changes("case", "c-expired", 10)
    assert info.value.code == "CURSOR_EXPIRED" and info.value.status == 410
    with pytest.raises(ProtocolError) as not_found:
        client.fetch_changes("result", None, 10)
    assert not_found.value.code == "NOT_FOUND"


def test_unauthenticated_call_is_refused_before_the_body_is_read(server: Any, service: MemoryService) -> None:
    fault = fault_of(raw_post(server, b"<not xml", token=None))
    assert (fault.faultcode, fault.code, fault.rule_id) == ("Client", "UNAUTHENTICATED", "TBS-SEC-001")
    fault = fault_of(raw_post(server, b"<!DOCTYPE x><x/>", token="wrong-token"))
    assert fault.code == "UNAUTHENTICATED"
    with SoapConnector(server.url, sender=COUNTY, token="wrong-token", retries=0) as stranger:
        with pytest.raises(ProtocolError) as info:
            stranger.push(example("B.1"))
    assert info.value.code == "UNAUTHENTICATED" and info.value.status == 401
    assert service.received == []


def test_doctype_is_a_client_fault_under_sec_010_with_the_raw_request_hash(server: Any, service: MemoryService) -> None:
    envelope = example("B.1")
    body = mapping.envelope_to_push_batch(envelope).replace(b"?>", b'?><!DOCTYPE x [<!ENTITY e "e">]>', 1)
    resp = raw_post(server, body, extra={"X-TB-Message-Id": envelope["messageId"]})
    fault = fault_of(resp)
    assert (fault.faultcode, fault.code, fault.rule_id) == ("Client", "MALFORMED_JSON", "TBS-SEC-010")
    assert resp.headers["X-TB-Request-Hash"] == sha256_hex(body)
    assert service.received == []


def test_header_and_media_type_faults(server: Any, service: MemoryService) -> None:
    envelope = example("B.1")
    body = mapping.envelope_to_push_batch(envelope)
    mid = {"X-TB-Message-Id": envelope["messageId"]}
    cases = [
        (raw_post(server, body, extra={**mid, "X-TB-Spec-Version": "TBS-0.9"}), "BAD_HEADER"),
        (raw_post(server, body, sender=CITY, extra=mid), "FORBIDDEN"),
        (raw_post(server, body, extra={"X-TB-Message-Id": "00000000-0000-4000-8000-000000000000"}), "BAD_HEADER"),
        (raw_post(server, body, action="GetMeta", extra=mid), "BAD_HEADER"),
        (raw_post(server, body, content_type="application/json", extra=mid), "UNSUPPORTED_MEDIA_TYPE"),
        (raw_post(server, body + b" " * (256 * 1024), extra=mid), "PAYLOAD_TOO_LARGE"),
        (raw_post(server, mapping.get_changes_request("case", None, 5000), action="GetChanges"), "BAD_PARAMETER"),
    ]
    assert [(fault_of(r).faultcode, fault_of(r).code) for r, _ in cases] == [("Client", code) for _, code in cases]
    assert service.received == []


def test_service_failure_is_a_server_fault_and_a_retriable_transport_error(
        server: Any, client: SoapConnector, service: MemoryService) -> None:
    service.fail_with = RuntimeError("disk on fire")
    with pytest.raises(TransportError) as info:
        client.push(example("B.1"))
    assert info.value.retriable and info.value.code == "INTERNAL_ERROR" and info.value.status == 500
    fault = fault_of(raw_post(server, mapping.get_changes_request("case"), action="GetChanges"))
    assert (fault.faultcode, fault.code) == ("Server", "INTERNAL_ERROR")
    assert "disk on fire" not in fault.faultstring


def test_rate_limit_is_server_rate_limited_with_retry_after(server: Any, service: MemoryService) -> None:
    service.fail_with = ServiceError(429, "RATE_LIMITED", "slow down", rule_id="TBS-SEC-013", retry_after=7)
    resp = raw_post(server, mapping.get_changes_request("case"), action="GetChanges")
    assert fault_of(resp).faultcode == "Server.RateLimited" and resp.headers["Retry-After"] == "7"
    slept: list[float] = []
    with SoapConnector(server.url, sender=COUNTY, token="county-token", retries=1, backoff=1,
                       sleep=slept.append) as c:
        with pytest.raises(RateLimitedError) as info:
            c.fetch_changes("case", None)
        assert c.attempts == 2
    assert info.value.retry_after == 7 and slept == [7]


def test_unreachable_endpoint_is_a_transport_error() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with SoapConnector(f"http://127.0.0.1:{port}", sender=COUNTY, token="t", retries=0, connect_timeout=2) as c:
        with pytest.raises(TransportError) as info:
            c.meta()
    assert info.value.code == "UNREACHABLE" and info.value.retriable


def test_null_in_an_envelope_is_refused_by_the_client_before_sending(client: SoapConnector,
                                                                      service: MemoryService) -> None:
    envelope = copy.deepcopy(example("B.1"))
    envelope["records"][0]["onSiteVisits"] = None
    with pytest.raises(ProtocolError, match="null"):
        client.push(envelope)
    assert client.attempts == 0 and service.received == []


def test_responses_are_the_xml_of_the_wsdl(server: Any) -> None:
    resp = raw_post(server, mapping.get_meta_request(), action="GetMeta")
    assert resp.status_code == 200
    root = etree.fromstring(resp.content)
    assert root.tag == f"{{{SOAP}}}Envelope"
    assert etree.QName(root[0][0]).text == "{urn:tbs:1.0}GetMetaResponse"
