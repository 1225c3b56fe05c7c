"""Version negotiation over MQTT (TBS-1.1 TBS-MQTT-006, TBS-ENV-021, -029): the gateway's
subscriber on a real Mosquitto broker, a real SQLite store.

An envelope carries its version in its ``specVersion``: the bus validates it under that version
when the sender's profile lists it, stores the records with it and acknowledges in it; a TBS-1.1
envelope from a TBS-1.0-only partner is rejected under TBS-ENV-021 in a TBS-1.0 acknowledgement.
Broadcast announcements are written in the highest version every MQTT partner supports: TBS-1.0
while any supports only TBS-1.0. Expected versions are the test's own reading of those rules."""
from __future__ import annotations

import json
import os
import secrets
from pathlib import Path

import pytest
import yaml
from sqlalchemy import select

from tongban.gateway.runtime import Gateway, GatewayConfig
from tongban.model.annex_e import upgrade
from tongban.registry import load_registry
from tongban.sandbox.generate import generate_province
from tongban.sandbox.push import build_envelope, open_pusher
from tongban.store import Store
from tongban.store.schema import CaseRecord, OutboxEvent
from tongban.sync.outbox import announcement_versions, stage_announcement
from tongban.sync.versions import passes

MQTT_URL = os.environ.get("TONGBAN_TEST_MQTT_URL")
pytestmark = [pytest.mark.mqtt, pytest.mark.skipif(not MQTT_URL, reason="TONGBAN_TEST_MQTT_URL is not set: Mosquitto "
                                                                        "tests run in CI (.ci/run)")]

DATA = generate_province(7, cities=1, counties_per_city=2)
DUAL, ONLY_10 = DATA.counties[0], DATA.counties[1]
BUS = f"TB:province:440000:MV{secrets.token_hex(4).upper()}"   # its own client id and ack traffic


def partner_entry(system, versions: list[str], tag: str) -> dict:
    os.environ.setdefault(f"TONGBAN_TEST_MV_HMAC_{tag}", secrets.token_urlsafe(32))
    os.environ.setdefault(f"TONGBAN_TEST_MV_TOKEN_{tag}", secrets.token_urlsafe(32))
    return {"id": system.system_id, "parent": BUS, "transport": "mqtt", "endpoint": MQTT_URL,
            "credentials": {"token_env": f"TONGBAN_TEST_MV_TOKEN_{tag}", "hmac_key_env": f"TONGBAN_TEST_MV_HMAC_{tag}",
                            "key_id": f"{tag}-K1"},
            "roles": list(system.roles), "spec_versions": versions}


def write_registry(folder: Path, only_10_versions: list[str]) -> Path:
    path = folder / "partners.yaml"
    path.write_text(yaml.safe_dump({
        "bus": {"system_id": BUS, "admission": "off", "spec_versions": ["TBS-1.0", "TBS-1.1"]},
        "partners": [partner_entry(DUAL, ["TBS-1.0", "TBS-1.1"], "DUAL"),
                     partner_entry(ONLY_10, only_10_versions, "ONLY10")]}, allow_unicode=True))
    return path


@pytest.fixture(scope="module")
def bus(tmp_path_factory):
    folder = tmp_path_factory.mktemp("mqttversions")
    store = Store(f"sqlite:///{folder / 'bus.db'}")
    store.upgrade()
    registry = load_registry(write_registry(folder, ["TBS-1.0"]))
    gateway = Gateway(store, registry, GatewayConfig(port=0, insecure_http=True, poll_interval=0.1,
                                                     graceful_timeout=1)).start()
    pushers = []
    try:
        assert gateway.mqtt.wait_subscribed(10), gateway.readiness()

        def push(system, dataset: str, records: list[dict], version: str) -> dict:
            pusher = open_pusher(registry.get(system.system_id), "mqtt", receiver=BUS, ack_timeout=15)
            pushers.append(pusher)
            envelope = build_envelope(system.system_id, dataset, records, receiver=BUS)
            envelope["specVersion"] = version   # signed by the pusher, after this
            return pusher.push(envelope).ack

        yield store, registry, push, folder
    finally:
        for pusher in pushers:
            pusher.close()
        gateway.stop()
        store.dispose()


def stored_versions(store, source: str) -> set[str]:
    with store.reading() as s:
        return set(s.execute(select(CaseRecord.spec_version).where(CaseRecord.source == source)).scalars())


