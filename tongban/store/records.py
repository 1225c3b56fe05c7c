"""Dataset records in the store: the reads stage S5 needs (it satisfies the validators'
``StateView`` protocol structurally) and the writes a receiver performs.

Works inside one session, so writes made for earlier records of a page are visible to the
later ones (TBS-SYNC-003).
"""
from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from tongban.model.canonical import canonical_bytes, sha256_hex
from tongban.store.schema import (CaseEventRecord, CaseRecord, CatalogItemVersion, EvaluationRecord, HeldRecord,
                                  QuarantineEntry, ResultRecord)
from tongban.store.store import utcnow


def _text(record: Any) -> tuple[str, str]:
    data = canonical_bytes(record)
    return data.decode("utf-8"), sha256_hex(data)


def key_text(key: tuple[Any, ...]) -> str:
    return json.dumps(list(key), ensure_ascii=False, separators=(",", ":"))


class RecordStore:
    def __init__(self, session: Session) -> None:
        self.session = session

    # -- reads (StateView) ----------------------------------------------------------------
    def catalog_current(self, impl_code: str) -> dict[str, Any] | None:
        row = self.session.execute(select(CatalogItemVersion.content).where(
            CatalogItemVersion.impl_code == impl_code, CatalogItemVersion.is_current.is_(True))).scalar()
        return json.loads(row) if row else None

    def case(self, case_no: str) -> dict[str, Any] | None:
        row = self.session.get(CaseRecord, case_no)
        return json.loads(row.content) if row else None

    def case_events(self, case_no: str) -> list[dict[str, Any]]:
        rows = self.session.execute(select(CaseEventRecord.content).where(CaseEventRecord.case_no == case_no)
                                    .order_by(CaseEventRecord.seq)).scalars()
        return [json.loads(r) for r in rows]

    def case_event(self, case_no: str, seq: int) -> dict[str, Any] | None:
        row = self.session.get(CaseEventRecord, (case_no, seq))
        return json.loads(row.content) if row else None

    def result(self, case_no: str, cert_no: str) -> dict[str, Any] | None:
        row = self.session.get(ResultRecord, (case_no, cert_no))
        return json.loads(row.content) if row else None

    def evaluation(self, case_no: str, assess_no: int) -> dict[str, Any] | None:
        row = self.session.get(EvaluationRecord, (case_no, assess_no))
        return json.loads(row.content) if row else None

    def held(self, dataset: str, key: tuple[Any, ...]) -> dict[str, Any] | None:
        row = self._held_row(dataset, key)
        return json.loads(row.content) if row else None

    def _held_row(self, dataset: str, key: tuple[Any, ...]) -> HeldRecord | None:
        return self.session.execute(select(HeldRecord).where(HeldRecord.dataset == dataset,
                                                              HeldRecord.record_key == key_text(key))).scalar()

    # -- writes ---------------------------------------------------------------------------
    def store(self, dataset: str, record: dict[str, Any], *, source: str) -> None:
        content, digest = _text(record)
        s = self.session
        if dataset == "catalog":
            s.execute(update(CatalogItemVersion).where(CatalogItemVersion.impl_code == record["implCode"])
                      .values(is_current=False))
            s.add(CatalogItemVersion(
                impl_code=record["implCode"], version=record["version"], item_code=record["itemCode"],
                region_code=record["regionCode"], name=record["name"], status=record["status"],
                online_depth=record["onlineDepth"], updated_at=record["updatedAt"], is_current=True,
                source=source, content=content, sha256=digest))
        elif dataset == "case":
            row = s.get(CaseRecord, record["caseNo"]) or CaseRecord(case_no=record["caseNo"])
            row.version = record["version"]
            row.impl_code = record["implCode"]
            row.region_code = record["regionCode"]
            row.case_type = record["caseType"]
            row.channel = record["channel"]
            row.submitted_at = record["submittedAt"]
            row.promised_by = record.get("promisedBy")
            row.source, row.content, row.sha256 = source, content, digest
            s.add(row)
        elif dataset == "case-event":
            s.add(CaseEventRecord(case_no=record["caseNo"], seq=record["seq"], type=record["type"],
                                  occurred_at=record["occurredAt"], conclusion_code=record.get("conclusionCode"),
                                  source=source, content=content, sha256=digest))
        elif dataset == "result":
            doc = record.get("document") or {}
            s.add(ResultRecord(case_no=record["caseNo"], cert_no=record["certNo"], result_type=record["resultType"],
                               issued_at=record["issuedAt"], document_sha256=doc.get("sha256"),
                               source=source, content=content, sha256=digest))
        elif dataset == "evaluation":
            s.add(EvaluationRecord(case_no=record["caseNo"], assess_no=record["assessNo"],
                                   satisfaction=record["satisfaction"], channel=record["channel"],
                                   assessed_at=record["assessedAt"], source=source, content=content, sha256=digest))
        else:
            raise ValueError(f"unknown dataset {dataset!r}")
        s.flush()

    def hold(self, *, partner_id: str, dataset: str, key: tuple[Any, ...], record: dict[str, Any], case_no: str,
             rule_id: str, location: str, writer: str, expires_at: datetime) -> None:
        content, digest = _text(record)
        self.session.add(HeldRecord(partner_id=partner_id, dataset=dataset, record_key=key_text(key),
                                    waits_for=case_no, rule_id=rule_id, location=location, content=content,
                                    sha256=digest, writer=writer, held_at=utcnow(), expires_at=expires_at))
        self.session.flush()

    def held_for_case(self, case_no: str) -> list[HeldRecord]:
        rows = self.session.execute(select(HeldRecord).where(HeldRecord.waits_for == case_no)).scalars().all()
        # Business-key order (events by seq) when released (TBS-SYNC-007).
        order = {"case-event": 0, "result": 1, "evaluation": 2}
        return sorted(rows, key=lambda r: (order.get(r.dataset, 9), json.loads(r.record_key)))

    def expired_holds(self, now: datetime, *, partner_id: str | None = None, limit: int = 1000) -> list[HeldRecord]:
        query = select(HeldRecord).where(HeldRecord.expires_at <= now)
        if partner_id is not None:
            query = query.where(HeldRecord.partner_id == partner_id)
        return list(self.session.execute(query.order_by(HeldRecord.id).limit(limit)).scalars())

    def held_count(self, partner_id: str) -> int:
        from sqlalchemy import func

        return self.session.execute(select(func.count()).select_from(HeldRecord)
                                    .where(HeldRecord.partner_id == partner_id)).scalar_one()

    def release(self, row: HeldRecord) -> None:
        self.session.delete(row)
        self.session.flush()

    def quarantine(self, *, partner_id: str, dataset: str, raw: str, report: dict[str, Any], rule_ids: list[str],
                   envelope_sha256: str | None, location: str | None, key: tuple[Any, ...] | None) -> QuarantineEntry:
        entry = QuarantineEntry(partner_id=partner_id, dataset=dataset, raw=raw,
                                report=json.dumps(report, ensure_ascii=False), rule_ids=" ".join(sorted(set(rule_ids))),
                                envelope_sha256=envelope_sha256, location=location,
                                record_key=key_text(key) if key else None, received_at=utcnow(), status="OPEN")
        self.session.add(entry)
        self.session.flush()
        return entry
