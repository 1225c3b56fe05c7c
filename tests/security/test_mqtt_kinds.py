"""Bad input over the MQTT binding (TBS-1.0 §18) on a real broker: Mosquitto when
TONGBAN_TEST_MQTT_URL is set, else the embedded amqtt broker. One case per kind.

MQTT cannot answer a payload it cannot read (no messageId, no sender): those are dropped and
counted (``MqttSubscriber.stats``), never acknowledged. Everything else is acknowledged on the
bus's ack topic with the rule that refused it. After each kind a valid signed envelope is still
stored, and replay memory holds only what TBS-SEC-005 says it holds: a junk message cannot
squat a messageId that the real envelope then fails on.
"""
from __future__ import annotations

import json
import os
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any, Callable, Iterator

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from tongban.connectors.filedrop.signing import sign_envelope
from tongban.connectors.mqtt import EmbeddedBroker, MqttConnection, MqttSettings, MqttSubscriber
from tongban.model.canonical import canonical_bytes, records_sha256

from security_support import HMAC, PROVINCE_UNREGISTERED, Bus, make_bus
from security_support import bus, province  # noqa: F401 - pytest fixtures

MQTT_URL = os.environ.get("TONGBAN_TEST_MQTT_URL")
BUS_ID = f"TB:province:440000:B{uuid.uuid4().hex[:7].upper()}"  # unique: the broker may be shared


@pytest.fixture(scope="module")
def broker_url() -> Iterator[str]:
    if MQTT_URL:
        yield MQTT_URL
        return
    with EmbeddedBroker() as broker:
        yield broker.url


class Acks:
    def __init__(self, url: str) -> None:
        self.items: list[dict[str, Any]] = []
        self.connection = MqttConnection(MqttSettings(url, f"TB:department:440000:O{uuid.uuid4().hex[:7].upper()}",
                                                      persistent_session=False))
        self.connection.subscribe("tbs/v1/440000/ack", self._on)
        self.connection.start()
        assert self.connection.wait_subscribed(10)

    def _on(self, message: paho.MQTTMessage) -> bool:
        self.items.append(json.loads(message.payload))
        return True

    def of(self, message_id: str) -> list[dict[str, Any]]:
        return [a for a in list(self.items) if a.get("requestMessageId") == message_id]

    def wait(self, message_id: str, n: int = 1, timeout: float = 10.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and len(self.of(message_id)) < n:
            time.sleep(0.02)
        return self.of(message_id)


@dataclass
class MqttBus:
    bus: Bus
    url: str
    subscriber: MqttSubscriber
    acks: Acks
    publisher: paho.Client

    def publish(self, payload: bytes, topic: str = "tbs/v1/440103/case", *, retain: bool = False) -> None:
        self.publisher.publish(topic, payload, qos=1, retain=retain).wait_for_publish(10)

    def signed(self, records: list[dict[str, Any]] | None = None, **over: Any) -> dict[str, Any]:
        env = self.bus.envelope(records, **over)
        return sign_envelope(env, key_id="LW-K1", key=HMAC["LW"].encode())

    def still_stores(self) -> None:
        before = self.bus.snapshot()
        cases = self.bus.fresh_cases(2)
        env = self.signed(cases)
        self.publish(canonical_bytes(env))
        acks = self.acks.wait(env["messageId"])
        assert acks and acks[0]["status"] == "ACCEPTED" and acks[0]["counts"]["stored"] == 2, acks
        after = self.bus.snapshot()
        assert set(after["case"]) - set(before["case"]) == {canonical_bytes(c).decode() for c in cases}


@pytest.fixture(scope="module")
def mqtt_bus(tmp_path_factory, province, broker_url) -> Iterator[MqttBus]:
    for bus in make_bus(tmp_path_factory, province, BUS_ID):
        connection = MqttConnection(MqttSettings(broker_url, BUS_ID, persistent_session=False))
        subscriber = MqttSubscriber(connection, bus.receiver, datasets=["case", "evaluation"]).start()
        assert connection.wait_subscribed(10)
        acks = Acks(broker_url)
        publisher = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"P{uuid.uuid4().hex[:10].upper()}")
        host, port = broker_url.split("//", 1)[1].split(":")
        publisher.connect(host, int(port))
        publisher.loop_start()
        try:
            yield MqttBus(bus, broker_url, subscriber, acks, publisher)
        finally:
            publisher.disconnect()
            publisher.loop_stop()
            acks.connection.close()
            connection.close()


@dataclass(frozen=True)
class Kind:
    id: str
    send: Callable[[MqttBus], str | None]   # publishes; returns the messageId an ack must name, or None
    expect: str                             # a rule id (acknowledged REJECTED) or a stats counter (dropped)
    finding: str = ""


def _send(m: MqttBus, env: dict[str, Any], topic: str = "tbs/v1/440103/case") -> str:
    m.publish(canonical_bytes(env), topic)
    return env["messageId"]


def _raw(payload: bytes, **kw: Any) -> Callable[[MqttBus], None]:
    def send(m: MqttBus) -> None:
        m.publish(payload, **kw)
    return send


def _resign(m: MqttBus, env: dict[str, Any]) -> dict[str, Any]:
    """``env`` signed as it stands (its recordsSha256 is not recomputed)."""
    from tongban.validators.signature import sign_hmac_sha256

    env = dict(env, integrity={"recordsSha256": env["integrity"]["recordsSha256"]})
    return sign_hmac_sha256(env, HMAC["LW"].encode(), "LW-K1")


