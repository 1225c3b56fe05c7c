"""Sandbox systems that publish only through a front database (前置库, TBS-LP-1.0): a county
writes NATIONAL-EXCHANGE legacy rows, a provincial department's case system (the vertical line
of one department, reporting the cases of every level it handles) writes EA-JC-STEP rows.
They are written batch by batch into a SQLite file under the sandbox folder or, when
``TONGBAN_SANDBOX_MARIADB_URL`` names a MariaDB/MySQL server, into a database of their own
there. The bus reads them like any FRONTDB partner.

Besides its records, the writer leaves what real front databases hold: an item updated in
place, a case deleted at its source, a step written before its case, a torn batch and a few
bad rows — so that the receipts show rejections.
"""
from __future__ import annotations

import os
from datetime import datetime, timedelta
from pathlib import Path
from typing import Collection

import sqlalchemy as sa

from tongban.connectors.frontdb.database import FrontDatabase
from tongban.connectors.frontdb.profile import load_profile
from tongban.connectors.frontdb.writer import Batch, EaJcStepWriter, LegacyWriter, NationalExchangeWriter, guid
from tongban.model.datasets import ROLE_DATASETS
from tongban.sandbox.systems import SandboxData, SandboxSystem

MARIADB_ENV = "TONGBAN_SANDBOX_MARIADB_URL"
DIALECT = "HCP-NATIONAL"
DEPARTMENT_CODE = "GDSCJGJ"  # the province's market regulation administration (市场监督管理局)
DEPARTMENT_ROLES = ("CASE_REPORTER", "RESULT_PUBLISHER")


def profile_of(system: SandboxSystem) -> str:
    """A department's case system writes the provincial case tables; a county the national ones."""
    return "EA-JC-STEP" if system.level == "department" else "NATIONAL-EXCHANGE"


def provincial_department(data: SandboxData) -> SandboxSystem:
    """A provincial department's case system over EA-JC-STEP: its vertical line handles cases
    at every level, so it reports the cases, steps and Results of every system of the province
    (the same cases the halls report: serve it instead of those systems' case datasets, not
    beside them)."""
    province = data.province
    dept = SandboxSystem(system_id=f"TB:department:{province.region_code}:{DEPARTMENT_CODE}", level="department",
                         region_code=province.region_code, name=f"{province.name[:3]}市场监督管理局审批系统",
                         parent_id=None, roles=DEPARTMENT_ROLES, departments=province.departments)
    for system in data.systems.values():
        for dataset in (d for role in DEPARTMENT_ROLES for d in ROLE_DATASETS[role]):
            dept._entries[dataset].extend(system._entries[dataset])
    return dept


def front_url(system: SandboxSystem, folder: Path) -> str:
    code = system.system_id.rsplit(":", 1)[1].lower()
    server = os.environ.get(MARIADB_ENV)
    if not server:
        (folder / "frontdb").mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{folder / 'frontdb' / f'{code}.db'}"
    name = f"tongban_frontdb_{code}"
    admin = sa.create_engine(server)
    with admin.begin() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE IF NOT EXISTS {name} CHARACTER SET utf8mb4 COLLATE utf8mb4_bin")
    admin.dispose()
    return sa.engine.make_url(server).set(database=name).render_as_string(hide_password=False)


def cases_of(system: SandboxSystem) -> dict[str, tuple[list, list, list]]:
    """caseNo → (its Case versions, events, Results) among the system's records."""
    cases: dict[str, tuple[list, list, list]] = {}
    for slot, dataset in enumerate(("case", "case-event", "result")):
        for record in system.records(dataset):
            cases.setdefault(record["caseNo"], ([], [], []))[slot].append(record)
    return cases


def legacy_writer(system: SandboxSystem, *, plant: bool = True) -> LegacyWriter:
    """The system's records as legacy batches (cases with their events and results), with the
    planted faults unless ``plant`` is False."""
    if profile_of(system) == "EA-JC-STEP":
        return ea_writer(system, plant=plant)
    w = NationalExchangeWriter(prefix=system.system_id.rsplit(":", 1)[1][:4], region_code=system.region_code)
    for item in system.records("catalog"):
        w.item(item)
    cases = cases_of(system)
    for versions, events, results in cases.values():
        if not versions:
            continue
        if results:
            org = (results[0]["issuer"]["uscc"], results[0]["issuer"].get("name"))
        else:
            units = [e["handler"]["deptUscc"] for e in events if e.get("handler")]
            org = (units[-1] if units else None, None)
        w.case(versions, events, results, org_code=org[0], org_name=org[1])
    w.evaluations(system.records("evaluation"))
    if plant:
        plant_legacy_faults(w, system)
    return w


