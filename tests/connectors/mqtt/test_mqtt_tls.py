"""MQTT over TLS with broker authentication (TBS-SEC-001, TBS-MQTT-001, -002) against a real
Mosquitto configured by tongban.connectors.mqtt.mosquitto: passwords, client certificates,
an ACL entry per system account writing only under its region, client identifier = systemCode."""
from __future__ import annotations

import threading
import uuid

import paho.mqtt.client as paho
import pytest
import trustme
from paho.mqtt.enums import CallbackAPIVersion

from tongban.connectors.mqtt import MqttConnection, MqttSettings
from tongban.model.canonical import canonical_bytes, canonical_sha256

from mqtt_support import envelope, make_pair, wait_until
from tls_broker import CERT_SYSTEM, OBSERVER, RECEIVER, SENDER

REFUSED_WAIT = 3.0  # seconds a refused client is given to (not) connect


@pytest.mark.parametrize("protocol", ["3.1.1", "5"])
def test_envelope_and_ack_travel_over_tls_with_password_authentication(tls_broker, protocol):
    pair, close = make_pair(tls_broker, protocol=protocol, settings=tls_broker.settings,
                            ids=(SENDER, RECEIVER, OBSERVER), purge=tls_broker.purge)
    try:
        env = envelope(pair.sender, pair.receiver)
        pair.publisher.publish_envelope(env)
        assert wait_until(lambda: pair.observer.for_message(env["messageId"]))
        [ack] = pair.observer.for_message(env["messageId"])
        assert ack["status"] == "ACCEPTED" and ack["requestHash"] == canonical_sha256(env)
        assert pair.service.count(env["messageId"]) == 1
    finally:
        close()


def _refused(settings: MqttSettings) -> MqttConnection:
    connection = MqttConnection(settings).start()
    try:
        assert wait_until(lambda: connection.refusal is not None, timeout=REFUSED_WAIT)
        assert not connection.is_connected
    finally:
        connection.close()
    return connection


def test_wrong_password_unknown_system_and_anonymous_client_are_refused(tls_broker):
    wrong = _refused(tls_broker.settings(SENDER, password="not-the-password"))
    assert "authori" in wrong.refusal.lower() or "password" in wrong.refusal.lower()
    _refused(tls_broker.settings("TB:county:440105:NOSUCH", password="anything"))
    _refused(MqttSettings(tls_broker.url, SENDER, ca_file=tls_broker.ca_file))  # no credentials at all


def test_a_broker_certificate_of_another_ca_is_not_trusted(tls_broker, tmp_path):
    other_ca = tmp_path / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(other_ca))
    refused = _refused(MqttSettings(tls_broker.url, SENDER, ca_file=str(other_ca),
                                    password=tls_broker.password(SENDER)))
    assert "TLS" in refused.refusal


def test_a_password_is_never_sent_without_tls_nor_carried_in_the_url(tls_broker):
    with pytest.raises(ValueError, match="only over TLS"):
        MqttConnection(MqttSettings(f"mqtt://{tls_broker.host}:1883", SENDER, password="x"))
    with pytest.raises(ValueError, match="not in the URL"):
        MqttConnection(MqttSettings(f"mqtts://MQSEND:secret@{tls_broker.host}:{tls_broker.port}", SENDER))
    with pytest.raises(ValueError, match="systemCode"):
        MqttConnection(MqttSettings(f"mqtts://OTHER@{tls_broker.host}:{tls_broker.port}", SENDER))


def test_the_client_identifier_is_the_authenticated_system_code(tls_broker):
    """A client authenticated as MQSEND that asks for the identifier MQRECV does not take
    over MQRECV's session: the broker uses the user name as client identifier."""
    legit = MqttConnection(tls_broker.settings(RECEIVER, persistent_session=False)).start()
    impostor = tls_broker.raw_client("MQSEND", tls_broker.password(SENDER), client_id="MQRECV")
    try:
        assert legit.wait_connected(10), legit.refusal
        impostor.connect(tls_broker.host, tls_broker.port)
        impostor.loop_start()
        assert wait_until(impostor.is_connected, timeout=5)
        # With a free choice of client identifier the broker would now disconnect `legit`.
        assert not wait_until(lambda: not legit.is_connected, timeout=1.5)
    finally:
        impostor.disconnect()
        impostor.loop_stop()
        legit.close()


