"""Topic names and the embedded broker's lifecycle."""
from __future__ import annotations

import socket

import pytest

from tongban.connectors.mqtt import EmbeddedBroker
from tongban.connectors.mqtt.topics import ack_topic, dataset_filter, envelope_topic, parse_topic, system_code_of


def test_topics_follow_mqtt_002_and_007():
    assert envelope_topic("440103", "case-event") == "tbs/v1/440103/case-event"
    assert ack_topic("440000") == "tbs/v1/440000/ack"
    assert dataset_filter("catalog") == "tbs/v1/+/catalog"
    assert parse_topic("tbs/v1/440103/case") == ("440103", "case")
    assert parse_topic("tbs/v2/440103/case") is None
    assert system_code_of("TB:county:440103:LWZWFW") == "LWZWFW"


@pytest.mark.parametrize("region, dataset", [("4401", "case"), ("440103", "cases"), ("+", "case"), ("440103", "#")])
def test_no_topic_for_bad_region_or_dataset(region, dataset):
    with pytest.raises(ValueError):
        envelope_topic(region, dataset)


def test_embedded_broker_listens_on_loopback_and_restarts_on_the_same_port():
    broker = EmbeddedBroker()
    with broker:
        assert broker.url == f"mqtt://127.0.0.1:{broker.port}"
        socket.create_connection(("127.0.0.1", broker.port), timeout=2).close()
    assert not broker.running
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", broker.port), timeout=2).close()
    broker.start()
    try:
        socket.create_connection(("127.0.0.1", broker.port), timeout=2).close()
    finally:
        broker.stop()
