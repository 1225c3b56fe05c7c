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
from tongban.model.datasets import DATASETS, PROVIDER_ROLES

from .results import KitFinding, Level, Result, TestResult, Verdict, role_verdict

VECTORS = Path(__file__).resolve().parent / "frontdb_vectors"
ROLE = "FRONTDB_READER"
NE_ROLES = PROVIDER_ROLES  # NATIONAL-EXCHANGE carries every dataset
LW = "TB:county:440103:LWZWFW"
JN = "TB:county:370102:LXZWFW"


class FrontdbReaderSut(Protocol):
    """What the kit needs of a FRONTDB reader under test."""

    def front_database(self, *, system_id: str, profile: str, roles: tuple[str, ...], dialect: str | None,
                       t_read: str, hold_timeout: str = "PT24H") -> str:
        """Configure a fresh partner with an empty store (look-back PT10M, poll interval PT1M,
        the given hold timeout, §7.1), its clock at ``t_read``, and return its front database URL."""
        ...

    def sync(self) -> None:
        """Let the reader poll the front database once (raise on a configuration error)."""
        ...

    def export(self, dataset: str) -> list[str]:
        """The stored current records of ``dataset``, RFC 8785 text, one per line."""
        ...

    # Optional: a SUT without them gets SKIP for the tests that need them.
    # def advance(self, seconds: int) -> None: move the reader's clock forward (a real
    #     deployment's adapter waits instead).
    # def alerts(self) -> list[str]: what the reader told its operator since the partner was configured.
    # def sync_killed(self, after_batches: int) -> None: run the reader and kill it (SIGKILL) once it
    #     has committed that many batches, before it writes their receipts.


@dataclass
class LpContext:
    sut: FrontdbReaderSut
    evidence: list[dict[str, Any]] = field(default_factory=list)
    opened: list[FrontDatabase] = field(default_factory=list)
    """The front databases a test opened; the suite closes them after the test, whatever its outcome."""

    def open(self, system_id: str, profile: str, roles: tuple[str, ...], dialect: str | None = "HCP-NATIONAL",
             t_read: str = "2026-11-28T10:00:00+08:00", hold_timeout: str = "PT24H") -> FrontDatabase:
        kw = {"hold_timeout": hold_timeout} if hold_timeout != "PT24H" else {}
        url = self.sut.front_database(system_id=system_id, profile=profile, roles=roles, dialect=dialect,
                                      t_read=t_read, **kw)
        prof = load_profile(profile)
        db = FrontDatabase(url, prof, prof.tables_for(set(roles)))
        self.opened.append(db)
        db.create_schema()
        return db

    def close(self) -> None:
        for db in self.opened:
            db.close()

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

    @staticmethod
    def flag(findings: list[KitFinding], failed: object, rule: str, en: str, zh: str) -> None:
        """Add the finding ``rule`` when ``failed`` is true (a check the SUT did not pass)."""
        if failed:
            findings.append(KitFinding(rule, en, zh))


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
        self.flag(findings, ctx.records("catalog") or db.receipts(),
                  "TBS-LP-021", "rows without a marker were processed", "无提交标记的行被处理")
        with db.engine.begin() as conn:
            conn.exec_driver_sql("INSERT INTO tb_batch " + split_sql(marker)[0])
        ctx.sut.sync()
        self.flag(findings, ctx.records("catalog") != expected("8.1")["catalog"] or len(db.receipts()) != 6,
                  "TBS-LP-020", "the committed batch was not processed", "已提交批次未处理")
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
        self.flag(findings, len(receipts) != 6 or any((r["outcome"], r["rule_ids"]) != ("REJECTED", "TBS-LP-022")
                                                      for r in receipts),
                  "TBS-LP-022", "a torn batch was not rejected row by row", "残缺批次未逐行拒收")
        self.flag(findings, ctx.records("catalog"), "TBS-LP-022", "a torn batch stored records", "残缺批次写入了记录")
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
            self.flag(findings, [e.get("satisfaction") for e in first] != [5],
                      "TBS-LP-162", f"{dialect}: 非常满意 not stored as 5", f"{dialect}：非常满意未存为5")
            db.close()
        db = ctx.open(LW, "NATIONAL-EXCHANGE", NE_ROLES, dialect=None)
        ctx.load(db, "8.2-batch1.sql")
        try:
            ctx.sut.sync()
        except Exception:  # noqa: BLE001 - the operator is told: a configuration error
            pass
        self.flag(findings, db.receipts() or ctx.records("case"),
                  "TBS-LP-164", "read a front database without a dialect", "未配置方言仍读取前置库")
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
        self.flag(findings, (r or {}).get("rule_ids") != "TBS-LP-034" or (r or {}).get("outcome") != "REJECTED",
                  "TBS-LP-034", "the filing step was not rejected under TBS-LP-034", "归档环节未按TBS-LP-034拒收")
        return self.result(findings, [{"note": "§8.5"}])


# --- the kit as a writer: rows, manifests and markers (TBS-LP-020) --------------------------------
CASE7 = "11440103007493637K4440120012002202611020007"
CASE8 = "11440103007493637K4440120012002202611020008"
TC = "11440103007493637K4440120012002"
STEP = {"row_guid": "kit-step-1", "cd_operation": "I", "cd_time": "2026-11-06 09:34:59", "project_no": CASE7,
        "process_name": "审核", "event_name": "1", "handle_user_name": "赵六", "event_start_time": "2026-11-04 15:30:00"}
