"""The transactional outbox: case events and evaluations the bus stores are announced on MQTT
(TBS-1.0 §18) without ever losing one.

The outbox row is written in the same transaction as the records it announces (so a stored
record always has its event, and a rolled-back page has none); a publisher drains the
outbox and marks a row sent only after the broker's PUBACK. While the broker is down rows
stay pending; consumers dedupe on ``messageId`` (TBS-MQTT-005), so a row published twice
after a crash is processed once.
"""
from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any, Hashable

from sqlalchemy import select
from sqlalchemy.orm import Session

from tongban.model.canonical import records_sha256
from tongban.model.clock import CST
from tongban.model.codes import parse_system_id
from tongban.model.datasets import ANNOUNCED
from tongban.store.schema import OutboxEvent
from tongban.store.store import Store, dumps, utcnow



def topic_for(sender: str, dataset: str) -> str:
    region = parse_system_id(sender)[1]  # type: ignore[index]
    return f"tbs/v1/{region}/{dataset}"


ANNOUNCED_VERSION = "TBS-1.0"


def announcement_versions(registry: Any) -> tuple[str, ...]:
    """The versions a broadcast (``receiver: "*"``) may be written in (TBS-1.1 TBS-MQTT-006):
    those of the bus (``bus.spec_versions``) that every authorized subscriber supports by its
    partner profile. The broker lets every system with an account read every TBS topic
    (:mod:`tongban.connectors.mqtt.mosquitto`), and the systems with an account are the bus's
    MQTT partners, so those are the subscribers. Without configured versions, or without MQTT
    partners to judge by, or when they share no version with the bus: the bus's lowest version
    (TBS-1.0 while it is supported), which every subscriber reads during the transition."""
    from tongban.registry import Transport
    from tongban.sync.versions import _version_key

    own = tuple(sorted(registry.bus.spec_versions or (ANNOUNCED_VERSION,), key=_version_key))
    subscribers = [p for p in registry.partners if p.transport is Transport.MQTT]
    common = tuple(v for v in own if all(v in p.versions for p in subscribers))
    return common if subscribers and common else own[:1]


def announced_forms(dataset: str, records: list[dict[str, Any]], version: str,
                    versions: tuple[str, ...] = (ANNOUNCED_VERSION,)) -> dict[str, list[dict[str, Any]]]:
    """``records`` (received in ``version``) as announced, by the version each is written in:
    the highest of ``versions`` (:func:`announcement_versions`; TBS-1.0 while any subscriber
    supports only TBS-1.0, TBS-1.1 TBS-MQTT-006), by Annex E; a record whose upgraded form fails
    it goes in its received version when every subscriber reads that, and a record with no form
    is not announced (TBS-SYNC-015 (b))."""
    from tongban.sync.versions import _version_key, relay_form

    target = max(versions, key=_version_key)
    if version == target:
        return {target: records}   # validated under it on receipt
    if target == ANNOUNCED_VERSION:
        from tongban.model.annex_e import NotRepresentable, convert

        out = []
        for record in records:
            try:
                out.append(convert(dataset, record, version, ANNOUNCED_VERSION))
            except NotRepresentable:
                continue
        return {target: out}
    grouped: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        form = relay_form(dataset, record, version, versions, versions)
        if form.version is not None and form.record is not None:
            grouped.setdefault(form.version, []).append(form.record)
    return grouped


def stage_announcement(session: Session, *, bus_id: str, dataset: str, records: list[dict[str, Any]],
                       origin: str | None = None, version: str = ANNOUNCED_VERSION,
                       versions: tuple[str, ...] = (ANNOUNCED_VERSION,)) -> list[OutboxEvent]:
    """Write the outbox rows announcing ``records`` (already stored in this transaction, received
    in ``version``): one envelope per version they are written in (``versions``: the versions
    every subscriber reads, :func:`announcement_versions`)."""
    if dataset not in ANNOUNCED:
        return []
    return [_stage(session, bus_id, dataset, forms, origin, announced)
            for announced, forms in announced_forms(dataset, records, version, versions).items() if forms]


def _stage(session: Session, bus_id: str, dataset: str, records: list[dict[str, Any]], origin: str | None,
           version: str) -> OutboxEvent:
    envelope: dict[str, Any] = {
        "specVersion": version, "messageId": str(uuid.uuid4()), "sender": bus_id, "receiver": "*",
        "dataset": dataset, "sentAt": datetime.now(CST).isoformat(timespec="seconds"), "records": records,
        "integrity": {"recordsSha256": records_sha256(records)},
    }
    if origin and origin != bus_id:
        envelope["origin"] = origin
    row = OutboxEvent(topic=topic_for(bus_id, dataset), dataset=dataset, message_id=envelope["messageId"],
                      envelope=dumps(envelope), created_at=utcnow(), attempts=0)
    session.add(row)
    return row


class StoreOutbox:
    """``OutboxSource`` over the store's ``outbox`` table, oldest first."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def pending(self, limit: int) -> list[tuple[Hashable, dict[str, Any]]]:
        with self.store.transaction() as s:
            rows = s.execute(select(OutboxEvent).where(OutboxEvent.sent_at.is_(None)).order_by(OutboxEvent.id)
                             .limit(limit)).scalars().all()
            for row in rows:
                row.attempts += 1
            return [(row.id, json.loads(row.envelope)) for row in rows]

    def mark_sent(self, row_id: Hashable) -> None:
        with self.store.transaction() as s:
            row = s.get(OutboxEvent, row_id)
            if row is not None and row.sent_at is None:
                row.sent_at = utcnow()

    def pending_count(self) -> int:
        from sqlalchemy import func

        with self.store.reading() as s:
            return s.execute(select(func.count()).select_from(OutboxEvent)
                             .where(OutboxEvent.sent_at.is_(None))).scalar_one()


def publish_outbox(store: Store, bus_id: str, broker_url: str, *, key_id: str | None = None,
                   key: bytes | None = None, timeout: float = 10.0):
    """Drain every pending row to the broker; returns the drainer's result."""
    from tongban.connectors.mqtt.connection import MqttConnection, MqttSettings
    from tongban.connectors.mqtt.publisher import MqttPublisher, OutboxDrainer

    connection = MqttConnection(MqttSettings(broker_url, bus_id, connect_timeout=timeout)).start()
    try:
        publisher = MqttPublisher(connection, publish_timeout=timeout, key_id=key_id, key=key)
        return OutboxDrainer(StoreOutbox(store), publisher).drain_all()
    finally:
        connection.close()