def plant_legacy_faults(w: NationalExchangeWriter, system: SandboxSystem) -> None:
    """What the receipts are for: a step before its case (held, then stored when its case
    arrives two batches later), a deleted case,
    bad rows (unknown codes, a deletion of an unknown row) and a torn
    batch (its manifest lists a row that was never written)."""
    if not w.batches:
        return
    last = max(b.at for b in w.batches)
    case = next((c for c in system.records("case")), None)
    if case is None:
        return
    bad = Batch()
    step = {"row_guid": guid("sandbox", "bad-step"), "cd_operation": "I", "cd_time": last, "data_source": "001",
            "project_no": case["caseNo"], "process_name": "复核", "event_name": "4", "handle_user_name": "王五",
            "event_start_time": last}
    bad.add("up_pro_process", step)
    bad.add("up_pro_process", {**step, "row_guid": guid("sandbox", "never-stored"), "event_name": "1",
                                "cd_operation": "D"})  # a deletion of a row the bus never saw
    bad.add("up_pro_evaluate", {"row_guid": guid("sandbox", "bad-pf"), "cd_operation": "I", "cd_time": last,
                                "data_source": "001", "project_no": case["caseNo"], "pf": "8", "satisfaction": "5",
                                "assess_time": last, "assess_number": 1})
    w.batches.append(bad)
    early = Batch()  # a step of a case whose case arrives two batches later
    source = first_accepted(w)  # the case the late one is a copy of: its number is derived from it
    orphan = (source["project_no"] if source else case["caseNo"])[:-4] + "9999"
    early.add("up_pro_process", {"row_guid": guid("sandbox", "early-step"), "cd_operation": "I", "cd_time": last,
                                 "data_source": "001", "project_no": orphan, "process_name": "审查",
                                 "event_name": "1", "handle_user_name": "王五", "event_start_time": last})
    w.batches.append(early)
    torn = Batch()
    torn.add("up_pro_process", {**step, "row_guid": guid("sandbox", "torn-step"), "event_name": "1"})
    torn.torn = True  # type: ignore[attr-defined]
    w.batches.append(torn)
    if source is not None:
        w.batches.append(late_parent(source, orphan, last))


def ea_writer(system: SandboxSystem, *, plant: bool = True) -> EaJcStepWriter:
    """The department's cases as EA_JC_STEP_* batches; the accepting body (``ACCEPTDEPTID``) is
    the issuer of the case's Result, else the unit of its CONCLUDE's or first handler."""
    w = EaJcStepWriter(prefix=system.system_id.rsplit(":", 1)[1][:4], region_code=system.region_code)
    cases = cases_of(system)
    for case_no in sorted(cases):
        versions, events, results = cases[case_no]
        if not versions:
            continue
        w.case(versions, events, results, org_code=accepting_body(events, results), org_name=None)
    if plant:
        plant_ea_faults(w)
    return w


def accepting_body(events: list[dict], results: list[dict]) -> str | None:
    if results:
        return results[0]["issuer"]["uscc"]
    conclude = [e["handler"] for e in events if e["type"] == "CONCLUDE" and e.get("handler")]
    handlers = [e["handler"] for e in events if e.get("handler")]
    return ((conclude or handlers or [{}])[0]).get("deptUscc")


