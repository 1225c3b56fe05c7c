"""The transactional outbox drained into a real broker that goes down and comes back."""
from __future__ import annotations

import pytest

from tongban.connectors.base import ProtocolError, TransportError
from tongban.connectors.mqtt import InMemoryOutbox, OutboxDrainer

from mqtt_support import envelope, make_pair, wait_until


def test_broker_down_then_up_every_event_delivered_and_stored_once(stoppable_broker):
    pair, close = make_pair(stoppable_broker)
    try:
        outbox = InMemoryOutbox()
        drainer = OutboxDrainer(outbox, pair.publisher)
        events = [envelope(pair.sender, pair.receiver, seq=i) for i in range(1, 7)]
        for env in events[:2]:
            outbox.add(env)
        assert drainer.drain().sent == [1, 2]
        # A PUBACK means the broker holds the message, not that it was delivered: an
        # in-memory broker stopped at once would lose it. Let the first two arrive.
        assert wait_until(lambda: all(pair.service.count(e["messageId"]) == 1 for e in events[:2]))

        stoppable_broker.take_down()
        for env in events[2:]:
            outbox.add(env)
        down = drainer.drain()
        assert isinstance(down.stopped_by, TransportError)
        assert down.sent == []
        assert outbox.pending_count == 4  # nothing marked sent without a PUBACK

        stoppable_broker.bring_up()
        assert pair.subscriber.connection.wait_connected(20)
        assert pair.subscriber.connection.wait_subscribed(20)
        assert pair.publisher.connection.wait_connected(20)
        up = drainer.drain_all()
        assert up.ok and up.sent == [3, 4, 5, 6]
        assert outbox.pending_count == 0

        ids = [e["messageId"] for e in events]
        assert wait_until(lambda: all(pair.service.count(i) >= 1 for i in ids), 20)
        assert [pair.service.count(i) for i in ids] == [1] * 6
        # Redeliver everything once more (as a drainer that crashed before mark_sent would):
        for env in events:
            pair.publisher.publish_envelope(env)
        assert wait_until(lambda: pair.subscriber.stats.duplicates >= 6, 20)
        assert [pair.service.count(i) for i in ids] == [1] * 6
    finally:
        close()


def test_fatal_row_is_reported_and_the_rest_still_sent(pair):
    outbox = InMemoryOutbox()
    good = envelope(pair.sender, pair.receiver)
    outbox.add(envelope("TB:county:440104:OTHER", pair.receiver))  # not ours to publish
    outbox.add(good)
    result = OutboxDrainer(outbox, pair.publisher).drain()
    assert result.sent == [2]
    assert [(row, type(err)) for row, err in result.failed] == [(1, ProtocolError)]
    assert outbox.pending_count == 1
    assert wait_until(lambda: pair.service.count(good["messageId"]) == 1)


def test_drainer_against_an_unreachable_broker_keeps_everything_pending():
    from tongban.connectors.mqtt import MqttConnection, MqttPublisher, MqttSettings
    from mqtt_support import unique_ids

    sender, receiver, _ = unique_ids()
    with MqttConnection(MqttSettings("mqtt://127.0.0.1:9", sender, connect_timeout=0.2)) as conn:
        outbox = InMemoryOutbox()
        outbox.add(envelope(sender, receiver))
        result = OutboxDrainer(outbox, MqttPublisher(conn)).drain()
    assert isinstance(result.stopped_by, TransportError)
    assert outbox.pending_count == 1
