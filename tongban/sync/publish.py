"""Downward publication: the province's basic catalog flows to the cities and counties
(事项目录 published down; their implementation lists come up through ``SyncEngine``).

The bus pushes, to every CATALOG_CONSUMER partner, the current versions of the basic catalog
it holds — the items whose region is province-shaped (§6.1) — that the consumer has not yet
acknowledged, in envelopes of at most 1 000 records, signed with the bus's key. A record
counts as delivered once the consumer's acknowledgement accepts it (STORED, DUPLICATE or
STALE); rejected or held ones are sent again next time. Every push is in the ledger.
"""
from __future__ import annotations

import json
import os
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable

from sqlalchemy import select

from tongban.connectors.base import Connector
from tongban.model.canonical import canonical_sha256, records_sha256
from tongban.model.clock import CST
from tongban.model.codes import region_shape
from tongban.registry import PartnerConfig, Registry
from tongban.store.schema import CatalogItemVersion, Publication
from tongban.store.store import Store, utcnow
from tongban.sync import ledger
from tongban.sync.connect import open_connector

MAX_RECORDS = 1000


@dataclass
class PublishReport:
    partner_id: str
    offered: int = 0
    accepted: int = 0
    rejected: int = 0
    envelopes: int = 0
    rejected_keys: list[str] = field(default_factory=list)
    withheld_keys: list[str] = field(default_factory=list)   # no form in a version the consumer supports

    def as_dict(self) -> dict[str, Any]:
        return {"partner": self.partner_id, "offered": self.offered, "accepted": self.accepted,
                "rejected": self.rejected, "envelopes": self.envelopes, "withheld": len(self.withheld_keys)}


def basic_catalog(store: Store, *, not_from: str | None = None) -> list[dict[str, Any]]:
    """Current catalog records of province-shaped regions, by implCode (a system is not sent
    back the records it wrote itself)."""
    return [record for record, _ in basic_catalog_versions(store, not_from=not_from)]


def basic_catalog_versions(store: Store, *, not_from: str | None = None) -> list[tuple[dict[str, Any], str]]:
    """:func:`basic_catalog` with each record's received version (TBS-1.1 TBS-SYNC-015 (a))."""
    with store.reading() as s:
        rows = s.execute(select(CatalogItemVersion.region_code, CatalogItemVersion.source, CatalogItemVersion.content,
                                CatalogItemVersion.spec_version)
                         .where(CatalogItemVersion.is_current.is_(True))
                         .order_by(CatalogItemVersion.impl_code)).all()
    return [(json.loads(content), version) for region, source, content, version in rows
            if region_shape(region) == "province" and source != not_from]


def written_for(registry: Registry, consumer: PartnerConfig,
                stored: list[tuple[dict[str, Any], str]]) -> tuple[list[tuple[str, dict[str, Any]]], list[str]]:
    """Each stored record as the bus sends it to ``consumer`` (TBS-1.1 TBS-ENV-034, TBS-SYNC-015 (b),
    Annex E): ``(version, form)`` pairs, and the implCodes withheld (no form the consumer can
    receive: an incident for the operator, not a verdict). Without configured bus versions,
    every record goes as stored in TBS-1.0."""
    own = registry.bus.spec_versions
    if not own:
        return [("TBS-1.0", record) for record, _ in stored], []
    from tongban.sync.versions import relay_form

    sent, withheld = [], []
    for record, received in stored:
        form = relay_form("catalog", record, received, own, consumer.versions)
        if form.version is None or form.record is None:
            withheld.append(record["implCode"])
        else:
            sent.append((form.version, form.record))
    return sent, withheld


def publish_catalog(store: Store, registry: Registry, consumer: PartnerConfig, *,
                    connect: Callable[[PartnerConfig, str], Connector] = open_connector) -> PublishReport:
    bus = registry.bus
    report = PublishReport(consumer.id)
    with store.reading() as s:
        delivered = dict(s.execute(select(Publication.record_key, Publication.sha256).where(
            Publication.partner_id == consumer.id, Publication.dataset == "catalog")).all())
    forms, report.withheld_keys = written_for(registry, consumer, basic_catalog_versions(store, not_from=consumer.id))
    pending = [(v, r) for v, r in forms if delivered.get(r["implCode"]) != canonical_sha256(r)]
    report.offered = len(pending)
    for version in sorted({v for v, _ in pending}):   # one series of envelopes per version
        _push(store, registry, consumer if version == consumer.spec_version else
              consumer.model_copy(update={"spec_version": version}), version,
              [r for v, r in pending if v == version], report, connect)
    return report


def _push(store: Store, registry: Registry, consumer: PartnerConfig, version: str, pending: list[dict[str, Any]],
          report: PublishReport, connect: Callable[[PartnerConfig, str], Connector]) -> None:
    bus = registry.bus
    key = os.environ.get(bus.hmac_key_env) if bus.hmac_key_env else None
    connector = connect(consumer, bus.system_id)
    try:
        for start in range(0, len(pending), MAX_RECORDS):
            records = pending[start:start + MAX_RECORDS]
            envelope = _envelope(bus.system_id, consumer.id, records, key, bus.key_id, version)
            result = connector.push(envelope)
            ack = result.ack
            report.envelopes += 1
            refused = {r["index"] for r in ack.get("rejected", [])}
            refused |= {n["index"] for n in ack.get("notes", []) if n.get("outcome") == "HELD"}
            if ack.get("status") == "REJECTED" and not ack.get("rejected"):
                refused = set(range(len(records)))  # rejected at envelope level
            with store.transaction() as s:
                for i, rec in enumerate(records):
                    if i in refused:
                        report.rejected += 1
                        report.rejected_keys.append(rec["implCode"])
                        continue
                    report.accepted += 1
                    row = s.get(Publication, (consumer.id, "catalog", rec["implCode"]))
                    if row is None:
                        row = Publication(partner_id=consumer.id, dataset="catalog", record_key=rec["implCode"])
                        s.add(row)
                    row.sha256, row.message_id, row.acknowledged_at = canonical_sha256(rec), envelope["messageId"], \
                        utcnow()
                ledger.append(s, direction="OUT", sender=bus.system_id, receiver=consumer.id, dataset="catalog",
                              binding=connector.binding, envelope_sha256=result.request_hash or "",
                              record_count=len(records), verdict=str(ack.get("status", "?")),
                              counts=ack.get("counts", {}), message_id=envelope["messageId"])
    finally:
        connector.close()


def _envelope(sender: str, receiver: str, records: list[dict[str, Any]], key: str | None,
              key_id: str | None, version: str = "TBS-1.0") -> dict[str, Any]:
    envelope: dict[str, Any] = {
        "specVersion": version, "messageId": str(uuid.uuid4()), "sender": sender, "receiver": receiver,
        "dataset": "catalog", "sentAt": datetime.now(CST).isoformat(timespec="seconds"), "records": records,
        "integrity": {"recordsSha256": records_sha256(records)},
    }
    if key and key_id:
        from tongban.validators.signature import sign_hmac_sha256

        envelope = sign_hmac_sha256(envelope, key.encode(), key_id)
    return envelope
