"""Shared by the MQTT tests: identities, envelopes, a recording service, an ack observer,
a loopback TCP relay that can take a real broker "down", and bounded waiting."""
from __future__ import annotations

import socket
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any, Callable

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from tongban.connectors.filedrop.signing import sign_envelope
from tongban.connectors.mqtt import MqttConnection, MqttPublisher, MqttSettings, MqttSubscriber
from tongban.model.canonical import records_sha256

SENDER_REGION, RECEIVER_REGION = "440103", "440000"
KEY = bytes(range(32))


def unique_ids() -> tuple[str, str, str]:
    """Sender, receiver and observer ids unique per test: a shared broker keeps persistent
    sessions, and parallel runs of other suites use the same topics."""
    tag = uuid.uuid4().hex[:8].upper()
    return (f"TB:county:{SENDER_REGION}:S{tag}", f"TB:province:{RECEIVER_REGION}:R{tag}",
            f"TB:department:{RECEIVER_REGION}:O{tag}")


def envelope(sender: str, receiver: str, seq: int = 1, dataset: str = "case-event", **extra: Any) -> dict[str, Any]:
    records = [{"caseNo": "A1B2C3", "seq": seq, "eventType": "ACCEPT",
                "occurredAt": "2025-03-01T09:00:00+08:00"}]
    env = {"specVersion": "TBS-1.0", "messageId": str(uuid.uuid4()), "sender": sender, "receiver": receiver,
           "dataset": dataset, "sentAt": "2025-03-01T09:00:00+08:00", "records": records,
           "integrity": {"recordsSha256": records_sha256(records)}}
    env.update(extra)
    return sign_envelope(env, key_id="k1", key=KEY)


def wait_until(predicate: Callable[[], bool], timeout: float = 10.0, interval: float = 0.02) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


class RecordingService:
    """Answers every envelope with an ACCEPTED acknowledgement and records the call."""

    def __init__(self, own_id: str) -> None:
        self.own_id = own_id
        self.calls: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def meta(self) -> dict[str, Any]:
        return {}

    def changes(self, dataset: str, since: str | None, limit: int) -> dict[str, Any]:
        return {"records": [], "nextCursor": "0", "hasMore": False}

    def get_ack(self, message_id: str, caller: str) -> dict[str, Any] | None:
        return None

    def receive(self, envelope: dict[str, Any], *, binding: str, request_hash: str,
                authenticated_sender: str | None, binding_dataset: str | None = None,
                topic_region: str | None = None, binding_findings: Any = (), received: Any = None) -> dict[str, Any]:
        with self._lock:
            self.calls.append({"envelope": envelope, "binding": binding, "request_hash": request_hash,
                               "binding_dataset": binding_dataset, "topic_region": topic_region})
        n = len(envelope["records"])
        return {"specVersion": "TBS-1.0", "requestMessageId": envelope["messageId"], "requestHash": request_hash,
                "sender": self.own_id, "receiver": envelope["sender"], "receivedAt": "2025-03-01T09:00:01+08:00",
                "status": "ACCEPTED", "final": True,
                "envelopeReport": {"result": "SUCCESS", "counters": {"errors": 0, "warnings": 0, "infos": 0},
                                   "items": []},
                "counts": {"received": n, "stored": n, "duplicate": 0, "stale": 0, "held": 0, "rejected": 0},
                "accepted": n, "rejected": [], "notes": []}

    def count(self, message_id: str) -> int:
        with self._lock:
            return sum(1 for c in self.calls if c["envelope"]["messageId"] == message_id)


class AckObserver:
    """Listens on one ack topic and collects the acknowledgements by requestMessageId."""

    def __init__(self, url: str, observer_id: str, topic: str, settings: "SettingsFor | None" = None) -> None:
        import json

        self.acks: list[dict[str, Any]] = []
        self._json = json
        settings = settings or plain_settings(url)
        self.connection = MqttConnection(settings(observer_id, persistent_session=False))
        self.connection.subscribe(topic, self._on_ack)

    def _on_ack(self, message: paho.MQTTMessage) -> bool:
        self.acks.append(self._json.loads(message.payload))
        return True

    def start(self) -> "AckObserver":
        self.connection.start()
        assert self.connection.wait_subscribed(10)
        return self

    def for_message(self, message_id: str) -> list[dict[str, Any]]:
        return [a for a in list(self.acks) if a.get("requestMessageId") == message_id]

    def close(self) -> None:
        self.connection.close()


