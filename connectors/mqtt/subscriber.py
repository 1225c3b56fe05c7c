"""Consuming envelopes over MQTT (TBS-MQTT-001..008).

For every message on ``tbs/v1/+/{dataset}`` the subscriber, in this order:

1. discards it without processing or acknowledging when RETAIN is set (TBS-MQTT-003);
2. refuses a payload over 1 MiB (TBS-MQTT-004, TBS-SEC-009) or one that is not an I-JSON
   object (TBS-ENV-001) — silently, since it cannot tell whom it was for;
3. silently ignores an envelope addressed to neither itself nor ``*`` (TBS-MQTT-006);
4. deduplicates on ``messageId`` + ``requestHash`` (TBS-MQTT-005, TBS-SEC-005): the same
   pair again republishes the stored acknowledgement without reprocessing; the same
   ``messageId`` with another hash is refused under TBS-SEC-005. Only *processed* envelopes
   are remembered — not one refused at envelope level (binding findings, a missing or forged
   signature …), as the REST side does: otherwise a junk message carrying a victim's
   ``messageId`` would make the real envelope fail TBS-SEC-005 (messageId squatting);
5. rejects at envelope level a topic region that is not the sender's (TBS-MQTT-002) or a
   topic dataset that is not the envelope's (TBS-ENV-024);
6. hands the envelope to ``SystemService.receive(..., binding="MQTT")``;
7. publishes the acknowledgement on ``tbs/v1/{ownRegion}/ack`` with QoS 1 (TBS-MQTT-007),
   and only then lets the connection PUBACK the message.

A transient service failure (5xx or an exception) leaves the message unacknowledged, so
the broker delivers it again on the next session resumption. Ordering is not relied upon
(TBS-MQTT-008): dependency holds in the service cover reordering.
"""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any, Iterable, Protocol, runtime_checkable

import paho.mqtt.client as paho

from tongban.connectors.base import ReceivedBody, ServiceError, SystemService
from tongban.connectors.filedrop.acks import ack_version, rejection_ack
from tongban.validators.parsing import JsonParseError, parse_json_strict
from tongban.model.canonical import canonical_bytes
from tongban.model.codes import parse_system_id
from tongban.model.datasets import DATASETS
from tongban.validators.parsing import request_hash as tbs_request_hash
from tongban.validators.report import Finding, Severity, render_value

from .connection import MqttConnection
from .topics import MAX_PAYLOAD_BYTES, ack_topic, dataset_filter, envelope_topic, parse_topic, region_of

__all__ = ["MqttSubscriber", "SeenMessages", "SeenMessage", "InMemorySeenMessages", "SubscriberStats"]

log = logging.getLogger(__name__)

REPLAY_WINDOW_SECONDS = 24 * 3600 + 300  # TBS-SEC-005: remember for at least 24 h + 300 s


@dataclass(frozen=True)
class SeenMessage:
    request_hash: str
    ack: dict[str, Any]


@runtime_checkable
class SeenMessages(Protocol):
    """Processed ``messageId``s with their ``requestHash`` and acknowledgement (TBS-SEC-005).

    A store-backed implementation makes the deduplication survive restarts; the
    subscriber never imports the store.
    """

    def get(self, message_id: str) -> SeenMessage | None: ...

    def remember(self, message_id: str, request_hash: str, ack: dict[str, Any]) -> None: ...


class InMemorySeenMessages:
    def __init__(self, retention: float = REPLAY_WINDOW_SECONDS) -> None:
        self.retention = retention
        self._seen: dict[str, tuple[float, SeenMessage]] = {}
        self._lock = threading.Lock()

    def get(self, message_id: str) -> SeenMessage | None:
        with self._lock:
            entry = self._seen.get(message_id)
            return entry[1] if entry else None

    def remember(self, message_id: str, request_hash: str, ack: dict[str, Any]) -> None:
        now = time.monotonic()
        with self._lock:
            self._seen[message_id] = (now, SeenMessage(request_hash, ack))
            # Forget what is past the replay window; dicts keep insertion order.
            for key in [k for k, (at, _) in self._seen.items() if now - at > self.retention]:
                del self._seen[key]


@dataclass
class SubscriberStats:
    processed: int = 0          # handed to the service, acknowledgement published
    binding_rejected: int = 0   # TBS-MQTT-002 / TBS-ENV-024, acknowledged as REJECTED
    duplicates: int = 0         # same messageId and requestHash: stored ack republished
    conflicts: int = 0          # same messageId, other requestHash: refused (TBS-SEC-005)
    retained_discarded: int = 0
    not_addressed: int = 0
    oversize: int = 0
    unparsable: int = 0
    deferred: int = 0           # service failed transiently; message left for redelivery


def _finding(rule_id: str, location: str, zh: str, en: str, value: Any = None) -> Finding:
    return Finding(Severity.ERROR, rule_id, location, zh, en, None if value is None else render_value(value))