def test_the_broker_lets_a_system_publish_only_under_its_own_region(tls_broker):
    received: list[str] = []
    consumer = MqttConnection(tls_broker.settings(RECEIVER, persistent_session=False))
    consumer.subscribe("tbs/v1/+/case", lambda message: received.append(message.topic) or True)
    publisher = MqttConnection(tls_broker.settings(SENDER, persistent_session=False))
    try:
        consumer.start()
        assert consumer.wait_subscribed(10), consumer.refusal
        publisher.start()
        assert publisher.wait_connected(10), publisher.refusal
        env = envelope(SENDER, RECEIVER, dataset="case")
        publisher.publish("tbs/v1/440104/case", canonical_bytes(env))   # another county's region
        publisher.publish("tbs/v1/440103/case", canonical_bytes(env))   # its own
        assert wait_until(lambda: "tbs/v1/440103/case" in received)
        assert "tbs/v1/440104/case" not in received
    finally:
        publisher.close()
        consumer.close()


def test_client_certificate_authentication(tls_broker):
    received: list[bytes] = []
    consumer = MqttConnection(tls_broker.settings(RECEIVER, persistent_session=False))
    consumer.subscribe("tbs/v1/+/catalog", lambda message: received.append(message.payload) or True)
    certified = MqttConnection(tls_broker.cert_settings(CERT_SYSTEM, persistent_session=False))
    try:
        consumer.start()
        assert consumer.wait_subscribed(10), consumer.refusal
        certified.start()
        assert certified.wait_connected(10), certified.refusal
        payload = uuid.uuid4().hex.encode()
        certified.publish("tbs/v1/440104/catalog", payload)   # CN MQCERT → region 440104 in the ACL
        assert wait_until(lambda: payload in received)
    finally:
        certified.close()
        consumer.close()
    # no client certificate, or one of a CA the broker does not trust: refused
    _refused(MqttSettings(tls_broker.cert_url, CERT_SYSTEM, ca_file=tls_broker.ca_file))
    _refused(tls_broker.cert_settings(CERT_SYSTEM, client="foreign"))


def test_mqtt5_over_tls_publishes_with_content_type_json(tls_broker):
    seen: list[paho.MQTTMessage] = []
    granted = threading.Event()
    peeker = paho.Client(CallbackAPIVersion.VERSION2, client_id="MQOBS", protocol=paho.MQTTv5)
    peeker.tls_set(ca_certs=tls_broker.ca_file)
    peeker.username_pw_set("MQOBS", tls_broker.password(OBSERVER))
    peeker.on_message = lambda client, userdata, message: seen.append(message)
    peeker.on_subscribe = lambda *args: granted.set()
    peeker.on_connect = lambda client, *args: client.subscribe("tbs/v1/440103/case-event", qos=1)
    publisher = MqttConnection(tls_broker.settings(SENDER, protocol="5", persistent_session=False))
    try:
        peeker.connect(tls_broker.host, tls_broker.port)
        peeker.loop_start()
        assert granted.wait(10)
        publisher.start()
        env = envelope(SENDER, RECEIVER)
        publisher.publish("tbs/v1/440103/case-event", canonical_bytes(env))
        assert wait_until(lambda: any(m.payload == canonical_bytes(env) for m in seen))
        [ours] = [m for m in seen if m.payload == canonical_bytes(env)]
        assert ours.properties.ContentType == "application/json" and ours.retain is False
    finally:
        publisher.close()
        peeker.disconnect()
        peeker.loop_stop()
