"""Replay quarantined records: validate them again (say, after the USCC allowlist changed
or the validator was fixed) and store those that now pass. An entry that still fails keeps
its place with its new findings; one that passes is RELEASED."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from tongban.registry import Registry
from tongban.store.schema import QuarantineEntry
from tongban.store.store import Store, utcnow
from tongban.sync.ingest import Ingestor
from tongban.validators import ValidationContext
from tongban.validators.stateful import Outcome
from tongban.model.canonical import sha256_hex
from tongban.sync import ledger


@dataclass
class ReplayResult:
    released: list[int] = field(default_factory=list)
    still_rejected: list[int] = field(default_factory=list)
    skipped: list[int] = field(default_factory=list)  # unknown partner or unparsable entry


def replay(store: Store, registry: Registry, *, ids: list[int] | None = None, partner_id: str | None = None,
           dataset: str | None = None) -> ReplayResult:
    query = select(QuarantineEntry).where(QuarantineEntry.status == "OPEN").order_by(QuarantineEntry.id)
    if ids:
        query = query.where(QuarantineEntry.id.in_(ids))
    if partner_id:
        query = query.where(QuarantineEntry.partner_id == partner_id)
    if dataset:
        query = query.where(QuarantineEntry.dataset == dataset)
    result = ReplayResult()
    with store.reading() as s:
        entry_ids = list(s.execute(query.with_only_columns(QuarantineEntry.id)).scalars())
    for entry_id in entry_ids:  # one transaction per entry: a failure does not undo the others
        with store.transaction() as s:
            entry = s.get(QuarantineEntry, entry_id)
            try:
                partner = registry.get(entry.partner_id)
                record = quarantined_record(entry.raw, entry.dataset)
            except (KeyError, ValueError):
                result.skipped.append(entry_id)
                continue
            context = ValidationContext(spec=partner.spec_version, allowlist=frozenset(registry.bus.uscc_allowlist))
            ingest = Ingestor(s, partner_id=partner.id, writer=partner.id,
                              hold_timeout_s=partner.hold_timeout_seconds, context=context, quarantine=False)
            outcome = ingest.ingest(entry.dataset, [record]).results[0]
            if outcome.outcome is Outcome.REJECTED:
                entry.report = json.dumps(outcome.report.to_json(), ensure_ascii=False)
                entry.rule_ids = " ".join(sorted({f.rule_id for f in outcome.report.items
                                                  if f.severity.value == "ERROR"}))
                result.still_rejected.append(entry_id)
            else:
                entry.status, entry.resolved_at = "RELEASED", utcnow()
                result.released.append(entry_id)
                # What replay stores is ledgered like any other store (its coverage, TBS-SYNC-012).
                ledger.append(s, direction="IN", sender=partner.id, receiver=registry.bus.system_id,
                              dataset=entry.dataset, binding="REPLAY",
                              envelope_sha256=entry.envelope_sha256 or sha256_hex(entry.raw.encode("utf-8")),
                              record_count=1, verdict=outcome.outcome.value, counts={"quarantineEntry": entry_id})
    return result


def quarantined_record(raw: str, dataset: str) -> Any:
    """The record of a quarantine entry: its text as received is JSON, or for SOAP the XML of
    its ``records/item`` element. Raises ValueError when it cannot be read back."""
    if raw.lstrip().startswith("<"):
        from tongban.connectors.soap.mapping import item_from_text

        return item_from_text(raw, dataset)
    return json.loads(raw)
