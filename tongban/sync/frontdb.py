"""FRONTDB sync (TBS-LP-1.0 §2): read each committed batch of a partner's front database,
check its rows (L0–L3), keep the mirror, compose and map records by the partner's profile,
validate them by TBS-1.0 unchanged (S1–S5, through the same :class:`Ingestor`, store,
holds and quarantine as every other binding) and write one receipt per row state.

Each batch is one transaction of the bus store: records, mirror, origins, the processed
``cd_batch``, the cursor and the receipts to write (TBS-LP-048). Receipts reach
``tb_receipt`` after that commit (TBS-LP-052); a crash before they are written leaves them
marked unwritten, and the next poll writes them.
"""
from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

from sqlalchemy import select
from sqlalchemy.orm import Session

from tongban.connectors.frontdb.database import BatchRead, FrontDatabase, Marker
from tongban.connectors.frontdb.mapping import MAPPERS, Candidate, Mapped, Source, code_key_valid, order_candidates, \
    region_of_code
from tongban.connectors.frontdb.rows import read_row
from tongban.connectors.frontdb.profile import ConfigurationError, Profile, TableSpec, load_profile
from tongban.connectors.frontdb.values import digest_value, read_datetime, read_value, sql_datetime
from tongban.model.canonical import canonical_bytes
from tongban.model.clock import CST
from tongban.model.datasets import SPECS
from tongban.registry import PartnerConfig, Registry, parse_duration
from tongban.store.schema import HeldRecord, FrontdbBatch, FrontdbOrigin, FrontdbReceipt, FrontdbRow, SyncCursor
from tongban.store.store import Store, utcnow
from tongban.sync import ledger
from tongban.sync.ingest import Ingestor
from tongban.sync.outcome import OutcomeCounts
from tongban.validators import ValidationContext
from tongban.validators.report import Report
from tongban.validators.stateful import Outcome

log = logging.getLogger(__name__)
CURSOR_DATASET = "frontdb"
FUTURE_S = 300
IMMUTABLE_KINDS = ("case_linked", "evaluation")
_PRECEDENCE = ("REJECTED", "HELD", "STORED", "STALE", "DUPLICATE")


def jcs(value: Any) -> str:
    return canonical_bytes(value).decode("utf-8")


@dataclass
class RowState:
    spec: TableSpec
    guid: str
    raw: dict[str, Any]
    values: dict[str, Any] = field(default_factory=dict)
    cd_time: datetime | None = None
    cd_time_text: str = ""
    findings: list[dict[str, Any]] = field(default_factory=list)
    outcomes: list[str] = field(default_factory=list)
    rejected: bool = False
    duplicate: bool = False
    cd_batch: str = ""

    @property
    def table(self) -> str:
        return self.spec.name

    @property
    def op(self) -> Any:
        return self.values.get(self.spec.col("cd_operation"))

    @property
    def entity(self) -> Any:
        return self.values.get(self.spec.entity_key)

    def reject(self, rule: str, column: str, *, location: str = "", dataset: str = "", key: str = "") -> None:
        self.rejected = True
        self.findings.append(_finding("ERROR", rule, dataset, key, location, (self.table, self.guid, column)))

    def outcome(self) -> str:
        if self.rejected:
            return "REJECTED"
        for o in _PRECEDENCE:
            if o in self.outcomes:
                return o
        return "DUPLICATE" if self.duplicate else "STORED"


def _finding(severity: str, rule: str, dataset: str, key: str, location: str, source: Source,
             depends_on: str | None = None) -> dict[str, Any]:
    out = {"severity": severity, "ruleId": rule, "dataset": dataset, "key": key, "location": location,
           "source": {"table": source[0], "rowGuid": source[1], "column": source[2]}}
    if depends_on:
        out["dependsOn"] = depends_on
    return out


def _sort_findings(findings: list[dict[str, Any]]) -> list[dict[str, Any]]:
    uniq = {jcs(f): f for f in findings}
    return sorted(uniq.values(), key=lambda f: (f["dataset"], f["key"], f["location"], f["ruleId"],
                                                f["source"]["table"], f["source"]["rowGuid"], f["source"]["column"]))


def receipt_of(row: RowState, processed_at: str) -> dict[str, Any]:
    findings = _sort_findings(row.findings)
    rule_ids = ",".join(sorted({f["ruleId"] for f in findings}))
    message = "; ".join(f"{f['ruleId']} {f['location'] or f['source']['column']}".rstrip() for f in findings)
    return {"table_name": row.table, "row_guid": row.guid, "row_cd_time": row.cd_time_text, "cd_batch": row.cd_batch,
            "outcome": row.outcome(), "rule_ids": rule_ids, "message": message[:2000], "findings": jcs(findings),
            "processed_at": processed_at}


def batch_sha256(read: BatchRead) -> str:
    """The digest of a batch as read (marker, manifest, rows): the ledger's envelope hash."""
    m = read.marker
    body = {"marker": [m.row_guid, m.cd_batch, str(m.cd_time), str(m.row_count)],
            "manifest": sorted(list(x) for x in read.manifest),
            "rows": {t: sorted(({k: None if v is None else str(v) for k, v in r.items()} for r in rows),
                               key=lambda r: json.dumps(r, sort_keys=True, ensure_ascii=False))
                     for t, rows in sorted(read.rows.items())}}
    return hashlib.sha256(json.dumps(body, sort_keys=True, ensure_ascii=False).encode("utf-8")).hexdigest()


