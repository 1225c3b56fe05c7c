"""Version negotiation over SOAP (TBS-1.1 TBS-SOAP-001, TBS-ENV-034): the sandbox province in
transition with its systems on SOAP, real SOAP servers on loopback, a real SQLite store.

The bus reads a dual-version partner with requests in ``urn:tbs:1.1`` (the 1.1 WSDL) and stores
its records with version TBS-1.1; a TBS-1.0-only partner in ``urn:tbs:1.0``. A request whose
namespace, SOAPAction, ``X-TB-Spec-Version`` or envelope ``specVersion`` disagree is refused, and
so is a response in another version than asked for. The expected versions come from the test's
own reading of the version rule (highest common version), not from the code under test."""
from __future__ import annotations

import json
import os
import ssl
import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import Response
from lxml import etree
from sqlalchemy import select

from tongban.connectors.base import ProtocolError
from tongban.connectors.serving import ServerThread
from tongban.connectors.soap import mapping
from tongban.connectors.soap.client import SoapConnector
from tongban.store.schema import CaseRecord, CatalogItemVersion
from transition_support import pulled_transition_province
from tongban.sync.publish import publish_catalog

NS = {"TBS-1.0": "urn:tbs:1.0", "TBS-1.1": "urn:tbs:1.1"}
ONLY_11 = ("crossRegionScope", "accessibility", "applyChannel")


def expected_version(versions: tuple[str, ...]) -> str:
    return "TBS-1.1" if "TBS-1.1" in versions else "TBS-1.0"


@pytest.fixture(scope="module")
def province(tmp_path_factory):
    with pulled_transition_province(tmp_path_factory.mktemp("soapversions"), "soap") as (sandbox, registry, store, engine,
                                                                                reports):
        yield sandbox, registry, store, reports


def soap_partners(sandbox, registry, versions: tuple[str, ...]) -> list[Any]:
    return [r for r in sandbox.running if r.transport == "soap" and registry.get(r.system.system_id).versions == versions]


def stored(store, table) -> list[tuple[str, dict[str, Any], str]]:
    with store.reading() as s:
        return [(src, json.loads(c), v) for src, c, v in s.execute(select(table.source, table.content,
                                                                          table.spec_version)).all()]


def verify(partner) -> ssl.SSLContext | bool:
    return ssl.create_default_context(cafile=partner.ca_file) if partner.ca_file else True


def post(r, registry, body: bytes, *, version: str, action: str, namespace: str | None = None,
         extra: dict[str, str] | None = None) -> httpx.Response:
    """A raw SOAP request to sandbox system ``r`` from the bus, with the bus's own credentials."""
    partner = registry.get(r.system.system_id)
    headers = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": f'"{namespace or NS[version]}#{action}"',
               "X-TB-Sender": registry.bus.system_id, "X-TB-Spec-Version": version,
               "Authorization": f"Bearer {os.environ[partner.credentials.token_env]}", **(extra or {})}
    return httpx.post(partner.endpoint, content=body, headers=headers, verify=verify(partner), timeout=20)


def fault(resp: httpx.Response) -> mapping.SoapFault:
    assert resp.status_code == 500, resp.text[:300]
    f = mapping.xml_to_fault(resp.content)
    assert f is not None
    return f


def test_dual_version_soap_partners_are_read_in_1_1_and_1_0_only_ones_in_1_0(province) -> None:
    sandbox, registry, store, reports = province
    assert all(r.status == "SUCCESS" for r in reports.values()), [r.error for r in reports.values() if r.error]
    both, only_10 = soap_partners(sandbox, registry, ("TBS-1.0", "TBS-1.1")), \
        soap_partners(sandbox, registry, ("TBS-1.0",))
    assert both and only_10
    rows = stored(store, CatalogItemVersion) + stored(store, CaseRecord)
    seen: dict[str, set[str]] = {}
    for source, content, version in rows:
        seen.setdefault(source, set()).add(version)
    for r in both + only_10:
        sid = r.system.system_id
        assert seen.get(sid) == {expected_version(registry.get(sid).versions)}, sid
    # a TBS-1.1 partner's cases were read in their TBS-1.1 form (applyChannel, change 8) …
    cases_11 = [c for src, c, v in stored(store, CaseRecord) if src in {r.system.system_id for r in both}]
    assert cases_11 and all("applyChannel" in c and "channel" not in c for c in cases_11)
    # … and a TBS-1.0 partner's carry nothing TBS-1.0 cannot say
    cases_10 = [c for src, c, v in stored(store, CaseRecord) if src in {r.system.system_id for r in only_10}]
    assert cases_10 and not any(m in c for c in cases_10 for m in ONLY_11)


