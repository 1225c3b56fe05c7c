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


def announced_forms(dataset: str, records: list[dict[str, Any]], version: str) -> list[dict[str, Any]]:
    """``records`` (received in ``version``) as announced: in TBS-1.0, the version every subscriber
    reads while any supports only TBS-1.0 (TBS-1.1 TBS-MQTT-006), written by Annex E.1; a record
    with no TBS-1.0 form is not announced (TBS-SYNC-015 (b))."""
    if version == ANNOUNCED_VERSION:
        return records
    from tongban.model.annex_e import NotRepresentable, convert

    out = []
    for record in records:
        try:
            out.append(convert(dataset, record, version, ANNOUNCED_VERSION))
        except NotRepresentable:
            continue
    return out


def stage_announcement(session: Session, *, bus_id: str, dataset: str, records: list[dict[str, Any]],
                       origin: str | None = None, version: str = ANNOUNCED_VERSION) -> OutboxEvent | None:
    """Write one outbox row announcing ``records`` (already stored in this transaction, received
    in ``version``)."""
    if dataset not in ANNOUNCED:
        return None
    records = announced_forms(dataset, records, version)
    if not records:
        return None
    envelope: dict[str, Any] = {
        "specVersion": ANNOUNCED_VERSION, "messageId": str(uuid.uuid4()), "sender": bus_id, "receiver": "*",
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