def raw_publish(url_host: str, port: int, topic: str, payload: bytes, *, retain: bool = False) -> None:
    """Publish outside the binding (to build what a conforming publisher never sends)."""
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"RAW{uuid.uuid4().hex[:8].upper()}")
    client.connect(url_host, port)
    client.loop_start()
    try:
        client.publish(topic, payload, qos=1, retain=retain).wait_for_publish(10)
    finally:
        client.disconnect()
        client.loop_stop()


def purge_session(host: str, port: int, client_id: str) -> None:
    """Drop a persistent session from a long-lived broker (connect once with clean session)."""
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=True)
    try:
        client.connect(host, port)
        client.loop_start()
        time.sleep(0.05)
        client.disconnect()
        client.loop_stop()
    except OSError:
        pass


class TcpRelay:
    """A loopback TCP relay in front of a broker: stopping it is the broker going down for
    every client connected through it (used for a broker we may not stop, like Mosquitto)."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self._listener: socket.socket | None = None
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()

    def start(self) -> "TcpRelay":
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen()
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()
        return self

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._sockets += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for s in (source, sink):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def stop(self) -> None:
        if self._listener is not None:
            try:
                self._listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept()
            except OSError:
                pass
            self._listener.close()
            self._listener = None
        with self._lock:
            sockets, self._sockets = self._sockets, []
        for s in sockets:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()


@dataclass
class Pair:
    """A publishing system and a consuming system on one broker, plus an ack observer."""

    broker: Any
    sender: str
    receiver: str
    service: RecordingService
    publisher: MqttPublisher
    subscriber: MqttSubscriber
    observer: AckObserver


SettingsFor = Callable[..., MqttSettings]
"""``settings(system_id, **options)`` → the MqttSettings of that system on one broker."""


def plain_settings(url: str) -> SettingsFor:
    return lambda system_id, **options: MqttSettings(url, system_id, **options)


def make_pair(broker: Any, *, protocol: str = "3.1.1", settings: SettingsFor | None = None,
              ids: tuple[str, str, str] | None = None,
              purge: Callable[[str], None] | None = None) -> tuple[Pair, Callable[[], None]]:
    """A publisher and a subscriber (plus an ack observer) on ``broker``; ``settings``,
    ``ids`` and ``purge`` replace the anonymous defaults for a broker with authentication."""
    sender, receiver, observer_id = ids or unique_ids()
    settings = settings or plain_settings(broker.url)
    purge = purge or (lambda code: purge_session(broker.host, broker.port, code))
    service = RecordingService(receiver)
    observer = AckObserver(broker.url, observer_id, f"tbs/v1/{RECEIVER_REGION}/ack", settings).start()
    sub_conn = MqttConnection(settings(receiver, protocol=protocol))
    subscriber = MqttSubscriber(sub_conn, service, datasets=["case-event", "case"]).start()
    assert sub_conn.wait_subscribed(10), f"subscriber did not get its subscriptions ({sub_conn.refusal})"
    pub_conn = MqttConnection(settings(sender, protocol=protocol, connect_timeout=1.0)).start()
    assert pub_conn.wait_connected(10), f"publisher did not connect ({pub_conn.refusal})"
    pair = Pair(broker, sender, receiver, service, MqttPublisher(pub_conn, publish_timeout=5), subscriber, observer)

    def close() -> None:
        for conn in (pub_conn, sub_conn, observer.connection):
            conn.close()
        for system_id in (sender, receiver):  # persistent sessions outlive the test on Mosquitto
            purge(system_id.rsplit(":", 1)[1])

    return pair, close
