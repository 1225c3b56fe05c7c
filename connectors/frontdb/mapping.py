"""Legacy rows → TBS-1.0 records, exactly as the mapping tables of TBS-LP-1.0 §3–§5 say.

Inputs are **read values** (TBS-LP-012, upper-cased by TBS-LP-100 b). Every mapper returns
the record and its **sources**: JSON Pointer (record-relative) → (table, row_guid, column),
which TBS-LP-004 uses to name the legacy origin of a finding. Nothing is repaired,
defaulted or inferred (TBS-LP-003): a member whose source is NULL is absent.

The named transforms a new provincial profile may reuse are the functions at the top.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable

from tongban.connectors.frontdb.profile import Profile, dialect_tables
from tongban.connectors.frontdb.values import tbs_datetime

Source = tuple[str, str, str]  # (table, row_guid, column)
Region = Callable[[str | None, str, str, str], tuple[str | None, Source]]


# --- named transforms -------------------------------------------------------------------
def listed(value: str | None) -> list[str] | None:
    """TBS-LP-100 c: split at commas, drop duplicates, code point order."""
    return None if value is None else sorted(set(value.split(",")))


def region_of_code(code: str | None) -> str | None:
    """First 6 digits of a 6-, 9- or 12-digit region code, else unchanged (TBS-CODE-003)."""
    if code is not None and code.isascii() and code.isdigit() and len(code) in (6, 9, 12):
        return code[:6]
    return code


def item_type(value: str | None) -> str | None:
    return "0" + value if value is not None and len(value) == 1 and value.isascii() and value.isdigit() else value


_GB11643_W = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]


def upgrade_id15(id_type: str | None, id_no: str | None) -> str | None:
    """TBS-LP-105 / TBS-CODE-020: a 15-digit resident number becomes 18 digits."""
    if id_type == "111" and id_no is not None and len(id_no) == 15 and id_no.isascii() and id_no.isdigit():
        body = id_no[:6] + "19" + id_no[6:]
        check = "10X98765432"[sum(int(c) * w for c, w in zip(body, _GB11643_W)) % 11]
        return body + check
    return id_no


def put(record: dict[str, Any], sources: dict[str, Source], member: str, value: Any, source: Source) -> None:
    """Set ``member`` (a pointer) when ``value`` is not None; record its source either way."""
    sources[member] = source
    if value is None:
        return
    if member.find("/", 1) < 0:  # a top-level member: most of them
        record[member[1:]] = value
        return
    parts = member.strip("/").split("/")
    target = record
    for p in parts[:-1]:
        target = target.setdefault(p, {})
    target[parts[-1]] = value


@dataclass
class Mapped:
    dataset: str
    record: dict[str, Any]
    sources: dict[str, Source]
    anchor: tuple[str, str]  # (table, row_guid)
    rows: list[tuple[str, str]] = field(default_factory=list)  # row states the outcome goes to


@dataclass
class Candidate:
    """A case event not yet numbered (TBS-LP-108)."""

    record: dict[str, Any]
    sources: dict[str, Source]
    table: str
    row_guid: str
    part: str  # EVENT SUSPEND RESUME CONCLUDE REQUEST_SUPPLEMENT SUPPLEMENT SUBMIT ACCEPT
    table_rank: int
    sub_rank: tuple = ()  # PROC.SN among EA-JC-STEP PROC rows
    follows: str | None = None  # the part of the same row this one directly follows
    origin: bool = True  # SUBMIT and ACCEPT have no origin (TBS-LP-109)


TYPE_RANK = {"SUBMIT": 1, "REQUEST_SUPPLEMENT": 2, "SUPPLEMENT": 3, "ACCEPT": 4, "REJECT_ACCEPTANCE": 5,
             "RESUME": 6, "REVIEW_STEP": 7, "SUSPEND": 8, "CONCLUDE": 9, "DELIVER": 10, "WITHDRAW": 11}


def order_candidates(cands: list[Candidate]) -> list[Candidate]:
    """TBS-LP-108: SUBMIT first, then time, type rank, table rank, row_guid; the second part
    of a row directly after its first part at the same time."""
    def key(c: Candidate) -> tuple:
        at = c.record.get("occurredAt")
        return (0 if c.record.get("type") == "SUBMIT" else 1, at is None, at or "",
                TYPE_RANK.get(c.record.get("type"), 99), c.table_rank, c.sub_rank, c.row_guid)
    firsts = [c for c in cands if c.follows is None]
    seconds = [c for c in cands if c.follows is not None]
    out = sorted(firsts, key=key)
    for c in sorted(seconds, key=key):
        lead = next((i for i, f in enumerate(out) if f.table == c.table and f.row_guid == c.row_guid
                     and f.part == c.follows and f.record.get("occurredAt") == c.record.get("occurredAt")), None)
        if lead is None:
            keys = [key(x) for x in out]
            i = next((i for i, k in enumerate(keys) if k > key(c)), len(out))
            out.insert(i, c)
        else:
            out.insert(lead + 1, c)
    return out


def handler(name: str | None, name_src: Source, dept: str | None, dept_src: Source,
            record: dict[str, Any], sources: dict[str, Source]) -> None:
    """TBS-LP-106: emitted when the handler column is not NULL."""
    if name is None:
        sources["/handler"] = name_src
        return
    put(record, sources, "/handler", None, name_src)
    put(record, sources, "/handler/name", name, name_src)
    put(record, sources, "/handler/deptUscc", dept, dept_src)


def voided_conclusion(r: dict[str, Any], s: dict[str, Source], table: str, guid: str, operation: str) -> Candidate:
    """The CONCLUDE VOIDED that ends a case whose row the front database deleted (``operation`` = D)."""
    put(r, s, "/stepName", "删除办结", (table, guid, ""))
    put(r, s, "/conclusionCode", "VOIDED", (table, guid, operation))
    put(r, s, "/opinion", f"前置库删除办结（{table}.{operation}=D）", (table, guid, ""))
    return Candidate(r, s, table, guid, "CONCLUDE", 1)


def concluded(r: dict[str, Any], s: dict[str, Source], table: str, guid: str, rank: int, row: dict[str, Any],
              dept: str | None, dept_src: Source, *, at: str, by: str, code_column: str, code: Any,
              opinion: str) -> Candidate:
    """The CONCLUDE of a result row (both profiles): its time (column ``at``), handler (``by``),
    conclusion code (mapped from ``code_column``) and opinion."""
    put(r, s, "/occurredAt", tbs_datetime(row[at]), (table, guid, at))
    handler(row[by], (table, guid, by), dept, dept_src, r, s)
    put(r, s, "/stepName", "办结", (table, guid, ""))
    put(r, s, "/conclusionCode", code, (table, guid, code_column))
    put(r, s, "/opinion", row[opinion], (table, guid, opinion))
    return Candidate(r, s, table, guid, "CONCLUDE", rank)


# --- NATIONAL-EXCHANGE ------------------------------------------------------------------
class NationalExchange:
    """The mapping tables of TBS-LP-1.0 §3."""

    def __init__(self, profile: Profile, dialect: str | None) -> None:
        self.p = profile
        self.dialect = dialect

    def service_item(self, basic: dict[str, Any], extend: dict[str, Any] | None, materials: list[dict[str, Any]],
                     region: Region) -> Mapped:
        B = "up_task_general_basic"
        g = basic["row_guid"]
        r: dict[str, Any] = {}
        s: dict[str, Source] = {}
        put(r, s, "/itemCode", basic["catalog_code"], (B, g, "catalog_code"))
        put(r, s, "/implCode", basic["task_code"], (B, g, "task_code"))
        if basic["task_handle_item"] is not None:
            r["handlingItems"] = [{"code": basic["task_handle_item"]}]
            if basic["task_name"] is not None:
                r["handlingItems"][0]["name"] = basic["task_name"]
        s["/handlingItems"] = (B, g, "task_handle_item")
        s["/handlingItems/0/code"] = (B, g, "task_handle_item")
        s["/handlingItems/0/name"] = (B, g, "task_name")
        put(r, s, "/name", basic["task_name"], (B, g, "task_name"))
        put(r, s, "/itemType", item_type(basic["task_type"]), (B, g, "task_type"))
        tc = basic["task_code"]
        put(r, s, "/level", tc[18] if tc is not None and len(tc) >= 19 else None, (B, g, "task_code"))
        code, src = region(basic["dept_code"], B, g, "dept_code")
        put(r, s, "/regionCode", code, src)
        r["dept"] = {}
        s["/dept"] = (B, g, "dept_name,dept_code,dept_type")
        put(r, s, "/dept/name", basic["dept_name"], (B, g, "dept_name"))
        put(r, s, "/dept/uscc", basic["dept_code"], (B, g, "dept_code"))
        put(r, s, "/dept/nature", basic["dept_type"], (B, g, "dept_type"))
        put(r, s, "/legalBasis", basic["by_law"], (B, g, "by_law"))
        for member, day, unit in (("legalLimit", "anticipate_day", "anticipate_type"),
                                  ("promiseLimit", "promise_day", "promise_type")):
            s[f"/{member}"] = (B, g, f"{day},{unit}")
            if basic[day] is None and basic[unit] is None:
                continue
            r[member] = {}
            m3 = self.p.code("M3_time_unit", basic[unit]) if basic[unit] is not None else None
            value = basic[day]
            if m3 and m3.get("divide_ceil") and value is not None:
                value = math.ceil(value / m3["divide_ceil"])
            put(r, s, f"/{member}/value", value, (B, g, day))
            put(r, s, f"/{member}/unit", m3["unit"] if m3 else None, (B, g, unit))
        put(r, s, "/caseType", self.p.code("M4_project_type", basic["project_type"]), (B, g, "project_type"))
        r["fee"] = {}
        s["/fee"] = (B, g, "is_fee")
        put(r, s, "/fee/charged", self.p.code("M5_flag", basic["is_fee"]), (B, g, "is_fee"))
        put(r, s, "/fee/basis", basic["fee_basis"] if basic["is_fee"] == "1" else None, (B, g, "fee_basis"))
        put(r, s, "/serviceObjects", listed(basic["server_type"]), (B, g, "server_type"))
        put(r, s, "/handlingForms", listed(basic["handle_type"]), (B, g, "handle_type"))
        if extend is not None:
            put(r, s, "/onlineDepth", extend["online_handle_depth"],
                ("up_task_general_extend", extend["row_guid"], "online_handle_depth"))
        else:
            s["/onlineDepth"] = ("up_task_general_extend", "", "online_handle_depth")
        put(r, s, "/onSiteVisits", basic["limit_scene_num"], (B, g, "limit_scene_num"))
        M = "up_task_general_material"
        r["materials"] = []
        s["/materials"] = (M, "", "")
        ordered = sorted(materials, key=lambda m: (m["order_num"] is None, m["order_num"] or 0,
                                                   m["material_name"] or "", m["row_guid"]))
        for i, m in enumerate(ordered):
            mg = m["row_guid"]
            el: dict[str, Any] = {}
            r["materials"].append(el)
            s[f"/materials/{i}"] = (M, mg, "")
            pages = m["page_num"] or 0
            for member, value, col in (("name", m["material_name"], "material_name"),
                                       ("required", self.p.code("M5_flag", m["is_need"]), "is_need"),
                                       ("form", self.p.code("M6_material_format", m["material_format"]),
                                        "material_format"),
                                       ("originals", pages if m["page_format"] == "1" else 0, "page_num,page_format"),
                                       ("copies", pages if m["page_format"] == "2" else 0, "page_num,page_format")):
                s[f"/materials/{i}/{member}"] = (M, mg, col)
                if value is not None:
                    el[member] = value
        if basic["cd_operation"] == "D":
            put(r, s, "/status", "REVOKED", (B, g, "cd_operation"))
        else:
            put(r, s, "/status", self.p.code("M2_task_state", basic["task_state"]), (B, g, "task_state"))
        put(r, s, "/version", basic["version"], (B, g, "version"))
        put(r, s, "/updatedAt", tbs_datetime(basic["cd_time"]), (B, g, "cd_time"))
        return Mapped("catalog", r, s, (B, g))

    def case(self, a: dict[str, Any], region: Region) -> Mapped:
        A = "up_pro_accept"
        g = a["row_guid"]
        r: dict[str, Any] = {}
        s: dict[str, Source] = {}
        put(r, s, "/caseNo", a["project_no"], (A, g, "project_no"))
        put(r, s, "/implCode", a["task_code"], (A, g, "task_code"))
        put(r, s, "/handlingItemCode", a["task_handle_item"], (A, g, "task_handle_item"))
        put(r, s, "/itemName", a["task_name"], (A, g, "task_name"))
        put(r, s, "/caseType", self.p.code("M4_project_type", a["project_type"]), (A, g, "project_type"))
        r["applicant"] = {}
        s["/applicant"] = (A, g, "applyer_type,applyer_name,applyer_page_type,applyer_page_code")
        id_type = self.p.code("M9_id_type", a["applyer_page_type"])
        id_no = upgrade_id15(id_type, a["applyer_page_code"])
        put(r, s, "/applicant/kind", self.p.code("M8_applyer_type", a["applyer_type"]), (A, g, "applyer_type"))
        put(r, s, "/applicant/name", a["applyer_name"], (A, g, "applyer_name"))
        put(r, s, "/applicant/idType", id_type, (A, g, "applyer_page_type"))
        put(r, s, "/applicant/idNo", id_no, (A, g, "applyer_page_code"))
        s["/agent"] = (A, g, "contact_name,contact_type,contact_code")
        s["/agent/kind"] = (A, g, "contact_type")
        s["/agent/name"] = (A, g, "contact_name")
        s["/agent/idType"] = (A, g, "contact_type")
        s["/agent/idNo"] = (A, g, "contact_code")
        if a["contact_type"] is not None or a["contact_code"] is not None:
            ag_type = self.p.code("M9_id_type", a["contact_type"])
            ag_no = upgrade_id15(ag_type, a["contact_code"])
            if not (ag_type is not None and ag_no is not None and ag_type == id_type and ag_no == id_no):
                agent = {"kind": "ORG" if ag_type == "USCC" else "PERSON"}
                for k, v in (("name", a["contact_name"]), ("idType", ag_type), ("idNo", ag_no)):
                    if v is not None:
                        agent[k] = v
                r["agent"] = agent
        put(r, s, "/channel", a["apply_type"], (A, g, "apply_type"))
        code, src = region(a["org_code"], A, g, "org_code")
        put(r, s, "/regionCode", code, src)
        put(r, s, "/submittedAt", tbs_datetime(a["apply_date"]), (A, g, "apply_date"))
        put(r, s, "/promisedBy", tbs_datetime(a["promise_date"]), (A, g, "promise_date"))
        put(r, s, "/version", a["version"], (A, g, "version"))
        return Mapped("case", r, s, (A, g))

    @staticmethod
    def accept_row_event(a: dict[str, Any], event_type: str, type_column: str,
                         at_column: str) -> tuple[dict[str, Any], dict[str, Source], str, str]:
        """An event of an ``up_pro_accept`` row begun: its caseNo, type and occurredAt, with their
        sources (``type_column`` is what the type was read from; empty when implied by the row)."""
        A, g = "up_pro_accept", a["row_guid"]
        r: dict[str, Any] = {}
        s: dict[str, Source] = {}
        put(r, s, "/caseNo", a["project_no"], (A, g, "project_no"))
        r["type"] = event_type
        s["/type"] = (A, g, type_column)
        put(r, s, "/occurredAt", tbs_datetime(a[at_column]), (A, g, at_column))
        return r, s, A, g

    def submit(self, a: dict[str, Any]) -> Candidate:
        r, s, A, g = self.accept_row_event(a, "SUBMIT", "", "apply_date")
        m12 = self.p.codes["M12_submit_step"]
        put(r, s, "/stepName", m12.get(a["apply_type"], m12["*"]), (A, g, "apply_type"))
        return Candidate(r, s, A, g, "SUBMIT", 1, origin=False)

    def accept(self, a: dict[str, Any], source_row: dict[str, Any]) -> Candidate:
        r, s, A, g = self.accept_row_event(a, "ACCEPT", "accept_date", "accept_date")
        handler(a["handle_user_name"], (A, g, "handle_user_name"), source_row["org_code"],
                (A, source_row["row_guid"], "org_code"), r, s)
        put(r, s, "/stepName", "受理", (A, g, ""))
        return Candidate(r, s, A, g, "ACCEPT", 1, origin=False)

    def voided(self, a: dict[str, Any], source_row: dict[str, Any]) -> Candidate:
        r, s, A, g = self.accept_row_event(a, "CONCLUDE", "cd_operation", "cd_time")
        handler(a["handle_user_name"], (A, g, "handle_user_name"), source_row["org_code"],
                (A, source_row["row_guid"], "org_code"), r, s)
        return voided_conclusion(r, s, A, g, "cd_operation")

    def linked_events(self, table: str, row: dict[str, Any], source_row: dict[str, Any]) -> list[Candidate]:
        g = row["row_guid"]
        dept, dept_src = source_row["org_code"], ("up_pro_accept", source_row["row_guid"], "org_code")
        rank = self.p.event_table_rank[table]

        def base(type_: str, type_col: str) -> tuple[dict[str, Any], dict[str, Source]]:
            r: dict[str, Any] = {}
            s: dict[str, Source] = {}
            put(r, s, "/caseNo", row["project_no"], (table, g, "project_no"))
            r["type"] = type_
            s["/type"] = (table, g, type_col)
            return r, s

        out = []
        if table == "up_pro_process":  # the bulk of case-event rows: built in one go
            m10 = self.p.codes["M10_event_name"].get(row["event_name"]) or {}
            src = {"/caseNo": (table, g, "project_no"), "/type": (table, g, "event_name"),
                   "/occurredAt": (table, g, "event_start_time"), "/handler": (table, g, "handle_user_name"),
                   "/handler/name": (table, g, "handle_user_name"), "/handler/deptUscc": dept_src,
                   "/stepName": (table, g, "process_name"), "/action": (table, g, "event_name"),
                   "/opinion": (table, g, "handle_explain")}
            rec = {"caseNo": row["project_no"], "type": m10.get("type"),
                   "occurredAt": tbs_datetime(row["event_start_time"]), "stepName": row["process_name"],
                   "action": m10.get("action"), "opinion": row["handle_explain"]}
            if row["handle_user_name"] is not None:
                rec["handler"] = {"name": row["handle_user_name"]} if dept is None else \
                    {"name": row["handle_user_name"], "deptUscc": dept}
            out.append(Candidate({k: v for k, v in rec.items() if v is not None}, src, table, g, "EVENT", rank))
        elif table == "up_pro_special_procedure":
            r, s = base("SUSPEND", "")
            put(r, s, "/occurredAt", tbs_datetime(row["special_time"]), (table, g, "special_time"))
            handler(row["handle_user"], (table, g, "handle_user"), dept, dept_src, r, s)
            put(r, s, "/stepName", row["special_name"] if row["special_name"] is not None else "特别程序",
                (table, g, "special_name"))
            s["/specialProcedure"] = (table, g, "special_type,special_reason")
            if row["special_type"] is not None or row["special_reason"] is not None:
                put(r, s, "/specialProcedure/code", row["special_type"], (table, g, "special_type"))
                put(r, s, "/specialProcedure/reason", row["special_reason"], (table, g, "special_reason"))
            out.append(Candidate(r, s, table, g, "SUSPEND", rank))
            if row["end_time"] is not None:
                r, s = base("RESUME", "end_time")
                put(r, s, "/occurredAt", tbs_datetime(row["end_time"]), (table, g, "end_time"))
                handler(row["handle_user"], (table, g, "handle_user"), dept, dept_src, r, s)
                put(r, s, "/stepName", "特别程序结束", (table, g, ""))
                put(r, s, "/opinion", row["special_explain"], (table, g, "special_explain"))
                out.append(Candidate(r, s, table, g, "RESUME", rank, follows="SUSPEND"))
        elif table == "up_pro_result":
            r, s = base("CONCLUDE", "result_type")
            out.append(concluded(r, s, table, g, rank, row, dept, dept_src, at="result_date", by="handle_user_name",
                                 code_column="result_type", code=self.p.code("M11_conclusion", row["result_type"]),
                                 opinion="result_explain"))
        return out

    def result(self, row: dict[str, Any], conclusion: str | None, source_row: dict[str, Any]) -> Mapped | None:
        """TBS-LP-110."""
        if row["result_cetr_no"] is None:
            return None
        T, g = "up_pro_result", row["row_guid"]
        A, sg = "up_pro_accept", source_row["row_guid"]
        r: dict[str, Any] = {}
        s: dict[str, Source] = {}
        put(r, s, "/caseNo", row["project_no"], (T, g, "project_no"))
        rtype = ("CERTIFICATE" if conclusion == "APPROVED_WITH_CERT"
                 else "DECISION" if conclusion in ("NOT_PERMITTED", "NOT_ACCEPTED") else "OTHER")
        put(r, s, "/resultType", rtype, (T, g, "result_type"))
        put(r, s, "/certName", row["result_cetr_name"], (T, g, "result_cetr_name"))
        put(r, s, "/certNo", row["result_cetr_no"], (T, g, "result_cetr_no"))
        r["issuer"] = {}
        s["/issuer"] = (A, sg, "org_name,org_code")
        put(r, s, "/issuer/name", source_row["org_name"], (A, sg, "org_name"))
        put(r, s, "/issuer/uscc", source_row["org_code"], (A, sg, "org_code"))
        put(r, s, "/issuedAt", tbs_datetime(row["result_date"]), (T, g, "result_date"))
        return Mapped("result", r, s, (T, g))

    def evaluation(self, row: dict[str, Any]) -> Mapped | str:
        """§3.8 under the partner's dialect; ``"TBS-LP-163"`` for an HCP-ALT default evaluation."""
        T, g = "up_pro_evaluate", row["row_guid"]
        d = dialect_tables()
        dialect = d["dialects"][self.dialect]
        if row["pf"] is not None and row["pf"] in dialect["pf"] and dialect["pf"][row["pf"]] is None:
            return "TBS-LP-163"
        r: dict[str, Any] = {}
        s: dict[str, Source] = {}
        put(r, s, "/caseNo", row["project_no"], (T, g, "project_no"))
        put(r, s, "/assessNo", row["assess_number"], (T, g, "assess_number"))
        channel = None if row["pf"] is None else (d["pf_common"].get(row["pf"]) or dialect["pf"].get(row["pf"]))
        put(r, s, "/channel", channel, (T, g, "pf"))
        sat = row["satisfaction"]
        if sat is not None:
            sat = int(sat) if dialect["satisfaction"] == "direct" else 6 - int(sat)
        put(r, s, "/satisfaction", sat, (T, g, "satisfaction"))
        put(r, s, "/detailCodes", listed(row["eval_detail"]), (T, g, "eval_detail"))
        put(r, s, "/text", row["writing_evaluation"], (T, g, "writing_evaluation"))
        put(r, s, "/assessedAt", tbs_datetime(row["assess_time"]), (T, g, "assess_time"))
        return Mapped("evaluation", r, s, (T, g))