BASIC = {"row_guid": "kit-basic-1", "cd_operation": "I", "cd_time": "2026-11-06 09:34:00", "version": 2,
         "task_code": TC, "task_handle_item": "11440103007493637K444012001200201", "catalog_code": "440120012002",
         "task_name": "公共场所卫生许可（新证）", "task_type": "01", "task_state": "1",
         "by_law": "《公共场所卫生管理条例》第四条", "dept_code": "11440103007493637K", "dept_name": "广州市荔湾区卫生健康局",
         "dept_type": "1", "anticipate_day": 20, "anticipate_type": "1", "promise_day": 10, "promise_type": "1",
         "project_type": "2", "is_fee": "0", "server_type": "1", "handle_type": "1,2,3", "limit_scene_num": 0}
EXTEND = {"row_guid": "kit-ext-1", "cd_operation": "I", "cd_time": "2026-11-06 09:34:01", "task_code": TC,
          "online_handle_depth": 4}
MATERIAL = {"row_guid": "kit-mat-1", "cd_operation": "I", "cd_time": "2026-11-06 09:34:02", "task_code": TC,
            "material_name": "申请表", "is_need": "1", "material_format": "2"}


class KitWriter:
    """Writes row states and commits batches as a FRONTDB writer does (TBS-LP-020)."""

    def __init__(self, db: FrontDatabase, prefix: str = "KIT") -> None:
        self.db = db
        self.prefix = prefix
        self.n = 0
        self.pending: list[tuple[str, str]] = []
        self.batch = self._next()

    def _next(self) -> str:
        self.n += 1
        return f"{self.prefix}{self.n:05d}"

    def row(self, table: str, values: dict[str, Any], *, upsert: bool = False) -> None:
        guid_col, batch_col = ("ROW_GUID", "CD_BATCH") if table.isupper() else ("row_guid", "cd_batch")
        values = {batch_col: self.batch, **values}
        cols = list(values)
        with self.db.engine.begin() as conn:
            if upsert:
                conn.execute(sa.text(f"DELETE FROM {table} WHERE {guid_col} = :g"), {"g": values[guid_col]})
            conn.execute(sa.text(f"INSERT INTO {table} ({', '.join(cols)}) VALUES ("
                                 + ", ".join(f":{c}" for c in cols) + ")"), values)
        self.pending.append((table, values[guid_col]))

    def commit(self, at: str) -> str:
        batch = self.batch
        with self.db.engine.begin() as conn:
            for t, g in self.pending:
                conn.execute(sa.text("INSERT INTO tb_batch_row (cd_batch, table_name, row_guid) VALUES (:b, :t, :g)"),
                             {"b": batch, "t": t, "g": g})
            conn.execute(sa.text("INSERT INTO tb_batch (row_guid, cd_operation, cd_time, cd_batch, row_count) "
                                 "VALUES (:g, 'I', :at, :b, :n)"),
                         {"g": f"M-{batch}", "at": at, "b": batch, "n": len(self.pending)})
        self.pending = []
        self.batch = self._next()
        return batch


def _by_guid(db: FrontDatabase) -> dict[tuple[str, str], list[dict[str, Any]]]:
    out: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for r in sorted(db.receipts(), key=lambda r: (r["row_cd_time"], r["cd_batch"])):
        out.setdefault((r["table_name"], r["row_guid"]), []).append(r)
    return out


def _columns(receipt: dict[str, Any] | None) -> list[tuple[str, str, str]]:
    if receipt is None:
        return []
    return [(f["ruleId"], f["location"], f["source"]["column"]) for f in json.loads(receipt["findings"])]


def _step_synced(ctx: LpContext, at: str) -> tuple[FrontDatabase, KitWriter, str]:
    """A front database with §8.2's first batch and the kit's review step of case …0007 committed at
    ``at``, read once by the SUT; the database, its writer and the step's batch."""
    db = ctx.open(LW, "NATIONAL-EXCHANGE", NE_ROLES)
    ctx.load(db, "8.2-batch1.sql")
    w = KitWriter(db)
    w.row("up_pro_process", STEP)
    batch = w.commit(at)
    ctx.sut.sync()
    return db, w, batch


def _needs(ctx: LpContext, *methods: str) -> TestResult | None:
    missing = [m for m in methods if not callable(getattr(ctx.sut, m, None))]
    if missing:
        return TestResult(Result.SKIP, [{"note": f"the SUT adapter offers no {', '.join(missing)}()"}], [],
                          f"needs {', '.join(missing)}()")
    return None


class Lp05Cursor(LpTest):
    test_id = "LP-05"
    requirement_ids = ("TBS-LP-025", "TBS-LP-026", "TBS-LP-027")
    description = ("a marker committed late inside the look-back is processed; a marker from the future is not, "
                   "and later markers with correct times still are")

    def run(self, ctx: LpContext) -> TestResult:
        db, w, _ = _step_synced(ctx, "2026-11-28 09:58:00")
        findings = []
        w.row("up_pro_process", {**STEP, "row_guid": "kit-late", "event_start_time": "2026-11-04 15:31:00"})
        late = w.commit("2026-11-28 09:55:00")  # committed after the cursor passed 09:58, dated 3 minutes before it
        w.row("up_pro_process", {**STEP, "row_guid": "kit-future", "event_start_time": "2026-11-04 15:32:00"})
        future = w.commit("2026-11-28 10:30:00")  # T_read + 30 min
        w.row("up_pro_process", {**STEP, "row_guid": "kit-after", "event_start_time": "2026-11-04 15:33:00"})
        after = w.commit("2026-11-28 09:59:00")  # committed after the future marker, with a correct time
        ctx.sut.sync()
        got = {r["cd_batch"]: r["outcome"] for r in db.receipts()}
        self.flag(findings, got.get(late) != "STORED",
                  "TBS-LP-026", "a marker committed late inside the look-back was not processed", "回看窗口内迟到的批次标记未处理")
        self.flag(findings, future in got, "TBS-LP-027", "a marker from the future was processed", "未来时间的批次标记被处理")
        self.flag(findings, got.get(after) != "STORED",
                  "TBS-LP-025", "a marker with a correct time after a future one was not processed", "未来标记之后时间正确的批次未处理")
        return self.result(findings, [{"note": "late, future and later markers", "outcomes": got}])