def source_for(location: str, mapped_sources: dict[str, Source], anchor: tuple[str, str]) -> Source:
    """TBS-LP-004: the longest member path that is a prefix of ``location`` by segments."""
    parts = location.split("/")[1:] if location else []
    for n in range(len(parts), 0, -1):
        path = "/" + "/".join(parts[:n])
        if path in mapped_sources:
            return mapped_sources[path]
    return (anchor[0], anchor[1], "")


@dataclass
class PollReport:
    batches: int = 0
    rows: int = 0
    receipts: int = 0
    expired: int = 0
    skipped_future: int = 0
    counts: OutcomeCounts = field(default_factory=OutcomeCounts)
    outcomes: dict[str, int] = field(default_factory=dict)
    dn_rows: int = 0


class FrontdbSync:
    """One FRONTDB partner: a poll reads every new committed batch (TBS-LP-025 to -028)."""

    def __init__(self, store: Store, registry: Registry | None, partner: PartnerConfig, *,
                 front: FrontDatabase | None = None, clock: Callable[[], datetime] | None = None,
                 after_batch: Callable[[str], None] | None = None, write_receipts: bool = True) -> None:
        self.store = store
        self.partner = partner
        self.allowlist = frozenset(registry.bus.uscc_allowlist) if registry else frozenset()
        self.bus_id = registry.bus.system_id if registry else None
        if registry is not None:
            store.ledger_key = registry.bus.ledger_key() or store.ledger_key
        self.roles = {r.value for r in partner.roles}
        name = (partner.profile or "").split(" ")[0]
        self.profile: Profile = load_profile(name)
        if "EVALUATION_REPORTER" in self.roles and not partner.evaluation_dialect:
            raise ConfigurationError(f"{partner.id} claims EVALUATION_REPORTER without evaluation_dialect "
                                     "(TBS-LP-160, -164): nothing is read from its front database")
        self.tables = self.profile.tables_for(self.roles)
        self.mapper = MAPPERS[self.profile.name](self.profile, partner.evaluation_dialect)
        self.front = front or FrontDatabase(partner.database_url(), self.profile, self.tables)
        self.clock = clock or (lambda: datetime.now(CST))
        self.lookback = timedelta(seconds=parse_duration(partner.lookback))
        self.hold_timeout = timedelta(seconds=partner.hold_timeout_seconds)
        self.after_batch = after_batch  # test hook: called after a batch's commit, before its receipts
        self.writes_receipts = write_receipts  # False: a dry run (tongban validate --profile) leaves tb_receipt alone

    # --- the poll ---------------------------------------------------------------------
    def poll(self) -> PollReport:
        report = PollReport()
        self.front.check_configuration()
        self.write_pending_receipts()
        report.expired = self.expire_holds()
        self.write_pending_receipts()
        cursor = self._cursor()
        bound = None
        if cursor:
            bound = sql_datetime(datetime.strptime(cursor[0], "%Y-%m-%d %H:%M:%S") - self.lookback)
        markers = self.front.markers(bound)
        with self.store.reading() as s:
            done = set(s.execute(select(FrontdbBatch.cd_batch).where(
                FrontdbBatch.partner_id == self.partner.id)).scalars())
        if bound is not None:  # TBS-LP-026: a marker that became visible too late is never processed
            for b in sorted(set(self.front.batches_before(bound)) - done):
                log.warning("%s: marker %s is dated before the cursor minus the look-back (TBS-LP-026); it will "
                            "not be processed: the writer committed it too late", self.partner.id, b)
        ordered = []
        for m in markers:
            at, err = read_datetime(m.cd_time)
            count, err2 = read_value(m.row_count, "INT")
            if err or err2 or at is None or count is None:
                log.warning("%s: marker %s has an unreadable cd_time or row_count (TBS-LP-025); not processed",
                            self.partner.id, m.cd_batch)
                continue
            ordered.append((at, str(m.row_guid), m))
        ordered.sort(key=lambda t: (t[0], t[1]))
        for at, guid, m in ordered:
            if m.cd_batch in done:
                continue
            t_read = self.clock()
            if at > t_read.replace(tzinfo=None) + timedelta(seconds=FUTURE_S):
                log.warning("%s: marker %s is dated in the future (TBS-LP-027); not processed",
                            self.partner.id, m.cd_batch)
                report.skipped_future += 1
                break
            rows = self.process_batch(m, at, t_read)
            report.batches += 1
            report.rows += len(rows)
            for r in rows:
                report.outcomes[r["outcome"]] = report.outcomes.get(r["outcome"], 0) + 1
            if self.after_batch:
                self.after_batch(m.cd_batch)
            report.receipts += self.write_pending_receipts()
        if "CATALOG_CONSUMER" in self.roles:
            report.dn_rows = self.write_dn()
        return report

    # --- dn_task_directory (TBS-LP-057, -058, -115) -------------------------------------
    def write_dn(self) -> int:
        """Keep one ``dn_task_directory`` row per itemCode of the province's own items."""
        from tongban.store.schema import CatalogItemVersion

        region = self.partner.system_region
        with self.store.reading() as s:
            items = [json.loads(c) for c in s.execute(select(CatalogItemVersion.content).where(
                CatalogItemVersion.is_current.is_(True))).scalars()]
            written = {o.row_guid: o for o in s.execute(select(FrontdbOrigin).where(
                FrontdbOrigin.partner_id == self.partner.id, FrontdbOrigin.table_name == "#dn")).scalars()}
        source: dict[str, dict[str, Any]] = {}
        for item in sorted(items, key=lambda i: i["implCode"]):
            rc = item.get("regionCode", "")
            if not (rc.endswith("0000") and rc[:2] == region[:2]):
                continue
            best = source.get(item["itemCode"])
            if best is None or (best["status"] == "REVOKED" and item["status"] != "REVOKED"):
                source[item["itemCode"]] = item
        last_time = max((json.loads(o.source_row)["cd_time"] for o in written.values()), default="")
        seq = 0
        n = 0
        for code in sorted(source):
            item = source[code]
            content = {"catalog_code": item["itemCode"], "task_name": item.get("name"),
                       "task_type": item.get("itemType"),
                       "task_state": {"ACTIVE": "1", "SUSPENDED": "2", "REVOKED": "3"}.get(item.get("status")),
                       "task_version": item.get("version"), "use_level": item.get("level"),
                       "by_law": item.get("legalBasis")}
            prior = written.get(code)
            before = json.loads(prior.source_row) if prior else None
            if before is not None and before["content"] == content:
                continue
            now = self.clock().astimezone(CST).replace(tzinfo=None, microsecond=0)
            at = max(sql_datetime(now), last_time)
            seq += 1
            version = 1 if before is None else before["version"] + 1
            row = {"row_guid": hashlib.sha256(f"dn_task_directory|{code}".encode()).hexdigest()[:32],
                   "cd_operation": "I" if before is None else "D" if content["task_state"] == "3" else "U",
                   "cd_time": at, "cd_batch": f"TB{at.replace('-', '').replace(' ', '').replace(':', '')}{seq:03d}",
                   "data_source": self.partner.dn_data_source, "version": version, **content}
            self.front.write_dn_rows([row])
            last_time = at
            with self.store.transaction() as s:
                # sent down like a catalog push: in the ledger (OUT), one entry per dn row written
                ledger.append(s, direction="OUT", sender=self.bus_id or "?", receiver=self.partner.id,
                              dataset="catalog", binding="FRONTDB", envelope_sha256=hashlib.sha256(
                                  canonical_bytes({k: v for k, v in row.items()})).hexdigest(),
                              record_count=1, verdict="ACCEPTED", counts={"written": 1}, message_id=row["cd_batch"])
                s.merge(FrontdbOrigin(partner_id=self.partner.id, table_name="#dn", row_guid=code, part="DN",
                                      case_no=code, seq=version,
                                      source_row=jcs({"content": content, "version": version, "cd_time": at})))
            n += 1
        return n

    def _cursor(self) -> tuple[str, str] | None:
        with self.store.reading() as s:
            row = s.get(SyncCursor, (self.partner.id, CURSOR_DATASET))
            if row is None or not row.cursor:
                return None
            at, guid = row.cursor.split("|", 1)
            return at, guid

    def write_pending_receipts(self) -> int:
        """TBS-LP-052: receipts committed with their batch, written after it."""
        if not self.writes_receipts:
            return 0
        with self.store.reading() as s:
            pending = list(s.execute(select(FrontdbReceipt).where(
                FrontdbReceipt.partner_id == self.partner.id, FrontdbReceipt.written.is_(False))).scalars())
        if not pending:
            return 0
        self.front.write_receipts([{c: getattr(r, c) for c in ("table_name", "row_guid", "row_cd_time", "cd_batch",
                                                                "outcome", "rule_ids", "message", "findings")}
                                   | {"processed_at": r.processed_at} for r in pending])
        with self.store.transaction() as s:
            for r in pending:
                row = s.get(FrontdbReceipt, (r.partner_id, r.table_name, r.row_guid, r.row_cd_time, r.cd_batch))
                if row is not None and row.outcome == r.outcome:
                    row.written = True
        return len(pending)

    # --- holds ------------------------------------------------------------------------
    def expire_holds(self) -> int:
        """TBS-LP-045, -048: at the start of a poll, every due hold is rejected, in one
        transaction of its own."""
        now = self.clock()
        n = 0
        with self.store.transaction() as s:
            held = s.execute(select(FrontdbRow).where(FrontdbRow.partner_id == self.partner.id,
                                                      FrontdbRow.held_since.is_not(None))).scalars().all()
            for m in held:
                since = m.held_since if m.held_since.tzinfo else m.held_since.replace(tzinfo=CST)
                if now < since + self.hold_timeout:
                    continue
                spec = self.profile.tables[m.table_name]
                catalog = spec.kind == "item_child"
                rule = "TBS-LP-046" if catalog else "TBS-EVT-009"
                finding = _finding("ERROR", rule, "catalog" if catalog else "case-event", "",
                                   "" if catalog else "/caseNo",
                                   (m.table_name, m.row_guid, spec.col("task_code") if catalog else spec.entity_key))
                self._stage_receipt(s, m.table_name, m.row_guid, m.cd_time, m.cd_batch, "REJECTED", [finding],
                                    now)
                s.delete(m)
                n += 1
            # evaluations held by TBS-1.0 itself: rejected on expiry by the Ingestor
            ingest = Ingestor(s, partner_id=self.partner.id, writer=self.partner.id,
                              hold_timeout_s=self.partner.hold_timeout_seconds,
                              context=ValidationContext(spec="TBS-1.0"))
            ingest.expire_holds(now.astimezone(timezone.utc))
            for m in s.execute(select(FrontdbRow).where(FrontdbRow.partner_id == self.partner.id,
                                                        FrontdbRow.outcome == "HELD")).scalars().all():
                state = json.loads(m.state)
                if self.profile.tables[m.table_name].kind != "evaluation":
                    continue
                key = (state.get("project_no"), state.get("assess_number"))
                if ingest.records.held("evaluation", key) is None and \
                        ingest.records.evaluation(*key) is None:
                    rule = "TBS-EVAL-006" if ingest.records.case(key[0]) is None else "TBS-EVAL-004"
                    loc = "/caseNo" if rule == "TBS-EVAL-006" else "/assessNo"
                    col = "project_no" if rule == "TBS-EVAL-006" else "assess_number"
                    f = _finding("ERROR", rule, "evaluation", jcs({"assessNo": key[1], "caseNo": key[0]}), loc,
                                 (m.table_name, m.row_guid, col))
                    self._stage_receipt(s, m.table_name, m.row_guid, m.cd_time, m.cd_batch, "REJECTED", [f], now)
                    m.outcome = "REJECTED"
                    n += 1
        return n

    def _stage_receipt(self, s: Session, table: str, guid: str, cd_time: str, cd_batch: str, outcome: str,
                       findings: list[dict[str, Any]], now: datetime) -> None:
        findings = _sort_findings(findings)
        row = s.get(FrontdbReceipt, (self.partner.id, table, guid, cd_time, cd_batch))
        if row is None:
            row = FrontdbReceipt(partner_id=self.partner.id, table_name=table, row_guid=guid, row_cd_time=cd_time,
                                 cd_batch=cd_batch)
            s.add(row)
        row.outcome = outcome
        row.rule_ids = ",".join(sorted({f["ruleId"] for f in findings}))
        row.message = "; ".join(f"{f['ruleId']} {f['location'] or f['source']['column']}" for f in findings)[:2000]
        row.findings = jcs(findings)
        row.processed_at = sql_datetime(now.astimezone(CST).replace(tzinfo=None))
        row.written = False

    # --- one batch --------------------------------------------------------------------
    def process_batch(self, marker: Marker, marker_at: datetime, t_read: datetime) -> list[dict[str, Any]]:
        read = self.front.read_batch(marker)
        with self.store.transaction() as s:
            batch = _Batch(self, s, read, marker_at, t_read)
            batch.run()
            # ledgered like an envelope or a page of any other binding: one entry per dataset the
            # batch carried, each listing the records it stored (``tongban ledger verify``)
            unit = OutcomeCounts()
            for r in batch.rows:
                unit.add(Outcome(r.outcome()))
            ledger.append_per_dataset(s, direction="IN", sender=self.partner.id, receiver=self.bus_id or "?",
                                      binding="FRONTDB", envelope_sha256=batch_sha256(read),
                                      counts=batch.counts, message_id=marker.cd_batch, unit_counts=unit)
            s.add(FrontdbBatch(partner_id=self.partner.id, cd_batch=marker.cd_batch, processed_at=utcnow()))
            cur = s.get(SyncCursor, (self.partner.id, CURSOR_DATASET))
            pos = f"{sql_datetime(marker_at)}|{marker.row_guid}"
            if cur is None:
                s.add(SyncCursor(partner_id=self.partner.id, dataset=CURSOR_DATASET, cursor=pos,
                                 records_seen=len(batch.rows), updated_at=utcnow()))
            elif cur.cursor is None or tuple(cur.cursor.split("|", 1)) < tuple(pos.split("|", 1)):
                cur.cursor, cur.updated_at = pos, utcnow()
                cur.records_seen = (cur.records_seen or 0) + len(batch.rows)
            receipts = [receipt_of(r, sql_datetime(t_read.astimezone(CST).replace(tzinfo=None)))
                        for r in batch.rows]
            for rec in receipts:
                s.merge(FrontdbReceipt(partner_id=self.partner.id, written=False, **rec))
            for extra in batch.extra_receipts:
                s.merge(FrontdbReceipt(partner_id=self.partner.id, written=False, **extra))
        return receipts