def code_key_valid(profile: Profile, table_name: str, value: str) -> bool:
    """TBS-LP-034: is ``value`` a key of its code table (§5 dialect tables included)?"""
    if table_name == "dialect:pf":
        d = dialect_tables()
        return value in d["pf_common"] or value in ("6", "7")
    if table_name == "dialect:satisfaction":
        return value in dialect_tables()["satisfaction_keys"]
    return value in profile.codes[table_name]


# --- EA-JC-STEP -------------------------------------------------------------------------
class EaJcStep:
    """The mapping tables of TBS-LP-1.0 §4."""

    case_table = "EA_JC_STEP_BASICINFO"
    key = "PROJID"

    def __init__(self, profile: Profile, dialect: str | None = None) -> None:
        self.p = profile

    def case(self, b: dict[str, Any], region: Region | None = None) -> Mapped:
        T, g = self.case_table, b["ROW_GUID"]
        r: dict[str, Any] = {}
        s: dict[str, Source] = {}
        put(r, s, "/caseNo", b["PROJID"], (T, g, "PROJID"))
        impl_col = "COUTASKCODE" if b["COUTASKCODE"] is not None else "IMPLEMENTCODE"
        put(r, s, "/implCode", b[impl_col], (T, g, impl_col))
        put(r, s, "/handlingItemCode", b["TASKHANDLEITEM"], (T, g, "TASKHANDLEITEM"))
        name_col = "SUBITEMNAME" if b["SUBITEMNAME"] is not None else "ITEMNAME"
        put(r, s, "/itemName", b[name_col], (T, g, name_col))
        put(r, s, "/caseType", self.p.code("APPROVALTYPE", b["APPROVALTYPE"]), (T, g, "APPROVALTYPE"))
        r["applicant"] = {}
        s["/applicant"] = (T, g, "APPLYERTYPE,APPLICANT,APPLICANTCARDTYPE,APPLICANTCARDNO")
        id_type = self.p.code("ID_TYPE", b["APPLICANTCARDTYPE"])
        put(r, s, "/applicant/kind", self.p.code("APPLYERTYPE", b["APPLYERTYPE"]), (T, g, "APPLYERTYPE"))
        put(r, s, "/applicant/name", b["APPLICANT"], (T, g, "APPLICANT"))
        put(r, s, "/applicant/idType", id_type, (T, g, "APPLICANTCARDTYPE"))
        put(r, s, "/applicant/idNo", upgrade_id15(id_type, b["APPLICANTCARDNO"]), (T, g, "APPLICANTCARDNO"))
        put(r, s, "/channel", self.p.code("SUBMIT", b["SUBMIT"]), (T, g, "SUBMIT"))
        put(r, s, "/regionCode", region_of_code(b["REGION_ID"]), (T, g, "REGION_ID"))
        put(r, s, "/submittedAt", tbs_datetime(b["OCCURTIME"]), (T, g, "OCCURTIME"))
        put(r, s, "/promisedBy", tbs_datetime(b["PROMISEDATE"]), (T, g, "PROMISEDATE"))
        put(r, s, "/version", b["DATAVER"], (T, g, "DATAVER"))
        return Mapped("case", r, s, (T, g))

    def _base(self, table: str, row: dict[str, Any], type_: str | None, type_col: str):
        r: dict[str, Any] = {}
        s: dict[str, Source] = {}
        put(r, s, "/caseNo", row["PROJID"], (table, row["ROW_GUID"], "PROJID"))
        if type_ is not None:
            r["type"] = type_
        s["/type"] = (table, row["ROW_GUID"], type_col)
        return r, s

    def submit(self, b: dict[str, Any]) -> Candidate:
        T, g = self.case_table, b["ROW_GUID"]
        r, s = self._base(T, b, "SUBMIT", "")
        put(r, s, "/occurredAt", tbs_datetime(b["OCCURTIME"]), (T, g, "OCCURTIME"))
        names = self.p.codes["SUBMIT_STEP"]
        put(r, s, "/stepName", names.get(self.p.code("SUBMIT", b["SUBMIT"]) or "", names["*"]), (T, g, "SUBMIT"))
        return Candidate(r, s, T, g, "SUBMIT", 1, origin=False)

    def accept(self, b: dict[str, Any], source_row: dict[str, Any]) -> None:
        return None  # acceptance is a PROC step (NODERESULT 4) in this profile

    def voided(self, b: dict[str, Any], source_row: dict[str, Any]) -> Candidate:
        T, g = self.case_table, b["ROW_GUID"]
        r, s = self._base(T, b, "CONCLUDE", "CD_OPERATION")
        put(r, s, "/occurredAt", tbs_datetime(b["CD_TIME"]), (T, g, "CD_TIME"))
        handler(b["TRANSACTOR"], (T, g, "TRANSACTOR"), source_row["ACCEPTDEPTID"],
                (T, source_row["ROW_GUID"], "ACCEPTDEPTID"), r, s)
        return voided_conclusion(r, s, T, g, "CD_OPERATION")

    def linked_events(self, table: str, row: dict[str, Any], source_row: dict[str, Any]) -> list[Candidate]:
        g = row["ROW_GUID"]
        rank = self.p.event_table_rank[table]
        dept, dept_src = source_row["ACCEPTDEPTID"], (self.case_table, source_row["ROW_GUID"], "ACCEPTDEPTID")
        out: list[Candidate] = []
        if table == "EA_JC_STEP_PROC":
            if row["NODESTATE"] == "01":
                return out
            code = self.p.code("PROC_NODERESULT", row["NODERESULT"]) or {}
            r, s = self._base(table, row, code.get("type"), "NODERESULT")
            put(r, s, "/occurredAt", tbs_datetime(row["OCCURTIME"]), (table, g, "OCCURTIME"))
            handler(row["NODEPROCERNAME"], (table, g, "NODEPROCERNAME"), row["PROCUNIT"], (table, g, "PROCUNIT"), r, s)
            put(r, s, "/stepName", row["NODENAME"], (table, g, "NODENAME"))
            put(r, s, "/action", code.get("action"), (table, g, "NODERESULT"))
            if code.get("specialProcedureCode"):
                s["/specialProcedure"] = (table, g, "NODERESULT,NODEADV")
                put(r, s, "/specialProcedure/code", code["specialProcedureCode"], (table, g, "NODERESULT"))
                put(r, s, "/specialProcedure/reason", row["NODEADV"], (table, g, "NODEADV"))
            else:
                put(r, s, "/opinion", row["NODEADV"], (table, g, "NODEADV"))
            sn = row["SN"]
            out.append(Candidate(r, s, table, g, "EVENT", rank, sub_rank=(sn is None, sn or 0)))
        elif table == "EA_JC_STEP_SPECIALNODE":
            code = self.p.code("SPECIALNODE_NODERESULT", row["NODERESULT"]) or {}
            first = code.get("type")
            r, s = self._base(table, row, first, "NODERESULT")
            put(r, s, "/occurredAt", tbs_datetime(row["OCCURTIME"]), (table, g, "OCCURTIME"))
            handler(row["TRANSACTOR"], (table, g, "TRANSACTOR"), dept, dept_src, r, s)
            put(r, s, "/stepName", code.get("stepName"), (table, g, "NODERESULT"))
            if first == "SUSPEND":
                s["/specialProcedure"] = (table, g, "NODERESULT,NODEADV")
                put(r, s, "/specialProcedure/code", "2", (table, g, "NODERESULT"))
                put(r, s, "/specialProcedure/reason", row["NODEADV"], (table, g, "NODEADV"))
            else:
                put(r, s, "/opinion", row["NODEADV"], (table, g, "NODEADV"))
            part = "SUSPEND" if first == "SUSPEND" else "REQUEST_SUPPLEMENT"
            out.append(Candidate(r, s, table, g, part, rank))
            if row["ENDTIME"] is not None:
                if first == "SUSPEND":
                    r, s = self._base(table, row, "RESUME", "ENDTIME")
                    put(r, s, "/occurredAt", tbs_datetime(row["ENDTIME"]), (table, g, "ENDTIME"))
                    handler(row["TRANSACTOR"], (table, g, "TRANSACTOR"), dept, dept_src, r, s)
                    put(r, s, "/stepName", "特别程序结束", (table, g, ""))
                    out.append(Candidate(r, s, table, g, "RESUME", rank, follows="SUSPEND"))
                else:
                    r, s = self._base(table, row, "SUPPLEMENT", "ENDTIME")
                    put(r, s, "/occurredAt", tbs_datetime(row["ENDTIME"]), (table, g, "ENDTIME"))
                    put(r, s, "/stepName", "补正材料提交", (table, g, ""))
                    out.append(Candidate(r, s, table, g, "SUPPLEMENT", rank, follows="REQUEST_SUPPLEMENT"))
        elif table == "EA_JC_STEP_DONE":
            r, s = self._base(table, row, "CONCLUDE", "DONERESULT")
            out.append(concluded(r, s, table, g, rank, row, dept, dept_src, at="OCCURTIME", by="TRANSACTOR",
                                 code_column="DONERESULT", code=self.p.code("DONERESULT", row["DONERESULT"]),
                                 opinion="EXITRES"))
        return out

    def result(self, row: dict[str, Any], conclusion: str | None, source_row: dict[str, Any]) -> Mapped | None:
        """TBS-LP-143."""
        if row["CERTIFICATENO"] is None and row["APPROVALNUMBER"] is None:
            return None
        T, g = "EA_JC_STEP_DONE", row["ROW_GUID"]
        r: dict[str, Any] = {}
        s: dict[str, Source] = {}
        put(r, s, "/caseNo", row["PROJID"], (T, g, "PROJID"))
        if row["CERTIFICATENO"] is not None:
            put(r, s, "/resultType", "CERTIFICATE", (T, g, "CERTIFICATENO"))
            put(r, s, "/certName", row["RESULTCETRNAME"], (T, g, "RESULTCETRNAME"))
            put(r, s, "/certNo", row["CERTIFICATENO"], (T, g, "CERTIFICATENO"))
        else:
            put(r, s, "/resultType", "DECISION", (T, g, "APPROVALNUMBER"))
            put(r, s, "/certName", row["RESULTCETRNAME"], (T, g, "RESULTCETRNAME"))
            put(r, s, "/certNo", row["APPROVALNUMBER"], (T, g, "APPROVALNUMBER"))
        r["issuer"] = {}
        s["/issuer"] = (T, g, "PUBLISHER")
        put(r, s, "/issuer/name", row["PUBLISHER"], (T, g, "PUBLISHER"))
        put(r, s, "/issuer/uscc", source_row["ACCEPTDEPTID"], (self.case_table, source_row["ROW_GUID"], "ACCEPTDEPTID"))
        put(r, s, "/issuedAt", tbs_datetime(row["OCCURTIME"]), (T, g, "OCCURTIME"))
        limit = row["CERTIFICATELIMIT"]
        put(r, s, "/validUntil", None if limit is None else limit.isoformat(), (T, g, "CERTIFICATELIMIT"))
        return Mapped("result", r, s, (T, g))


MAPPERS = {"NATIONAL-EXCHANGE": NationalExchange, "EA-JC-STEP": EaJcStep}
NationalExchange.case_table = "up_pro_accept"
NationalExchange.key = "project_no"