class Lp06ExactlyOnce(LpTest):
    test_id = "LP-06"
    requirement_ids = ("TBS-LP-006", "TBS-LP-048", "TBS-SYNC-012")
    description = ("a second sync stores nothing and changes no receipt; a reader killed (SIGKILL) during a batch "
                   "and run again stores the same records and receipts as an undisturbed run")

    def _load(self, ctx: LpContext) -> FrontDatabase:
        db = ctx.open(LW, "NATIONAL-EXCHANGE", NE_ROLES)
        for name in ("8.1-item.sql", "8.2-batch1.sql", "8.2-batch2.sql", "8.3-evaluations.sql"):
            ctx.load(db, name)
        return db

    def _state(self, ctx: LpContext, db: FrontDatabase) -> tuple[dict[str, list[str]], list[tuple]]:
        receipts = sorted(tuple(v for k, v in sorted(r.items()) if k != "processed_at") for r in db.receipts())
        return {d: ctx.sut.export(d) for d in DATASETS}, receipts

    def run(self, ctx: LpContext) -> TestResult:
        findings = []
        db = self._load(ctx)
        ctx.sut.sync()
        undisturbed = self._state(ctx, db)
        receipts = db.receipts()
        ctx.sut.sync()
        self.flag(findings, self._state(ctx, db)[0] != undisturbed[0] or db.receipts() != receipts,
                  "TBS-LP-048", "a second sync changed stored records or receipts", "第二次同步改变了入库记录或回执")
        db.close()
        if not callable(getattr(ctx.sut, "sync_killed", None)):
            return self.result(findings, [{"note": "second sync only: the SUT adapter offers no sync_killed()"}])
        for after in (1, 2, 3):  # killed after the first, second and third of the four batches
            db = self._load(ctx)
            ctx.sut.sync_killed(after)
            ctx.sut.sync()
            got = self._state(ctx, db)
            if got != undisturbed:
                differ = [d for d in DATASETS if got[0][d] != undisturbed[0][d]] + \
                    (["receipts"] if got[1] != undisturbed[1] else [])
                findings.append(self.finding("TBS-LP-048", f"killed after batch {after} and run again: "
                                             f"{', '.join(differ)} differ from an undisturbed run",
                                             f"第{after}批后被终止再运行：结果与未中断运行不同"))
            db.close()
        return self.result(findings, [{"note": "second sync; killed after batch 1, 2, 3 and run again"}])


class Lp07FailureKinds(LpTest):
    test_id = "LP-07"
    requirement_ids = ("TBS-LP-031", "TBS-LP-032", "TBS-LP-033", "TBS-LP-034", "TBS-LP-035", "TBS-LP-036",
                       "TBS-LP-037", "TBS-LP-041", "TBS-LP-163")
    description = "one row per failure kind of §6: each receipt has its outcome, rule id and column"

    def run(self, ctx: LpContext) -> TestResult:
        db = ctx.open(LW, "NATIONAL-EXCHANGE", NE_ROLES, dialect="HCP-ALT")
        ctx.load(db, "8.2-batch1.sql")
        w = KitWriter(db)
        second = {**STEP, "row_guid": "kit-step-2", "cd_time": "2026-11-06 09:34:58",
                  "event_start_time": "2026-11-04 15:40:00"}
        w.row("up_pro_process", STEP)
        w.row("up_pro_process", second)
        w.commit("2026-11-06 09:35:00")
        ctx.sut.sync()
        at = "2026-11-06 09:40:00"
        ev = {"cd_operation": "I", "cd_time": at, "project_no": CASE7, "pf": "1", "satisfaction": "5",
              "assess_time": "2026-11-06 10:00:00", "assess_number": 1}
        step = {**STEP, "cd_time": at}
        cases = [  # (table, row, rule, column)
            ("up_pro_evaluate", {**ev, "row_guid": "k031", "assess_number": "第1次"}, "TBS-LP-031", "assess_number"),
            ("up_pro_process", {**step, "row_guid": "k032", "process_name": "审" * 101}, "TBS-LP-032", "process_name"),
            ("up_pro_process", {**step, "row_guid": "k033", "event_start_time": "20260931101500"}, "TBS-LP-033",
             "event_start_time"),
            ("up_pro_process", {**step, "row_guid": "k034", "event_name": "4"}, "TBS-LP-034", "event_name"),
            ("up_pro_process", {**step, "handle_explain": "补记"}, "TBS-LP-035", "cd_operation"),
            ("up_pro_process", {**step, "row_guid": "k036", "cd_operation": "D"}, "TBS-LP-036", "cd_operation"),
            ("up_pro_process", {**second, "cd_time": at, "cd_operation": "D"}, "TBS-LP-037", "cd_operation"),
            ("up_task_general_basic", {**BASIC, "cd_time": at, "task_state": "9"}, "TBS-LP-034", "task_state"),
            ("up_task_general_material", {**MATERIAL, "cd_time": at}, "TBS-LP-041", ""),
            ("up_pro_evaluate", {**ev, "row_guid": "k163", "pf": "7"}, "TBS-LP-163", "pf"),
        ]
        for table, row, _, _ in cases:
            w.row(table, row, upsert=True)
        w.commit("2026-11-06 09:40:01")
        ctx.sut.sync()
        receipts = _by_guid(db)
        findings, seen = [], []
        for table, row, rule, column in cases:
            r = (receipts.get((table, row["row_guid"])) or [None])[-1]
            got = ((r or {}).get("outcome"), (r or {}).get("rule_ids"), _columns(r))
            seen.append({"rule": rule, "receipt": got[:2]})
            self.flag(findings, got != ("REJECTED", rule, [(rule, "", column)]),
                      rule, f"{table} {row['row_guid']}: receipt {got[0]} {got[1]!r}, "
                      f"expected REJECTED {rule} naming column {column!r}",
                      f"{table} {row['row_guid']}：回执不符（应为 {rule}）")
        return self.result(findings, [{"note": "one row per failure kind", "receipts": seen}])


