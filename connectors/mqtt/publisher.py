"""Publishing envelopes over MQTT, and draining a transactional outbox into the broker.

The sync engine writes an envelope to an outbox in the same database transaction as the
state change that caused it; :class:`OutboxDrainer` then publishes pending rows in order
and marks a row sent only after the broker's PUBACK (TBS-SYNC-001: keep every record until
acknowledged). A broker that is down stops the drain with the rest still pending, so
nothing is lost and nothing is reordered; a publish that timed out may reach the broker
anyway, which consumers absorb by deduplicating on ``messageId`` (TBS-MQTT-005).
"""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import Any, Hashable, Protocol, runtime_checkable

from tongban.connectors.base import ConnectorError, ProtocolError, TransportError
from tongban.connectors.filedrop.signing import sign_envelope
from tongban.model.canonical import canonical_bytes
from tongban.model.datasets import DATASETS

from .connection import MqttConnection
from .topics import MAX_PAYLOAD_BYTES, envelope_topic, region_of

__all__ = ["MqttPublisher", "EnvelopePublisher", "OutboxSource", "InMemoryOutbox", "OutboxDrainer", "DrainResult"]

log = logging.getLogger(__name__)


@runtime_checkable
class EnvelopePublisher(Protocol):
    def publish_envelope(self, envelope: dict[str, Any]) -> None:
        """Return only once the broker holds the envelope; raise a ConnectorError otherwise."""
        ...


class MqttPublisher:
    """Publishes envelopes on ``tbs/v1/{regionCode}/{dataset}`` (TBS-MQTT-002) with QoS 1,
    RETAIN 0 (TBS-MQTT-003) and the envelope's JCS bytes as payload (TBS-MQTT-004).

    With ``key_id``/``key`` an unsigned envelope is signed with HMAC-SHA256 before
    publishing (TBS-SEC-007 requires a signature on every MQTT envelope).
    """

    binding = "MQTT"

    def __init__(self, connection: MqttConnection, *, publish_timeout: float = 10.0,
                 key_id: str | None = None, key: bytes | None = None) -> None:
        self.connection = connection
        self.publish_timeout = publish_timeout
        self.key_id, self.key = key_id, key

    def topic_for(self, envelope: dict[str, Any]) -> str:
        sender, dataset = envelope.get("sender"), envelope.get("dataset")
        if sender != self.connection.system_id:
            # The broker lets a client publish only under its own region (TBS-MQTT-002),
            # and the consumer compares the sender with the client identity (TBS-SEC-002).
            raise ProtocolError(f"envelope sender {sender!r} is not this connection's system",
                                endpoint=self.connection.endpoint, rule_id="TBS-SEC-002")
        if dataset not in DATASETS:
            raise ProtocolError(f"unknown dataset {dataset!r}", endpoint=self.connection.endpoint,
                                rule_id="TBS-ENV-024")
        return envelope_topic(region_of(sender), dataset)

    def publish_envelope(self, envelope: dict[str, Any]) -> None:
        """Publish one envelope and wait for the PUBACK.

        Raises :class:`TransportError` (retriable) when the broker is unreachable or does
        not acknowledge in time, :class:`ProtocolError` (fatal) when the envelope cannot be
        published at all (wrong sender, unknown dataset, payload over 1 MiB).
        """
        topic = self.topic_for(envelope)
        signature = (envelope.get("integrity") or {}).get("signature")
        if self.key is not None and self.key_id is not None and signature is None:
            envelope = sign_envelope(envelope, key_id=self.key_id, key=self.key)
        payload = canonical_bytes(envelope)
        if len(payload) > MAX_PAYLOAD_BYTES:
            raise ProtocolError(f"payload of {len(payload)} bytes exceeds 1 MiB", endpoint=self.connection.endpoint,
                                rule_id="TBS-SEC-009")
        self.connection.publish(topic, payload, timeout=self.publish_timeout)


# -- the transactional outbox ---------------------------------------------------------------


@runtime_checkable
class OutboxSource(Protocol):
    """Rows waiting to be published, oldest first. The store-backed source lives with the
    store; :class:`InMemoryOutbox` serves the tests and the demo."""

    def pending(self, limit: int) -> list[tuple[Hashable, dict[str, Any]]]: ...

    def mark_sent(self, row_id: Hashable) -> None: ...


class InMemoryOutbox:
    def __init__(self) -> None:
        self._rows: dict[int, dict[str, Any]] = {}
        self._sent: set[int] = set()
        self._next = 0
        self._lock = threading.Lock()

    def add(self, envelope: dict[str, Any]) -> int:
        with self._lock:
            self._next += 1
            self._rows[self._next] = envelope
            return self._next

    def pending(self, limit: int) -> list[tuple[Hashable, dict[str, Any]]]:
        with self._lock:
            return [(i, e) for i, e in self._rows.items() if i not in self._sent][:limit]

    def mark_sent(self, row_id: Hashable) -> None:
        with self._lock:
            self._sent.add(row_id)  # type: ignore[arg-type]

    @property
    def pending_count(self) -> int:
        with self._lock:
            return len(self._rows) - len(self._sent)


@dataclass
class DrainResult:
    sent: list[Hashable] = field(default_factory=list)
    failed: list[tuple[Hashable, ConnectorError]] = field(default_factory=list)  # fatal, row left pending
    stopped_by: TransportError | None = None   # broker down: the rest stays pending

    @property
    def ok(self) -> bool:
        return self.stopped_by is None and not self.failed


class OutboxDrainer:
    """Publishes pending outbox rows in order; marks each sent only after its PUBACK."""

    def __init__(self, source: OutboxSource, publisher: EnvelopePublisher) -> None:
        self.source = source
        self.publisher = publisher

    def drain(self, limit: int = 100) -> DrainResult:
        """One pass over at most ``limit`` pending rows.

        A :class:`TransportError` stops the pass (the broker is down: later rows would fail
        too, and publishing them first would reorder the outbox). A fatal error of one row
        is reported in ``failed`` and the pass goes on; the row stays pending for an
        operator, since the outbox interface has no "failed" state of its own.
        """
        result = DrainResult()
        for row_id, envelope in self.source.pending(limit):
            try:
                self.publisher.publish_envelope(envelope)
            except TransportError as exc:
                log.warning("outbox drain stopped: %s", exc)
                result.stopped_by = exc
                break
            except ConnectorError as exc:
                log.error("outbox row %r cannot be published: %s", row_id, exc)
                result.failed.append((row_id, exc))
                continue
            self.source.mark_sent(row_id)
            result.sent.append(row_id)
        return result

    def drain_all(self, batch: int = 100) -> DrainResult:
        """Repeat :meth:`drain` until nothing more can be sent now."""
        total = DrainResult()
        while True:
            result = self.drain(batch)
            total.sent.extend(result.sent)
            total.failed.extend(result.failed)
            if result.stopped_by is not None or not result.sent:
                total.stopped_by = result.stopped_by
                return total
