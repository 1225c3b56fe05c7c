"""The gateway's REST and SOAP endpoints on loopback over HTTPS: a sandbox county's pushes are
acknowledged and stored exactly once; unauthenticated and uncertified pushes are refused and
store nothing (TBS-SEC-001, TBS-CONF-008); /healthz, /readyz and the OpenMetrics counters."""
from __future__ import annotations

import ssl
import time

import httpx
import pytest

from gateway_support import (COUNTY, certify, expected, ledger_in_entries, metric, new_bus_id, stored,
                             write_registry)
from tongban.conformance.admission import is_admitted
from tongban.connectors.base import ProtocolError
from tongban.connectors.serving import make_local_ca
from tongban.gateway.runtime import Gateway, GatewayConfig
from tongban.registry import load_registry
from tongban.sandbox.push import envelopes_of, open_pusher, push_envelopes
from tongban.store import Store

RECEIVER = new_bus_id()  # the bus of this module's gateways (a code of its own: no other test's broker client)


@pytest.fixture(scope="module")
def tls(tmp_path_factory):
    return make_local_ca(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def bus(tmp_path, tls):
    """A migrated SQLite store and a gateway over HTTPS whose registry has the county over REST."""
    store = Store(f"sqlite:///{tmp_path / 'bus.db'}")
    store.upgrade()
    registry = load_registry(write_registry(tmp_path, RECEIVER, "rest", ca_file=str(tls.ca_file)))
    gateway = Gateway(store, registry, GatewayConfig(port=0, tls_cert=str(tls.cert_file), tls_key=str(tls.key_file),
                                                     graceful_timeout=2), admission=is_admitted).start()
    yield gateway
    gateway.stop()
    store.dispose()


def partner(gateway):
    return gateway.registry.get(COUNTY.system_id)


def get(gateway, tls, path: str) -> httpx.Response:
    return httpx.get(gateway.url + path, verify=ssl.create_default_context(cafile=str(tls.ca_file)), timeout=10)


@pytest.mark.parametrize("binding", ["rest", "soap"])
def test_a_certified_countys_push_is_acknowledged_and_stored_exactly_once(bus, tls, binding):
    certify(bus.store, binding.upper())
    pusher = open_pusher(partner(bus), binding, gateway_url=bus.url, ca_file=str(tls.ca_file))
    try:
        first = push_envelopes(pusher, envelopes_of(COUNTY, binding, receiver=RECEIVER, datasets=["catalog", "case"], batch=20))
        again = push_envelopes(pusher, envelopes_of(COUNTY, binding, receiver=RECEIVER, datasets=["catalog", "case"], batch=20))
    finally:
        pusher.close()
    n_catalog, n_case = len(COUNTY.records("catalog")), len(COUNTY.records("case"))
    envelopes = -(-n_catalog // 20) + -(-n_case // 20)
    assert first.refusals == [] and first.statuses == {"ACCEPTED": envelopes}, first
    assert first.counts["received"] == n_catalog + n_case and first.counts["rejected"] == 0
    # the second round is recognised record by record: nothing is stored again
    assert again.statuses == {"ACCEPTED": envelopes} and again.counts.get("stored", 0) == 0, again
    assert again.counts["duplicate"] + again.counts["stale"] == n_catalog + n_case
    for dataset, key in (("case", ("caseNo",)), ("catalog", ("implCode",))):
        rows = stored(bus.store, dataset)
        want = expected(dataset, key)
        assert len(rows) == len(want)
        assert {tuple(r[k] for k in key): r for r in rows} == want
    assert ledger_in_entries(bus.store) == 2 * envelopes


def test_a_resent_envelope_is_answered_from_the_replay_memory_and_not_stored_again(bus, tls):
    certify(bus.store, "REST")
    envelope = next(envelopes_of(COUNTY, "rest", receiver=RECEIVER, datasets=["case"], batch=5))
    pusher = open_pusher(partner(bus), "rest", gateway_url=bus.url, ca_file=str(tls.ca_file))
    try:
        first, second = pusher.push(envelope).ack, pusher.push(envelope).ack
    finally:
        pusher.close()
    assert first["counts"]["stored"] == 5 and second == first  # the stored acknowledgement, byte for byte
    assert ledger_in_entries(bus.store) == 1 and len(stored(bus.store, "case")) == len(
        {r["caseNo"] for r in envelope["records"]})


@pytest.mark.parametrize("binding", ["rest", "soap"])
def test_a_push_without_a_certificate_for_that_binding_is_refused_under_tbs_conf_008(bus, tls, binding):
    other = "SOAP" if binding == "rest" else "REST"
    certify(bus.store, other)  # certified, but over the other binding
    certify(bus.store, binding.upper(), roles=("CASE_REPORTER",), verdict="NOT_CONFORMANT")
    pusher = open_pusher(partner(bus), binding, gateway_url=bus.url, ca_file=str(tls.ca_file))
    try:
        with pytest.raises(ProtocolError) as refused:
            pusher.push(next(envelopes_of(COUNTY, binding, receiver=RECEIVER, datasets=["case"], batch=5)))
    finally:
        pusher.close()
    assert refused.value.code == "FORBIDDEN" and refused.value.rule_id == "TBS-SEC-004"
    assert "not admitted (TBS-CONF-008)" in str(refused.value)
    assert f"CASE_REPORTER over {binding.upper()}" in str(refused.value)
    if binding == "rest":
        assert refused.value.status == 403
    assert stored(bus.store, "case") == [] and ledger_in_entries(bus.store) == 0
    text = get(bus, tls, "/metrics").text
    assert metric(text, "tongban_gateway_envelopes_total", partner=COUNTY.system_id, binding=binding.upper(),
                  outcome="NOT_ADMITTED") == 1


@pytest.mark.parametrize("binding", ["rest", "soap"])
def test_an_unauthenticated_push_is_refused_before_anything_is_read(bus, tls, binding, monkeypatch):
    certify(bus.store, binding.upper())
    envelope = next(envelopes_of(COUNTY, binding, receiver=RECEIVER, datasets=["case"], batch=5))
    monkeypatch.setenv("TONGBAN_TEST_GW_TOKEN", "not-the-token-the-gateway-knows-0123456789")
    pusher = open_pusher(partner(bus), binding, gateway_url=bus.url, ca_file=str(tls.ca_file))
    try:
        with pytest.raises(ProtocolError) as refused:
            pusher.push(envelope)
    finally:
        pusher.close()
    assert refused.value.code == "UNAUTHENTICATED" and refused.value.rule_id == "TBS-SEC-001"
    assert stored(bus.store, "case") == [] and ledger_in_entries(bus.store) == 0
    text = get(bus, tls, "/metrics").text
    status = "401" if binding == "rest" else "500"  # SOAP answers every fault with 500 (TBS-SOAP-005)
    assert metric(text, "tongban_gateway_http_responses_total", binding=binding.upper(), status=status) == 1


def test_metrics_count_envelopes_and_records_per_partner_and_outcome(bus, tls):
    certify(bus.store, "REST")
    before = get(bus, tls, "/metrics")
    assert before.headers["content-type"].startswith("application/openmetrics-text")
    assert metric(before.text, "tongban_gateway_envelopes_total", partner=COUNTY.system_id, outcome="ACCEPTED") == 0
    pusher = open_pusher(partner(bus), "rest", gateway_url=bus.url, ca_file=str(tls.ca_file))
    try:
        push_envelopes(pusher, envelopes_of(COUNTY, "rest", receiver=RECEIVER, datasets=["case"], batch=10))
        push_envelopes(pusher, envelopes_of(COUNTY, "rest", receiver=RECEIVER, datasets=["case"], batch=10))
    finally:
        pusher.close()
    n = len(COUNTY.records("case"))
    after = get(bus, tls, "/metrics").text
    assert metric(after, "tongban_gateway_envelopes_total", partner=COUNTY.system_id, binding="REST",
                  outcome="ACCEPTED") == 2 * -(-n // 10)
    assert metric(after, "tongban_gateway_records_total", partner=COUNTY.system_id, dataset="case",
                  outcome="stored") == n
    assert metric(after, "tongban_gateway_records_total", partner=COUNTY.system_id, dataset="case",
                  outcome="duplicate") + metric(after, "tongban_gateway_records_total", partner=COUNTY.system_id,
                                                dataset="case", outcome="stale") == n


def test_healthz_and_readyz_and_the_bus_interface_documents(bus, tls):
    assert get(bus, tls, "/healthz").status_code == 200
    ready = get(bus, tls, "/readyz")
    assert ready.status_code == 200 and ready.json() == {"status": "ready", "problems": {}}
    wsdl = get(bus, tls, "/tbs/v1/soap?wsdl")
    assert wsdl.status_code == 200 and f'location="{bus.url}/tbs/v1/soap"'.encode() in wsdl.content
    openapi = get(bus, tls, "/tbs/v1/openapi.yaml")
    assert openapi.status_code == 200 and bus.url in openapi.text and "/tbs/v1/{dataset}:" in openapi.text
    bus.draining.set()  # what stop() does first: the load balancer takes the gateway out
    stopping = get(bus, tls, "/readyz")
    assert stopping.status_code == 503 and stopping.json()["problems"] == {"gateway": "shutting down"}


def test_readyz_names_a_store_that_is_behind_its_migrations(tmp_path, tls):
    store = Store(f"sqlite:///{tmp_path / 'old.db'}")
    store.upgrade("0004")
    registry = load_registry(write_registry(tmp_path, RECEIVER, "rest", ca_file=str(tls.ca_file)))
    with Gateway(store, registry, GatewayConfig(port=0, tls_cert=str(tls.cert_file), tls_key=str(tls.key_file),
                                                graceful_timeout=1), admission=is_admitted) as gateway:
        ready = get(gateway, tls, "/readyz")
    assert ready.status_code == 503 and "run tongban db upgrade" in ready.json()["problems"]["store"]


def test_mutual_tls_a_bound_client_certificate_authenticates_the_county(tmp_path, tls):
    from tongban.connectors.mtls import fingerprint
    from tongban.connectors.rest.client import RestConnector
    from tongban.connectors.serving import issue_client_certificate

    cert, key = issue_client_certificate(tls.ca_file.parent, "LWZWFW", name=f"lw-{tmp_path.name}")
    der = ssl.PEM_cert_to_DER_cert(cert.read_text())
    store = Store(f"sqlite:///{tmp_path / 'bus.db'}")
    store.upgrade()
    certify(store, "REST")
    registry = load_registry(write_registry(tmp_path, RECEIVER, "rest", ca_file=str(tls.ca_file),
                                            client_certificates=[fingerprint(der)]))
    config = GatewayConfig(port=0, tls_cert=str(tls.cert_file), tls_key=str(tls.key_file), client_ca=str(tls.ca_file),
                           graceful_timeout=1)
    with Gateway(store, registry, config, admission=is_admitted) as gateway:
        envelope = next(envelopes_of(COUNTY, "rest", receiver=RECEIVER, datasets=["case"], batch=5))
        with_cert = RestConnector(gateway.url, sender=COUNTY.system_id, verify=str(tls.ca_file), cert=(str(cert), str(key)),
                                  retries=0)
        without = RestConnector(gateway.url, sender=COUNTY.system_id, verify=str(tls.ca_file), retries=0)
        try:
            with pytest.raises(ProtocolError) as refused:
                without.push(envelope)
            ack = with_cert.push(envelope).ack
        finally:
            with_cert.close()
            without.close()
    assert refused.value.code == "UNAUTHENTICATED"
    assert ack["status"] == "ACCEPTED" and ack["counts"]["stored"] == 5


def test_shutdown_lets_a_push_in_flight_finish_stored_and_acknowledged(tmp_path, tls):
    """A push waiting for the store when the gateway is told to stop is still stored and
    acknowledged; the stop waits for it, and readiness is withdrawn at once. The store is made
    to wait for real: another writer holds SQLite's write lock."""
    import sqlite3
    import threading
    import time

    store = Store(f"sqlite:///{tmp_path / 'bus.db'}")
    store.upgrade()
    certify(store, "REST")
    registry = load_registry(write_registry(tmp_path, RECEIVER, "rest", ca_file=str(tls.ca_file)))
    gateway = Gateway(store, registry, GatewayConfig(port=0, tls_cert=str(tls.cert_file), tls_key=str(tls.key_file),
                                                     graceful_timeout=10), admission=is_admitted).start()
    envelope = next(envelopes_of(COUNTY, "rest", receiver=RECEIVER, datasets=["case"], batch=5))
    blocker = sqlite3.connect(tmp_path / "bus.db", isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")  # the store is busy: the push waits inside its transaction
    result: dict = {}
    pusher = open_pusher(partner(gateway), "rest", gateway_url=gateway.url, ca_file=str(tls.ca_file))
    sender = threading.Thread(target=lambda: result.update(ack=pusher.push(envelope).ack))
    sender.start()
    time.sleep(0.5)  # the request is in the gateway, waiting for the store
    stopper = threading.Thread(target=gateway.stop)
    stopper.start()
    time.sleep(0.3)
    assert gateway.draining.is_set() and stopper.is_alive()  # stop waits for the push in flight
    assert "ack" not in result
    blocker.execute("ROLLBACK")
    sender.join(15)
    pusher.close()  # done: the county closes its connection (an idle TLS one is waited for until the timeout)
    stopper.join(15)
    blocker.close()
    assert not stopper.is_alive()
    assert result["ack"]["status"] == "ACCEPTED" and result["ack"]["counts"]["stored"] == 5
    assert ledger_in_entries(store) == 1
    store.dispose()


def test_the_ledger_head_is_anchored_after_pushes(tmp_path, tls):
    """bus.ledger_anchor_file: the head the pushes left is appended (on each tick while it moves,
    and on stop), and `ledger verify` checks the chain against it."""
    import json

    from tongban.sync import ledger

    store = Store(f"sqlite:///{tmp_path / 'bus.db'}")
    store.upgrade()
    certify(store, "REST")
    anchors = tmp_path / "anchors.jsonl"
    registry = load_registry(write_registry(tmp_path, RECEIVER, "rest", ca_file=str(tls.ca_file), anchor_file=anchors))
    config = GatewayConfig(port=0, tls_cert=str(tls.cert_file), tls_key=str(tls.key_file), graceful_timeout=1,
                           anchor_interval=0.2)
    with Gateway(store, registry, config, admission=is_admitted) as gateway:
        pusher = open_pusher(partner(gateway), "rest", gateway_url=gateway.url, ca_file=str(tls.ca_file))
        try:
            tally = push_envelopes(pusher, envelopes_of(COUNTY, "rest", receiver=RECEIVER, datasets=["case"], batch=10))
        finally:
            pusher.close()
    lines = [json.loads(line) for line in anchors.read_text().splitlines()]
    assert lines and lines[-1]["seq"] == tally.envelopes == ledger_in_entries(store)
    assert [line["seq"] for line in lines] == sorted({line["seq"] for line in lines})  # appended only when it moved
    result = ledger.verify(store, anchors=anchors)
    assert result.ok and result.anchors == len(lines), result


def test_the_command_refuses_to_serve_without_tls_and_says_what_to_give(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from tongban.cli import main

    monkeypatch.setenv("TONGBAN_HOME", str(tmp_path / "home"))
    registry = write_registry(tmp_path, RECEIVER, "rest")
    result = CliRunner().invoke(main, ["gateway", "--partners", str(registry), "--port", "0"])
    assert result.exit_code == 2 and "--tls-cert and --tls-key" in result.output and "--insecure-http" in result.output
    missing = CliRunner().invoke(main, ["gateway", "--partners", str(registry), "--tls-cert", str(tmp_path / "no.pem"),
                                        "--tls-key", str(tmp_path / "no.key")])
    assert missing.exit_code == 2 and "no.pem: no such file" in missing.output
    assert not (tmp_path / "home").exists()  # refused before the store was opened


def test_tongban_gateway_rereads_client_certificates_a_rotation_needs_no_restart(tmp_path, tls):
    """The running ``tongban gateway`` process takes the registry's new client_certificates when
    the file changes: the rotation's second certificate is accepted, then the first, once
    removed, is refused (TBS-SEC-001); the process is never restarted."""
    from gateway_support import GatewayProcess, free_port
    from tongban.connectors.base import ConnectorError
    from tongban.connectors.mtls import fingerprint
    from tongban.connectors.rest.client import RestConnector
    from tongban.connectors.serving import issue_client_certificate

    old, new = (issue_client_certificate(tls.ca_file.parent, "LWZWFW", name=f"{n}-{tmp_path.name}")
                for n in ("old", "new"))
    old_fp, new_fp = (fingerprint(ssl.PEM_cert_to_DER_cert(c.read_text())) for c, _ in (old, new))
    db = f"sqlite:///{tmp_path / 'bus.db'}"
    store = Store(db)
    store.upgrade()
    certify(store, "REST")
    store.dispose()
    registry = write_registry(tmp_path, RECEIVER, "rest", ca_file=str(tls.ca_file), client_certificates=[old_fp])
    gateway = GatewayProcess(tmp_path, registry, db, free_port(), "--client-ca", str(tls.ca_file), "--no-mqtt",
                             "--no-filedrop", tls=(tls.cert_file, tls.key_file, tls.ca_file)).start()

    def meta_with(cert) -> int:
        with RestConnector(gateway.url, sender=COUNTY.system_id, verify=str(tls.ca_file), cert=tuple(map(str, cert)),
                           retries=0) as connector:
            try:
                connector.meta()
                return 200
            except ConnectorError as exc:
                return 401 if "UNAUTHENTICATED" in str(exc) else 0

    def rebind(fingerprints, wanted) -> None:
        write_registry(tmp_path, RECEIVER, "rest", ca_file=str(tls.ca_file), client_certificates=fingerprints)
        deadline = time.monotonic() + 20
        while f"{wanted} client certificate(s) bound" not in gateway.output() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert f"{wanted} client certificate(s) bound" in gateway.output(), gateway.output()

    try:
        assert (meta_with(old), meta_with(new)) == (200, 401)
        rebind([old_fp, new_fp], 2)                    # during the rotation both are valid
        assert (meta_with(old), meta_with(new)) == (200, 200)
        rebind([new_fp], 1)                            # the old one removed
        assert (meta_with(old), meta_with(new)) == (401, 200)
        assert gateway.proc.poll() is None
    finally:
        assert gateway.terminate() == 0