class Lp08Identity(LpTest):
    test_id = "LP-08"
    requirement_ids = ("TBS-LP-035", "TBS-LP-038")
    description = ("an identical re-push is DUPLICATE; a rewritten row that kept I is REJECTED; a row whose "
                   "record was rejected is validated again when written again")

    def run(self, ctx: LpContext) -> TestResult:
        db, w, _ = _step_synced(ctx, "2026-11-06 09:35:00")
        w.row("up_pro_process", {**STEP, "cd_time": "2026-11-06 09:41:00"}, upsert=True)
        w.commit("2026-11-06 09:41:01")
        ctx.sut.sync()
        w.row("up_pro_process", {**STEP, "cd_time": "2026-11-06 09:42:00", "handle_explain": "补记"}, upsert=True)
        w.commit("2026-11-06 09:42:01")
        ctx.sut.sync()
        with db.engine.connect() as conn:  # the accept row of case …0008, rejected by TBS-CODE-017 in §8.4
            accept = dict(conn.execute(sa.text("SELECT * FROM up_pro_accept WHERE project_no = :p"),
                                       {"p": CASE8}).mappings().one())
        accept.pop("cd_batch")
        w.row("up_pro_accept", {**accept, "cd_time": "2026-11-06 09:43:00"}, upsert=True)
        w.commit("2026-11-06 09:43:01")
        ctx.sut.sync()
        rows = {r["row_cd_time"]: r for rs in _by_guid(db).values() for r in rs}
        got = {t: (rows.get(t) or {}).get("outcome") for t in ("2026-11-06 09:41:00", "2026-11-06 09:42:00",
                                                              "2026-11-06 09:43:00")}
        findings = []
        self.flag(findings, got["2026-11-06 09:41:00"] != "DUPLICATE",
                  "TBS-LP-035", "an identical re-push was not DUPLICATE", "相同内容重推未判为重复")
        self.flag(findings, (got["2026-11-06 09:42:00"], _columns(rows.get("2026-11-06 09:42:00")))
                  != ("REJECTED", [("TBS-LP-035", "", "cd_operation")]),
                  "TBS-LP-035", "a rewritten row that kept I was not rejected", "保持I的改写行未被拒收")
        self.flag(findings, (got["2026-11-06 09:43:00"], (rows.get("2026-11-06 09:43:00") or {}).get("rule_ids"))
                  != ("REJECTED", "TBS-CODE-017"),
                  "TBS-LP-038", "a row whose record was rejected was not validated again", "记录被拒的行重写后未重新校验")
        return self.result(findings, [{"note": "re-push, rewrite with I, rejected row written again",
                                       "outcomes": got}])


class Lp09ItemChanges(LpTest):
    test_id = "LP-09"
    requirement_ids = ("TBS-LP-040", "TBS-LP-103", "TBS-SYNC-005", "TBS-SYNC-009", "TBS-SYNC-010")
    description = ("item changes with a higher version are STORED; a material changed without it is rejected "
                   "(TBS-SYNC-005); a changed basic field (TBS-SYNC-009); D of the basic row stores a tombstone")

    def run(self, ctx: LpContext) -> TestResult:
        db = ctx.open(LW, "NATIONAL-EXCHANGE", NE_ROLES)
        w = KitWriter(db)
        w.row("up_task_general_basic", BASIC)
        w.row("up_task_general_extend", EXTEND)
        w.commit("2026-11-06 09:35:00")
        ctx.sut.sync()
        steps = [  # (rows, expected outcome, rule)
            ([("up_task_general_basic", {**BASIC, "cd_operation": "U", "cd_time": "2026-11-06 09:36:00",
                                         "version": 3, "promise_day": 5})], "STORED", ""),
            ([("up_task_general_material", {**MATERIAL, "cd_time": "2026-11-06 09:37:00"})], "REJECTED",
             "TBS-SYNC-005"),
            ([("up_task_general_basic", {**BASIC, "cd_operation": "U", "cd_time": "2026-11-06 09:38:00",
                                         "version": 4, "task_name": "公共场所卫生许可（改）"})], "REJECTED",
             "TBS-SYNC-009"),
            ([("up_task_general_basic", {**BASIC, "cd_operation": "D", "cd_time": "2026-11-06 09:39:00",
                                         "version": 4, "promise_day": 5})], "STORED", ""),  # D keeps the content
        ]
        findings, seen = [], []
        for n, (rows, outcome, rule) in enumerate(steps):
            for table, row in rows:
                w.row(table, row, upsert=True)
            w.commit(rows[0][1]["cd_time"][:-2] + "30")
            ctx.sut.sync()
            table, row = rows[0]
            r = next((x for x in db.receipts() if x["row_guid"] == row["row_guid"]
                      and x["row_cd_time"] == row["cd_time"]), {})
            seen.append((r.get("outcome"), r.get("rule_ids")))
            self.flag(findings, (r.get("outcome"), r.get("rule_ids")) != (outcome, rule),
                      rule or "TBS-LP-103", f"change {n + 1}: {r.get('outcome')} "
                      f"{r.get('rule_ids')!r}, expected {outcome} {rule!r}",
                      f"第{n + 1}次变更回执不符")
        items = ctx.records("catalog")
        self.flag(findings, [(i.get("status"), i.get("version"), i.get("promiseLimit", {}).get("value"))
                             for i in items] != [("REVOKED", 4, 5)],
                  "TBS-SYNC-010", "D of the basic row did not store the REVOKED tombstone", "基本行删除未生成注销墓碑")
        return self.result(findings, [{"note": "four changes of one item", "receipts": seen}])


