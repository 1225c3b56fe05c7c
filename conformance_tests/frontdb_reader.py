"""The FRONTDB reader tests of TBS-LP-1.0 §7.2 (LP-01 … LP-16): the kit creates a front
database from the normative DDL, writes rows and markers as a writer would, lets the system
under test sync, and compares what it stored (its export, RFC 8785 lines) and the receipts it
wrote. A FRONTDB reader is certified like any other system: SHALL tests decide the verdict
(TBS-CONF-002, -003).

The SUT is reached through :class:`FrontdbReaderSut`, the small interface an operator (or the
project's own tests) implements for the reader being certified.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import sqlalchemy as sa

from tongban.connectors.frontdb.database import FrontDatabase
from tongban.connectors.frontdb.profile import load_profile, split_sql

from .results import KitFinding, Level, Result, TestResult, Verdict, role_verdict

VECTORS = Path(__file__).resolve().parent / "frontdb_vectors"
ROLE = "FRONTDB_READER"
NE_ROLES = ("CATALOG_PROVIDER", "CASE_REPORTER", "RESULT_PUBLISHER", "EVALUATION_REPORTER")
LW = "TB:county:440103:LWZWFW"
JN = "TB:county:370102:LXZWFW"


class FrontdbReaderSut(Protocol):
    """What the kit needs of a FRONTDB reader under test."""

    def front_database(self, *, system_id: str, profile: str, roles: tuple[str, ...], dialect: str | None,
                       t_read: str) -> str:
        """Configure a fresh partner with an empty store and return its front database URL."""
        ...

    def sync(self) -> None:
        """Let the reader poll the front database once (raise on a configuration error)."""
        ...

    def export(self, dataset: str) -> list[str]:
        """The stored current records of ``dataset``, RFC 8785 text, one per line."""
        ...


@dataclass
class LpContext:
    sut: FrontdbReaderSut
    evidence: list[dict[str, Any]] = field(default_factory=list)

    def open(self, system_id: str, profile: str, roles: tuple[str, ...], dialect: str | None = "HCP-NATIONAL",
             t_read: str = "2026-11-28T10:00:00+08:00") -> FrontDatabase:
        url = self.sut.front_database(system_id=system_id, profile=profile, roles=roles, dialect=dialect,
                                      t_read=t_read)
        prof = load_profile(profile)
        db = FrontDatabase(url, prof, prof.tables_for(set(roles)))
        db.create_schema()
        return db

    @staticmethod
    def load(db: FrontDatabase, name: str) -> None:
        with db.engine.begin() as conn:
            for stmt in split_sql((VECTORS / name).read_text(encoding="utf-8")):
                conn.exec_driver_sql(stmt.replace("%", "%%") if db.dialect == "mysql" else stmt)

    def records(self, dataset: str) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.sut.export(dataset)]


def expected(example: str) -> dict[str, list[dict[str, Any]]]:
    return json.loads((VECTORS / "expected_records.json").read_text(encoding="utf-8"))[example]


def _receipts(db: FrontDatabase) -> dict[tuple[str, str, str], dict[str, Any]]:
    return {(r["table_name"], r["row_guid"], r["cd_batch"]): r for r in db.receipts()}


class LpTest:
    test_id: str
    requirement_ids: tuple[str, ...]
    level: Level = Level.SHALL
    description: str = ""

    def run(self, ctx: LpContext) -> TestResult:  # pragma: no cover - abstract
        raise NotImplementedError

    def result(self, findings: list[KitFinding], evidence: list[dict[str, Any]]) -> TestResult:
        return TestResult(Result.FAIL if findings else Result.PASS, evidence, findings,
                          "; ".join(f.message_en for f in findings))

    @staticmethod
    def finding(rule: str, en: str, zh: str) -> KitFinding:
        return KitFinding(rule, en, zh)


class Lp01Mapping(LpTest):
    test_id = "LP-01"
    requirement_ids = ("TBS-LP-002", "TBS-LP-003", "TBS-LP-011", "TBS-LP-012", "TBS-LP-053", "TBS-LP-055")
    description = "the worked examples of §8.1–§8.3 map to exactly the records they show"

    def run(self, ctx: LpContext) -> TestResult:
        db = ctx.open(LW, "NATIONAL-EXCHANGE", NE_ROLES)
        for name in ("8.1-item.sql", "8.2-batch1.sql", "8.2-batch2.sql", "8.3-evaluations.sql"):
            ctx.load(db, name)
        ctx.sut.sync()
        want = {"catalog": expected("8.1")["catalog"], **{d: expected("8.2")[d] for d in ("case", "case-event",
                                                                                         "result")},
                "evaluation": expected("8.3")["evaluation"]}
        findings = [self.finding("TBS-LP-003", f"{d}: stored records differ from §8", f"{d}：入库记录与§8不符")
                    for d, records in want.items() if ctx.records(d) != records]
        db.close()
        return self.result(findings, [{"note": "§8.1–§8.3 on the SUT's front database"}])


class Lp02ReadOnly(LpTest):
    test_id = "LP-02"
    requirement_ids = ("TBS-LP-010",)
    description = "up tables, tb_batch and tb_batch_row are unchanged by a sync"

    def run(self, ctx: LpContext) -> TestResult:
        db = ctx.open(LW, "NATIONAL-EXCHANGE", NE_ROLES)
        ctx.load(db, "8.1-item.sql")
        before = db.checksums()
        ctx.sut.sync()
        after = db.checksums()
        changed = sorted(t for t in before if before[t] != after[t])
        db.close()
        return self.result([self.finding("TBS-LP-010", f"changed by the reader: {', '.join(changed)}",
                                         f"读方修改了：{', '.join(changed)}")] if changed else [],
                           [{"note": "checksums before and after", "changed": changed}])


class Lp03Markers(LpTest):
    test_id = "LP-03"
    requirement_ids = ("TBS-LP-020", "TBS-LP-021")
    description = "rows without a marker yield no record and no receipt; with it they are processed"

    def run(self, ctx: LpContext) -> TestResult:
        db = ctx.open(LW, "NATIONAL-EXCHANGE", NE_ROLES)
        text = (VECTORS / "8.1-item.sql").read_text(encoding="utf-8")
        rows, marker = text.rsplit("INSERT INTO tb_batch ", 1)
        with db.engine.begin() as conn:
            for stmt in split_sql(rows):
                conn.exec_driver_sql(stmt)
        ctx.sut.sync()
        findings = []
        if ctx.records("catalog") or db.receipts():
            findings.append(self.finding("TBS-LP-021", "rows without a marker were processed", "无提交标记的行被处理"))
        with db.engine.begin() as conn:
            conn.exec_driver_sql("INSERT INTO tb_batch " + split_sql(marker)[0])
        ctx.sut.sync()
        if ctx.records("catalog") != expected("8.1")["catalog"] or len(db.receipts()) != 6:
            findings.append(self.finding("TBS-LP-020", "the committed batch was not processed", "已提交批次未处理"))
        db.close()
        return self.result(findings, [{"note": "§8.1 rows, then their marker"}])


class Lp04Torn(LpTest):
    test_id = "LP-04"
    requirement_ids = ("TBS-LP-020", "TBS-LP-022")
    description = "a manifest listing a missing row rejects every row of the batch under TBS-LP-022"

    def run(self, ctx: LpContext) -> TestResult:
        db = ctx.open(LW, "NATIONAL-EXCHANGE", NE_ROLES)
        text = (VECTORS / "8.1-item.sql").read_text(encoding="utf-8").replace(
            "('LW20261127162005001', 'up_task_general_material', 'd4e5f6a7-b8c9-4d0e-9f1a-3b4c5d6e7f61');",
            "('LW20261127162005001', 'up_task_general_material', 'd4e5f6a7-b8c9-4d0e-9f1a-3b4c5d6e7f61'), "
            "('LW20261127162005001', 'up_task_general_material', 'not-written');").replace(
            "'001', 6);", "'001', 7);")
        with db.engine.begin() as conn:
            for stmt in split_sql(text):
                conn.exec_driver_sql(stmt)
        ctx.sut.sync()
        receipts = db.receipts()
        findings = []
        if len(receipts) != 6 or any((r["outcome"], r["rule_ids"]) != ("REJECTED", "TBS-LP-022") for r in receipts):
            findings.append(self.finding("TBS-LP-022", "a torn batch was not rejected row by row",
                                         "残缺批次未逐行拒收"))
        if ctx.records("catalog"):
            findings.append(self.finding("TBS-LP-022", "a torn batch stored records", "残缺批次写入了记录"))
        db.close()
        return self.result(findings, [{"note": "§8.1 with a manifest row that does not exist", "receipts": len(receipts)}])


class Lp13Receipts(LpTest):
    test_id = "LP-13"
    requirement_ids = ("TBS-LP-004", "TBS-LP-050", "TBS-LP-051")
    description = "receipts carry the row outcome, rule ids and sourced findings (§8.4)"

    def run(self, ctx: LpContext) -> TestResult:
        db = ctx.open(LW, "NATIONAL-EXCHANGE", NE_ROLES)
        ctx.load(db, "8.2-batch1.sql")
        ctx.sut.sync()
        r = _receipts(db).get(("up_pro_accept", "1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d", "LW20261102100500001"))
        want = {"outcome": "REJECTED", "rule_ids": "TBS-CODE-017", "row_cd_time": "2026-11-02 10:04:00",
                "findings": '[{"dataset":"case","key":"{\\"caseNo\\":\\"11440103007493637K4440120012002202611020008\\",'
                            '\\"version\\":1}","location":"/agent/idNo","ruleId":"TBS-CODE-017","severity":"ERROR",'
                            '"source":{"column":"contact_code","rowGuid":"1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d",'
                            '"table":"up_pro_accept"}}]'}
        got = {k: (r or {}).get(k) for k in want}
        db.close()
        return self.result([] if got == want else [self.finding("TBS-LP-051", "the §8.4 receipt differs",
                                                                "§8.4 回执不符")], [{"note": "§8.4", "receipt": got}])


class Lp14Dialects(LpTest):
    test_id = "LP-14"
    requirement_ids = ("TBS-LP-011", "TBS-LP-160", "TBS-LP-161", "TBS-LP-162", "TBS-LP-164")
    description = "非常满意 is stored as 5 under each dialect; without a dialect nothing is read"

    def run(self, ctx: LpContext) -> TestResult:
        findings = []
        for dialect, legacy in (("HCP-NATIONAL", "5"), ("HCP-ALT", "5"), ("GB39046", "1")):
            db = ctx.open(LW, "NATIONAL-EXCHANGE", NE_ROLES, dialect=dialect)
            ctx.load(db, "8.2-batch1.sql")
            ctx.load(db, "8.3-evaluations.sql")
            with db.engine.begin() as conn:
                conn.execute(sa.text("UPDATE up_pro_evaluate SET satisfaction = :s WHERE assess_number = 1"),
                             {"s": legacy})
            ctx.sut.sync()
            first = [e for e in ctx.records("evaluation") if e["assessNo"] == 1]
            if [e.get("satisfaction") for e in first] != [5]:
                findings.append(self.finding("TBS-LP-162", f"{dialect}: 非常满意 not stored as 5",
                                             f"{dialect}：非常满意未存为5"))
            db.close()
        db = ctx.open(LW, "NATIONAL-EXCHANGE", NE_ROLES, dialect=None)
        ctx.load(db, "8.2-batch1.sql")
        try:
            ctx.sut.sync()
        except Exception:  # noqa: BLE001 - the operator is told: a configuration error
            pass
        if db.receipts() or ctx.records("case"):
            findings.append(self.finding("TBS-LP-164", "read a front database without a dialect",
                                         "未配置方言仍读取前置库"))
        db.close()
        return self.result(findings, [{"note": "three dialects, then none"}])


class Lp16EaJcStep(LpTest):
    test_id = "LP-16"
    requirement_ids = ("TBS-LP-140", "TBS-LP-141", "TBS-LP-142", "TBS-LP-143")
    description = "the worked example of §8.5 and its rejected row"

    def run(self, ctx: LpContext) -> TestResult:
        db = ctx.open(JN, "EA-JC-STEP", ("CASE_REPORTER", "RESULT_PUBLISHER"), dialect=None,
                      t_read="2026-10-24T08:00:00+08:00")
        ctx.load(db, "8.5-ea-jc-step.sql")
        ctx.sut.sync()
        want = expected("8.5")
        findings = [self.finding("TBS-LP-142", f"{d}: stored records differ from §8.5", f"{d}：与§8.5不符")
                    for d in ("case", "case-event", "result") if ctx.records(d) != want[d]]
        r = _receipts(db).get(("EA_JC_STEP_PROC", "a1000000-0000-4000-8000-000000000007", "JN20261023114000001"))
        if (r or {}).get("rule_ids") != "TBS-LP-034" or (r or {}).get("outcome") != "REJECTED":
            findings.append(self.finding("TBS-LP-034", "the filing step was not rejected under TBS-LP-034",
                                         "归档环节未按TBS-LP-034拒收"))
        db.close()
        return self.result(findings, [{"note": "§8.5"}])


LP_READER_TESTS: tuple[type[LpTest], ...] = (Lp01Mapping, Lp02ReadOnly, Lp03Markers, Lp04Torn, Lp13Receipts,
                                              Lp14Dialects, Lp16EaJcStep)


@dataclass
class LpRun:
    test: LpTest
    result: TestResult
    seconds: float


def run_lp_suite(sut: FrontdbReaderSut, only: set[str] | None = None) -> tuple[list[LpRun], Verdict]:
    """Run the FRONTDB reader tests against ``sut``; the verdict rolls up the SHALL results."""
    runs = []
    for cls in LP_READER_TESTS:
        test = cls()
        if only is not None and test.test_id not in only:
            continue
        start = time.monotonic()
        try:
            result = test.run(LpContext(sut))
        except Exception as exc:  # noqa: BLE001 - the harness failed
            result = TestResult(Result.ERROR, [{"note": "the test harness failed"}],
                                [KitFinding("TBS-CONF-002", f"harness error: {type(exc).__name__}: {exc}",
                                            f"测试工具出错：{type(exc).__name__}")], str(exc))
        runs.append(LpRun(test, result, time.monotonic() - start))
    return runs, role_verdict([r.result.result for r in runs if r.test.level is Level.SHALL])
