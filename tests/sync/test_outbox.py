"""The transactional outbox: stored case events are announced on MQTT through a real broker;
nothing is lost while the broker is down, and the deduping consumer stores each once."""
from __future__ import annotations

import json
import os
import socket
import threading
import time
import uuid
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from tongban.connectors.mqtt import EmbeddedBroker
from tongban.connectors.mqtt.connection import MqttConnection, MqttSettings
from tongban.connectors.mqtt.subscriber import MqttSubscriber
from tongban.store.schema import OutboxEvent
from tongban.sync.ingest import Ingestor
from tongban.sync.outbox import StoreOutbox, publish_outbox
from tongban.validators import ValidationContext

ANNEX_B = Path(__file__).resolve().parents[1] / "data" / "annex_b"
BUS = "TB:province:440000:TONGBAN"
COUNTY = "TB:county:440103:LWZWFW"
KEY = b"outbox-test-key-0123456789abcdef0123"
MOSQUITTO = os.environ.get("TONGBAN_TEST_MQTT_URL")


def annex(name):
    return json.loads((ANNEX_B / f"{name}.json").read_text(encoding="utf-8"))


def ingest(store, dataset, records, announce=True):
    with store.transaction() as s:
        return Ingestor(s, partner_id=COUNTY, writer=COUNTY, hold_timeout_s=60, context=ValidationContext(),
                        announce_as=BUS if announce else None).ingest(dataset, records)


def pending(store):
    with store.reading() as s:
        return s.execute(select(func.count()).select_from(OutboxEvent).where(OutboxEvent.sent_at.is_(None))).scalar_one()


class Collector:
    """A consumer's service: stores each event by business key, counts every hand-over."""

    def __init__(self):
        self.events: dict[tuple, dict] = {}
        self.received = 0
        self.lock = threading.Lock()

    def receive(self, envelope, *, binding, request_hash, authenticated_sender, **kw):
        with self.lock:
            self.received += 1
            for r in envelope["records"]:
                assert (r["caseNo"], r["seq"]) not in self.events, "stored twice"
                self.events[(r["caseNo"], r["seq"])] = r
        return {"specVersion": "TBS-1.0", "requestHash": request_hash, "status": "ACCEPTED"}

    def meta(self):
        return {}

    def changes(self, *a):
        raise NotImplementedError

    def get_ack(self, *a):
        return None


def test_outbox_row_commits_with_its_records_or_not_at_all(store):
    ingest(store, "case", annex("B.2")["records"])
    assert pending(store) == 0  # cases are not announced
    with pytest.raises(RuntimeError):
        with store.transaction() as s:
            Ingestor(s, partner_id=COUNTY, writer=COUNTY, hold_timeout_s=60, context=ValidationContext(),
                     announce_as=BUS).ingest("case-event", annex("B.3")["records"])
            raise RuntimeError("crash before commit")
    assert pending(store) == 0
    ingest(store, "case-event", annex("B.3")["records"])
    [(row_id, envelope)] = StoreOutbox(store).pending(10)
    assert envelope["records"] == annex("B.3")["records"] and envelope["receiver"] == "*"
    assert envelope["sender"] == BUS and envelope["origin"] == COUNTY
    ingest(store, "case-event", annex("B.3")["records"])  # duplicates announce nothing new
    assert pending(store) == 1


def test_records_released_from_a_hold_are_announced_too(store):
    ingest(store, "case", annex("B.2")["records"], announce=False)
    events = annex("B.3")["records"]
    first = ingest(store, "case-event", [events[0], events[2]])
    assert [r.outcome.value for r in first.results] == ["STORED", "HELD"]
    ingest(store, "case-event", [events[1]])  # fills the gap: seq 3 is released and stored
    announced = [e for _, env in StoreOutbox(store).pending(10) for e in env["records"]]
    assert sorted(e["seq"] for e in announced) == [1, 2, 3]


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("kind", ["amqtt", pytest.param("mosquitto", marks=pytest.mark.skipif(
    not MOSQUITTO, reason="TONGBAN_TEST_MQTT_URL is not set: Mosquitto run skipped"))])
def test_broker_down_then_up_every_event_delivered_and_stored_once(store, kind):
    ingest(store, "case", annex("B.2")["records"])
    events = annex("B.3")["records"]
    for i in range(len(events)):  # five envelopes, one per event
        ingest(store, "case-event", [events[i]])
    assert pending(store) == 5
    port = _free_port()
    embedded = EmbeddedBroker(port=port) if kind == "amqtt" else None
    url = embedded.url if embedded else MOSQUITTO
    down = publish_outbox(store, BUS, f"mqtt://127.0.0.1:{_free_port()}", key_id="BUS-K1", key=KEY, timeout=1)
    assert down.stopped_by is not None and down.sent == [] and pending(store) == 5
    if embedded:
        embedded.start()
    collector = Collector()
    # A fresh client id: a persistent session of an earlier run must not hand us its backlog.
    consumer = MqttConnection(MqttSettings(url, f"TB:department:440000:SINK{uuid.uuid4().hex[:8].upper()}")).start()
    try:
        MqttSubscriber(consumer, collector, datasets=("case-event",)).start()
        assert consumer.wait_subscribed(10)
        up = publish_outbox(store, BUS, url, key_id="BUS-K1", key=KEY)
        assert up.ok and len(up.sent) == 5 and pending(store) == 0
        # a crash after PUBACK but before mark_sent: the same rows go out again
        with store.transaction() as s:
            s.execute(update(OutboxEvent).values(sent_at=None))
        again = publish_outbox(store, BUS, url, key_id="BUS-K1", key=KEY)
        assert len(again.sent) == 5
        deadline = time.monotonic() + 10
        while len(collector.events) < 5 and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.5)  # let any duplicate delivery arrive
        assert set(collector.events) == {(e["caseNo"], e["seq"]) for e in events}
        assert collector.received == 5  # the redelivered envelopes were deduplicated on messageId
    finally:
        consumer.close()
        if embedded:
            embedded.stop()
