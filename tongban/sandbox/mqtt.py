"""A sandbox system on the MQTT binding (TBS-1.0 §18): it publishes its records and, when it
consumes the catalog, subscribes for it — over one connection whose client identifier is its
``systemCode`` (TBS-SEC-001).

As a sender it keeps every record until acknowledged (TBS-SYNC-001): each chunk is published
as a signed envelope on ``tbs/v1/{its region}/{dataset}`` and waited for on the receiver's ack
topic; without an acknowledgement it builds a new envelope (new ``messageId`` and ``sentAt``)
with the same records (TBS-ENV-033) and publishes that, waiting longer each time (5 s doubling
to 15 min, TBS-REST-011's back-off), until acknowledged or stopped. So a bus (or a conformance
suite) that subscribes only after the sandbox started still receives everything, and a
withheld acknowledgement is answered by a resend.

As a CATALOG_CONSUMER it runs the binding's own consumer (:class:`MqttSubscriber`: RETAIN,
addressing, replay and topic checks) in front of the system's receiver.
"""
from __future__ import annotations

import logging
import threading
import uuid
from typing import Any, Collection

from tongban.connectors.base import ConnectorError
from tongban.connectors.filedrop.acks import now_rfc3339
from tongban.connectors.filedrop.signing import sign_envelope
from tongban.model.canonical import records_sha256
from tongban.model.datasets import DATASETS
from tongban.sandbox.systems import SandboxSystem

__all__ = ["MqttSandboxSystem"]

log = logging.getLogger(__name__)

BATCH = 60  # small enough that a case's events span envelopes (TBS-EVT-007, CR-04), far below 1 MiB (TBS-MQTT-004)
FIRST_WAIT, LONGEST_WAIT = 5.0, 900.0


class MqttSandboxSystem:
    def __init__(self, system: SandboxSystem, broker_url: str, *, receiver_id: str, key_id: str, key: bytes,
                 relay: Collection[str] = (), consumer: Any = None, batch: int = BATCH,
                 first_wait: float = FIRST_WAIT, ca_file: str | None = None) -> None:
        from tongban.connectors.mqtt import MqttConnection, MqttConnector, MqttSettings, MqttSubscriber

        self.system = system
        self.receiver_id = receiver_id
        self.key_id, self.key = key_id, key
        self.relay = tuple(relay)
        self.batch = batch
        self.first_wait = first_wait
        self.connection = MqttConnection(MqttSettings(broker_url, system.system_id, persistent_session=False,
                                                      ca_file=ca_file))
        self.connector = MqttConnector(self.connection, ack_timeout=first_wait, key_id=key_id, key=key)
        self.subscriber = MqttSubscriber(self.connection, consumer, datasets=("catalog",)) if consumer else None
        self.sent: list[dict[str, Any]] = []            # every envelope published, in order
        self.acknowledged: list[dict[str, Any]] = []    # the acknowledgement of each chunk
        self.error: BaseException | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"sandbox-mqtt-{system.system_id}", daemon=True)

    def start(self) -> "MqttSandboxSystem":
        if self.subscriber is not None:
            self.subscriber.start()
        self.connection.start()
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)
        self.connection.close()

    @property
    def done(self) -> bool:
        """Every chunk was acknowledged."""
        return not self._thread.is_alive() and self.error is None

    def chunks(self) -> list[tuple[str, list[dict[str, Any]]]]:
        out = []
        for dataset in DATASETS:  # prerequisites first: cases before their events, results, evaluations
            if dataset not in self.system.provides:
                continue
            records = self.system.feed_records(dataset, include_relayed=dataset in self.relay)
            out += [(dataset, records[i:i + self.batch]) for i in range(0, len(records), self.batch)]
        return out

    def envelope(self, dataset: str, records: list[dict[str, Any]]) -> dict[str, Any]:
        env = {"specVersion": "TBS-1.0", "messageId": str(uuid.uuid4()), "sender": self.system.system_id,
               "receiver": self.receiver_id, "dataset": dataset, "sentAt": now_rfc3339(), "records": records,
               "integrity": {"recordsSha256": records_sha256(records)}}
        return sign_envelope(env, key_id=self.key_id, key=self.key)

    def _run(self) -> None:
        try:
            for dataset, records in self.chunks():
                ack = self._send(dataset, records)
                if ack is None:
                    return   # stopped
                self.acknowledged.append(ack)
        except BaseException as exc:  # noqa: BLE001 - kept for whoever looks at the sandbox
            self.error = exc
            log.exception("sandbox MQTT system %s stopped sending", self.system.system_id)

    def _send(self, dataset: str, records: list[dict[str, Any]]) -> dict[str, Any] | None:
        wait = self.first_wait
        while not self._stop.is_set():
            envelope = self.envelope(dataset, records)      # a resend is a new envelope (TBS-ENV-033)
            self.sent.append(envelope)
            self.connector.ack_timeout = wait
            try:
                return self.connector.push(envelope).ack
            except ConnectorError as exc:
                if not exc.retriable:
                    raise
                log.info("%s: no acknowledgement for %s within %.0f s; resending its records",
                         self.system.system_id, envelope["messageId"], wait)
            wait = min(wait * 2, LONGEST_WAIT)
        return None