class MqttSubscriber:
    """Consumes the given datasets for the system of ``connection`` (its ``system_id``)."""

    binding = "MQTT"

    def __init__(self, connection: MqttConnection, service: SystemService, *,
                 datasets: Iterable[str] = DATASETS, seen: SeenMessages | None = None,
                 regions: Iterable[str] | None = None) -> None:
        self.connection = connection
        self.service = service
        self.own_id = connection.system_id
        self.own_ack_topic = ack_topic(region_of(self.own_id))
        self.datasets = tuple(datasets)
        if set(self.datasets) - set(DATASETS):
            raise ValueError(f"unknown datasets {sorted(set(self.datasets) - set(DATASETS))}")
        self.seen = seen if seen is not None else InMemorySeenMessages()
        self.stats = SubscriberStats()
        # None: every region (tbs/v1/+/{dataset}); else only these senders' regions, as a
        # receiver subscribing per registered sender does
        self.regions = None if regions is None else tuple(regions)

    @property
    def topic_filters(self) -> list[str]:
        if self.regions is None:
            return [dataset_filter(d) for d in self.datasets]
        return [envelope_topic(r, d) for r in self.regions for d in self.datasets]

    def start(self) -> "MqttSubscriber":
        for topic_filter in self.topic_filters:
            self.connection.subscribe(topic_filter, self.handle_message, qos=1)
        self.connection.start()
        return self

    # -- one message (runs on the connection's network thread) ----------------------------

    def handle_message(self, message: paho.MQTTMessage) -> bool:
        """Process one delivery; True lets the connection PUBACK it."""
        if message.retain:
            self.stats.retained_discarded += 1
            return True
        payload = message.payload
        if len(payload) > MAX_PAYLOAD_BYTES:
            self.stats.oversize += 1
            return True
        try:
            envelope = parse_json_strict(payload)
        except JsonParseError:
            envelope = None
        if not isinstance(envelope, dict):
            self.stats.unparsable += 1
            return True
        if envelope.get("receiver") not in (self.own_id, "*"):
            self.stats.not_addressed += 1
            return True

        request_hash = tbs_request_hash(envelope, payload)  # TBS-ENV-031
        message_id = envelope.get("messageId")
        if isinstance(message_id, str):
            earlier = self.seen.get(message_id)
            if earlier is not None and earlier.request_hash == request_hash:
                self.stats.duplicates += 1
                self._publish_ack(earlier.ack)
                return True
            if earlier is not None:
                self.stats.conflicts += 1
                finding = _finding("TBS-SEC-005", "/messageId", "messageId 已用于另一报文",
                                   "messageId was already used with another requestHash", message_id)
                self._publish_ack(rejection_ack([finding], acknowledger=self.own_id,
                                                request_hash=request_hash, request=envelope,
                                                spec_version=self._ack_version(envelope)))
                return True

        findings = self._binding_findings(message.topic, envelope)
        if findings:
            ack = rejection_ack(findings, acknowledger=self.own_id, request_hash=request_hash, request=envelope,
                                spec_version=self._ack_version(envelope))
            self.stats.binding_rejected += 1
        else:
            try:
                # MQTT 3.1.1 does not tell a consumer who published: the broker authenticated
                # the client and confined it to its region's topics (TBS-SEC-001, -002,
                # TBS-MQTT-002), so the identity the consumer can vouch for is the topic region.
                topic_region, topic_dataset = parse_topic(message.topic) or (None, None)
                ack = self.service.receive(envelope, binding="MQTT", request_hash=request_hash,
                                           authenticated_sender=None, binding_dataset=topic_dataset,
                                           topic_region=topic_region, received=ReceivedBody(payload))
            except ServiceError as exc:
                if exc.status >= 500:
                    self.stats.deferred += 1
                    return False
                rule_id = exc.rule_id or "TBS-SEC-002"
                location = "" if exc.rule_id else "/sender"
                ack = rejection_ack([_finding(rule_id, location, exc.message, exc.message)],
                                    acknowledger=self.own_id, request_hash=request_hash, request=envelope,
                                    spec_version=self._ack_version(envelope))
            except Exception:  # noqa: BLE001 – leave the message for redelivery
                log.exception("service failed on MQTT message %s", message_id)
                self.stats.deferred += 1
                return False
            self.stats.processed += 1
        if isinstance(message_id, str) and not findings and \
                (ack.get("envelopeReport") or {}).get("result") != "FAILURE":
            self.seen.remember(message_id, request_hash, ack)
        self._publish_ack(ack)
        return True

    def _ack_version(self, envelope: dict[str, Any]) -> str:
        """TBS-1.1 TBS-ENV-029: the envelope's version when the receiving service supports it
        (the service validates every envelope it is handed under the version it names)."""
        return ack_version(envelope, getattr(self.service, "spec_versions", None))

    def _binding_findings(self, topic: str, envelope: dict[str, Any]) -> list[Finding]:
        findings: list[Finding] = []
        parsed = parse_topic(topic)
        if parsed is None:
            return findings
        topic_region, topic_dataset = parsed
        if envelope.get("dataset") != topic_dataset:
            findings.append(_finding("TBS-ENV-024", "/dataset", "dataset 与主题不一致",
                                     f"dataset does not equal the topic dataset {topic_dataset!r}",
                                     envelope.get("dataset")))
        sender = envelope.get("sender")
        parts = parse_system_id(sender) if isinstance(sender, str) else None
        if parts is not None and parts[1] != topic_region:
            findings.append(_finding("TBS-MQTT-002", "/sender", "主题行政区划与发送方不一致",
                                     f"topic region {topic_region} is not the sender's region", sender))
        return findings

    def _publish_ack(self, ack: dict[str, Any]) -> None:
        self.connection.publish_nowait(self.own_ack_topic, canonical_bytes(ack))
