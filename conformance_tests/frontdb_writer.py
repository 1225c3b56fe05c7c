"""FRONTDB writer tests of TBS-LP-1.0 §7.2 that the kit checks on the writer's own front
database with a reference reader (LP-22), and the certificate that admits a FRONTDB partner
(TBS-CONF-006, -008: binding ``FRONTDB``) when every SHALL test passed.
"""
from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from tongban.connectors.frontdb.database import FrontDatabase
from tongban.connectors.frontdb.values import read_datetime, read_value
from tongban.model.clock import CST
from tongban.model.datasets import SPECS

from .results import KitFinding, Level, Result, TestResult, role_verdict

SUITE_VERSION = "TBS-LP-1.0-kit-1"


def lp22_batches(db: FrontDatabase) -> TestResult:
    """LP-22: every batch has one marker and a manifest listing exactly its rows, the right
    ``row_count`` and a ``cd_time`` not earlier than its rows' (TBS-LP-015, -020)."""
    findings: list[KitFinding] = []
    with db.engine.connect() as conn:
        markers = {b: (t, n) for b, t, n in conn.execute(sa.text("SELECT cd_batch, cd_time, row_count FROM tb_batch"))}
        manifest = Counter(b for (b,) in conn.execute(sa.text("SELECT cd_batch FROM tb_batch_row")))
        listed = {(b, t, g) for b, t, g in conn.execute(sa.text("SELECT cd_batch, table_name, row_guid FROM tb_batch_row"))}
        for spec in db.tables:
            guid, batch, at = spec.col("row_guid"), spec.col("cd_batch"), spec.col("cd_time")
            for g, b, t in conn.execute(sa.text(f"SELECT {guid}, {batch}, {at} FROM {spec.name}")):
                if b not in markers:
                    continue  # a batch still being written
                if (b, spec.name, g) not in listed:
                    findings.append(KitFinding("TBS-LP-020", f"{spec.name} {g} carries {b} but is not in its manifest",
                                               f"{spec.name} {g} 不在批次清单中"))
                row_at, _ = read_datetime(t)
                marker_at, _ = read_datetime(markers[b][0])
                if row_at and marker_at and row_at > marker_at:
                    findings.append(KitFinding("TBS-LP-020", f"marker of {b} is earlier than its row {g}",
                                               f"批次{b}标记早于其行"))
    for b, (_, n) in markers.items():
        count, _ = read_value(n, "INT")
        if count != manifest.get(b, 0):
            findings.append(KitFinding("TBS-LP-020", f"{b}: row_count {n} but {manifest.get(b, 0)} manifest rows",
                                       f"{b}：row_count与清单不符"))
    return TestResult(Result.FAIL if findings else Result.PASS, [{"note": f"{len(markers)} batches read"}],
                      findings[:50], "; ".join(f.message_en for f in findings[:3]))


# --- LP-21, LP-23, LP-26: the writer observed over time ---------------------------------------
META = ("row_guid", "cd_operation", "cd_time", "cd_batch", "data_source")
VERSION_COLUMN = {"item_basic": "version", "case": "version"}


@dataclass(frozen=True)
class RowSeen:
    op: Any
    cd_time: Any
    cd_batch: Any
    entity: Any
    kind: str
    values: tuple[tuple[str, str], ...]  # the listed columns other than the sync metadata, as text

    def value(self, column: str) -> str | None:
        return dict(self.values).get(column)


Snapshot = dict[tuple[str, str], RowSeen]


def snapshot(db: FrontDatabase) -> Snapshot:
    """Every row of the up tables the reader reads, as the kit's reference reader sees it now."""
    out: Snapshot = {}
    with db.engine.connect() as conn:
        for spec in db.tables:
            cols = list(spec.columns)
            meta = {spec.col(m) for m in META}
            for row in conn.execute(sa.text(f"SELECT {', '.join(cols)} FROM {spec.name}")).mappings():
                values = tuple(sorted((c, None if row[c] is None else str(row[c])) for c in cols if c not in meta))
                out[(spec.name, str(row[spec.col("row_guid")]))] = RowSeen(
                    row[spec.col("cd_operation")], row[spec.col("cd_time")], row[spec.col("cd_batch")],
                    row[spec.entity_key], spec.kind, values)
    return out


def _result(findings: list[KitFinding], note: str) -> TestResult:
    return TestResult(Result.FAIL if findings else Result.PASS, [{"note": note}], findings[:50],
                      "; ".join(f.message_en for f in findings[:3]))