class Lp10Holds(LpTest):
    test_id = "LP-10"
    requirement_ids = ("TBS-LP-045", "TBS-LP-046", "TBS-LP-047", "TBS-LP-048")
    description = ("rows before their parent are HELD and STORED when it arrives; a corrected case releases its "
                   "held rows; after the PT2M hold timeout a poll without new markers rejects the rest")

    def run(self, ctx: LpContext) -> TestResult:
        skip = _needs(ctx, "advance")
        if skip:
            return skip
        db = ctx.open(LW, "NATIONAL-EXCHANGE", NE_ROLES, hold_timeout="PT2M")
        ctx.load(db, "8.2-batch1.sql")  # …0007 stored, …0008 rejected (TBS-CODE-017)
        w = KitWriter(db)
        other = CASE7[:-1] + "9"
        w.row("up_task_general_material", MATERIAL)
        w.row("up_pro_process", {**STEP, "row_guid": "kit-of-8", "project_no": CASE8})
        w.row("up_pro_process", {**STEP, "row_guid": "kit-of-9", "project_no": other})
        w.row("up_task_general_material", {**MATERIAL, "row_guid": "kit-mat-orphan", "task_code": TC[:-4] + "9999"})
        w.row("up_pro_evaluate", {"row_guid": "kit-eval-2", "cd_operation": "I", "cd_time": "2026-11-06 09:34:59",
                                  "project_no": CASE7, "pf": "1", "satisfaction": "4",
                                  "assess_time": "2026-11-06 10:00:00", "assess_number": 2})
        w.commit("2026-11-06 09:35:00")
        ctx.sut.sync()
        first = {g: rs[-1]["outcome"] for (_, g), rs in _by_guid(db).items()}
        findings = []
        self.flag(findings, any(first.get(g) != "HELD"
                                for g in ("kit-mat-1", "kit-of-8", "kit-of-9", "kit-mat-orphan", "kit-eval-2")),
                  "TBS-LP-045", "rows before their parent were not HELD", "父行未到的行未暂存")
        with db.engine.connect() as conn:
            accept = dict(conn.execute(sa.text("SELECT * FROM up_pro_accept WHERE project_no = :p"),
                                       {"p": CASE8}).mappings().one())
        accept.pop("cd_batch")
        w.row("up_task_general_basic", BASIC)
        w.row("up_task_general_extend", EXTEND)
        w.row("up_pro_accept", {**accept, "cd_operation": "U", "cd_time": "2026-11-06 09:36:00",
                                "contact_code": "34052419800101001X"}, upsert=True)  # the corrected check character
        w.commit("2026-11-06 09:36:01")
        ctx.sut.sync()
        second = {g: rs[-1]["outcome"] for (_, g), rs in _by_guid(db).items()}
        self.flag(findings, second.get("kit-mat-1") != "STORED" or second.get("kit-of-8") != "STORED",
                  "TBS-LP-047", "held rows were not STORED when their parent arrived", "父行到达后暂存行未入库")
        ctx.sut.advance(180)
        ctx.sut.sync()  # no new marker: only the due holds expire
        last = {g: rs[-1] for (_, g), rs in _by_guid(db).items()}
        want = {"kit-of-9": "TBS-EVT-009", "kit-mat-orphan": "TBS-LP-046", "kit-eval-2": "TBS-EVAL-004"}
        for g, rule in want.items():
            r = last.get(g, {})
            self.flag(findings, (r.get("outcome"), r.get("rule_ids")) != ("REJECTED", rule),
                      rule, f"{g}: {r.get('outcome')} {r.get('rule_ids')!r} after the hold "
                      f"timeout, expected REJECTED {rule}", f"{g}：暂存超时后未按{rule}拒收")
        return self.result(findings, [{"note": "held, released, expired", "first": first, "second": second}])


