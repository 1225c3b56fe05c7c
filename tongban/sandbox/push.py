"""Sandbox partner systems pushing to the bus's gateway (TBS-SYNC-001, the push side of every binding).

A sandbox system sends its own records of each dataset it provides, prerequisites first (cases
before their events, results and evaluations), in envelopes of at most :data:`BATCH` records,
over the binding given: REST POST and SOAP PushBatch to the gateway's URL with the system's bearer
token, MQTT to the broker the gateway subscribes on (envelopes signed, TBS-SEC-007), file drop
into the system's drop root the gateway watches (batches signed). Every push waits for its
acknowledgement. A push that fails in transport is retried with the identical envelope (the
gateway answers a resent envelope from its replay memory, TBS-SEC-005), so a gateway restarted
mid-stream stores each record once.
"""
from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator

from tongban.connectors.base import ConnectorError, Pusher
from tongban.connectors.filedrop.acks import now_rfc3339
from tongban.connectors.filedrop.signing import sign_envelope
from tongban.model.canonical import records_sha256
from tongban.model.datasets import DATASETS
from tongban.registry import PartnerConfig
from tongban.sandbox.runtime import BUS_ID
from tongban.sandbox.systems import SandboxSystem

BATCH = 200
BINDINGS = ("rest", "soap", "mqtt", "file")
BINDING_OF_TRANSPORT = {"rest": "rest", "soap": "soap", "mqtt": "mqtt", "filedrop": "file", "sftp": "file"}


def build_envelope(sender: str, dataset: str, records: list[dict[str, Any]], *, receiver: str = BUS_ID,
                   key_id: str | None = None, key: bytes | None = None, batch_id: str | None = None) -> dict[str, Any]:
    """A fresh envelope (new ``messageId``, ``sentAt`` now), signed when a key is given."""
    envelope: dict[str, Any] = {"specVersion": "TBS-1.0", "messageId": str(uuid.uuid4()), "sender": sender,
                                "receiver": receiver, "dataset": dataset, "sentAt": now_rfc3339()}
    if batch_id is not None:
        envelope["batch"] = {"batchId": batch_id}
    envelope["records"] = records
    envelope["integrity"] = {"recordsSha256": records_sha256(records)}
    if key is not None and key_id is not None:
        envelope = sign_envelope(envelope, key_id=key_id, key=key)
    return envelope


def envelopes_of(system: SandboxSystem, binding: str, *, receiver: str = BUS_ID, datasets: Iterable[str] | None = None,
                 key_id: str | None = None, key: bytes | None = None, batch: int = BATCH) -> Iterator[dict[str, Any]]:
    """The system's own records as envelopes, dataset by dataset in prerequisite order."""
    wanted = set(datasets) if datasets is not None else None
    for dataset in DATASETS:
        if dataset not in system.provides or (wanted is not None and dataset not in wanted):
            continue
        records = system.records(dataset)
        for start in range(0, len(records), batch):
            chunk = records[start:start + batch]
            batch_id = f"{dataset}-{uuid.uuid4().hex[:12]}" if binding == "file" else None
            yield build_envelope(system.system_id, dataset, chunk, receiver=receiver, key_id=key_id, key=key,
                                 batch_id=batch_id)


def open_pusher(partner: PartnerConfig, binding: str, *, gateway_url: str | None = None, broker_url: str | None = None,
                ca_file: str | None = None, ack_timeout: float = 60.0, receiver: str = BUS_ID) -> Pusher:
    """A pusher for ``partner`` over ``binding``, with the secrets its registry entry names."""
    if binding in ("rest", "soap"):
        if not gateway_url:
            raise ValueError(f"pushing over {binding} needs the gateway's URL")
        verify: Any = ca_file or partner.ca_file or True
        token = partner.credentials.token()
        if binding == "rest":
            from tongban.connectors.rest.client import RestConnector

            return RestConnector(gateway_url, sender=partner.id, token=token, verify=verify, retries=0,
                                 read_timeout=ack_timeout)
        from tongban.connectors.soap.client import SoapConnector

        return SoapConnector(gateway_url.rstrip("/") + "/tbs/v1/soap", sender=partner.id, token=token,
                             verify=verify, retries=0)
    key, key_id = partner.credentials.hmac_key(), partner.credentials.key_id
    if binding == "mqtt":
        from tongban.connectors.mqtt import MqttConnection, MqttConnector, MqttSettings

        url = broker_url or partner.endpoint
        connection = MqttConnection(MqttSettings(url, partner.id, persistent_session=False, ca_file=ca_file))
        return MqttConnector(connection, ack_timeout=ack_timeout, key_id=key_id, key=key)
    if binding == "file":
        from pathlib import Path

        from tongban.connectors.filedrop.connector import FileDropConnector
        from tongban.connectors.filedrop.writer import FileDropWriter

        writer = FileDropWriter(Path(partner.endpoint), sender=partner.id, receiver=receiver, key_id=key_id, key=key)
        return FileDropConnector(writer, ack_timeout=ack_timeout, poll_interval=0.1)
    raise ValueError(f"unknown binding {binding!r}; choose from {', '.join(BINDINGS)}")


@dataclass
class PushTally:
    envelopes: int = 0
    retries: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    refusals: list[str] = field(default_factory=list)

    def add(self, ack: dict[str, Any]) -> None:
        self.envelopes += 1
        self.statuses[ack.get("status", "?")] = self.statuses.get(ack.get("status", "?"), 0) + 1
        for name, n in (ack.get("counts") or {}).items():
            self.counts[name] = self.counts.get(name, 0) + n


def push_envelopes(pusher: Pusher, envelopes: Iterable[dict[str, Any]], *, attempts: int = 30,
                   pause: float = 0.5, on_ack: Callable[[dict[str, Any], dict[str, Any]], None] | None = None,
                   tally: PushTally | None = None) -> PushTally:
    """Push each envelope until it is acknowledged; a transport failure (the gateway down or
    restarting) is retried with the identical envelope, a refusal (4xx, a SOAP Client fault)
    is recorded and the next envelope sent."""
    tally = tally or PushTally()
    for envelope in envelopes:
        for attempt in range(attempts):
            try:
                result = pusher.push(envelope)
            except ConnectorError as exc:
                if not exc.retriable or attempt == attempts - 1:
                    tally.refusals.append(f"{envelope['messageId']}: {exc}")
                    break
                tally.retries += 1
                time.sleep(pause)
                continue
            tally.add(result.ack)
            if on_ack is not None:
                on_ack(envelope, result.ack)
            break
    return tally
