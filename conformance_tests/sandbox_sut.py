"""A sandbox system as a *pushing* SUT over the file-drop binding (TBS-1.0 §17) or MQTT (§18).

The system writes its records, dataset by dataset in feed order, as signed batches into a drop
root and waits for each acknowledgement; without one within ``ack_timeout`` it builds a new
envelope (new ``messageId``, ``sentAt`` and ``batchId``) with the same records and sends that
(TBS-SYNC-001, TBS-ENV-033). ``extra`` lets a defect add batches of its own after the run.
:class:`MqttPushingSystem` does the same over MQTT: one envelope per chunk, published on
``tbs/v1/{its region}/{dataset}`` and acknowledged on the receiver's ack topic.
"""
from __future__ import annotations

import hashlib
import threading
import time
import uuid
from pathlib import Path
from typing import Any, Callable

from tongban.connectors.filedrop import FileDropWriter
from tongban.connectors.filedrop.names import INBOX, data_name, manifest_name
from tongban.connectors.filedrop.signing import sign_envelope
from tongban.model.canonical import canonical_bytes
from tongban.model.datasets import DATASETS
from tongban.sandbox.systems import SandboxSystem

Extra = Callable[["FilePushingSystem"], None]


class FilePushingSystem:
    def __init__(self, system: SandboxSystem, drop_root: str | Path, *, receiver_id: str, key_id: str, key: bytes,
                 batch_size: int = 60, ack_timeout: float = 2.0, tries: int = 3, extra: Extra | None = None,
                 records: dict[str, list[dict[str, Any]]] | None = None) -> None:
        self.system = system
        self.records = records or {}             # per dataset: what to send instead of the system's feed
        self.drop_root = Path(drop_root)
        self.writer = FileDropWriter(self.drop_root, sender=system.system_id, receiver=receiver_id, key_id=key_id,
                                     key=key)
        self.batch_size = batch_size
        self.ack_timeout = ack_timeout
        self.tries = tries
        self.extra = extra
        self.sent: list[dict[str, Any]] = []       # every envelope written, in order
        self.unacknowledged: list[str] = []        # messageIds never acknowledged
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name=f"pusher-{system.system_id}", daemon=True)

    def start(self) -> "FilePushingSystem":
        self._thread.start()
        return self

    def join(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)

    def _run(self) -> None:
        try:
            self._wait_for_provisioning()
            for dataset in DATASETS:
                if dataset not in self.system.provides:
                    continue
                records = self.records.get(dataset) or self.system.records(dataset)
                for start in range(0, len(records), self.batch_size):
                    self.push(dataset, records[start:start + self.batch_size])
            if self.extra is not None:
                self.extra(self)
        except BaseException as exc:  # noqa: BLE001 - surfaced to the test through .error
            self.error = exc

    def _wait_for_provisioning(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while not all((self.drop_root / INBOX / ds).is_dir() for ds in self.system.provides):
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.drop_root} was not provisioned")
            time.sleep(0.05)

    def push(self, dataset: str, records: list[dict[str, Any]]) -> dict[str, Any] | None:
        """Send ``records`` and wait for the acknowledgement, resending as a new envelope."""
        for _ in range(self.tries):
            written = self.writer.write_batch(dataset, records)
            self.sent.append(written.envelope)
            ack = self.writer.wait_for_ack(dataset, written.batch_id, message_id=written.message_id,
                                           timeout=self.ack_timeout, poll_interval=0.05)
            if ack is not None:
                return ack
            self.unacknowledged.append(written.message_id)
        return None

    def write_raw(self, envelope: dict[str, Any], *, spoil_manifest: Callable[[dict[str, Any]], None] | None = None,
                  sign: bool = True) -> None:
        """Drop ``envelope`` as a batch without waiting, optionally spoiling its manifest."""
        if sign:
            envelope = sign_envelope(envelope, key_id=self.writer.key_id or "", key=self.writer.key or b"")
        records = envelope["records"]
        batch_id = envelope["batch"]["batchId"]
        data = b"".join(canonical_bytes(r) + b"\n" for r in records)
        manifest = {k: v for k, v in envelope.items() if k != "records"}
        manifest["file"] = {"name": data_name(batch_id), "size": len(data), "count": len(records),
                            "sha256": hashlib.sha256(data).hexdigest()}
        if spoil_manifest is not None:
            spoil_manifest(manifest)
        inbox = self.drop_root / INBOX / envelope["dataset"]
        for name, body in ((data_name(batch_id), data), (manifest_name(batch_id), canonical_bytes(manifest))):
            part = inbox / (name + ".part")
            part.write_bytes(body)
            part.rename(inbox / name)
        self.sent.append(envelope)


class MqttPushingSystem(FilePushingSystem):
    """The same pushing behaviour over MQTT (``broker_url``; client identifier = systemCode)."""

    def __init__(self, system: SandboxSystem, broker_url: str, *, receiver_id: str, key_id: str, key: bytes,
                 batch_size: int = 60, ack_timeout: float = 2.0, tries: int = 3, extra: Extra | None = None,
                 records: dict[str, list[dict[str, Any]]] | None = None, **settings: Any) -> None:
        from tongban.connectors.mqtt import MqttConnection, MqttConnector, MqttSettings

        self.system = system
        self.records = records or {}
        self.receiver_id = receiver_id
        self.key_id, self.key = key_id, key
        self.connector = MqttConnector(MqttConnection(MqttSettings(broker_url, system.system_id,
                                                                   persistent_session=False, **settings)),
                                       ack_timeout=ack_timeout, key_id=key_id, key=key)
        self.batch_size, self.ack_timeout, self.tries, self.extra = batch_size, ack_timeout, tries, extra
        self.sent, self.unacknowledged = [], []
        self.error = None
        self._thread = threading.Thread(target=self._run, name=f"mqtt-pusher-{system.system_id}", daemon=True)

    def _wait_for_provisioning(self, timeout: float = 30.0) -> None:
        self.connector.connection.start()
        if not self.connector.connection.wait_connected(timeout):
            raise TimeoutError(f"no MQTT connection: {self.connector.connection.refusal}")

    def envelope(self, dataset: str, records: list[dict[str, Any]], **members: Any) -> dict[str, Any]:
        from tongban.connectors.filedrop.acks import now_rfc3339

        env = {"specVersion": "TBS-1.0", "messageId": str(uuid.uuid4()), "sender": self.system.system_id,
               "receiver": self.receiver_id, "dataset": dataset, "sentAt": now_rfc3339(), "records": records}
        env.update(members)
        return sign_envelope(env, key_id=self.key_id, key=self.key)

    def push(self, dataset: str, records: list[dict[str, Any]]) -> dict[str, Any] | None:
        from tongban.connectors.base import TransportError

        for _ in range(self.tries):
            env = self.envelope(dataset, records)
            self.sent.append(env)
            try:
                return self.connector.push(env).ack
            except TransportError:
                self.unacknowledged.append(env["messageId"])
        return None

    def publish_raw(self, envelope: dict[str, Any], *, topic: str | None = None) -> None:
        """Publish ``envelope`` as it is, without waiting for an acknowledgement (defects)."""
        from tongban.connectors.mqtt.topics import envelope_topic, region_of

        topic = topic or envelope_topic(region_of(self.system.system_id), envelope["dataset"])
        self.connector.connection.publish(topic, canonical_bytes(envelope))
        self.sent.append(envelope)

    def join(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)
        self.connector.close()


__all__ = ["FilePushingSystem", "MqttPushingSystem"]
