"""The gateway's MQTT subscriber (real Mosquitto) and file-drop watcher: a sandbox county's pushes
over MQTT and file drop are acknowledged and stored exactly once, also across a gateway killed
between pushes; a county not certified over the binding is refused (TBS-CONF-008)."""
from __future__ import annotations

import time
from pathlib import Path

import pytest

from gateway_support import (COUNTY, MQTT_URL, GatewayProcess, certify, expected, free_port, ledger_in_entries,
                             metric, new_bus_id, stored, write_registry)
from tongban.conformance.admission import is_admitted
from tongban.connectors.filedrop.writer import FileDropWriter
from tongban.gateway.runtime import Gateway, GatewayConfig
from tongban.model.datasets import DATASETS
from tongban.registry import load_registry
from tongban.sandbox.push import envelopes_of, open_pusher, push_envelopes
from tongban.store import Store

BUS = new_bus_id()  # its own MQTT client identifier and ack topic traffic
needs_mosquitto = pytest.mark.skipif(not MQTT_URL, reason="TONGBAN_TEST_MQTT_URL is not set: Mosquitto tests run in "
                                                          "CI (.ci/run)")


def new_store(tmp_path: Path) -> Store:
    store = Store(f"sqlite:///{tmp_path / 'bus.db'}")
    store.upgrade()
    return store


def drop_root(tmp_path: Path) -> Path:
    root = tmp_path / "drop" / "LWZWFW"
    for sub in ("inbox", "archive", "rejected"):  # provisioned by the receiver (TBS-FILE-001)
        for dataset in DATASETS:
            (root / sub / dataset).mkdir(parents=True, exist_ok=True)
    return root


def gateway_for(store, registry_path: Path) -> Gateway:
    return Gateway(store, load_registry(registry_path),
                   GatewayConfig(port=0, insecure_http=True, poll_interval=0.1, graceful_timeout=1),
                   admission=is_admitted).start()


def assert_stored_once(store, datasets=("catalog", "case")) -> None:
    keys = {"catalog": ("implCode",), "case": ("caseNo",), "case-event": ("caseNo", "seq")}
    for dataset in datasets:
        rows = stored(store, dataset)
        assert {tuple(r[k] for k in keys[dataset]): r for r in rows} == expected(dataset, keys[dataset])
        assert len(rows) == len(expected(dataset, keys[dataset]))


def skipped_runs(store) -> int:
    from sqlalchemy import func, select

    from tongban.store.schema import SyncRun

    with store.reading() as s:
        return s.execute(select(func.count()).select_from(SyncRun).where(SyncRun.status == "SKIPPED")).scalar()


# -- MQTT ---------------------------------------------------------------------------------

@needs_mosquitto
@pytest.mark.mqtt
def test_mqtt_pushes_of_a_certified_county_are_acknowledged_and_stored_once(tmp_path):
    store = new_store(tmp_path)
    certify(store, "MQTT")
    registry = write_registry(tmp_path, BUS, "mqtt", endpoint=MQTT_URL)
    gateway = gateway_for(store, registry)
    pusher = None
    try:
        assert gateway.mqtt.wait_subscribed(10), gateway.readiness()
        assert gateway.readiness() == {}
        pusher = open_pusher(gateway.registry.get(COUNTY.system_id), "mqtt", receiver=BUS, ack_timeout=15)
        first = push_envelopes(pusher, envelopes_of(COUNTY, "mqtt", receiver=BUS, datasets=["catalog", "case"], batch=20))
        again = push_envelopes(pusher, envelopes_of(COUNTY, "mqtt", receiver=BUS, datasets=["catalog", "case"], batch=20))
        text = gateway.metrics.exposition().decode()
    finally:
        if pusher is not None:
            pusher.close()
        gateway.stop()
    n = len(COUNTY.records("catalog")) + len(COUNTY.records("case"))
    assert first.refusals == [] and set(first.statuses) == {"ACCEPTED"} and first.counts["stored"] == n, first
    assert again.statuses == first.statuses and again.counts.get("stored", 0) == 0, again
    assert_stored_once(store)
    assert ledger_in_entries(store) == 2 * first.envelopes
    assert metric(text, "tongban_gateway_envelopes_total", partner=COUNTY.system_id, binding="MQTT",
                  outcome="ACCEPTED") == 2 * first.envelopes


@needs_mosquitto
@pytest.mark.mqtt
def test_an_mqtt_push_without_a_certificate_over_mqtt_is_rejected_as_not_admitted(tmp_path):
    store = new_store(tmp_path)
    certify(store, "REST")  # certified, but not over MQTT
    registry = write_registry(tmp_path, BUS, "mqtt", endpoint=MQTT_URL)
    gateway = gateway_for(store, registry)
    pusher = None
    try:
        assert gateway.mqtt.wait_subscribed(10)
        pusher = open_pusher(gateway.registry.get(COUNTY.system_id), "mqtt", receiver=BUS, ack_timeout=15)
        ack = pusher.push(next(envelopes_of(COUNTY, "mqtt", receiver=BUS, datasets=["case"], batch=5))).ack
    finally:
        if pusher is not None:
            pusher.close()
        gateway.stop()
    assert ack["status"] == "REJECTED" and ack["counts"]["stored"] == 0
    findings = ack["envelopeReport"]["items"]
    assert [f["ruleId"] for f in findings] == ["TBS-SEC-004"], findings
    assert "not admitted (TBS-CONF-008)" in str(findings[0]) and "CASE_REPORTER over MQTT" in str(findings[0])
    assert stored(store, "case") == [] and ledger_in_entries(store) == 0


