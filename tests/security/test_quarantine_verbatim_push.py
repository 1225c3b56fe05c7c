"""A rejected record of a *pushed* envelope is quarantined as received, byte for byte, over every
push binding: the REST body, the SOAP ``records/item`` element, the file drop's data line and the
MQTT payload, each reaching the real bus (servers on loopback, the drop scan, a real broker).

The rejected record is written the way a partner might write it and never the way the bus
writes JSON (indented or escaped, members in its own order), so a re-serialised quarantine
entry cannot pass. A quarantined SOAP item is read back by ``quarantine replay``.
"""
from __future__ import annotations

import hashlib
import json
import os
import time
import uuid
from typing import Any, Iterator

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import select

from tongban.connectors.filedrop.signing import sign_envelope
from tongban.connectors.filedrop.writer import FileDropWriter
from tongban.connectors.mqtt import EmbeddedBroker, MqttConnection, MqttSettings, MqttSubscriber
from tongban.connectors.soap import mapping
from tongban.model.canonical import canonical_bytes
from tongban.store.schema import QuarantineEntry
from tongban.sync.replay import quarantined_record

from security_support import HMAC, Bus, make_bus
from security_support import province  # noqa: F401 - pytest fixture

NOT_ALLOWLISTED_USCC = "91440103MA5TB0001X"  # not on the reference allowlist: the record is rejected


@pytest.fixture(scope="module")
def bus(tmp_path_factory, province) -> Iterator[Bus]:  # noqa: F811
    # a bus id of its own: it is the MQTT client id, and the broker may be shared
    yield from make_bus(tmp_path_factory, province, f"TB:province:440000:Q{uuid.uuid4().hex[:7].upper()}")


def good_and_bad(bus: Bus) -> tuple[dict[str, Any], dict[str, Any]]:
    good, bad = bus.fresh_cases(2)
    bad = dict(bad, applicant={**bad["applicant"], "kind": "ORG", "idType": "USCC", "idNo": NOT_ALLOWLISTED_USCC})
    return good, bad


def partner_json(record: dict[str, Any], *, indent: int | None = 1) -> str:
    """JSON as a partner might write it: non-ASCII escaped, members in reverse order."""
    return json.dumps(dict(reversed(list(record.items()))), ensure_ascii=True, indent=indent)


def json_body(env: dict[str, Any], record_texts: list[str]) -> bytes:
    """``env`` as JSON whose ``records`` are the given texts, the other members canonical."""
    head = canonical_bytes({k: v for k, v in env.items() if k != "records"})[:-1]
    return head + b',\n "records" : [ ' + ",\n  ".join(record_texts).encode("utf-8") + b" ]\n}"


def entries_for(bus: Bus, case_no: str, timeout: float = 0.0) -> list[QuarantineEntry]:
    deadline = time.monotonic() + timeout
    while True:
        with bus.store.reading() as s:
            found = [e for e in s.execute(select(QuarantineEntry)).scalars() if case_no in e.raw]
        if found or time.monotonic() >= deadline:
            return found
        time.sleep(0.05)


def assert_verbatim(bus: Bus, bad: dict[str, Any], text: str, body: bytes, timeout: float = 0.0) -> None:
    [entry] = entries_for(bus, bad["caseNo"], timeout)
    assert entry.raw.encode("utf-8") == text.encode("utf-8")
    assert entry.raw.encode("utf-8") in body


def test_rest_push_quarantines_the_record_as_received(bus):
    good, bad = good_and_bad(bus)
    env = bus.envelope([good, bad])
    bad_text = partner_json(bad)
    body = json_body(env, [canonical_bytes(good).decode(), bad_text])
    resp = bus.rest_post(body, bus.headers(env))
    assert resp.status_code == 200, resp.text
    assert resp.json()["counts"]["stored"] == 1 and resp.json()["counts"]["rejected"] == 1
    assert_verbatim(bus, bad, bad_text, body)


def test_soap_push_quarantines_the_item_element_as_received(bus):
    good, bad = good_and_bad(bus)
    env = bus.envelope([good, bad])
    body = mapping.envelope_to_push_batch(env)
    # the partner's own prefix and spacing inside the rejected item
    [_, item] = mapping.record_item_texts(body)
    partner_item = item.replace("><", ">\n      <", 3)
    body = body.replace(item.encode("utf-8"), partner_item.encode("utf-8"))
    resp = bus.soap_post(body, bus.soap_headers(env))
    assert resp.status_code == 200, resp.text
    ack = mapping.xml_to_ack(resp.content)
    assert ack["counts"]["stored"] == 1 and ack["counts"]["rejected"] == 1, ack
    assert_verbatim(bus, bad, partner_item, body)
    [entry] = entries_for(bus, bad["caseNo"])
    assert quarantined_record(entry.raw, "case") == bad  # replay reads the XML back


def test_file_drop_quarantines_the_data_line_as_received(bus):
    good, bad = good_and_bad(bus)
    writer = FileDropWriter(bus.drop_roots["LW"], sender=bus.id("LW"), receiver=bus.receiver.system_id,
                            key_id="LW-K1", key=HMAC["LW"].encode())
    batch = writer.write_batch("case", [good, bad])
    bad_line = partner_json(bad, indent=None)
    data = canonical_bytes(good) + b"\n" + bad_line.encode("utf-8") + b"\n"
    # the data file as the partner wrote it; the manifest's file facts follow it (TBS-FILE-006)
    batch.data_path.write_bytes(data)
    manifest = json.loads(batch.manifest_path.read_bytes())
    manifest["file"].update(size=len(data), sha256=hashlib.sha256(data).hexdigest())
    batch.manifest_path.write_bytes(canonical_bytes(manifest))
    _, stats = bus.scan()
    assert stats.archived == 1, stats
    ack = writer.read_ack("case", batch.batch_id)
    assert ack["counts"]["stored"] == 1 and ack["counts"]["rejected"] == 1, ack
    assert_verbatim(bus, bad, bad_line, data)


@pytest.fixture(scope="module")
def broker_url() -> Iterator[str]:
    url = os.environ.get("TONGBAN_TEST_MQTT_URL")
    if url:
        yield url
        return
    with EmbeddedBroker() as broker:
        yield broker.url


def test_mqtt_publish_quarantines_the_record_as_received(bus, broker_url):
    connection = MqttConnection(MqttSettings(broker_url, bus.receiver.system_id, persistent_session=False))
    MqttSubscriber(connection, bus.receiver, datasets=["case"]).start()
    publisher = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"P{uuid.uuid4().hex[:10].upper()}")
    host, port = broker_url.split("//", 1)[1].split(":")
    try:
        assert connection.wait_subscribed(10)
        publisher.connect(host, int(port))
        publisher.loop_start()
        good, bad = good_and_bad(bus)
        env = sign_envelope(bus.envelope([good, bad]), key_id="LW-K1", key=HMAC["LW"].encode())
        bad_text = partner_json(bad)
        body = json_body(env, [canonical_bytes(good).decode(), bad_text])
        publisher.publish("tbs/v1/440103/case", body, qos=1).wait_for_publish(10)
        assert_verbatim(bus, bad, bad_text, body, timeout=10)
    finally:
        publisher.disconnect()
        publisher.loop_stop()
        connection.close()