class _Batch:
    """The stages of TBS-LP-030 for one batch, inside the store transaction ``s``."""

    def __init__(self, sync: FrontdbSync, s: Session, read: BatchRead, marker_at: datetime, t_read: datetime):
        self.sync = sync
        self.s = s
        self.read = read
        self.marker_at = marker_at
        self.t_read = t_read
        self.p = sync.profile
        self.pid = sync.partner.id
        self.rows: list[RowState] = []
        self.extra_receipts: list[dict[str, Any]] = []  # receipts of earlier row states (released holds)
        self.ingest = Ingestor(s, partner_id=self.pid, writer=self.pid,
                               hold_timeout_s=sync.partner.hold_timeout_seconds,
                               context=ValidationContext(spec="TBS-1.0", received_at=t_read.astimezone(CST),
                                                         allowlist=sync.allowlist),
                               announce_as=sync.bus_id)
        self.processed_at = sql_datetime(t_read.astimezone(CST).replace(tzinfo=None))
        self.started = utcnow()
        self.counts: dict[str, OutcomeCounts] = {}  # record outcomes per dataset, for the ledger

    # L0 -------------------------------------------------------------------------------
    def run(self) -> None:
        b = self.read.marker.cd_batch
        for spec in self.sync.tables:
            for raw in self.read.rows.get(spec.name, []):
                row = RowState(spec, str(raw[spec.col("row_guid")]), raw, cd_batch=b)
                at, _err = read_datetime(raw[spec.col("cd_time")]) if raw[spec.col("cd_time")] not in (None, "") \
                    else (None, "x")
                row.cd_time = at
                row.cd_time_text = sql_datetime(at) if at else str(raw[spec.col("cd_time")] or "")[:32]
                self.rows.append(row)
        if self._torn():
            for row in self.rows:
                row.reject("TBS-LP-022", "")
            return
        self.rows.sort(key=lambda r: (r.spec.rank, r.cd_time is None, r.cd_time or datetime.min, r.guid))
        for row in self.rows:
            self._l1(row) or self._l2(row) or self._l3(row)
        for row in self.rows:
            if not row.rejected and not row.duplicate:
                self._mirror(row)
        self._records()
        for row in self.rows:  # the mirror keeps the row outcome TBS-LP-035 (b) consults
            m = self.s.get(FrontdbRow, (self.pid, row.table, row.guid))
            if m is not None and m.cd_batch == row.cd_batch and m.cd_time == row.cd_time_text:
                m.outcome = row.outcome()

    def _torn(self) -> bool:
        read = self.read
        names = {t.name for t in self.sync.tables}
        count, _ = read_value(read.marker.row_count, "INT")
        if count != len(read.manifest):
            return True
        listed = {(t, g) for t, g in read.manifest if t in names}
        carried = {(r.table, r.guid) for r in self.rows}
        if carried - listed:
            return True
        mine = (self.marker_at, str(read.marker.row_guid))
        for key in listed - carried:
            other = read.listed_elsewhere.get(key)
            if other is None:
                return True  # no such row
            if other in read.markers_of:
                at, _ = read_datetime(read.markers_of[other][0])
                if at is None or (at, str(read.markers_of[other][1])) < mine:
                    return True  # carries a batch committed before B
        return False

    # L1 -------------------------------------------------------------------------------
    def _l1(self, row: RowState) -> bool:
        row.values, errors = read_row(self.p, row.spec, row.raw)
        for rule, column in errors:
            row.reject(rule, column)
        return bool(errors)

    # L2 -------------------------------------------------------------------------------
    def _digest(self, row: RowState) -> str:
        spec = row.spec
        skip = {spec.col("cd_operation"), spec.col("cd_time"), spec.col("cd_batch")}
        body = {c: digest_value(v) for c, v in row.values.items() if c not in skip}
        body["deleted"] = row.op == "D"
        return hashlib.sha256(canonical_bytes(body)).hexdigest()

    def _l2(self, row: RowState) -> bool:
        m = self.s.get(FrontdbRow, (self.pid, row.table, row.guid))
        if m is None:
            return False
        entity = row.entity
        if (m.entity or None) != (None if entity is None else str(entity)):
            row.reject("TBS-LP-035", row.spec.entity_key)
            return True
        digest = self._digest(row)
        if digest == m.digest and m.outcome != "REJECTED":
            row.duplicate = True
            row.outcomes.append("DUPLICATE")
            return True
        if row.op == "I" and digest != m.digest:
            row.reject("TBS-LP-035", row.spec.col("cd_operation"))
            return True
        return False

    # L3 -------------------------------------------------------------------------------
    def _l3(self, row: RowState) -> bool:
        if row.op != "D":
            return False
        kind = row.spec.kind
        if kind == "item_basic":
            known = self.ingest.records.catalog_current(row.values["task_code"] or "") is not None
        elif kind == "case":
            known = self.ingest.records.case(row.entity or "") is not None
        else:
            known = self.s.get(FrontdbRow, (self.pid, row.table, row.guid)) is not None
        if not known:
            row.reject("TBS-LP-036", row.spec.col("cd_operation"))
            return True
        if kind in IMMUTABLE_KINDS:
            row.reject("TBS-LP-037", row.spec.col("cd_operation"))
            return True
        return False

    def _mirror(self, row: RowState) -> None:
        state = {c: digest_value(v) for c, v in row.values.items()}
        m = self.s.get(FrontdbRow, (self.pid, row.table, row.guid))
        if m is None:
            m = FrontdbRow(partner_id=self.pid, table_name=row.table, row_guid=row.guid)
            self.s.add(m)
        elif m.held_since is not None:  # TBS-LP-047: a held state superseded by a newer one is STALE
            self.extra_receipts.append(receipt_of(RowState(row.spec, row.guid, {}, cd_time_text=m.cd_time,
                                                           cd_batch=m.cd_batch, outcomes=["STALE"]),
                                                  self.processed_at))
        m.entity = None if row.entity is None else str(row.entity)
        m.cd_time, m.cd_batch = row.cd_time_text, row.cd_batch
        m.state, m.digest, m.outcome, m.held_since = jcs(state), self._digest(row), "STORED", None
        self.s.flush()

    # records ---------------------------------------------------------------------------
    def _records(self) -> None:
        live = [r for r in self.rows if not r.rejected]
        if self.p.name == "NATIONAL-EXCHANGE":
            self._items([r for r in self.rows if r.spec.kind in ("item_basic", "item_child")])
        self._cases([r for r in live if r.spec.kind == "case"],
                    [r for r in live if r.spec.kind == "case_linked" and not r.duplicate])
        self._evaluations([r for r in live if r.spec.kind == "evaluation" and not r.duplicate])

    def _validate(self, mapped: Mapped, rows: list[RowState]) -> str:
        """TBS-1.0 S1–S5 through the Ingestor; the findings go to ``rows`` with their sources."""
        result = self.ingest.ingest(mapped.dataset, [mapped.record])
        self.counts.setdefault(mapped.dataset, OutcomeCounts()).merge(result.counts)
        rr = result.results[0]
        outcome = rr.outcome.value
        key = jcs({m: mapped.record[m] for m in SPECS[mapped.dataset].identity if m in mapped.record})
        self._attach(mapped, rr.report, outcome, key, rows)
        return outcome

    def _attach(self, mapped: Mapped, report: Report, outcome: str, key: str, rows: list[RowState]) -> None:
        findings = []
        for f in report.items:
            loc = f.location
            if loc.startswith("/records/"):
                loc = "/" + "/".join(loc.split("/")[3:]) if loc.count("/") > 2 else ""
            if f.rule_id == "TBS-SYNC-007":
                depends = "TBS-EVAL-006" if self.ingest.records.case(mapped.record.get("caseNo", "")) is None \
                    else "TBS-EVAL-004"
            else:
                depends = None
            findings.append(_finding(f.severity.value, f.rule_id, mapped.dataset, key, loc,
                                     source_for(loc, mapped.sources, mapped.anchor), depends))
        for row in rows:
            row.findings += findings
            row.outcomes.append(outcome)

    def _region(self, uscc: str | None, table: str, guid: str, column: str) -> tuple[str | None, Source]:
        """TBS-LP-102."""
        if uscc is not None and "up_uc_gov_org" in self.p.tables:
            best = None
            for m in self.s.execute(select(FrontdbRow).where(
                    FrontdbRow.partner_id == self.pid, FrontdbRow.table_name == "up_uc_gov_org",
                    FrontdbRow.entity == uscc)).scalars():
                st = json.loads(m.state)
                if st.get("cd_operation") == "D" or m.held_since is not None:
                    continue
                if best is None or (m.cd_time, m.row_guid) > (best[0].cd_time, best[0].row_guid):
                    best = (m, st)
            if best is not None:
                return region_of_code(best[1].get("region_code")), ("up_uc_gov_org", best[0].row_guid, "region_code")
        return self.sync.partner.system_region, (table, guid, column)

    # ServiceItems (TBS-LP-040, -041) ---------------------------------------------------
    def _items(self, rows: list[RowState]) -> None:
        by_code: dict[str, list[RowState]] = {}
        rejected_codes = set()
        for r in rows:
            tc = r.values.get("task_code")
            if tc is None:
                continue
            if r.rejected:
                rejected_codes.add(tc)
            by_code.setdefault(tc, []).append(r)
        touched = sorted({tc for tc, rs in by_code.items() if any(not r.rejected and not r.duplicate for r in rs)})
        for tc in touched:
            rs = [r for r in by_code[tc] if not r.rejected and not r.duplicate]
            if tc in rejected_codes:
                for r in rs:
                    r.reject("TBS-LP-041", "")
                continue
            mirror = list(self.s.execute(select(FrontdbRow).where(
                FrontdbRow.partner_id == self.pid, FrontdbRow.entity == tc,
                FrontdbRow.table_name.in_(("up_task_general_basic", "up_task_general_extend",
                                           "up_task_general_material")))).scalars())
            held = [m for m in mirror if m.held_since is not None and (m.table_name, m.row_guid)
                    not in {(r.table, r.guid) for r in rs}]
            basics = [m for m in mirror if m.table_name == "up_task_general_basic"]
            if not basics:
                for r in rs:
                    r.findings.append(_finding("INFO", "TBS-SYNC-007", "catalog", "", "",
                                               (r.table, r.guid, "task_code"), "TBS-LP-046"))
                    r.outcomes.append("HELD")
                    m = self.s.get(FrontdbRow, (self.pid, r.table, r.guid))
                    m.held_since = self.t_read
                continue
            pick = lambda ms: max(ms, key=lambda m: (m.cd_time, m.row_guid))  # noqa: E731
            basic = json.loads(pick(basics).state)
            extends = [m for m in mirror if m.table_name == "up_task_general_extend"
                       and json.loads(m.state).get("cd_operation") != "D"]
            extend = json.loads(pick(extends).state) if extends else None
            materials = [json.loads(m.state) for m in mirror if m.table_name == "up_task_general_material"
                         and json.loads(m.state).get("cd_operation") != "D"]
            basic["cd_time"] = datetime.strptime(basic["cd_time"], "%Y-%m-%d %H:%M:%S")
            mapped = self.sync.mapper.service_item(basic, extend, materials, self._region)
            held_rows = []
            for m in held:
                hr = RowState(self.p.tables[m.table_name], m.row_guid, {}, cd_time_text=m.cd_time, cd_batch=m.cd_batch)
                held_rows.append(hr)
                m.held_since = None
            self._validate(mapped, rs + held_rows)
            for hr in held_rows:
                self.extra_receipts.append(receipt_of(hr, self.processed_at))

    # Cases and their events (§3.5, §3.6, §4.2, §4.3) -------------------------------------
    def _source_row(self, case_no: str) -> dict[str, Any] | None:
        o = self.s.get(FrontdbOrigin, (self.pid, "#case", case_no, "SOURCE"))
        return None if o is None else json.loads(o.source_row)

    def _set_source_row(self, case_no: str, state: dict[str, Any]) -> None:
        o = self.s.get(FrontdbOrigin, (self.pid, "#case", case_no, "SOURCE"))
        if o is None:
            o = FrontdbOrigin(partner_id=self.pid, table_name="#case", row_guid=case_no, part="SOURCE",
                              case_no=case_no)
            self.s.add(o)
        o.source_row = jcs(state)
        self.s.flush()

    def _cases(self, accepts: list[RowState], linked: list[RowState]) -> None:
        mapper = self.sync.mapper
        ver = "version" if self.p.name == "NATIONAL-EXCHANGE" else "DATAVER"
        key_col = mapper.key
        candidates: dict[str, list[tuple[Candidate, RowState]]] = {}
        first_stored: set[str] = set()
        accepts.sort(key=lambda r: (r.entity or "", r.values.get(ver) is not None, r.values.get(ver) or 0,
                                    r.cd_time or datetime.min, r.guid))
        for r in accepts:
            case_no = r.entity
            state = {c: digest_value(v) for c, v in r.values.items()}
            if r.duplicate:
                m = self.s.get(FrontdbRow, (self.pid, r.table, r.guid))
                if m is not None and m.outcome in ("STORED", "DUPLICATE"):
                    self._maybe_accept(r, case_no, candidates)
                continue
            if r.op == "D":
                src = self._source_row(case_no) or r.values
                candidates.setdefault(case_no, []).append((mapper.voided(r.values, _typed(src, r.values)), r))
                continue
            existed = self.ingest.records.case(case_no) is not None if case_no else False
            mapped = mapper.case(r.values, self._region)
            outcome = self._validate(mapped, [r])
            if outcome in ("STORED", "DUPLICATE") and case_no:
                self._set_source_row(case_no, state)
                if outcome == "STORED" and not existed:
                    first_stored.add(case_no)
                    candidates.setdefault(case_no, []).insert(0, (mapper.submit(r.values), r))
                self._maybe_accept(r, case_no, candidates)
        # case-linked rows of this batch and released holds
        for r in linked:
            case_no = r.values.get(key_col)
            if case_no is None or self.ingest.records.case(case_no) is None:
                self._hold_linked(r)
                continue
            self._linked_candidates(r, case_no, candidates)
        for case_no in sorted(first_stored):
            for m in list(self.s.execute(select(FrontdbRow).where(
                    FrontdbRow.partner_id == self.pid, FrontdbRow.entity == case_no,
                    FrontdbRow.held_since.is_not(None))).scalars()):
                if any(r.table == m.table_name and r.guid == m.row_guid for r in self.rows):
                    continue
                spec = self.p.tables[m.table_name]
                hr = RowState(spec, m.row_guid, {}, cd_time_text=m.cd_time, cd_batch=m.cd_batch)
                hr.values = _typed(json.loads(m.state), None, spec)
                m.held_since = None
                self.extra_receipts.append({"__row": hr})  # filled after numbering
                self._linked_candidates(hr, case_no, candidates)
        for case_no in sorted(candidates):
            self._number(case_no, candidates[case_no])
        self.extra_receipts = [receipt_of(e["__row"], self.processed_at) if "__row" in e else e
                               for e in self.extra_receipts]

    def _maybe_accept(self, r: RowState, case_no: str, candidates: dict[str, list]) -> None:
        src = self._source_row(case_no)
        if src is None:
            return
        cand = self.sync.mapper.accept(r.values, _typed(src, r.values))
        if cand is None or r.values.get("accept_date") is None:
            return
        if any(e.get("type") == "ACCEPT" for e in self.ingest.records.case_events(case_no)):
            return
        if any(c.record.get("type") == "ACCEPT" for c, _ in candidates.get(case_no, [])):
            return
        candidates.setdefault(case_no, []).append((cand, r))

    def _hold_linked(self, r: RowState) -> None:
        col = self.sync.mapper.key
        r.findings.append(_finding("INFO", "TBS-SYNC-007", "case-event", "", "/caseNo", (r.table, r.guid, col),
                                   "TBS-EVT-009"))
        r.outcomes.append("HELD")
        m = self.s.get(FrontdbRow, (self.pid, r.table, r.guid))
        if m is not None and m.held_since is None:
            m.held_since = self.t_read

    def _linked_candidates(self, r: RowState, case_no: str, candidates: dict[str, list]) -> None:
        src = _typed(self._source_row(case_no) or {}, None, self.p.tables[self.sync.mapper.case_table])
        cands = self.sync.mapper.linked_events(r.table, r.values, src)
        if not cands:
            r.outcomes.append("STORED")  # a row that yields no record (e.g. NODESTATE 01)
        for c in cands:
            origin = self.s.get(FrontdbOrigin, (self.pid, r.table, r.guid, c.part))
            if origin is None:
                candidates.setdefault(case_no, []).append((c, r))
                continue
            # a stored part derived again, with its stored seq and recorded case source row (TBS-LP-109)
            recorded = _typed(json.loads(origin.source_row), None, self.p.tables[self.sync.mapper.case_table])
            again = next(x for x in self.sync.mapper.linked_events(r.table, r.values, recorded) if x.part == c.part)
            again.record["seq"] = origin.seq
            stored = self.ingest.records.case_event(case_no, origin.seq)
            key = jcs({"caseNo": case_no, "seq": origin.seq})
            if stored is not None and jcs(stored) == jcs(again.record):
                r.findings.append(_finding("INFO", "TBS-SYNC-006", "case-event", key, "", (r.table, r.guid, "")))
                r.outcomes.append("DUPLICATE")
                self._result_after(again, r, recorded)
            else:
                r.reject("TBS-EVT-008", "", location="/seq", dataset="case-event", key=key)

    def _number(self, case_no: str, cands: list[tuple[Candidate, RowState]]) -> None:
        """TBS-LP-108: one at a time, each with seq = stored events + 1 at its turn."""
        rows_of = {id(c): r for c, r in cands}
        for c in order_candidates([c for c, _ in cands]):
            r = rows_of[id(c)]
            c.record["seq"] = len(self.ingest.records.case_events(case_no)) + 1
            c.sources["/seq"] = (c.table, c.row_guid, "")
            mapped = Mapped("case-event", c.record, c.sources, (c.table, c.row_guid))
            outcome = self._validate(mapped, [r])
            if outcome == "STORED" and c.origin:
                src = self._source_row(case_no) or {}
                self.s.merge(FrontdbOrigin(partner_id=self.pid, table_name=c.table, row_guid=c.row_guid, part=c.part,
                                           case_no=case_no, seq=c.record["seq"], source_row=jcs(src)))
                self.s.flush()
            if outcome == "STORED" and c.record.get("type") == "CONCLUDE":
                self._result_after(c, r, _typed(self._source_row(case_no) or {}, None,
                                                self.p.tables[self.sync.mapper.case_table]))

    def _result_after(self, c: Candidate, r: RowState, source_row: dict[str, Any]) -> None:
        if "RESULT_PUBLISHER" not in self.sync.roles or r.spec.kind != "case_linked" or c.part != "CONCLUDE":
            return
        mapped = self.sync.mapper.result(r.values, c.record.get("conclusionCode"), source_row)
        if mapped is not None:
            self._validate(mapped, [r])

    # Evaluations (§3.8, §5) ----------------------------------------------------------
    def _evaluations(self, rows: list[RowState]) -> None:
        rows.sort(key=lambda r: (r.values.get("project_no") or "", r.values.get("assess_number") is not None,
                                 r.values.get("assess_number") or 0, r.cd_time or datetime.min, r.guid))
        for r in rows:
            mapped = self.sync.mapper.evaluation(r.values)
            if isinstance(mapped, str):
                r.reject(mapped, "pf")
                continue
            if self._validate(mapped, [r]) == "HELD":  # the hold runs from the first T_read (TBS-LP-045)
                self.s.flush()
                for h in self.s.execute(select(HeldRecord).where(
                        HeldRecord.partner_id == self.pid, HeldRecord.dataset == "evaluation",
                        HeldRecord.held_at >= self.started)).scalars():
                    h.expires_at = (self.t_read + self.sync.hold_timeout).astimezone(timezone.utc)
        # held evaluations stored by a release in this batch get their receipts rewritten
        for m in self.s.execute(select(FrontdbRow).where(FrontdbRow.partner_id == self.pid,
                                                         FrontdbRow.table_name == "up_pro_evaluate",
                                                         FrontdbRow.outcome == "HELD")).scalars().all():
            if any(r.table == m.table_name and r.guid == m.row_guid for r in self.rows):
                continue
            st = json.loads(m.state)
            if self.ingest.records.evaluation(st.get("project_no"), st.get("assess_number")) is not None:
                m.outcome = "STORED"
                hr = RowState(self.p.tables[m.table_name], m.row_guid, {}, cd_time_text=m.cd_time,
                              cd_batch=m.cd_batch)
                hr.outcomes.append("STORED")
                self.extra_receipts.append(receipt_of(hr, self.processed_at))


def _typed(state: dict[str, Any], like: dict[str, Any] | None, spec: TableSpec | None = None) -> dict[str, Any]:
    """A mirror state (digest form) back to read values: date-times as datetime objects."""
    from datetime import date

    out = dict(state)
    types = spec.columns if spec is not None else {}
    for k, v in state.items():
        t = types.get(k)
        if like is not None and isinstance(like.get(k), datetime) and isinstance(v, str):
            out[k] = datetime.strptime(v, "%Y-%m-%d %H:%M:%S")
        elif t == "DATETIME" and isinstance(v, str):
            out[k] = datetime.strptime(v, "%Y-%m-%d %H:%M:%S")
        elif t == "DATE" and isinstance(v, str):
            out[k] = date.fromisoformat(v)
    return out