class Lp11Numbering(LpTest):
    test_id = "LP-11"
    requirement_ids = ("TBS-LP-107", "TBS-LP-108", "TBS-LP-109", "TBS-LP-114")
    description = ("equal times (SUSPEND then RESUME), a late end_time giving RESUME, D of a case giving CONCLUDE "
                   "VOIDED, a step changed after storage rejected (TBS-EVT-008), an org_code correction changing "
                   "no stored event or Result, a rejected ACCEPT derived again from a re-push of the accept row")
    X = CASE7[:-1] + "9"
    Y = CASE7[:-2] + "11"
    ACCEPT = {"cd_operation": "I", "cd_time": "2026-11-06 09:30:00", "version": 1, "task_code": TC,
              "task_name": "公共场所卫生许可（新证）", "project_type": "2", "apply_type": "3",
              "apply_date": "2026-11-02 09:15:00", "accept_date": "2026-11-02 10:02:00",
              "promise_date": "2026-11-16 17:30:00", "org_code": "11440103007493637K",
              "org_name": "广州市荔湾区卫生健康局", "handle_user_name": "王五", "applyer_type": "1", "applyer_name": "张三",
              "applyer_page_type": "111", "applyer_page_code": "11010519491231002X"}

    def run(self, ctx: LpContext) -> TestResult:
        from tongban.model.codes import uscc_check_char

        db = ctx.open(LW, "NATIONAL-EXCHANGE", NE_ROLES)
        ctx.load(db, "8.2-batch1.sql")
        ctx.load(db, "8.2-batch2.sql")  # …0007: concluded, its Result stored
        w = KitWriter(db)
        sp = {"cd_operation": "I", "cd_time": "2026-11-06 09:31:00", "project_no": self.X, "special_type": "2",
              "special_name": "现场核查", "special_reason": "需现场核查", "handle_user": "赵六"}
        step = {**STEP, "row_guid": "kit-x-step", "project_no": self.X, "cd_time": "2026-11-06 09:31:00",
                "event_start_time": "2026-11-04 17:00:00"}
        w.row("up_pro_accept", {**self.ACCEPT, "row_guid": "kit-x-accept", "project_no": self.X})
        w.row("up_pro_accept", {**self.ACCEPT, "row_guid": "kit-y-accept", "project_no": self.Y,
                                "handle_user_name": None})  # its ACCEPT lacks the handler: rejected
        w.row("up_pro_special_procedure", {**sp, "row_guid": "kit-sp-equal", "special_time": "2026-11-04 16:00:00",
                                           "end_time": "2026-11-04 16:00:00", "special_explain": "核查完毕"})
        w.row("up_pro_special_procedure", {**sp, "row_guid": "kit-sp-late", "special_time": "2026-11-05 09:00:00"})
        w.row("up_pro_process", step)
        w.commit("2026-11-06 09:32:00")
        ctx.sut.sync()
        y_first = [json.loads(x)["type"] for x in ctx.sut.export("case-event") if self.Y in x]
        before = {d: ctx.sut.export(d) for d in ("case-event", "result")}
        before_7 = {d: [x for x in lines if CASE7 in x] for d, lines in before.items()}
        with db.engine.connect() as conn:
            accept7 = dict(conn.execute(sa.text("SELECT * FROM up_pro_accept WHERE project_no = :p"),
                                        {"p": CASE7}).mappings().one())
            result7 = dict(conn.execute(sa.text("SELECT * FROM up_pro_result WHERE project_no = :p"),
                                        {"p": CASE7}).mappings().one())
        for row in (accept7, result7):
            row.pop("cd_batch")
        corrected = "11440103007493638" + uscc_check_char("11440103007493638")
        w.row("up_pro_special_procedure", {**sp, "row_guid": "kit-sp-late", "cd_operation": "U",
                                           "cd_time": "2026-11-06 09:40:00", "special_time": "2026-11-05 09:00:00",
                                           "end_time": "2026-11-05 17:00:00"}, upsert=True)
        w.row("up_pro_process", {**step, "cd_operation": "U", "cd_time": "2026-11-06 09:40:00",
                                 "handle_explain": "改"}, upsert=True)
        w.row("up_pro_accept", {**self.ACCEPT, "row_guid": "kit-y-accept", "project_no": self.Y, "cd_operation": "U",
                                "cd_time": "2026-11-06 09:40:00"}, upsert=True)
        w.row("up_pro_accept", {**accept7, "cd_operation": "U", "cd_time": "2026-11-06 09:40:00",
                                "org_code": corrected}, upsert=True)
        w.row("up_pro_result", {**result7, "cd_operation": "U", "cd_time": "2026-11-06 09:40:00",
                                "is_delivery_results": "1"}, upsert=True)
        w.commit("2026-11-06 09:40:01")
        ctx.sut.sync()
        w.row("up_pro_accept", {**self.ACCEPT, "row_guid": "kit-x-accept", "project_no": self.X, "cd_operation": "D",
                                "cd_time": "2026-11-06 09:50:00"}, upsert=True)
        w.commit("2026-11-06 09:50:01")
        ctx.sut.sync()
        events = [json.loads(x) for x in ctx.sut.export("case-event")]
        x = [(e["seq"], e["type"], e.get("conclusionCode")) for e in events if e["caseNo"] == self.X]
        y = [e["type"] for e in events if e["caseNo"] == self.Y]
        findings = []
        want_x = [(1, "SUBMIT", None), (2, "ACCEPT", None), (3, "SUSPEND", None), (4, "RESUME", None),
                  (5, "REVIEW_STEP", None), (6, "SUSPEND", None), (7, "RESUME", None), (8, "CONCLUDE", "VOIDED")]
        self.flag(findings, x != want_x,
                  "TBS-LP-108", f"events of the case numbered {x}, expected {want_x}", "案件事件编号不符")
        changed = next((r for r in db.receipts() if r["row_guid"] == "kit-x-step"
                        and r["row_cd_time"] == "2026-11-06 09:40:00"), {})
        self.flag(findings, (changed.get("outcome"), changed.get("rule_ids")) != ("REJECTED", "TBS-EVT-008"),
                  "TBS-EVT-008", "a step changed after storage was not rejected", "已入库环节被修改未拒收")
        self.flag(findings, y_first != ["SUBMIT"] or y != ["SUBMIT", "ACCEPT"],
                  "TBS-LP-109", f"the rejected ACCEPT was not derived again ({y})", "被拒的受理事件未重新生成")
        after_7 = {d: [x for x in ctx.sut.export(d) if CASE7 in x] for d in ("case-event", "result")}
        self.flag(findings, after_7 != before_7,
                  "TBS-LP-109", "an org_code correction changed stored events or Results", "org_code更正改变了已入库事件或结果")
        late = {r["row_guid"]: r["outcome"] for r in db.receipts() if r["row_cd_time"] == "2026-11-06 09:40:00"}
        self.flag(findings, any(late.get(g) == "REJECTED" for g in (accept7["row_guid"], result7["row_guid"])),
                  "TBS-LP-109", "the org_code correction or the later result state was rejected",
                  "org_code更正或结果行新状态被拒收")
        return self.result(findings, [{"note": "numbering, late RESUME, D, EVT-008, org_code, ACCEPT again",
                                       "events": x}])


