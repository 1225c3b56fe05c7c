"""A reference FRONTDB writer for NATIONAL-EXCHANGE: TBS-1.0 records written as the legacy
rows a department system would write (TBS-LP-013 to -023) — the sandbox's front-database
systems, the conformance kit's data sets and the benchmark use it.

Each item version is one batch (basic, extend, materials; TBS-LP-023); a case's accept row
carries ``accept_date`` from the state its ACCEPT belongs to; steps before acceptance travel
in that batch or earlier. Members the profile cannot carry (TBS-LP-112: result documents and
validity, evaluation dimensions, a handler unit other than the case's accepting body) are
not written.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Iterable

import sqlalchemy as sa

from tongban.model.clock import CST

UNIT = {"WORKDAY": "1", "DAY": "2", "HOUR": "3", "MONTH": "5"}
STATUS = {"ACTIVE": "1", "SUSPENDED": "2", "REVOKED": "3"}
FORM = {"PAPER": "1", "ELECTRONIC": "2", "BOTH": "3"}
KIND = {"PERSON": "1", "ORG": "2"}
CONCLUSION = {"APPROVED_WITH_CERT": "0", "NOT_PERMITTED": "1", "VOIDED": "2", "TRANSFERRED": "4", "RETURNED": "5",
              "NOT_ACCEPTED": "6"}
EVENT_NAME = {("REVIEW_STEP", "OTHER"): "0", ("REVIEW_STEP", "APPROVE"): "1", ("REVIEW_STEP", "RETURN"): "7",
              ("REJECT_ACCEPTANCE", None): "2", ("REQUEST_SUPPLEMENT", None): "5", ("SUPPLEMENT", None): "8",
              ("DELIVER", None): "9", ("WITHDRAW", None): "10"}
CHANNEL_PF = {"PC": "1", "MOBILE": "2", "QRCODE": "3", "HALL_PAD": "4", "HALL_OTHER": "5", "PHONE": "6", "SMS": "7"}
PRE_ACCEPT = ("REQUEST_SUPPLEMENT", "SUPPLEMENT", "REJECT_ACCEPTANCE")


def legacy_time(stamp: str | None) -> str | None:
    """``2026-11-02T09:15:00+08:00`` → ``2026-11-02 09:15:00`` (Beijing time)."""
    if stamp is None:
        return None
    return datetime.fromisoformat(stamp).astimezone(CST).strftime("%Y-%m-%d %H:%M:%S")


def guid(*parts: Any) -> str:
    return hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()[:32]


@dataclass
class Batch:
    rows: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    at: str = ""  # the marker's cd_time

    def add(self, table: str, row: dict[str, Any]) -> None:
        self.rows.append((table, row))
        at = row["CD_TIME"] if table.isupper() else row["cd_time"]  # EA-JC-STEP columns are upper case
        if at > self.at:
            self.at = at


class LegacyWriter:
    """Builds batches of legacy rows from records; :meth:`write` commits them (rows, then the
    manifest and marker in one transaction, TBS-LP-020). A profile's writer adds the methods
    for the records its tables can carry."""

    def __init__(self, prefix: str = "TB", region_code: str = "", data_source: str = "001") -> None:
        self.prefix = prefix
        self.region_code = region_code
        self.data_source = data_source
        self.batches: list[Batch] = []
        self.state: dict[tuple[str, str], dict[str, Any]] = {}  # current row per (table, row_guid)
        self.orgs: set[str] = set()
        self.tick = 0
        self._sorted = False
        self.last_marker: str | None = None

    # --- time of writes: strictly increasing, one second apart --------------------------
    def _cd_time(self, business: str | None) -> str:
        base = datetime.strptime(legacy_time(business), "%Y-%m-%d %H:%M:%S") if business else datetime(2026, 1, 1)
        self.tick += 1
        return (base + timedelta(seconds=self.tick % 50)).strftime("%Y-%m-%d %H:%M:%S")

    # --- writing ------------------------------------------------------------------------
    def write(self, engine: sa.Engine, *, start: int = 0, stop: int | None = None) -> int:
        """Write batches ``start:stop``: rows (the state each row has in that batch), then the
        manifest and the marker in one transaction. Returns the number of batches written."""
        if not self._sorted:  # the writer's clock runs forward: batches in the order of their time
            self.batches.sort(key=lambda b: b.at)
            self._sorted = True
        n = 0
        for i, b in enumerate(self.batches[start:stop], start=start):
            marker_at = b.at if self.last_marker is None or b.at > self.last_marker else \
                (datetime.strptime(self.last_marker, "%Y-%m-%d %H:%M:%S") + timedelta(seconds=1)).strftime(
                    "%Y-%m-%d %H:%M:%S")
            self.last_marker = marker_at
            cd_batch = f"{self.prefix}{i + 1:08d}"
            seen: set[tuple[str, str]] = set()
            with engine.begin() as conn:
                for table, row in b.rows:
                    guid_col, batch_col = ("ROW_GUID", "CD_BATCH") if table.isupper() else ("row_guid", "cd_batch")
                    row = {**row, batch_col: cd_batch}
                    cols = list(row)
                    conn.execute(sa.text(f"DELETE FROM {table} WHERE {guid_col} = :g"), {"g": row[guid_col]})
                    conn.execute(sa.text(f"INSERT INTO {table} ({', '.join(cols)}) VALUES ("
                                         + ", ".join(f":{c}" for c in cols) + ")"), row)
                    seen.add((table, row[guid_col]))
            with engine.begin() as conn:
                for table, g in sorted(seen):
                    conn.execute(sa.text("INSERT INTO tb_batch_row (cd_batch, table_name, row_guid) "
                                         "VALUES (:b, :t, :g)"), {"b": cd_batch, "t": table, "g": g})
                conn.execute(sa.text("INSERT INTO tb_batch (row_guid, cd_operation, cd_time, cd_batch, data_source, "
                                     "row_count) VALUES (:g, 'I', :at, :b, :ds, :n)"),
                             {"g": guid("marker", cd_batch), "at": marker_at, "b": cd_batch, "ds": self.data_source,
                              "n": len(seen)})
            n += 1
        return n


class NationalExchangeWriter(LegacyWriter):
    """NATIONAL-EXCHANGE (TBS-LP-1.0 §3): items, cases with their events and results, evaluations."""

    def _row(self, batch: Batch, table: str, key: str, values: dict[str, Any], at: str) -> None:
        g = guid(table, key)
        op = "U" if (table, g) in self.state else "I"
        if values.pop("_delete", False):
            op = "D"
        before = self.state.get((table, g))
        if before is not None and (before["cd_operation"] == "D") == (op == "D") and \
                {k: v for k, v in before.items() if k not in ("row_guid", "cd_operation", "cd_time", "data_source")} == values:
            return  # unchanged: a writer writes changed rows only (TBS-LP-103)
        row = {"row_guid": g, "cd_operation": op, "cd_time": at, "data_source": self.data_source, **values}
        self.state[(table, g)] = row
        batch.add(table, row)

    def _org(self, batch: Batch, uscc: str | None, region: str | None, at: str) -> None:
        if uscc and uscc not in self.orgs:
            self.orgs.add(uscc)
            self._row(batch, "up_uc_gov_org", uscc, {"org_cc_code": uscc, "region_code": region}, at)

    # --- catalog ------------------------------------------------------------------------
    def item(self, r: dict[str, Any]) -> None:
        b = Batch()
        at = legacy_time(r["updatedAt"])
        self._org(b, r["dept"].get("uscc"), r.get("regionCode"), at)
        hi = (r.get("handlingItems") or [{}])[0]
        legal, promise = r.get("legalLimit") or {}, r.get("promiseLimit") or {}
        basic = {"version": r["version"], "task_code": r["implCode"], "task_handle_item": hi.get("code"),
                 "catalog_code": r["itemCode"], "task_name": r["name"], "task_type": r["itemType"],
                 "task_state": STATUS[r["status"]], "by_law": r.get("legalBasis"), "dept_code": r["dept"].get("uscc"),
                 "dept_name": r["dept"].get("name"), "dept_type": r["dept"].get("nature"),
                 "anticipate_day": legal.get("value"), "anticipate_type": UNIT.get(legal.get("unit")),
                 "promise_day": promise.get("value"), "promise_type": UNIT.get(promise.get("unit")),
                 "project_type": r.get("caseType"), "is_fee": "1" if r["fee"].get("charged") else "0",
                 "fee_basis": r["fee"].get("basis"), "server_type": ",".join(r.get("serviceObjects") or []) or None,
                 "handle_type": ",".join(r.get("handlingForms") or []) or None,
                 "limit_scene_num": r.get("onSiteVisits")}
        if r["status"] == "REVOKED":
            basic["_delete"] = True
            basic["task_state"] = "1"
        self._row(b, "up_task_general_basic", r["implCode"], basic, at)
        self._row(b, "up_task_general_extend", r["implCode"],
                  {"task_code": r["implCode"], "online_handle_depth": r.get("onlineDepth")}, at)
        names = set()
        for i, m in enumerate(r.get("materials") or []):
            names.add(m["name"])
            fmt = "1" if m.get("originals") else "2" if m.get("copies") else None
            self._row(b, "up_task_general_material", f"{r['implCode']}|{m['name']}",
                      {"task_code": r["implCode"], "material_name": m["name"], "is_need": "1" if m["required"] else "0",
                       "material_format": FORM[m["form"]], "page_num": m.get("originals") or m.get("copies") or None,
                       "page_format": fmt, "order_num": i + 1}, at)
        for (table, g), row in list(self.state.items()):  # materials dropped by this version
            if table == "up_task_general_material" and row["task_code"] == r["implCode"] \
                    and row["material_name"] not in names and row["cd_operation"] != "D":
                self._row(b, table, f"{r['implCode']}|{row['material_name']}",
                          {**{k: v for k, v in row.items() if k not in ("row_guid", "cd_operation", "cd_time",
                                                                      "data_source")}, "_delete": True}, at)
        self.batches.append(b)

    # --- cases ------------------------------------------------------------------------
    def case(self, versions: list[dict[str, Any]], events: list[dict[str, Any]], results: list[dict[str, Any]],
             *, org_code: str, org_name: str) -> None:
        """One case: its Case versions, its events in ``seq`` order and its Results."""
        accept = next((e for e in events if e["type"] == "ACCEPT"), None)
        case_no = versions[0]["caseNo"]
        pre = [e for e in events if e["type"] in PRE_ACCEPT and (accept is None or e["seq"] < accept["seq"])]
        post = [e for e in events if e["type"] not in ("SUBMIT", "ACCEPT") and e not in pre]
        accepted_in = len(versions) - 1 if accept is not None else None
        for i, c in enumerate(versions):
            b = Batch()
            at = legacy_time(c["submittedAt"]) if i == 0 else legacy_time((accept or {}).get("occurredAt")
                                                                         or c["submittedAt"])
            self._org(b, org_code, c.get("regionCode"), at)
            applicant, agent = c["applicant"], c.get("agent") or {}
            row = {"version": c["version"], "project_no": case_no, "task_code": c["implCode"],
                   "task_handle_item": c.get("handlingItemCode"), "task_name": c.get("itemName"),
                   "project_type": c.get("caseType"), "apply_type": c.get("channel"),
                   "apply_date": legacy_time(c.get("submittedAt")), "promise_date": legacy_time(c.get("promisedBy")),
                   "org_code": org_code, "org_name": org_name,
                   "applyer_type": KIND.get(applicant.get("kind")), "applyer_name": applicant.get("name"),
                   "applyer_page_type": applicant.get("idType"), "applyer_page_code": applicant.get("idNo"),
                   "contact_name": agent.get("name"), "contact_type": agent.get("idType"),
                   "contact_code": agent.get("idNo")}
            if accepted_in is not None and i >= accepted_in:
                row["accept_date"] = legacy_time(accept["occurredAt"])
                row["handle_user_name"] = (accept.get("handler") or {}).get("name")
            self._row(b, "up_pro_accept", case_no, row, self._cd_time(None) if False else at)
            if accepted_in is None or i == accepted_in:
                for e in pre:
                    self._event(b, e, at)
                if accepted_in is None:
                    pre = []
            self.batches.append(b)
        if not post:
            return
        b = Batch()
        at = max(legacy_time(e["occurredAt"]) for e in post)
        suspends: dict[str, dict[str, Any]] = {}
        open_suspend = None
        for e in post:
            if e["type"] == "SUSPEND":
                open_suspend = e
                suspends[guid(case_no, e["seq"])] = {"suspend": e}
            elif e["type"] == "RESUME" and open_suspend is not None:
                suspends[guid(case_no, open_suspend["seq"])]["resume"] = e
                open_suspend = None
            elif e["type"] == "CONCLUDE":
                res = next((r for r in results), None)
                self._row(b, "up_pro_result", f"{case_no}|{e['seq']}",
                          {"project_no": case_no, "result_date": legacy_time(e["occurredAt"]),
                           "result_type": CONCLUSION[e["conclusionCode"]], "result_explain": e.get("opinion"),
                           "result_cetr_name": (res or {}).get("certName"), "result_cetr_no": (res or {}).get("certNo"),
                           "handle_user_name": (e.get("handler") or {}).get("name")}, at)
            else:
                self._event(b, e, at)
        for key, pair in suspends.items():
            s, r = pair["suspend"], pair.get("resume")
            sp = s.get("specialProcedure") or {}
            self._row(b, "up_pro_special_procedure", key,
                      {"project_no": case_no, "special_type": sp.get("code"), "special_name": s.get("stepName"),
                       "special_reason": sp.get("reason"), "special_time": legacy_time(s["occurredAt"]),
                       "end_time": legacy_time(r["occurredAt"]) if r else None,
                       "special_explain": (r or {}).get("opinion"),
                       "handle_user": (s.get("handler") or {}).get("name")}, at)
        self.batches.append(b)

    def _event(self, b: Batch, e: dict[str, Any], at: str) -> None:
        self._row(b, "up_pro_process", f"{e['caseNo']}|{e['seq']}",
                  {"project_no": e["caseNo"], "process_name": e.get("stepName"),
                   "event_name": EVENT_NAME[(e["type"], e.get("action"))],
                   "handle_user_name": (e.get("handler") or {}).get("name"), "handle_explain": e.get("opinion"),
                   "event_start_time": legacy_time(e["occurredAt"])}, at)

    def evaluations(self, records: Iterable[dict[str, Any]]) -> None:
        b = Batch()
        for r in records:
            at = legacy_time(r["assessedAt"])
            self._row(b, "up_pro_evaluate", f"{r['caseNo']}|{r['assessNo']}",
                      {"project_no": r["caseNo"], "pf": CHANNEL_PF[r["channel"]],
                       "satisfaction": str(r["satisfaction"]),
                       "eval_detail": ",".join(r.get("detailCodes") or []) or None,
                       "writing_evaluation": r.get("text"), "assess_time": at,
                       "assess_number": r["assessNo"]}, at)
        if b.rows:
            self.batches.append(b)


# --- EA-JC-STEP (TBS-LP-1.0 §4) ------------------------------------------------------------
PROC_RESULT = {("REVIEW_STEP", "OTHER"): "0", ("REVIEW_STEP", "APPROVE"): "1", ("REVIEW_STEP", "RETURN"): "7",
               ("REJECT_ACCEPTANCE", None): "2", ("ACCEPT", None): "4"}
SUBMIT_CODE = {"1": "0", "2": "1"}  # other channels: "2" (TBS-LP-141 maps 2–8 to "9")
APPROVAL_TYPE = {"1": "1", "2": "2"}  # other case types: "3" (→ "9")
NOT_EXPRESSIBLE = ("DELIVER", "WITHDRAW")  # TBS-LP-145
SUSPEND_NODE = "5"  # 挂起: the special step of a suspension that names no other kind


class EaJcStepWriter(LegacyWriter):
    """A provincial case database (EA_JC_STEP_*) written from TBS-1.0 cases: a BASICINFO state
    per Case version, then one batch with the case's steps (PROC), special steps (SPECIALNODE,
    a supplement request with its supplement, a suspension with its resumption) and completion
    (DONE, carrying the Result's licence). What the profile cannot express (TBS-LP-145:
    DELIVER, WITHDRAW, agents, the extension code of a suspension) is not written."""

    def _row(self, batch: Batch, table: str, key: str, values: dict[str, Any], at: str) -> None:
        g = guid(table, key)
        op = "D" if values.pop("_delete", False) else "U" if (table, g) in self.state else "I"
        before = self.state.get((table, g))
        if before is not None and before["CD_OPERATION"] == op and \
                {k: v for k, v in before.items() if k not in ("ROW_GUID", "CD_OPERATION", "CD_TIME",
                                                              "DATA_SOURCE")} == values:
            return
        row = {"ROW_GUID": g, "CD_OPERATION": op, "CD_TIME": at, "DATA_SOURCE": self.data_source, **values}
        self.state[(table, g)] = row
        batch.add(table, row)

    def case(self, versions: list[dict[str, Any]], events: list[dict[str, Any]], results: list[dict[str, Any]],
             *, org_code: str, org_name: str | None) -> None:
        case_no = versions[0]["caseNo"]
        accept = next((e for e in events if e["type"] == "ACCEPT"), None)
        for i, c in enumerate(versions):
            b = Batch()
            at = legacy_time(c["submittedAt"] if i == 0 or accept is None else accept["occurredAt"])
            applicant = c["applicant"]
            self._row(b, "EA_JC_STEP_BASICINFO", case_no, {
                "PROJID": case_no, "DATAVER": c["version"], "REGION_ID": c.get("regionCode"),
                "OCCURTIME": legacy_time(c.get("submittedAt")), "COUTASKCODE": c["implCode"],
                "TASKHANDLEITEM": c.get("handlingItemCode"), "SUBITEMNAME": c.get("itemName"),
                "APPROVALTYPE": APPROVAL_TYPE.get(c.get("caseType"), "3"), "APPLYERTYPE": KIND.get(applicant.get("kind")),
                "APPLICANT": applicant.get("name"), "APPLICANTCARDTYPE": applicant.get("idType"),
                "APPLICANTCARDNO": applicant.get("idNo"), "SUBMIT": SUBMIT_CODE.get(c.get("channel"), "2"),
                "PROMISEDATE": legacy_time(c.get("promisedBy")), "ACCEPTDEPTID": org_code,
                "ACCEPTDEPTNAME": org_name}, at)
            self.batches.append(b)
        steps = [e for e in events if e["type"] != "SUBMIT"]
        if not steps:
            return
        b = Batch()
        at = max(legacy_time(e["occurredAt"]) for e in steps)
        result = results[0] if results else None
        for n, e in enumerate(steps):
            kind, handler = e["type"], e.get("handler") or {}
            if kind in NOT_EXPRESSIBLE or kind in ("SUPPLEMENT", "RESUME"):
                continue  # SUPPLEMENT and RESUME are the ENDTIME of the special step before them
            if kind in ("REQUEST_SUPPLEMENT", "SUSPEND"):
                end_type = "SUPPLEMENT" if kind == "REQUEST_SUPPLEMENT" else "RESUME"
                end = next((x for x in steps[n + 1:] if x["type"] == end_type), None)
                self._row(b, "EA_JC_STEP_SPECIALNODE", f"{case_no}|{e['seq']}", {
                    "PROJID": case_no, "NODERESULT": "6" if kind == "REQUEST_SUPPLEMENT" else SUSPEND_NODE,
                    "OCCURTIME": legacy_time(e["occurredAt"]), "TRANSACTOR": handler.get("name"),
                    "NODEADV": e.get("opinion") if kind == "REQUEST_SUPPLEMENT"
                    else (e.get("specialProcedure") or {}).get("reason"),
                    "ENDTIME": legacy_time(end["occurredAt"]) if end else None}, at)
            elif kind == "CONCLUDE":
                cert = result is not None and result["resultType"] == "CERTIFICATE"
                self._row(b, "EA_JC_STEP_DONE", f"{case_no}|{e['seq']}", {
                    "PROJID": case_no, "DONERESULT": CONCLUSION[e["conclusionCode"]],
                    "OCCURTIME": legacy_time(e["occurredAt"]), "TRANSACTOR": handler.get("name"),
                    "EXITRES": e.get("opinion"),
                    "CERTIFICATENO": result["certNo"] if cert else None,
                    "APPROVALNUMBER": result["certNo"] if result is not None and not cert else None,
                    "RESULTCETRNAME": (result or {}).get("certName"),
                    "PUBLISHER": ((result or {}).get("issuer") or {}).get("name"),
                    "CERTIFICATELIMIT": (result or {}).get("validUntil")}, at)
            else:
                self._row(b, "EA_JC_STEP_PROC", f"{case_no}|{e['seq']}", {
                    "PROJID": case_no, "SN": e["seq"], "NODENAME": e.get("stepName"), "NODESTATE": "02",
                    "NODERESULT": PROC_RESULT[(kind, e.get("action"))], "NODEPROCERNAME": handler.get("name"),
                    "PROCUNIT": handler.get("deptUscc"), "NODEADV": e.get("opinion"),
                    "OCCURTIME": legacy_time(e["occurredAt"])}, at)
        self.batches.append(b)