def cases_11(system) -> list[dict]:
    forms = [upgrade("case", r) for r in system.records("case")]
    passing = [f for f in forms if passes("case", f, "TBS-1.1")]
    assert passing
    return passing[:5]


def test_a_tbs_1_1_envelope_of_a_dual_partner_is_validated_stored_and_acknowledged_in_1_1(bus) -> None:
    store, _, push, _ = bus
    records = cases_11(DUAL)
    ack = push(DUAL, "case", records, "TBS-1.1")
    assert ack["specVersion"] == "TBS-1.1" and ack["status"] == "ACCEPTED", ack["envelopeReport"]
    assert ack["counts"]["stored"] == len(records)
    assert stored_versions(store, DUAL.system_id) == {"TBS-1.1"}


def test_a_tbs_1_1_envelope_of_a_tbs_1_0_only_partner_is_refused_under_env_021(bus) -> None:
    store, _, push, _ = bus
    ack = push(ONLY_10, "case", cases_11(ONLY_10), "TBS-1.1")
    assert ack["status"] == "REJECTED" and ack["specVersion"] == "TBS-1.0"   # the highest common version
    assert [i["ruleId"] for i in ack["envelopeReport"]["items"]] == ["TBS-ENV-021"]
    assert stored_versions(store, ONLY_10.system_id) == set()
    # the same partner in TBS-1.0 is read as before
    records = ONLY_10.records("case")[:5]
    ack = push(ONLY_10, "case", records, "TBS-1.0")
    assert ack["specVersion"] == "TBS-1.0" and ack["status"] == "ACCEPTED", ack["envelopeReport"]
    assert stored_versions(store, ONLY_10.system_id) == {"TBS-1.0"}


def test_announcements_are_written_in_the_highest_version_every_mqtt_partner_supports(bus) -> None:
    store, registry, push, folder = bus
    case_nos = {r["caseNo"] for r in cases_11(DUAL)}
    events = [upgrade("case-event", e) for e in DUAL.records("case-event") if e["caseNo"] in case_nos]
    events = [e for e in events if passes("case-event", e, "TBS-1.1")]
    assert events
    ack = push(DUAL, "case-event", events, "TBS-1.1")
    assert ack["specVersion"] == "TBS-1.1" and ack["counts"]["stored"] > 0, ack["envelopeReport"]
    with store.reading() as s:
        announced = [json.loads(e) for e in s.execute(select(OutboxEvent.envelope)
                                                      .where(OutboxEvent.dataset == "case-event")).scalars()]
    # one partner reads TBS-1.0 only: the broadcast is TBS-1.0
    assert announced and {a["specVersion"] for a in announced} == {"TBS-1.0"}
    assert {a["receiver"] for a in announced} == {"*"}
    assert announcement_versions(registry) == ("TBS-1.0",)
    # once every MQTT partner lists TBS-1.1, the broadcast is TBS-1.1
    (folder / "both").mkdir(exist_ok=True)
    both = load_registry(write_registry(folder / "both", ["TBS-1.0", "TBS-1.1"]))
    assert announcement_versions(both) == ("TBS-1.0", "TBS-1.1")
    with store.transaction() as s:
        rows = stage_announcement(s, bus_id=BUS, dataset="case-event", records=events, version="TBS-1.1",
                                  versions=announcement_versions(both))
        staged = [json.loads(r.envelope) for r in rows]
    assert [e["specVersion"] for e in staged] == ["TBS-1.1"] and staged[0]["records"] == events
    # and a TBS-1.0 evaluation is announced in its TBS-1.1 form (Annex E.2: dimensions as an array)
    evaluation = ONLY_10.records("evaluation")[0]
    form = upgrade("evaluation", evaluation)
    assert isinstance(evaluation["dimensions"], dict) and isinstance(form["dimensions"], list)
    want = ("TBS-1.1", form) if passes("evaluation", form, "TBS-1.1") else ("TBS-1.0", evaluation)
    with store.transaction() as s:
        rows = stage_announcement(s, bus_id=BUS, dataset="evaluation", records=[evaluation], version="TBS-1.0",
                                  versions=("TBS-1.0", "TBS-1.1"))
        staged = [json.loads(r.envelope) for r in rows]
    assert [(e["specVersion"], e["records"][0]) for e in staged] == [want]