@needs_mosquitto
@pytest.mark.mqtt
def test_mqtt_envelopes_published_while_the_gateway_is_down_are_stored_once_after_its_restart(tmp_path):
    """The bus's persistent session (TBS-MQTT-001) keeps what arrives while the gateway is down."""
    from tongban.connectors.filedrop.signing import sign_envelope
    from tongban.connectors.mqtt import MqttConnection, MqttPublisher, MqttSettings

    url = f"sqlite:///{tmp_path / 'bus.db'}"
    store = Store(url)
    store.upgrade()
    certify(store, "MQTT")
    registry = write_registry(tmp_path, BUS, "mqtt", endpoint=MQTT_URL)
    partner = load_registry(registry).get(COUNTY.system_id)
    key, key_id = partner.credentials.hmac_key(), partner.credentials.key_id
    envelopes = [sign_envelope(e, key_id=key_id, key=key)
                 for e in envelopes_of(COUNTY, "mqtt", receiver=BUS, datasets=["case"], batch=10)]
    gateway = GatewayProcess(tmp_path, registry, url, free_port(), "--no-filedrop").start()  # subscribes once
    connection = MqttConnection(MqttSettings(MQTT_URL, COUNTY.system_id, persistent_session=False)).start()
    try:
        publisher = MqttPublisher(connection)
        publisher.publish_envelope(envelopes[0])
        deadline = time.monotonic() + 15
        while ledger_in_entries(store) < 1 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert ledger_in_entries(store) == 1
        gateway.kill()
        for envelope in envelopes[1:]:
            publisher.publish_envelope(envelope)  # the broker holds them for the bus's session
        time.sleep(0.3)
        assert ledger_in_entries(store) == 1  # nobody processes them while the gateway is down
        gateway.start()
        deadline = time.monotonic() + 20
        while ledger_in_entries(store) < len(envelopes) and time.monotonic() < deadline:
            time.sleep(0.1)
        for envelope in envelopes:  # a county without acknowledgements resends: answered, not stored again
            publisher.publish_envelope(envelope)
        time.sleep(1.0)
    finally:
        connection.close()
        if gateway.proc.poll() is None:
            assert gateway.terminate() == 0
    assert ledger_in_entries(store) == len(envelopes), gateway.output()
    assert_stored_once(store, ("case",))


# -- file drop ----------------------------------------------------------------------------

def test_file_drop_pushes_of_a_certified_county_are_acknowledged_and_stored_once(tmp_path):
    store = new_store(tmp_path)
    certify(store, "FILE")
    registry = write_registry(tmp_path, BUS, "filedrop", endpoint=str(drop_root(tmp_path)))
    gateway = gateway_for(store, registry)
    try:
        pusher = open_pusher(gateway.registry.get(COUNTY.system_id), "file", receiver=BUS, ack_timeout=15)
        first = push_envelopes(pusher, envelopes_of(COUNTY, "file", receiver=BUS, datasets=["catalog", "case"], batch=20))
        again = push_envelopes(pusher, envelopes_of(COUNTY, "file", receiver=BUS, datasets=["catalog", "case"], batch=20))
        text = gateway.metrics.exposition().decode()
    finally:
        gateway.stop()
    n = len(COUNTY.records("catalog")) + len(COUNTY.records("case"))
    assert first.refusals == [] and set(first.statuses) == {"ACCEPTED"} and first.counts["stored"] == n, first
    assert again.counts.get("stored", 0) == 0 and again.counts["duplicate"] + again.counts["stale"] == n, again
    assert_stored_once(store)
    assert ledger_in_entries(store) == 2 * first.envelopes
    assert metric(text, "tongban_gateway_records_total", partner=COUNTY.system_id, dataset="case",
                  outcome="stored") == len(COUNTY.records("case"))