def lp21_rows(snapshots: list[Snapshot]) -> TestResult:
    """LP-21 (TBS-LP-013, -014): row_guids are stable, a changed row is written in place as U,
    deletions are D states, nothing is deleted physically — between consecutive observations."""
    findings: list[KitFinding] = []
    for before, after in zip(snapshots, snapshots[1:]):
        for key, old in before.items():
            new = after.get(key)
            if new is None:
                findings.append(KitFinding("TBS-LP-014", f"{key[0]} {key[1]} was deleted physically (write a D state)",
                                           f"{key[0]} {key[1]} 被物理删除"))
            elif str(new.entity) != str(old.entity):
                findings.append(KitFinding("TBS-LP-013", f"{key[0]} {key[1]}: its entity key changed",
                                           f"{key[0]} {key[1]}：实体键改变"))
            elif (new.values != old.values or new.op != old.op) and new.op == "I":
                findings.append(KitFinding("TBS-LP-014", f"{key[0]} {key[1]} changed but was written as I, not U",
                                           f"{key[0]} {key[1]} 内容改变仍标记为I"))
        one_per_entity = {}  # the item's basic row and the case's row: one logical row per entity
        for (table, g), row in before.items():
            if row.kind in ("item_basic", "case"):
                one_per_entity[(table, str(row.entity))] = g
        for (table, g), row in after.items():
            known = one_per_entity.get((table, str(row.entity)))
            if (table, g) not in before and known is not None and known != g:
                findings.append(KitFinding("TBS-LP-013", f"{table}: {row.entity} got a new row_guid {g} (was {known})",
                                           f"{table}：{row.entity} 换用新的row_guid"))
    return _result(findings, f"{len(snapshots)} observations")


def lp23_versions(snapshots: list[Snapshot]) -> TestResult:
    """LP-23 (TBS-LP-103, -104, -144): every change of an item (its basic, extend and material
    rows) or of a case row raises its version."""
    findings: list[KitFinding] = []

    def groups(snap: Snapshot) -> dict[tuple[str, str], tuple[Any, tuple]]:
        out: dict[tuple[str, str], list] = {}
        versions: dict[tuple[str, str], Any] = {}
        for (table, g), row in sorted(snap.items()):
            if row.kind in ("item_basic", "item_child"):
                key = ("item", str(row.entity))
            elif row.kind == "case":
                key = ("case", str(row.entity))
            else:
                continue
            vcol = "DATAVER" if table.isupper() else VERSION_COLUMN.get(row.kind)
            if vcol is not None:
                versions[key] = row.value(vcol)
            content = tuple((c, v) for c, v in row.values if c != vcol)
            out.setdefault(key, []).append((table, g, row.op == "D", content))
        return {k: (versions.get(k), tuple(v)) for k, v in out.items()}

    for before, after in zip(snapshots, snapshots[1:]):
        old, new = groups(before), groups(after)
        for key, (version, content) in new.items():
            if key not in old or old[key][1] == content:
                continue
            was = old[key][0]
            read_new, _ = read_value(version, "INT")
            read_old, _ = read_value(was, "INT")
            if read_new is None or read_old is None or read_new <= read_old:
                findings.append(KitFinding("TBS-LP-104" if key[0] == "case" else "TBS-LP-103",
                                           f"{key[0]} {key[1]} changed without a higher version ({was} → {version})",
                                           f"{key[1]} 内容改变但版本未提高"))
    return _result(findings, f"{len(snapshots)} observations")


def lp26_times(db: FrontDatabase, now: datetime) -> TestResult:
    """LP-26 (TBS-LP-055, -056): times are Beijing time in whole seconds, and the writer's clock
    is within 60 s: no row or marker is dated later than the kit's clock ``now`` plus 60 s."""
    findings: list[KitFinding] = []
    limit = now.astimezone(CST).replace(tzinfo=None) + timedelta(seconds=60)
    with db.engine.connect() as conn:
        sources = [("tb_batch", "cd_batch", "cd_time")] + [(t.name, t.col("row_guid"), t.col("cd_time"))
                                                           for t in db.tables]
        for table, key, col in sources:
            for k, t in conn.execute(sa.text(f"SELECT {key}, {col} FROM {table}")):
                fraction = (getattr(t, "microsecond", 0) != 0) if not isinstance(t, str) else \
                    ("." in t and not t.endswith(".0"))
                at, _ = read_datetime(t)
                if fraction:
                    findings.append(KitFinding("TBS-LP-055", f"{table} {k}: {t} is not whole seconds",
                                               f"{table} {k}：时间非整秒"))
                if at is not None and at > limit:
                    findings.append(KitFinding("TBS-LP-056", f"{table} {k}: {t} is later than the kit's clock + 60 s",
                                               f"{table} {k}：时间晚于检测时钟60秒以上"))
    return _result(findings, f"observed at {now.isoformat(timespec='seconds')}")


# --- LP-24, LP-25, LP-27: what the tester entered at the writer, read by the reference reader ----
CASE_PATHS = {  # TBS-1.0 CR-01 to CR-03: the event types each scripted case must show
    "approval": {"ACCEPT", "CONCLUDE"},
    "non-acceptance": {"REJECT_ACCEPTANCE"},
    "supplement": {"REQUEST_SUPPLEMENT", "SUPPLEMENT"},
    "suspension": {"SUSPEND", "RESUME"},
}


def _reference_read(db: FrontDatabase, system_id: str, profile: str, roles: list[str],
                    dialect: str | None) -> tuple[list[dict[str, Any]], dict[str, list[str]]]:
    """The kit's reference reader: the bus's FRONTDB pipeline against a throw-away store, in a
    dry run that writes nothing into the writer's front database."""
    from tongban.registry import PartnerConfig
    from tongban.sync.validate_frontdb import dry_run

    partner = PartnerConfig(id=system_id, transport="frontdb", database_url_env="UNUSED", profile=f"{profile} 1.0",
                            roles=roles, evaluation_dialect=dialect)
    return dry_run(db, partner)


