"""The MQTT binding as a :class:`~tongban.connectors.base.Pusher`.

``push`` publishes the envelope (waiting for the broker's PUBACK) and then waits for the
receiver's acknowledgement on ``tbs/v1/{receiverRegion}/ack`` (TBS-MQTT-007) whose
``requestMessageId`` is the envelope's ``messageId``. For ``receiver: "*"`` it listens on
every region's ack topic and returns the first acknowledgement. MQTT has no changes feed
and no ``meta`` document, so the connector is no :class:`~tongban.connectors.base.Feed`.

For a send-and-forget outbox use :class:`~tongban.connectors.mqtt.publisher.OutboxDrainer`
instead: it needs only the PUBACK, and acknowledgements are consumed separately.
"""
from __future__ import annotations

import logging
import threading
from typing import Any

import paho.mqtt.client as paho

from tongban.connectors.base import ProtocolError, PushResult, TransportError
from tongban.connectors.filedrop.signing import sign_envelope
from tongban.validators.parsing import JsonParseError, parse_json_strict
from tongban.validators.parsing import request_hash as tbs_request_hash

from .connection import MqttConnection
from .publisher import MqttPublisher
from .topics import TOPIC_ROOT, ack_topic, region_of

__all__ = ["MqttConnector"]

log = logging.getLogger(__name__)


class MqttConnector:
    binding = "MQTT"

    def __init__(self, connection: MqttConnection, *, ack_timeout: float = 60.0, publish_timeout: float = 10.0,
                 key_id: str | None = None, key: bytes | None = None) -> None:
        self.connection = connection
        self.publisher = MqttPublisher(connection, publish_timeout=publish_timeout)
        self.ack_timeout = ack_timeout
        self.key_id, self.key = key_id, key
        self._ack_filters: set[str] = set()
        self._waiting: dict[str, tuple[threading.Event, list[dict[str, Any]]]] = {}
        self._lock = threading.Lock()

    def _on_ack(self, message: paho.MQTTMessage) -> bool:
        if message.retain:
            return True  # TBS-MQTT-003
        try:
            ack = parse_json_strict(message.payload)
        except JsonParseError:
            return True
        if isinstance(ack, dict):
            with self._lock:
                waiter = self._waiting.get(ack.get("requestMessageId"))  # type: ignore[arg-type]
            if waiter is not None:
                waiter[1].append(ack)
                waiter[0].set()
        return True

    def _listen_for_acks_from(self, receiver: str) -> None:
        topic = f"{TOPIC_ROOT}/+/ack" if receiver == "*" else ack_topic(region_of(receiver))
        if topic in self._ack_filters:
            return
        self._ack_filters.add(topic)
        self.connection.subscribe(topic, self._on_ack)
        self.connection.start()
        if not self.connection.wait_subscribed(self.publisher.publish_timeout):
            raise TransportError(f"could not subscribe to {topic}", endpoint=self.connection.endpoint)

    def push(self, envelope: dict[str, Any]) -> PushResult:
        receiver, message_id = envelope.get("receiver"), envelope.get("messageId")
        if not isinstance(receiver, str) or not isinstance(message_id, str):
            raise ProtocolError("envelope without receiver or messageId", endpoint=self.connection.endpoint)
        if self.key is not None and self.key_id is not None and not (envelope.get("integrity") or {}).get("signature"):
            envelope = sign_envelope(envelope, key_id=self.key_id, key=self.key)
        try:
            self._listen_for_acks_from(receiver)
        except ValueError as exc:
            raise ProtocolError(str(exc), endpoint=self.connection.endpoint) from exc
        arrived, acks = threading.Event(), []
        with self._lock:
            self._waiting[message_id] = (arrived, acks)
        try:
            self.publisher.publish_envelope(envelope)
            if not arrived.wait(self.ack_timeout):
                raise TransportError(f"no acknowledgement of {message_id} within {self.ack_timeout} s",
                                     endpoint=self.connection.endpoint)
        finally:
            with self._lock:
                self._waiting.pop(message_id, None)
        ack = acks[0]
        sent_hash = tbs_request_hash(envelope, None)
        return PushResult(ack=ack, request_hash=ack.get("requestHash"),
                          extras={"requestHashMatches": ack.get("requestHash") == sent_hash})

    def close(self) -> None:
        self.connection.close()