def test_a_file_drop_of_an_uncertified_county_waits_in_its_inbox_until_it_is_certified(tmp_path):
    store = new_store(tmp_path)
    certify(store, "REST")  # not over FILE
    root = drop_root(tmp_path)
    registry = write_registry(tmp_path, BUS, "filedrop", endpoint=str(root))
    partner = load_registry(registry).get(COUNTY.system_id)
    writer = FileDropWriter(root, sender=COUNTY.system_id, receiver=BUS, key_id=partner.credentials.key_id,
                            key=partner.credentials.hmac_key())
    batch = writer.write_envelope(next(envelopes_of(COUNTY, "file", receiver=BUS, datasets=["case"], batch=10)))
    gateway = gateway_for(store, registry)
    try:
        deadline = time.monotonic() + 10
        while gateway.watcher.passes < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert writer.read_ack("case", batch.batch_id) is None
        assert (root / "inbox" / "case" / f"{batch.batch_id}.manifest.json").exists()
        assert list((root / "rejected" / "case").iterdir()) == []
        assert stored(store, "case") == []
        text = gateway.metrics.exposition().decode()
        assert metric(text, "tongban_gateway_envelopes_total", partner=COUNTY.system_id, binding="FILE",
                      outcome="NOT_ADMITTED") == 1
        assert skipped_runs(store) == 1  # recorded once, not once per pass
        certify(store, "FILE")
        ack = writer.wait_for_ack("case", batch.batch_id, message_id=batch.message_id, timeout=10, poll_interval=0.05)
    finally:
        gateway.stop()
    assert ack is not None and ack["status"] == "ACCEPTED" and ack["counts"]["stored"] == 10
    assert ledger_in_entries(store) == 1


def test_file_drops_made_while_the_gateway_is_down_are_collected_once_after_its_restart(tmp_path):
    url = f"sqlite:///{tmp_path / 'bus.db'}"
    store = Store(url)
    store.upgrade()
    certify(store, "FILE")
    root = drop_root(tmp_path)
    registry = write_registry(tmp_path, BUS, "filedrop", endpoint=str(root))
    partner = load_registry(registry).get(COUNTY.system_id)
    writer = FileDropWriter(root, sender=COUNTY.system_id, receiver=BUS, key_id=partner.credentials.key_id,
                            key=partner.credentials.hmac_key())
    envelopes = list(envelopes_of(COUNTY, "file", receiver=BUS, datasets=["case"], batch=10))
    gateway = GatewayProcess(tmp_path, registry, url, free_port(), "--no-mqtt").start()
    try:
        first = [writer.write_envelope(e) for e in envelopes[:2]]
        assert all(writer.wait_for_ack("case", b.batch_id, message_id=b.message_id, timeout=10, poll_interval=0.05)
                   for b in first), gateway.output()
        gateway.kill()
        rest = [writer.write_envelope(e) for e in envelopes[2:]]
        time.sleep(0.3)
        assert all(writer.read_ack("case", b.batch_id) is None for b in rest)
        gateway.start()
        acks = [writer.wait_for_ack("case", b.batch_id, message_id=b.message_id, timeout=10, poll_interval=0.05)
                for b in rest]
    finally:
        if gateway.proc.poll() is None:
            assert gateway.terminate() == 0
    assert all(a is not None and a["status"] == "ACCEPTED" for a in acks), acks
    assert ledger_in_entries(store) == len(envelopes)
    assert_stored_once(store, ("case",))


@needs_mosquitto
@pytest.mark.mqtt
def test_a_standby_gateway_process_takes_over_the_mqtt_subscriptions_when_the_active_one_dies(tmp_path):
    """Two gateway processes, one store: one subscribes (the broker keeps one connection per
    client identifier), the other stands by and takes over when the first is killed; what was
    published meanwhile waits in the bus's session and is stored once."""
    from tongban.connectors.filedrop.signing import sign_envelope
    from tongban.connectors.mqtt import MqttConnection, MqttPublisher, MqttSettings

    url = f"sqlite:///{tmp_path / 'bus.db'}"
    store = Store(url)
    store.upgrade()
    certify(store, "MQTT")
    registry = write_registry(tmp_path, BUS, "mqtt", endpoint=MQTT_URL)
    partner = load_registry(registry).get(COUNTY.system_id)
    key, key_id = partner.credentials.hmac_key(), partner.credentials.key_id
    envelopes = [sign_envelope(e, key_id=key_id, key=key)
                 for e in envelopes_of(COUNTY, "mqtt", receiver=BUS, datasets=["case"], batch=10)]
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    active = GatewayProcess(tmp_path / "a", registry, url, free_port(), "--no-filedrop").start()
    standby = GatewayProcess(tmp_path / "b", registry, url, free_port(), "--no-filedrop").start()
    connection = MqttConnection(MqttSettings(MQTT_URL, COUNTY.system_id, persistent_session=False)).start()
    try:
        publisher = MqttPublisher(connection)
        publisher.publish_envelope(envelopes[0])
        deadline = time.monotonic() + 15
        while ledger_in_entries(store) < 1 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert ledger_in_entries(store) == 1
        assert "subscribed on" in active.output() and "subscribed on" not in standby.output()
        active.kill()
        for envelope in envelopes[1:]:
            publisher.publish_envelope(envelope)
        deadline = time.monotonic() + 20
        while ledger_in_entries(store) < len(envelopes) and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        connection.close()
        if standby.proc.poll() is None:
            assert standby.terminate() == 0
    assert "subscribed on" in standby.output()
    assert ledger_in_entries(store) == len(envelopes), standby.output()
    assert_stored_once(store, ("case",))
