"""Ingest: the receiver's record pipeline shared by pulls (changes pages) and pushes
(envelopes) — validate (S1–S4), decide against state (S5), write, hold, quarantine, release.

Everything happens inside the caller's transaction; the caller commits the records, the
cursor and the ledger entry together.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from tongban.connectors.base import ReceivedBody
from tongban.model.datasets import SPECS, Dataset, business_key
from tongban.store.records import RecordStore
from tongban.store.store import utcnow
from tongban.sync.outcome import OutcomeCounts
from tongban.validators import ValidationContext, validate_record
from tongban.validators.report import Finding, Report, Severity
from tongban.validators.stateful import Hold, Outcome, evaluate_state, expired_hold_finding, finding

HOLD_CAPACITY = 10_000  # per sender, TBS-SYNC-008's minimum


@dataclass
class RecordResult:
    index: int
    outcome: Outcome
    report: Report
    key: dict[str, Any] | None = None


@dataclass
class IngestResult:
    counts: OutcomeCounts = field(default_factory=OutcomeCounts)
    results: list[RecordResult] = field(default_factory=list)
    newest_source_at: str | None = None
    released_records: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # held, now stored


def _carried_forward(records: RecordStore, dataset: str, record: dict[str, Any], version: str) -> dict[str, Any]:
    """TBS-1.1 TBS-SYNC-015 (e): a TBS-1.0 catalog or case record gets the members TBS-1.0 cannot
    carry from the stored current record of its key, when that was received in another version."""
    if version != "TBS-1.0" or not SPECS[dataset].versioned:  # only versioned records have a stored current one
        return record
    key = SPECS[dataset].key_of(record)
    if records.version_of(dataset, key) == version:
        return record
    from tongban.model.annex_e import carry_forward

    return carry_forward(dataset, record, records.current(dataset, key))


def _raw_text(record: Any) -> str:
    return json.dumps(record, ensure_ascii=False, separators=(",", ":"))


class Ingestor:
    def __init__(self, session: Session, *, partner_id: str, writer: str, hold_timeout_s: int,
                 context: ValidationContext, envelope_sha256: str | None = None, quarantine: bool = True,
                 announce_as: str | None = None, announce_versions: tuple[str, ...] = ("TBS-1.0",)) -> None:
        self.records = RecordStore(session)
        self.partner_id = partner_id
        self.writer = writer
        self.hold_timeout = timedelta(seconds=hold_timeout_s)
        self.context = context
        self.envelope_sha256 = envelope_sha256
        self.keep_rejected = quarantine  # False when replaying an entry already in quarantine
        self.announce_as = announce_as  # the bus id: stored events are announced through the outbox
        self.announce_versions = announce_versions  # the versions every subscriber reads (TBS-1.1 TBS-MQTT-006)
        self.session = session
        self._received: ReceivedBody | None = None
        self._raw_texts: list[str] | None = None
        self._start = 0

    def ingest(self, dataset: str, records: list[Any], *, start_index: int = 0,
               reports: list[Report] | None = None, sent_at: str | None = None,
               received: ReceivedBody | None = None) -> IngestResult:
        """Ingest ``records`` in array order (TBS-SYNC-003). ``reports`` are their stateless
        S1–S4 reports when the caller already has them (a validated envelope); otherwise each
        record is validated here (pulled pages). ``received`` is the body they were parsed from
        (a changes page, a pushed envelope): a rejected record is quarantined with its text as
        received."""
        self._received, self._raw_texts, self._start = received, None, start_index
        result = IngestResult()
        spec = Dataset(dataset).spec
        ts_member = spec.timestamp
        self.records.prefetch(dataset, records)
        for offset, record in enumerate(records):
            index = start_index + offset
            if reports is not None:
                report = Report(list(reports[offset].items))
            else:
                report = validate_record(dataset, record, index=index, writer=self.writer, context=self.context,
                                         sent_at=sent_at)
            key = None
            if isinstance(record, dict):
                key = business_key(dataset, record)
            if report.errors:
                self._quarantine(dataset, record, report, key, index=index)
                self._count(result, RecordResult(index, Outcome.REJECTED, report, key))
                continue
            stamp = record.get(ts_member)
            if isinstance(stamp, str) and (result.newest_source_at is None or stamp > result.newest_source_at):
                result.newest_source_at = stamp
            self._decide(dataset, record, index, report, key, result)
        self.records.flush()
        if self.announce_as:
            from tongban.sync.outbox import stage_announcement

            stored = [records[r.index - start_index] for r in result.results if r.outcome is Outcome.STORED]
            stage_announcement(self.session, bus_id=self.announce_as, dataset=dataset, records=stored,
                               origin=self.writer, version=self.context.spec, versions=self.announce_versions)
            for released_dataset in sorted({d for d, _ in result.released_records}):
                stage_announcement(self.session, bus_id=self.announce_as, dataset=released_dataset,
                                   records=[r for d, r in result.released_records if d == released_dataset],
                                   version=self.context.spec, versions=self.announce_versions)
        return result

    def _decide(self, dataset: str, record: dict[str, Any], index: int, report: Report,
                key: dict[str, Any] | None, result: IngestResult, expires_at: datetime | None = None,
                writer: str | None = None, partner_id: str | None = None) -> None:
        """S5 and its effect. A released held record keeps the writer and partner it arrived with."""
        writer, partner_id = writer or self.writer, partner_id or self.partner_id
        version = self.context.spec
        if version == "TBS-1.0" and SPECS[dataset].versioned:   # the test _carried_forward starts with
            record = _carried_forward(self.records, dataset, record, version)
        self.records.read_version = version   # S5 reads the stored records in the incoming version
        verdict = evaluate_state(dataset, record, index=index, writer=writer, state=self.records)
        report.extend(verdict.report.items)
        outcome = verdict.outcome
        if outcome is Outcome.STORED:
            self.records.store(dataset, record, source=partner_id, version=self.context.spec)
            if expires_at is not None:  # a released record: announce it like any stored one
                result.released_records.append((dataset, record))
            self._count(result, RecordResult(index, outcome, report, key))
            if "caseNo" in record:  # every prerequisite is case-linked (TBS-SYNC-007)
                self._release(record["caseNo"], result)
        elif outcome is Outcome.HELD:
            assert verdict.hold is not None
            if self.records.held_count(partner_id) >= HOLD_CAPACITY:   # the record's own sender
                full = Report([*(f for f in report.items if f.rule_id != "TBS-SYNC-007"),
                               finding("TBS-SYNC-008", Severity.ERROR, f"/records/{index}")])
                self._quarantine(dataset, record, full, key, partner_id=partner_id,
                                 index=None if expires_at is not None else index)
                self._count(result, RecordResult(index, Outcome.REJECTED, full, key))
                return
            self._hold(dataset, record, verdict.hold, expires_at, writer=writer, partner_id=partner_id)
            self._count(result, RecordResult(index, outcome, report, key))
        elif outcome is Outcome.REJECTED:
            self._quarantine(dataset, record, report, key, partner_id=partner_id,
                             index=None if expires_at is not None else index)
            self._count(result, RecordResult(index, outcome, report, key))
        else:  # DUPLICATE, STALE: nothing changes
            self._count(result, RecordResult(index, outcome, report, key))

    def _hold(self, dataset: str, record: dict[str, Any], hold: Hold, expires_at: datetime | None, *,
              writer: str, partner_id: str) -> None:
        self.records.hold(partner_id=partner_id, dataset=dataset,
                          key=SPECS[dataset].key_of(record), record=record, case_no=hold.case_no,
                          rule_id=hold.rule_id, location=hold.location, writer=writer,
                          expires_at=expires_at or utcnow() + self.hold_timeout)

    def _release(self, case_no: str, result: IngestResult) -> None:
        """Re-evaluate records held for ``case_no`` until nothing more can be stored."""
        progress = True
        while progress:
            progress = False
            for row in self.records.held_for_case(case_no):
                record = json.loads(row.content)
                index = int(row.location.split("/")[2])
                expires_at = row.expires_at
                self.records.release(row)
                sub = IngestResult()
                self._decide(row.dataset, record, index, Report(), None, sub, expires_at, writer=row.writer,
                             partner_id=row.partner_id)
                result.counts.released += sub.counts.stored + sub.counts.released
                result.counts.rejected += sub.counts.rejected
                result.released_records += sub.released_records
                if sub.counts.held == 0:
                    progress = True
                    break  # the held set changed; read it again in key order

    def expire_holds(self, now: datetime | None = None) -> int:
        """Reject this partner's held records whose hold timed out, under their dependency
        rule (TBS-SYNC-007), into quarantine."""
        n = 0
        for row in self.records.expired_holds(now or utcnow(), partner_id=self.partner_id):
            hold = Hold(row.rule_id, row.location, row.waits_for)
            report = Report([expired_hold_finding(hold)])
            record = json.loads(row.content)
            self.records.release(row)
            self.records.quarantine(partner_id=row.partner_id, dataset=row.dataset, raw=_raw_text(record),
                                    report=report.to_json(), rule_ids=[row.rule_id],
                                    envelope_sha256=None, location=row.location,
                                    key=tuple(json.loads(row.record_key)))
            n += 1
        self.records.flush()
        return n

    def _received_text(self, index: int | None) -> str | None:
        """The text of the record at ``index`` in the body it arrived in (None: not known)."""
        if index is None or self._received is None:
            return None
        if self._raw_texts is None:   # cut only when a record of this body is quarantined
            self._raw_texts = self._received.record_texts() or []
        offset = index - self._start
        return self._raw_texts[offset] if 0 <= offset < len(self._raw_texts) else None

    def _quarantine(self, dataset: str, record: Any, report: Report, key: dict[str, Any] | None, *,
                    partner_id: str | None = None, index: int | None = None) -> None:
        if not self.keep_rejected:
            return
        errors: list[Finding] = [f for f in report.items if f.severity is Severity.ERROR]
        raw = self._received_text(index) or _raw_text(record)
        self.records.quarantine(partner_id=partner_id or self.partner_id, dataset=dataset, raw=raw,
                                report=report.to_json(), rule_ids=[f.rule_id for f in errors],
                                envelope_sha256=self.envelope_sha256,
                                location=errors[0].location if errors else None,
                                key=tuple(key.values()) if key else None)

    @staticmethod
    def _count(result: IngestResult, rr: RecordResult) -> None:
        result.counts.add(rr.outcome)
        result.results.append(rr)
