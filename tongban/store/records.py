"""Dataset records in the store: the reads stage S5 needs (it satisfies the validators'
``StateView`` protocol structurally) and the writes a receiver performs.

Works inside one session, so writes made for earlier records of a page are visible to the
later ones (TBS-SYNC-003).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from tongban.model.canonical import canonical_bytes, canonical_bytes_validated, sha256_hex
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


# -- staged access for ingest ---------------------------------------------------------------
CHUNK = 500  # keys per IN (...) query


@dataclass
class HeldEntry:
    """A held record as the ingestor sees it (staged or stored)."""

    partner_id: str
    dataset: str
    record_key: str
    waits_for: str
    rule_id: str
    location: str
    content: str
    sha256: str
    writer: str
    held_at: datetime
    expires_at: datetime
    id: int | None = None  # None while only staged


def _loads(text: str) -> Any:
    """Our own stored canonical JSON: trusted, so the fast parser will do."""
    return orjson.loads(text)


def _validated_text(record: Any) -> tuple[str, str]:
    data = canonical_bytes_validated(record)
    return data.decode("utf-8"), sha256_hex(data)


class StagedRecords(RecordStore):
    """:class:`RecordStore` for bulk ingest: the state a page needs is read in a few set-based
    queries (:meth:`prefetch`), reads and writes go to an in-memory overlay, and
    :meth:`flush` writes everything with executemany inserts. Same contract as RecordStore
    inside one transaction; call :meth:`flush` before the transaction commits."""

    def __init__(self, session: Session) -> None:
        super().__init__(session)
        self._cases: dict[str, dict[str, Any] | None] = {}
        self._case_in_db: set[str] = set()
        self._events: dict[str, dict[int, dict[str, Any]]] = {}
        self._ordered: dict[str, list[dict[str, Any]]] = {}  # events by seq, cached until the next store
        self._parts: dict[str, set[str]] = {}  # per case: "result" / "evaluation" once read
        self.state_memo: dict[tuple[str, int], Any] = {}  # case state after seq (S5, STORED verdicts only)
        self._results: dict[tuple[str, str], dict[str, Any] | None] = {}
        self._evals: dict[tuple[str, int], dict[str, Any] | None] = {}
        self._catalog: dict[str, dict[str, Any] | None] = {}
        # held records by case number, then by (dataset, business key as a tuple)
        self._held: dict[str, dict[tuple[str, tuple[Any, ...]], HeldEntry]] = {}
        self._held_counts: dict[str, int] = {}
        self._new: dict[str, list[dict[str, Any]]] = {"case_events": [], "results": [], "evaluations": [],
                                                      "catalog": [], "held": []}
        self._case_rows: dict[str, dict[str, Any]] = {}
        self._revoked_current: set[str] = set()
        self._held_deleted: list[int] = []

    # -- loading --------------------------------------------------------------------------
    def prefetch(self, dataset: str, records: list[Any]) -> None:
        case_nos = {r["caseNo"] for r in records if isinstance(r, dict) and isinstance(r.get("caseNo"), str)}
        impl_codes = {r["implCode"] for r in records if isinstance(r, dict) and isinstance(r.get("implCode"), str)}
        if dataset == "catalog":
            self._load_catalog(impl_codes - self._catalog.keys())
            return
        self._load_cases(case_nos - self._cases.keys())
        if dataset in ("result", "evaluation"):
            self._load_part(dataset, {c for c in case_nos if dataset not in self._parts.get(c, ())})

    def _chunks(self, keys: set[Any]):
        keys = sorted(keys)
        for i in range(0, len(keys), CHUNK):
            yield keys[i:i + CHUNK]

    def _load_catalog(self, codes: set[str]) -> None:
        for chunk in self._chunks(codes):
            for code in chunk:
                self._catalog[code] = None
            rows = self.session.execute(select(CatalogItemVersion.impl_code, CatalogItemVersion.content).where(
                CatalogItemVersion.impl_code.in_(chunk), CatalogItemVersion.is_current.is_(True)))
            for code, content in rows:
                self._catalog[code] = _loads(content)

    def _load_cases(self, case_nos: set[str]) -> None:
        """Everything keyed by these case numbers: the Case, its events, results,
        evaluations and held records."""
        s = self.session
        for chunk in self._chunks(case_nos):
            for c in chunk:
                self._cases[c] = None
                self._events[c] = {}
                self._held[c] = {}
            for case_no, content in s.execute(select(CaseRecord.case_no, CaseRecord.content)
                                              .where(CaseRecord.case_no.in_(chunk))):
                self._cases[case_no] = _loads(content)
                self._case_in_db.add(case_no)
            for case_no, seq, content in s.execute(select(CaseEventRecord.case_no, CaseEventRecord.seq,
                                                          CaseEventRecord.content)
                                                   .where(CaseEventRecord.case_no.in_(chunk))):
                self._events[case_no][seq] = _loads(content)
            for row in s.execute(select(HeldRecord).where(HeldRecord.waits_for.in_(chunk))).scalars():
                self._held[row.waits_for][(row.dataset, tuple(json.loads(row.record_key)))] = HeldEntry(
                    row.partner_id, row.dataset, row.record_key, row.waits_for, row.rule_id, row.location,
                    row.content, row.sha256, row.writer, row.held_at, row.expires_at, row.id)

    def _load_part(self, part: str, case_nos: set[str]) -> None:
        """Results or evaluations of these cases: only the datasets that need them read them."""
        table, second, target = ((ResultRecord, ResultRecord.cert_no, self._results) if part == "result" else
                                 (EvaluationRecord, EvaluationRecord.assess_no, self._evals))
        for chunk in self._chunks(case_nos):
            for case_no, key2, content in self.session.execute(select(table.case_no, second, table.content)
                                                               .where(table.case_no.in_(chunk))):
                target[(case_no, key2)] = _loads(content)
            for c in chunk:
                self._parts.setdefault(c, set()).add(part)

    def _case_loaded(self, case_no: str, part: str | None = None) -> None:
        if case_no not in self._cases:
            self._load_cases({case_no})
        if part is not None and part not in self._parts.get(case_no, ()):
            self._load_part(part, {case_no})

    # -- reads ----------------------------------------------------------------------------
    def catalog_current(self, impl_code: str) -> dict[str, Any] | None:
        if impl_code not in self._catalog:
            self._load_catalog({impl_code})
        return self._catalog[impl_code]

    def case(self, case_no: str) -> dict[str, Any] | None:
        self._case_loaded(case_no)
        return self._cases[case_no]

    def case_events(self, case_no: str) -> list[dict[str, Any]]:
        ordered = self._ordered.get(case_no)
        if ordered is None:
            self._case_loaded(case_no)
            events = self._events[case_no]
            ordered = self._ordered[case_no] = [events[s] for s in sorted(events)]
        return ordered

    def case_event(self, case_no: str, seq: int) -> dict[str, Any] | None:
        self._case_loaded(case_no)
        return self._events[case_no].get(seq)

    def result(self, case_no: str, cert_no: str) -> dict[str, Any] | None:
        self._case_loaded(case_no, "result")
        return self._results.get((case_no, cert_no))

    def evaluation(self, case_no: str, assess_no: int) -> dict[str, Any] | None:
        self._case_loaded(case_no, "evaluation")
        return self._evals.get((case_no, assess_no))

    def held(self, dataset: str, key: tuple[Any, ...]) -> dict[str, Any] | None:
        case_no = key[0]
        if not isinstance(case_no, str):
            return None
        self._case_loaded(case_no)
        entry = self._held[case_no].get((dataset, key))
        return json.loads(entry.content) if entry else None

    def held_for_case(self, case_no: str) -> list[HeldEntry]:  # type: ignore[override]
        self._case_loaded(case_no)
        held = self._held[case_no]
        if not held:
            return []
        order = {"case-event": 0, "result": 1, "evaluation": 2}
        return [held[k] for k in sorted(held, key=lambda k: (order.get(k[0], 9), k[1]))]

    def held_count(self, partner_id: str) -> int:
        if partner_id not in self._held_counts:
            self._held_counts[partner_id] = super().held_count(partner_id)
        return self._held_counts[partner_id]

    # -- writes ---------------------------------------------------------------------------
    def store(self, dataset: str, record: dict[str, Any], *, source: str) -> None:
        content, digest = _validated_text(record)
        if dataset == "catalog":
            code = record["implCode"]
            if self.catalog_current(code) is not None:
                self._revoked_current.add(code)  # the stored current version stops being current
            for row in self._new["catalog"]:
                if row["impl_code"] == code:
                    row["is_current"] = False
            self._catalog[code] = record
            self._new["catalog"].append(dict(
                impl_code=code, version=record["version"], item_code=record["itemCode"],
                region_code=record["regionCode"], name=record["name"], status=record["status"],
                online_depth=record["onlineDepth"], updated_at=record["updatedAt"], is_current=True,
                source=source, content=content, sha256=digest))
        elif dataset == "case":
            case_no = record["caseNo"]
            self._case_loaded(case_no)
            self._cases[case_no] = record
            self._case_rows[case_no] = dict(
                case_no=case_no, version=record["version"], impl_code=record["implCode"],
                region_code=record["regionCode"], case_type=record["caseType"], channel=record["channel"],
                submitted_at=record["submittedAt"], promised_by=record.get("promisedBy"), source=source,
                content=content, sha256=digest)
        elif dataset == "case-event":
            self._case_loaded(record["caseNo"])
            self._events[record["caseNo"]][record["seq"]] = record
            self._ordered.pop(record["caseNo"], None)
            self._new["case_events"].append(dict(
                case_no=record["caseNo"], seq=record["seq"], type=record["type"], occurred_at=record["occurredAt"],
                conclusion_code=record.get("conclusionCode"), source=source, content=content, sha256=digest))
        elif dataset == "result":
            self._case_loaded(record["caseNo"], "result")
            self._results[(record["caseNo"], record["certNo"])] = record
            doc = record.get("document") or {}
            self._new["results"].append(dict(
                case_no=record["caseNo"], cert_no=record["certNo"], result_type=record["resultType"],
                issued_at=record["issuedAt"], document_sha256=doc.get("sha256"), document_verified=None,
                source=source, content=content, sha256=digest))
        elif dataset == "evaluation":
            self._case_loaded(record["caseNo"], "evaluation")
            self._evals[(record["caseNo"], record["assessNo"])] = record
            self._new["evaluations"].append(dict(
                case_no=record["caseNo"], assess_no=record["assessNo"], satisfaction=record["satisfaction"],
                channel=record["channel"], assessed_at=record["assessedAt"], source=source, content=content,
                sha256=digest))
        else:
            raise ValueError(f"unknown dataset {dataset!r}")

    def hold(self, *, partner_id: str, dataset: str, key: tuple[Any, ...], record: dict[str, Any], case_no: str,
             rule_id: str, location: str, writer: str, expires_at: datetime) -> None:
        content, digest = _validated_text(record)
        self._case_loaded(case_no)
        entry = HeldEntry(partner_id, dataset, key_text(key), case_no, rule_id, location, content, digest, writer,
                          utcnow(), expires_at)
        self._held[case_no][(dataset, tuple(key))] = entry
        self.held_count(partner_id)
        self._held_counts[partner_id] += 1

    def release(self, row: HeldEntry) -> None:  # type: ignore[override]
        self._held.get(row.waits_for, {}).pop((row.dataset, tuple(json.loads(row.record_key))), None)
        if row.id is not None:
            self._held_deleted.append(row.id)
        if row.partner_id in self._held_counts:
            self._held_counts[row.partner_id] -= 1

    # -- writing out ----------------------------------------------------------------------
    def _insert_many(self, table: str, rows: list[dict[str, Any]]) -> None:
        """The driver's own executemany: these rows hold only text, integers, booleans and
        NULLs, so SQLAlchemy's per-row parameter processing buys nothing on the hot path."""
        if not rows:
            return
        conn = self.session.connection()
        mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
        cols = list(rows[0])
        sql = f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join([mark] * len(cols))})"
        conn.exec_driver_sql(sql, [tuple(r[c] for c in cols) for r in rows])

    def flush(self) -> None:
        from sqlalchemy import delete

        s = self.session
        if self._held_deleted:
            for chunk in self._chunks(set(self._held_deleted)):
                s.execute(delete(HeldRecord).where(HeldRecord.id.in_(chunk)))
        if self._revoked_current:
            for chunk in self._chunks(self._revoked_current):
                s.execute(update(CatalogItemVersion).where(CatalogItemVersion.impl_code.in_(chunk),
                                                           CatalogItemVersion.is_current.is_(True))
                          .values(is_current=False))
        for table, rows in ((CatalogItemVersion, self._new["catalog"]), (CaseEventRecord, self._new["case_events"]),
                            (ResultRecord, self._new["results"]), (EvaluationRecord, self._new["evaluations"])):
            self._insert_many(table.__tablename__, rows)
        updates = [r for c, r in self._case_rows.items() if c in self._case_in_db]
        self._insert_many(CaseRecord.__tablename__, [r for c, r in self._case_rows.items() if c not in self._case_in_db])
        for row in updates:
            s.execute(update(CaseRecord).where(CaseRecord.case_no == row["case_no"]).values(**row))
        new_held = [e for by_case in self._held.values() for e in by_case.values() if e.id is None]
        if new_held:
            s.execute(HeldRecord.__table__.insert(), [dict(
                partner_id=e.partner_id, dataset=e.dataset, record_key=e.record_key, waits_for=e.waits_for,
                rule_id=e.rule_id, location=e.location, content=e.content, sha256=e.sha256, writer=e.writer,
                held_at=e.held_at, expires_at=e.expires_at) for e in new_held])
        s.flush()
        # Everything is in the database now: further work in this transaction starts afresh.
        self.__init__(s)  # type: ignore[misc]