class Lp12Times(LpTest):
    test_id = "LP-12"
    requirement_ids = ("TBS-LP-055", "TBS-LP-056", "TBS-ENV-011")
    description = "every accepted time form maps to its +08:00 instant; a step dated 2099 is rejected (TBS-ENV-011)"
    FORMS = (("20261104153001", "2026-11-04T15:30:01+08:00"), ("20261104T153002", "2026-11-04T15:30:02+08:00"),
             ("2026110415:30:03", "2026-11-04T15:30:03+08:00"), ("2026-11-04 15:30:04", "2026-11-04T15:30:04+08:00"),
             ("2026-11-04 15:30:05.75", "2026-11-04T15:30:05+08:00"))

    def run(self, ctx: LpContext) -> TestResult:
        db = ctx.open(LW, "NATIONAL-EXCHANGE", NE_ROLES)
        ctx.load(db, "8.2-batch1.sql")
        if db.dialect != "sqlite":  # text forms reach a reader only from text columns (TBS-LP-055)
            with db.engine.begin() as conn:
                kind = "MODIFY event_start_time VARCHAR(32)" if db.dialect == "mysql" \
                    else "ALTER COLUMN event_start_time TYPE VARCHAR(32)"
                conn.exec_driver_sql(f"ALTER TABLE up_pro_process {kind}")
        w = KitWriter(db)
        for n, (text, _) in enumerate(self.FORMS):
            w.row("up_pro_process", {**STEP, "row_guid": f"kit-form-{n}", "event_start_time": text})
        w.row("up_pro_process", {**STEP, "row_guid": "kit-2099", "event_start_time": "2099-01-01 00:00:00"})
        w.commit("2026-11-06 09:35:00")
        ctx.sut.sync()
        events = [e for e in ctx.records("case-event") if e["caseNo"] == CASE7 and e["type"] == "REVIEW_STEP"]
        got = [e["occurredAt"] for e in sorted(events, key=lambda e: e["seq"])]
        findings = []
        self.flag(findings, got != [want for _, want in self.FORMS],
                  "TBS-LP-055", f"time forms mapped to {got}", "时间格式映射不符")
        r = next((x for x in db.receipts() if x["row_guid"] == "kit-2099"), {})
        self.flag(findings, (r.get("outcome"), r.get("rule_ids")) != ("REJECTED", "TBS-ENV-011"),
                  "TBS-ENV-011", "a step dated 2099 was not rejected under TBS-ENV-011", "2099年的环节未按TBS-ENV-011拒收")
        return self.result(findings, [{"note": "five time forms and a date in 2099", "occurredAt": got}])


