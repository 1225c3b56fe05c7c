"""The gateway's ``/tbs/v1/soap`` in two versions (TBS-1.1 TBS-SOAP-001): a real gateway on
loopback, the SOAP connector as the pushing partner, a real SQLite store.

A dual-version partner pushes in ``urn:tbs:1.1`` and is answered in it, its records stored with
version TBS-1.1; a TBS-1.0-only partner's TBS-1.1 push is rejected under TBS-ENV-021 in a TBS-1.0
acknowledgement (``urn:tbs:1.0``); both WSDLs are served."""
from __future__ import annotations

import os
import secrets

import httpx
import pytest
import yaml
from lxml import etree
from sqlalchemy import select

from tongban.connectors.soap.client import SoapConnector
from tongban.gateway.runtime import Gateway, GatewayConfig
from tongban.model.annex_e import upgrade
from tongban.registry import load_registry
from tongban.sandbox.generate import generate_province
from tongban.sandbox.push import build_envelope
from tongban.store import Store
from tongban.store.schema import CaseRecord
from tongban.sync.versions import passes

DATA = generate_province(7, cities=1, counties_per_city=2)
DUAL, ONLY_10 = DATA.counties[0], DATA.counties[1]
BUS = "TB:province:440000:TONGBAN"


def entry(system, versions: list[str], tag: str) -> dict:
    os.environ.setdefault(f"TONGBAN_TEST_GSV_TOKEN_{tag}", secrets.token_urlsafe(32))
    return {"id": system.system_id, "parent": BUS, "transport": "soap", "endpoint": "https://127.0.0.1:1/tbs/v1/soap",
            "credentials": {"token_env": f"TONGBAN_TEST_GSV_TOKEN_{tag}"}, "roles": list(system.roles),
            "spec_versions": versions}


@pytest.fixture(scope="module")
def gateway(tmp_path_factory):
    folder = tmp_path_factory.mktemp("gwsoap")
    (folder / "partners.yaml").write_text(yaml.safe_dump({
        "bus": {"system_id": BUS, "admission": "off", "spec_versions": ["TBS-1.0", "TBS-1.1"]},
        "partners": [entry(DUAL, ["TBS-1.0", "TBS-1.1"], "DUAL"), entry(ONLY_10, ["TBS-1.0"], "ONLY10")]}))
    store = Store(f"sqlite:///{folder / 'bus.db'}")
    store.upgrade()
    registry = load_registry(folder / "partners.yaml")
    gw = Gateway(store, registry, GatewayConfig(port=0, insecure_http=True, graceful_timeout=1)).start()
    try:
        yield gw, store, registry
    finally:
        gw.stop()
        store.dispose()


def connector(gw, registry, system, version: str) -> SoapConnector:
    return SoapConnector(gw.url + "/tbs/v1/soap", sender=system.system_id,
                         token=registry.get(system.system_id).credentials.token(), spec_version=version, retries=0)


def cases_11(system) -> list[dict]:
    forms = [f for f in (upgrade("case", r) for r in system.records("case")) if passes("case", f, "TBS-1.1")]
    assert forms
    return forms[:5]


def envelope(system, records: list[dict], version: str) -> dict:
    env = build_envelope(system.system_id, "case", records, receiver=BUS)
    env["specVersion"] = version
    return env


def stored_versions(store, source: str) -> set[str]:
    with store.reading() as s:
        return set(s.execute(select(CaseRecord.spec_version).where(CaseRecord.source == source)).scalars())


def test_a_dual_partner_pushes_in_urn_tbs_1_1_and_is_stored_in_1_1(gateway) -> None:
    gw, store, registry = gateway
    conn = connector(gw, registry, DUAL, "TBS-1.1")
    try:
        assert conn.meta()["specVersions"] == ["TBS-1.0", "TBS-1.1"]
        records = cases_11(DUAL)
        result = conn.push(envelope(DUAL, records, "TBS-1.1"))
    finally:
        conn.close()
    assert result.ack["specVersion"] == "TBS-1.1" and result.ack["status"] == "ACCEPTED", result.ack["envelopeReport"]
    assert result.ack["counts"]["stored"] == len(records)
    assert stored_versions(store, DUAL.system_id) == {"TBS-1.1"}


def test_a_tbs_1_0_only_partner_pushing_in_1_1_gets_env_021_in_1_0(gateway) -> None:
    gw, store, registry = gateway
    token = registry.get(ONLY_10.system_id).credentials.token()
    env = envelope(ONLY_10, cases_11(ONLY_10), "TBS-1.1")
    conn = connector(gw, registry, ONLY_10, "TBS-1.1")
    from tongban.connectors.soap import mapping

    body = mapping.envelope_to_push_batch(env, "TBS-1.1")
    resp = httpx.post(gw.url + "/tbs/v1/soap", content=body, timeout=20, headers={
        "Content-Type": "text/xml; charset=utf-8", "SOAPAction": '"urn:tbs:1.1#PushBatch"',
        "X-TB-Sender": ONLY_10.system_id, "X-TB-Spec-Version": "TBS-1.1", "X-TB-Message-Id": env["messageId"],
        "Authorization": f"Bearer {token}"})
    conn.close()
    # the bus supports TBS-1.1, so the request is read; the envelope's version is not one the
    # sender's profile lists: TBS-ENV-021, acknowledged in the highest common version
    assert resp.status_code == 200 and resp.headers["X-TB-Spec-Version"] == "TBS-1.0"
    op = mapping.response_wrapper(resp.content, "PushBatch")
    assert etree.QName(op).namespace == "urn:tbs:1.0"
    ack = mapping.xml_to_ack(resp.content)
    assert ack["status"] == "REJECTED" and ack["specVersion"] == "TBS-1.0"
    assert [i["ruleId"] for i in ack["envelopeReport"]["items"]] == ["TBS-ENV-021"]
    assert stored_versions(store, ONLY_10.system_id) == set()


def test_the_gateway_serves_both_wsdls(gateway) -> None:
    gw, _, _ = gateway
    for query, namespace in (("?wsdl", "urn:tbs:1.0"), ("?wsdl&version=TBS-1.1", "urn:tbs:1.1")):
        resp = httpx.get(gw.url + "/tbs/v1/soap" + query, timeout=20)
        assert resp.status_code == 200 and etree.fromstring(resp.content).get("targetNamespace") == namespace