def _squat(junk: Callable[[MqttBus, dict[str, Any]], None]) -> Callable[[MqttBus], str]:
    """A junk message carrying the victim's messageId first; the victim's real envelope must
    then be stored (its ack ACCEPTED), not refused under TBS-SEC-005."""
    def send(m: MqttBus) -> str:
        real = m.signed()
        junk(m, real)
        time.sleep(0.2)
        m.publish(canonical_bytes(real))
        acks = m.acks.wait(real["messageId"], 2)
        assert [a["status"] for a in acks][-1] == "ACCEPTED", acks
        return None  # type: ignore[return-value]
    return send


def _replay_conflict(m: MqttBus) -> str:
    env = m.signed()
    m.publish(canonical_bytes(env))
    assert m.acks.wait(env["messageId"])[0]["status"] == "ACCEPTED"
    other = m.signed(m.bus.fresh_cases(1), messageId=env["messageId"])
    m.publish(canonical_bytes(other))
    return env["messageId"]


KINDS = [
    # -- dropped and counted: nothing to acknowledge to --------------------------------------
    Kind("payload-over-1-mib", _raw(b'{"a":"' + b"x" * (1024 * 1024 + 10) + b'"}'), "oversize"),
    Kind("not-json", _raw(b"<xml/>"), "unparsable"),
    Kind("json-array", _raw(b"[1,2]"), "unparsable"),
    Kind("duplicate-member-names", _raw(b'{"messageId":"a","messageId":"b"}'), "unparsable"),
    Kind("invalid-utf8", _raw(b'{"a":"\xff"}'), "unparsable"),
    Kind("utf8-bom", lambda m: m.publish(b"\xef\xbb\xbf" + canonical_bytes(m.signed())), "unparsable"),
    Kind("nan-literal", _raw(b'{"a":NaN}'), "unparsable"),
    Kind("addressed-to-another-system", lambda m: _send(m, _resign(m, m.signed(receiver="TB:city:440100:GZZWFW"))),
         "not_addressed"),
    # -- acknowledged REJECTED with the rule --------------------------------------------------
    Kind("topic-region-not-senders", lambda m: _send(m, m.signed(), "tbs/v1/440104/case"), "TBS-MQTT-002"),
    Kind("topic-dataset-not-envelopes", lambda m: _send(m, m.signed(), "tbs/v1/440103/evaluation"), "TBS-ENV-024"),
    Kind("unsigned", lambda m: _send(m, m.bus.envelope()), "TBS-SEC-007"),
    Kind("forged-signature", lambda m: _send(m, sign_envelope(m.bus.envelope(), key_id="LW-K1",
                                                              key=b"forged-0123456789abcdef0123456789ab")),
         "TBS-ENV-028"),
    Kind("unknown-key-id", lambda m: _send(m, sign_envelope(m.bus.envelope(), key_id="LW-K7",
                                                            key=HMAC["LW"].encode())), "TBS-ENV-028"),
    Kind("sent-over-24h-ago", lambda m: _send(m, m.signed(sentAt="2020-01-01T00:00:00+08:00")), "TBS-SEC-006"),
    Kind("records-hash-mismatch", lambda m: _send(m, _resign(m, dict(m.signed(), integrity={
        "recordsSha256": "0" * 64}))), "TBS-ENV-027"),
    Kind("spec-version-unknown", lambda m: _send(m, m.signed(specVersion="TBS-2.0")), "TBS-ENV-021"),
    Kind("origin-unregistered-province", lambda m: _send(m, m.signed(m.bus.fresh_cases(1, "YX"),
                                                                     origin=PROVINCE_UNREGISTERED)),
         "TBS-SEC-011", finding="1"),
    Kind("case-of-another-county", lambda m: _send(m, m.signed(m.bus.fresh_cases(1, "YX"))), "TBS-SEC-003"),
    Kind("replayed-message-id-other-content", _replay_conflict, "TBS-SEC-005"),
    # -- messageId squatting (TBS-SEC-005 remembers processed envelopes only) -----------------
    Kind("squat-with-unsigned-junk", _squat(lambda m, real: _send(m, m.bus.envelope(messageId=real["messageId"]))),
         "squat", finding="6"),
    Kind("squat-with-wrong-topic-region", _squat(lambda m, real: _send(m, real, "tbs/v1/440104/case")), "squat",
         finding="6"),
    Kind("squat-with-forged-signature", _squat(lambda m, real: _send(m, sign_envelope(
        m.bus.envelope(messageId=real["messageId"]), key_id="LW-K1", key=b"forged-0123456789abcdef0123456789ab"))),
        "squat", finding="6"),
]


@pytest.mark.parametrize("kind", KINDS, ids=[k.id for k in KINDS])
def test_mqtt_kind(mqtt_bus, kind):
    stats = mqtt_bus.subscriber.stats
    before_stats = dict(vars(stats))
    before = mqtt_bus.bus.snapshot()
    message_id = kind.send(mqtt_bus)
    mqtt_bus.still_stores()   # processed after the bad message: it has been handled by now
    if kind.expect.startswith("TBS-"):
        acks = mqtt_bus.acks.wait(message_id)
        assert acks, "the refusal is acknowledged"
        ack = acks[-1]
        assert ack["status"] == "REJECTED", ack
        assert "Traceback" not in json.dumps(ack, ensure_ascii=False)
        rules = [i["ruleId"] for i in ack["envelopeReport"]["items"]] + \
                [i["ruleId"] for r in ack["rejected"] for i in r["report"]["items"]]
        assert kind.expect in rules, ack
    elif kind.expect != "squat":
        assert vars(stats)[kind.expect] > before_stats[kind.expect], vars(stats)
    after = mqtt_bus.bus.snapshot()
    # only the valid envelopes of this case were stored (the squat victim's and still_stores')
    new = set(after["case"]) - set(before["case"])
    assert len(new) == (3 if kind.expect == "squat" else 2 + (kind.id == "replayed-message-id-other-content"))