def test_the_catalog_is_pushed_over_soap_in_each_consumers_version(province) -> None:
    sandbox, registry, store, _ = province
    consumers = [r for r in sandbox.running if r.transport == "soap" and r.service is not None
                 and r.service.receiver is not None]
    assert {expected_version(registry.get(r.system.system_id).versions) for r in consumers} == {"TBS-1.0", "TBS-1.1"}
    for r in consumers:
        report = publish_catalog(store, registry, registry.get(r.system.system_id))
        assert report.rejected == 0 and report.accepted == report.offered > 0, r.system.system_id
        acks = [e.ack for e in r.service.receiver.replay.entries.values()]
        assert {a["specVersion"] for a in acks} == {expected_version(registry.get(r.system.system_id).versions)}


def test_a_dual_version_soap_server_answers_in_the_namespace_of_the_request(province) -> None:
    sandbox, registry, _, _ = province
    r = soap_partners(sandbox, registry, ("TBS-1.0", "TBS-1.1"))[0]
    for version in ("TBS-1.0", "TBS-1.1"):
        resp = post(r, registry, mapping.get_meta_request(version), version=version, action="GetMeta")
        assert resp.status_code == 200 and resp.headers["X-TB-Spec-Version"] == version
        op = mapping.response_wrapper(resp.content, "GetMeta")
        assert etree.QName(op).namespace == NS[version]
    # both WSDLs at the endpoint; a plain ?wsdl stays the TBS-1.0 one a TBS-1.0 client expects
    endpoint, ca = registry.get(r.system.system_id).endpoint, verify(registry.get(r.system.system_id))
    for query, namespace in (("?wsdl", NS["TBS-1.0"]), ("?wsdl&version=TBS-1.1", NS["TBS-1.1"]),
                             ("?wsdl&version=TBS-1.0", NS["TBS-1.0"])):
        resp = httpx.get(endpoint + query, verify=ca, timeout=20)
        assert resp.status_code == 200
        assert etree.fromstring(resp.content).get("targetNamespace") == namespace, query
    xsd = httpx.get(endpoint.rsplit("/", 1)[0] + "/tbs-1.1.xsd", verify=ca, timeout=20)
    assert xsd.status_code == 200 and etree.fromstring(xsd.content).get("targetNamespace") == NS["TBS-1.1"]


def test_a_namespace_that_disagrees_with_header_action_or_specversion_is_refused_naming_both(province) -> None:
    sandbox, registry, _, _ = province
    r = soap_partners(sandbox, registry, ("TBS-1.0", "TBS-1.1"))[0]
    # body urn:tbs:1.1, header TBS-1.0
    f = fault(post(r, registry, mapping.get_meta_request("TBS-1.1"), version="TBS-1.0", action="GetMeta",
                   namespace=NS["TBS-1.1"]))
    assert (f.faultcode, f.code, f.rule_id) == ("Client", "BAD_HEADER", "TBS-SOAP-001")
    assert "TBS-1.0" in f.message and "urn:tbs:1.1" in f.message
    # body urn:tbs:1.1, SOAPAction urn:tbs:1.0
    f = fault(post(r, registry, mapping.get_meta_request("TBS-1.1"), version="TBS-1.1", action="GetMeta",
                   namespace=NS["TBS-1.0"]))
    assert (f.code, f.rule_id) == ("BAD_HEADER", "TBS-SOAP-001") and "urn:tbs:1.1#GetMeta" in f.message
    # a PushBatch in urn:tbs:1.1 whose envelope says TBS-1.0
    consumer = next(c for c in soap_partners(sandbox, registry, ("TBS-1.0", "TBS-1.1"))
                    if c.service.receiver is not None)
    message_id = str(uuid.uuid4())
    envelope = {"specVersion": "TBS-1.0", "messageId": message_id, "sender": registry.bus.system_id,
                "receiver": consumer.system.system_id, "sentAt": "2028-03-02T10:00:00+08:00", "dataset": "catalog",
                "integrity": {"recordsSha256": "0" * 64}, "records": []}
    resp = post(consumer, registry, mapping.envelope_to_push_batch(envelope, "TBS-1.1"), version="TBS-1.1",
                action="PushBatch", extra={"X-TB-Message-Id": message_id})
    f = fault(resp)
    assert (f.code, f.rule_id, f.request_message_id) == ("BAD_HEADER", "TBS-SOAP-001", message_id)
    assert "'TBS-1.0'" in f.message and "urn:tbs:1.1" in f.message
    assert message_id not in consumer.service.receiver.replay.entries   # nothing was received


