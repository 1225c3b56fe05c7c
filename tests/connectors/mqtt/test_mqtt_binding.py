"""Publisher → broker → subscriber → service → ack, against real brokers (TBS-MQTT-001..008)."""
from __future__ import annotations

import json
import threading
import uuid

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from tongban.connectors.base import ProtocolError
from tongban.model.canonical import canonical_bytes, canonical_sha256

from mqtt_support import SENDER_REGION, envelope, make_pair, raw_publish, unique_ids, wait_until


def test_published_envelope_is_received_exactly_once_and_acknowledged(pair):
    env = envelope(pair.sender, pair.receiver)
    pair.publisher.publish_envelope(env)

    assert wait_until(lambda: pair.observer.for_message(env["messageId"]))
    [call] = [c for c in pair.service.calls if c["envelope"]["messageId"] == env["messageId"]]
    assert call["binding"] == "MQTT"
    assert (call["binding_dataset"], call["topic_region"]) == ("case-event", SENDER_REGION)
    assert call["envelope"] == env
    assert call["request_hash"] == canonical_sha256(env)
    [ack] = pair.observer.for_message(env["messageId"])
    assert ack["status"] == "ACCEPTED" and ack["sender"] == pair.receiver
    assert ack["requestHash"] == canonical_sha256(env)
    assert pair.subscriber.stats.processed >= 1


def test_duplicate_delivery_is_processed_once_and_the_stored_ack_repeated(pair):
    env = envelope(pair.sender, pair.receiver)
    pair.publisher.publish_envelope(env)
    pair.publisher.publish_envelope(env)  # a redelivery: same messageId, same requestHash

    assert wait_until(lambda: len(pair.observer.for_message(env["messageId"])) == 2)
    assert pair.service.count(env["messageId"]) == 1
    assert pair.subscriber.stats.duplicates == 1
    first, second = pair.observer.for_message(env["messageId"])
    assert first == second


def test_reused_message_id_with_other_content_is_refused_under_sec_005(pair):
    env = envelope(pair.sender, pair.receiver, seq=1)
    forged = envelope(pair.sender, pair.receiver, seq=2)
    forged = {**forged, "messageId": env["messageId"]}
    pair.publisher.publish_envelope(env)
    pair.publisher.publish_envelope(forged)

    assert wait_until(lambda: len(pair.observer.for_message(env["messageId"])) == 2)
    assert pair.service.count(env["messageId"]) == 1
    refusal = pair.observer.for_message(env["messageId"])[1]
    assert refusal["status"] == "REJECTED"
    assert [(i["ruleId"], i["location"]) for i in refusal["envelopeReport"]["items"]] == [
        ("TBS-SEC-005", "/messageId")]
    assert refusal["requestHash"] == canonical_sha256(forged)


def test_retained_message_is_discarded_without_processing_or_ack(broker):
    # The retained message must be on the broker before the consumer subscribes.
    sender, _, _ = unique_ids()
    topic = f"tbs/v1/{SENDER_REGION}/case"
    retained_env = envelope(sender, "*", dataset="case")
    raw_publish(broker.host, broker.port, topic, canonical_bytes(retained_env), retain=True)
    try:
        pair, close = make_pair(broker)
        try:
            assert wait_until(lambda: pair.subscriber.stats.retained_discarded >= 1)
            live = envelope(pair.sender, pair.receiver)
            pair.publisher.publish_envelope(live)
            assert wait_until(lambda: pair.observer.for_message(live["messageId"]))
            assert pair.service.count(retained_env["messageId"]) == 0
            assert pair.observer.for_message(retained_env["messageId"]) == []
        finally:
            close()
    finally:
        raw_publish(broker.host, broker.port, topic, b"", retain=True)  # clear it from the broker


def test_envelope_for_someone_else_is_ignored_and_broadcast_is_processed(pair):
    other = "TB:city:440100:GZZWFW"
    foreign = envelope(pair.sender, other)
    broadcast = envelope(pair.sender, "*")
    pair.publisher.publish_envelope(foreign)
    pair.publisher.publish_envelope(broadcast)

    assert wait_until(lambda: pair.observer.for_message(broadcast["messageId"]))
    assert pair.service.count(foreign["messageId"]) == 0
    assert pair.service.count(broadcast["messageId"]) == 1
    assert pair.observer.for_message(foreign["messageId"]) == []
    assert pair.subscriber.stats.not_addressed >= 1