def plant_ea_faults(w: EaJcStepWriter) -> None:
    """A filing step with an unknown NODERESULT (TBS-LP-034, as in §8.5) and a step written
    before its case, whose BASICINFO row follows two batches later (held, then stored)."""
    if not w.batches:
        return
    last = max(b.at for b in w.batches)
    basics = sorted((row for (table, _), row in w.state.items() if table == "EA_JC_STEP_BASICINFO"),
                    key=lambda r: r["PROJID"])
    if not basics:
        return
    case = basics[0]
    step = {"ROW_GUID": guid("sandbox", "ea-bad-step"), "CD_OPERATION": "I", "CD_TIME": last, "DATA_SOURCE": "001",
            "PROJID": case["PROJID"], "SN": 99, "NODENAME": "归档", "NODESTATE": "02", "NODERESULT": "8",
            "NODEPROCERNAME": "王五", "PROCUNIT": case["ACCEPTDEPTID"], "OCCURTIME": last}
    bad = Batch()
    bad.add("EA_JC_STEP_PROC", step)
    w.batches.append(bad)
    orphan = case["PROJID"][:-4] + "9999"
    early = Batch()
    early.add("EA_JC_STEP_PROC", {**step, "ROW_GUID": guid("sandbox", "ea-early-step"), "PROJID": orphan, "SN": 1,
                                  "NODENAME": "受理", "NODERESULT": "4", "NODEADV": "材料齐全，予以受理。"})
    w.batches.append(early)
    at = (datetime.strptime(last, "%Y-%m-%d %H:%M:%S") + timedelta(minutes=1)).strftime("%Y-%m-%d %H:%M:%S")
    parent = Batch()
    parent.add("EA_JC_STEP_BASICINFO", {**case, "ROW_GUID": guid("sandbox", "ea-late-basic"), "CD_OPERATION": "I",
                                        "CD_TIME": at, "DATAVER": 1, "PROJID": orphan})
    w.batches.append(parent)


def first_accepted(w: NationalExchangeWriter) -> dict | None:
    """The accept row of the system's first accepted case (by case number)."""
    accepted = sorted((row for (table, _), row in w.state.items()
                       if table == "up_pro_accept" and row.get("accept_date") and row["cd_operation"] != "D"),
                      key=lambda r: r["project_no"])
    return accepted[0] if accepted else None


def late_parent(source: dict, case_no: str, after: str) -> Batch:
    """The accept row of the early step's case, a minute after the planted batches: the accepted
    case ``source`` written again under ``case_no`` (its number with another serial, so item,
    applicant and dates stay real), so the held step is released and numbered after its SUBMIT
    and ACCEPT (TBS-LP-047)."""
    at = (datetime.strptime(after, "%Y-%m-%d %H:%M:%S") + timedelta(minutes=1)).strftime("%Y-%m-%d %H:%M:%S")
    row = {**source, "row_guid": guid("sandbox", "late-accept"), "cd_operation": "I", "cd_time": at,
           "version": 1, "project_no": case_no}
    b = Batch()
    b.add("up_pro_accept", row)
    return b


def publish(system: SandboxSystem, folder: Path) -> tuple[str, int]:
    """Create the front database (once) and write the batches not yet written."""
    url = front_url(system, folder)
    profile = load_profile(profile_of(system))
    db = FrontDatabase(url, profile, profile.tables_for(set(system.roles)))
    try:
        if "tb_batch" not in sa.inspect(db.engine).get_table_names():
            db.create_schema()
        with db.engine.connect() as conn:
            done = conn.execute(sa.text("SELECT COUNT(*) FROM tb_batch")).scalar_one()
        w = legacy_writer(system)
        written = w.write(db.engine, start=done) if done < len(w.batches) else 0
        for i, b in enumerate(w.batches):  # the torn batch: its manifest names a row never written
            if getattr(b, "torn", False) and i >= done:
                with db.engine.begin() as conn:
                    conn.execute(sa.text("INSERT INTO tb_batch_row (cd_batch, table_name, row_guid) "
                                         "VALUES (:b, 'up_pro_process', 'never-written')"),
                                 {"b": f"{w.prefix}{i + 1:08d}"})
                    conn.execute(sa.text("UPDATE tb_batch SET row_count = row_count + 1 WHERE cd_batch = :b"),
                                 {"b": f"{w.prefix}{i + 1:08d}"})
    finally:
        db.close()
    return url, written


def start_frontdb(system: SandboxSystem, folder: Path, tls, relay: Collection[str] = ()):
    from tongban.sandbox.runtime import RunningSystem

    url, _ = publish(system, folder)
    env = "TONGBAN_FRONTDB_" + system.system_id.rsplit(":", 1)[1].replace("-", "_").upper()
    os.environ[env] = url
    running = RunningSystem(system, "frontdb", "", {})
    running.registry_extra = {"database_url_env": env, "profile": f"{profile_of(system)} 1.0",
                              "evaluation_dialect": DIALECT if "EVALUATION_REPORTER" in system.roles else None}
    return running