def test_unsupported_namespaces_are_refused_as_the_revision_says(province) -> None:
    sandbox, registry, _, _ = province
    only_10 = soap_partners(sandbox, registry, ("TBS-1.0",))[0]
    # a TBS-1.0 server knows only urn:tbs:1.0: urn:tbs:1.1 is its own mapping fault (TBS-SOAP-005)
    f = fault(post(only_10, registry, mapping.get_meta_request("TBS-1.1"), version="TBS-1.0", action="GetMeta",
                   namespace=NS["TBS-1.1"]))
    assert (f.faultcode, f.code, f.rule_id) == ("Client", "MALFORMED_JSON", "TBS-ENV-002")
    # … and a TBS-1.1 header is a BAD_HEADER there, as in TBS-1.0
    f = fault(post(only_10, registry, mapping.get_meta_request("TBS-1.1"), version="TBS-1.1", action="GetMeta"))
    assert f.code == "BAD_HEADER"
    # a server on TBS-1.1 only (after the sunset) refuses urn:tbs:1.0 with UNSUPPORTED_VERSION
    dual = soap_partners(sandbox, registry, ("TBS-1.0", "TBS-1.1"))[0]
    kept = dual.service.spec_versions
    dual.service.spec_versions = ("TBS-1.1",)
    try:
        resp = post(dual, registry, mapping.get_meta_request("TBS-1.0"), version="TBS-1.1", action="GetMeta",
                    namespace=NS["TBS-1.0"])
        f = fault(resp)
        assert (f.faultcode, f.code, f.rule_id) == ("Client", "UNSUPPORTED_VERSION", "TBS-SOAP-001")
        assert "urn:tbs:1.0" in f.message and resp.headers["X-TB-Spec-Version"] == "TBS-1.1"
        assert etree.QName(etree.fromstring(resp.content).find(".//detail/*")).namespace == NS["TBS-1.1"]
    finally:
        dual.service.spec_versions = kept


def test_the_client_refuses_a_response_in_another_version_naming_both(province) -> None:
    sandbox, registry, _, _ = province
    # a TBS-1.0-only partner asked in TBS-1.1 answers with its fault; the connector does not resend
    only_10 = registry.get(soap_partners(sandbox, registry, ("TBS-1.0",))[0].system.system_id)
    conn = SoapConnector(only_10.endpoint, sender=registry.bus.system_id, token=only_10.credentials.token(),
                         spec_version="TBS-1.1", verify=only_10.ca_file or True, retries=0)
    with pytest.raises(ProtocolError) as refused:
        conn.meta()
    assert refused.value.code == "BAD_HEADER"
    conn.close()

    # a partner that answers a urn:tbs:1.1 request in urn:tbs:1.0, or names another version in its header
    answers: dict[str, tuple[str, str]] = {}
    app = FastAPI()

    @app.post("/tbs/v1/soap")
    async def answer(request: Request) -> Response:
        namespace_version, header = answers["now"]
        meta = {"systemId": "TB:county:440103:LWZWFW", "roles": ["CASE_REPORTER"], "datasets": ["case"],
                "specVersions": ["TBS-1.0", "TBS-1.1"], "bindings": ["SOAP"],
                "limits": {"maxRecords": 1000, "maxBodyBytes": 16777216}}
        return Response(mapping.meta_to_xml(meta, namespace_version), media_type="text/xml; charset=utf-8",
                        headers={"X-TB-Spec-Version": header})

    with ServerThread(app) as server:
        conn = SoapConnector(server.url + "/tbs/v1/soap", sender=registry.bus.system_id, token="t",
                             spec_version="TBS-1.1", retries=0)
        answers["now"] = ("TBS-1.1", "TBS-1.1")
        assert conn.meta()["specVersions"] == ["TBS-1.0", "TBS-1.1"]
        answers["now"] = ("TBS-1.0", "TBS-1.0")
        with pytest.raises(ProtocolError) as refused:
            conn.meta()
        assert "urn:tbs:1.0 (TBS-1.0)" in str(refused.value) and "the request was TBS-1.1" in str(refused.value)
        answers["now"] = ("TBS-1.1", "TBS-1.0")
        with pytest.raises(ProtocolError) as refused:
            conn.meta()
        assert "'TBS-1.0'" in str(refused.value) and "urn:tbs:1.1 (TBS-1.1)" in str(refused.value)
        conn.close()
