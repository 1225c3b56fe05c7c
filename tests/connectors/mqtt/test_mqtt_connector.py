"""MqttConnector: the Pusher protocol over a real broker, waiting for the ack."""
from __future__ import annotations

import pytest

from tongban.connectors.base import Feed, Pusher, TransportError
from tongban.connectors.mqtt import MqttConnector

from mqtt_support import KEY, envelope


def test_push_returns_the_receivers_acknowledgement(pair):
    connector = MqttConnector(pair.publisher.connection, ack_timeout=10)
    assert isinstance(connector, Pusher)
    env = envelope(pair.sender, pair.receiver)
    result = connector.push(env)
    assert result.ack["requestMessageId"] == env["messageId"]
    assert result.ack["status"] == "ACCEPTED"
    assert result.extras["requestHashMatches"] is True
    assert pair.service.count(env["messageId"]) == 1


def test_push_signs_an_unsigned_envelope_when_given_a_key(pair):
    connector = MqttConnector(pair.publisher.connection, ack_timeout=10, key_id="k1", key=KEY)
    env = envelope(pair.sender, pair.receiver)
    del env["integrity"]["signature"]
    result = connector.push(env)
    [call] = [c for c in pair.service.calls if c["envelope"]["messageId"] == env["messageId"]]
    assert call["envelope"]["integrity"]["signature"]["alg"] == "HMAC-SHA256"
    assert result.extras["requestHashMatches"] is True


def test_push_without_an_answer_is_a_transport_error(pair):
    connector = MqttConnector(pair.publisher.connection, ack_timeout=0.3)
    with pytest.raises(TransportError):
        connector.push(envelope(pair.sender, "TB:city:440100:NOBODY"))
    # MQTT has no feed: the connector only pushes, so the sync engine cannot pull from it
    assert isinstance(connector, Pusher) and not isinstance(connector, Feed)