def test_topic_region_other_than_the_senders_is_rejected_under_mqtt_002(pair):
    env = envelope(pair.sender, pair.receiver)
    # Publish under a foreign region (a conforming broker's ACL would already forbid it).
    pair.publisher.connection.publish("tbs/v1/110000/case-event", canonical_bytes(env))

    assert wait_until(lambda: pair.observer.for_message(env["messageId"]))
    assert pair.service.count(env["messageId"]) == 0
    [ack] = pair.observer.for_message(env["messageId"])
    assert ack["status"] == "REJECTED"
    assert [(i["ruleId"], i["location"]) for i in ack["envelopeReport"]["items"]] == [("TBS-MQTT-002", "/sender")]


def test_topic_dataset_other_than_the_envelopes_is_rejected_under_env_024(pair):
    env = envelope(pair.sender, pair.receiver, dataset="case-event")
    pair.publisher.connection.publish(f"tbs/v1/{SENDER_REGION}/case", canonical_bytes(env))
    assert wait_until(lambda: pair.observer.for_message(env["messageId"]))
    [ack] = pair.observer.for_message(env["messageId"])
    assert [(i["ruleId"], i["location"]) for i in ack["envelopeReport"]["items"]] == [("TBS-ENV-024", "/dataset")]


def test_payload_over_one_mib_is_refused_by_the_consumer(pair):
    env = envelope(pair.sender, pair.receiver, ext={"pad": "x" * 1_048_576})
    pair.publisher.connection.publish(f"tbs/v1/{SENDER_REGION}/case-event", canonical_bytes(env))
    assert wait_until(lambda: pair.subscriber.stats.oversize >= 1)
    assert pair.service.count(env["messageId"]) == 0


def test_unparsable_payload_is_dropped_without_ack(pair):
    pair.publisher.connection.publish(f"tbs/v1/{SENDER_REGION}/case-event", b'{"messageId":"a","messageId":"b"}')
    assert wait_until(lambda: pair.subscriber.stats.unparsable >= 1)


def test_publisher_refuses_what_it_must_not_send(pair):
    with pytest.raises(ProtocolError):  # not this connection's system (TBS-SEC-002)
        pair.publisher.publish_envelope(envelope("TB:county:440104:OTHER", pair.receiver))
    with pytest.raises(ProtocolError):  # over 1 MiB (TBS-SEC-009)
        pair.publisher.publish_envelope(envelope(pair.sender, pair.receiver, ext={"pad": "x" * 1_048_576}))


def test_mqtt5_publishes_with_content_type_json(mosquitto_broker):
    # Mosquitto only: amqtt 0.12 speaks MQTT 3.1.1 (test_mqtt_tls.py runs MQTT 5 over TLS too).
    broker = mosquitto_broker
    pair, close = make_pair(broker, protocol="5")
    peeker = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"PEEK{uuid.uuid4().hex[:8].upper()}",
                         protocol=paho.MQTTv5)
    seen: list[paho.MQTTMessage] = []
    granted = threading.Event()
    peeker.on_message = lambda client, userdata, message: seen.append(message)
    peeker.on_subscribe = lambda *args: granted.set()
    peeker.on_connect = lambda client, *args: client.subscribe(f"tbs/v1/{SENDER_REGION}/case-event", qos=1)
    try:
        peeker.connect(broker.host, broker.port)
        peeker.loop_start()
        assert granted.wait(10)
        env = envelope(pair.sender, pair.receiver)
        pair.publisher.publish_envelope(env)
        assert wait_until(lambda: pair.observer.for_message(env["messageId"]))
        assert pair.service.count(env["messageId"]) == 1
        assert wait_until(lambda: any(json.loads(m.payload)["messageId"] == env["messageId"] for m in seen))
        [ours] = [m for m in seen if json.loads(m.payload)["messageId"] == env["messageId"]]
        assert ours.properties.ContentType == "application/json"
        assert ours.retain is False
    finally:
        peeker.disconnect()
        peeker.loop_stop()
        close()