class Lp15Downward(LpTest):
    test_id = "LP-15"
    requirement_ids = ("TBS-LP-057", "TBS-LP-058", "TBS-LP-115")
    description = ("for a CATALOG_CONSUMER the province's items appear as dn_task_directory rows (§8.6), a "
                   "revoked item's row turns D; without the role no dn row is written")
    PROVINCE = "TB:province:440000:GDZWFW"
    ITEM = {"row_guid": "kit-prov-basic", "cd_operation": "I", "cd_time": "2026-11-20 15:00:00", "version": 5,
            "task_code": "11440000006935624F2440120012002", "catalog_code": "440120012002",
            "task_name": "公共场所卫生许可（新证）", "task_type": "01", "task_state": "1",
            "by_law": "《公共场所卫生管理条例》第四条", "dept_code": "11440000006935624F", "dept_name": "广东省卫生健康委员会",
            "dept_type": "1", "anticipate_day": 20, "anticipate_type": "1", "promise_day": 15, "promise_type": "1",
            "project_type": "2", "is_fee": "0", "server_type": "2", "handle_type": "1,2"}
    DN_I = {"row_guid": "c1030ca38076f1cface41a5768899a13", "cd_operation": "I", "cd_time": "2026-11-28 10:00:03",
            "cd_batch": "TB20261128100003001", "data_source": "TBS", "version": 1, "catalog_code": "440120012002",
            "task_name": "公共场所卫生许可（新证）", "task_type": "01", "task_state": "1", "task_version": 5,
            "use_level": "2", "by_law": "《公共场所卫生管理条例》第四条"}

    @staticmethod
    def _dn(db: FrontDatabase) -> list[dict[str, Any]]:
        with db.engine.connect() as conn:
            rows = [dict(r._mapping) for r in conn.execute(sa.text("SELECT * FROM dn_task_directory"))]
        return [{k: (v if not hasattr(v, "strftime") else v.strftime("%Y-%m-%d %H:%M:%S"))
                 for k, v in r.items() if v is not None} for r in rows]

    def _item(self, db: FrontDatabase) -> KitWriter:
        w = KitWriter(db)
        w.row("up_task_general_basic", self.ITEM)
        w.row("up_task_general_extend", {"row_guid": "kit-prov-ext", "cd_operation": "I",
                                         "cd_time": "2026-11-20 15:00:00", "task_code": self.ITEM["task_code"],
                                         "online_handle_depth": 3})
        w.commit("2026-11-20 15:00:01")
        return w

    def run(self, ctx: LpContext) -> TestResult:
        findings = []
        db = ctx.open(self.PROVINCE, "NATIONAL-EXCHANGE", ("CATALOG_PROVIDER", "CATALOG_CONSUMER"),
                      t_read="2026-11-28T10:00:03+08:00")
        w = self._item(db)
        ctx.sut.sync()
        first = self._dn(db)
        self.flag(findings, first != [self.DN_I], "TBS-LP-058", f"dn rows {first} differ from §8.6", "下行目录行与§8.6不符")
        w.row("up_task_general_basic", {**self.ITEM, "cd_operation": "D", "cd_time": "2026-11-21 09:00:00",
                                        "version": 6}, upsert=True)
        w.commit("2026-11-21 09:00:01")
        ctx.sut.sync()
        revoked = self._dn(db)
        self.flag(findings, [(r.get("cd_operation"), r.get("task_state"), r.get("version"), r.get("task_version"))
                             for r in revoked] != [("D", "3", 2, 6)],
                  "TBS-LP-058", f"the revoked item's dn row is {revoked}", "注销事项的下行行不符")
        db.close()
        db = ctx.open(self.PROVINCE, "NATIONAL-EXCHANGE", ("CATALOG_PROVIDER",), t_read="2026-11-28T10:00:03+08:00")
        self._item(db)
        ctx.sut.sync()
        self.flag(findings, self._dn(db),
                  "TBS-LP-057", "dn rows written for a partner without CATALOG_CONSUMER", "未声明CATALOG_CONSUMER仍写入下行行")
        return self.result(findings, [{"note": "§8.6, its revocation, and a partner without the role",
                                       "dn": first}])


class Lp17Alerts(LpTest):
    test_id = "LP-17"
    level = Level.SHOULD
    requirement_ids = ("TBS-LP-026", "TBS-LP-027", "TBS-LP-028", "TBS-LP-052")
    description = ("the operator is alerted to markers outside the look-back or from the future; a batch's "
                   "receipts are written before the next poll")

    def run(self, ctx: LpContext) -> TestResult:
        skip = _needs(ctx, "alerts")
        if skip:
            return skip
        db, w, stored = _step_synced(ctx, "2026-11-28 09:58:00")
        findings = []
        self.flag(findings, stored not in {r["cd_batch"] for r in db.receipts()},
                  "TBS-LP-052", "the batch's receipts were not written within the poll", "批次回执未在本次轮询内写入")
        before = len(ctx.sut.alerts())
        w.row("up_pro_process", {**STEP, "row_guid": "kit-too-late", "event_start_time": "2026-11-04 15:31:00"})
        too_late = w.commit("2026-11-28 09:40:00")  # 18 minutes before the cursor: outside L = PT10M
        ctx.sut.sync()
        lost = [a for a in ctx.sut.alerts()[before:] if too_late in a]
        self.flag(findings, not lost, "TBS-LP-026", "no alert for a marker outside the look-back", "回看窗口之外的标记未告警")
        before = len(ctx.sut.alerts())
        w.row("up_pro_process", {**STEP, "row_guid": "kit-future", "event_start_time": "2026-11-04 15:32:00"})
        future = w.commit("2026-11-28 11:00:00")
        ctx.sut.sync()
        self.flag(findings, not [a for a in ctx.sut.alerts()[before:] if future in a],
                  "TBS-LP-027", "no alert for a marker from the future", "未来时间的标记未告警")
        return self.result(findings, [{"note": "a late and a future marker"}])


LP_READER_TESTS: tuple[type[LpTest], ...] = (
    Lp01Mapping, Lp02ReadOnly, Lp03Markers, Lp04Torn, Lp05Cursor, Lp06ExactlyOnce, Lp07FailureKinds, Lp08Identity,
    Lp09ItemChanges, Lp10Holds, Lp11Numbering, Lp12Times, Lp13Receipts, Lp14Dialects, Lp15Downward, Lp16EaJcStep, Lp17Alerts)


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
        ctx = LpContext(sut)
        try:
            result = test.run(ctx)
        except Exception as exc:  # noqa: BLE001 - the harness failed
            result = TestResult(Result.ERROR, [{"note": "the test harness failed"}],
                                [KitFinding("TBS-CONF-002", f"harness error: {type(exc).__name__}: {exc}",
                                            f"测试工具出错：{type(exc).__name__}")], str(exc))
        finally:
            ctx.close()
        runs.append(LpRun(test, result, time.monotonic() - start))
    return runs, role_verdict([r.result.result for r in runs if r.test.level is Level.SHALL])