def lp24_cases(db: FrontDatabase, *, system_id: str, profile: str, roles: list[str], dialect: str | None,
               cases: dict[str, str]) -> TestResult:
    """LP-24 (TBS-LP-002; CR-01 to CR-03): the tester entered an approval, a non-acceptance, a
    supplement and a suspension case at the writer (``cases``: kind -> caseNo); read through the
    reference reader, every receipt is STORED and each case shows its path."""
    import json as _json

    findings: list[KitFinding] = []
    missing = sorted(set(CASE_PATHS) - set(cases))
    if missing:
        findings.append(KitFinding("TBS-LP-002", f"no {', '.join(missing)} case was entered", "缺少脚本案件"))
    receipts, records = _reference_read(db, system_id, profile, roles, dialect)
    for r in receipts:
        if r["outcome"] != "STORED":
            findings.append(KitFinding("TBS-LP-002", f"{r['table_name']} {r['row_guid']}: {r['outcome']} "
                                       f"{r['rule_ids']}".rstrip(), f"{r['table_name']} {r['row_guid']}：{r['outcome']}"))
    events = [_json.loads(x) for x in records["case-event"]]
    for kind, case_no in sorted(cases.items()):
        types = {e["type"] for e in events if e["caseNo"] == case_no}
        if not CASE_PATHS.get(kind, set()) <= types:
            findings.append(KitFinding("TBS-LP-002", f"the {kind} case {case_no} shows {sorted(types)}",
                                       f"{kind}案件{case_no}事件不全"))
    return _result(findings, f"{len(receipts)} receipts of the reference reader")


def lp25_dialect(db: FrontDatabase, *, system_id: str, profile: str, roles: list[str], dialect: str | None,
                 very_satisfied: list[tuple[str, int]]) -> TestResult:
    """LP-25 (TBS-LP-160): the writer's dialect is declared, and the evaluations the tester
    entered as 非常满意 (``very_satisfied``: their business keys, caseNo and assessNo) are stored as 5."""
    import json as _json

    if not dialect:
        return _result([KitFinding("TBS-LP-160", "the writer declares no evaluation dialect", "写方未声明评价方言")],
                       "no dialect")
    if not very_satisfied:
        return TestResult(Result.SKIP, [{"note": "no evaluation entered as 非常满意"}], [], "nothing entered")
    _, records = _reference_read(db, system_id, profile, roles, dialect)
    stored = {SPECS["evaluation"].key_of(e): e.get("satisfaction") for e in map(_json.loads, records["evaluation"])}
    findings = [KitFinding("TBS-LP-160", f"{c} #{n} entered as 非常满意 is stored as {stored.get((c, n))} under "
                           f"{dialect}", f"{c} 第{n}次评价“非常满意”未存为5")
                for c, n in very_satisfied if stored.get((c, n)) != 5]
    return _result(findings, f"dialect {dialect}, {len(very_satisfied)} evaluations")


def lp27_receipts_shown(attestations: dict[str, dict[str, Any]]) -> TestResult:
    """LP-27 (TBS-LP-050, SHOULD): the writer shows the receipts' rejections to its operators;
    only an attestation of the testing authority can say so (TBS-CONF-009)."""
    from .results import attestation

    attested = attestation(attestations, "LP-27")
    if attested is not None:
        return attested
    return TestResult(Result.SKIP, [{"note": "no attestation of LP-27"}], [],
                      "the writer's user interface cannot be observed: an attestation is required")


def writer_certificate(system_id: str, roles: list[str], results: dict[str, TestResult], *, issuer: str,
                       valid_days: int = 365, issued_on: str | None = None) -> dict[str, Any]:
    """A TBS-CONF-006 certificate for a FRONTDB writer; ``tongban.conformance.admission``
    records it and then admits the partner over ``frontdb`` (TBS-CONF-008)."""
    from tongban.model.canonical import canonical_sha256

    issued = date.fromisoformat(issued_on) if issued_on else datetime.now(CST).date()
    verdict = role_verdict([r.result for r in results.values()])
    tests = [{"testId": t, "role": role, "level": Level.SHALL.value, "requirementIds": ["TBS-LP-020"],
              "result": r.result.value} for t, r in results.items() for role in roles]
    return {"certificateId": str(uuid.uuid4()), "systemId": system_id, "systemName": system_id, "endpoint": "",
            "roles": [{"role": role, "verdict": verdict.value} for role in roles], "bindings": ["FRONTDB"],
            "specVersion": "TBS-1.0", "suiteVersion": SUITE_VERSION, "issuedOn": issued.isoformat(),
            "validFrom": issued.isoformat(), "validUntil": (issued + timedelta(days=valid_days)).isoformat(),
            "issuer": issuer, "tests": tests,
            "reportSha256": canonical_sha256({t: r.result.value for t, r in results.items()})}
