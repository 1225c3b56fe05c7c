"""FRONTDB writer tests of TBS-LP-1.0 §7.2 that the kit checks on the writer's own front
database with a reference reader (LP-22), and the certificate that admits a FRONTDB partner
(TBS-CONF-006, -008: binding ``FRONTDB``) when every SHALL test passed.
"""
from __future__ import annotations

import uuid
from collections import Counter
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from tongban.connectors.frontdb.database import FrontDatabase
from tongban.connectors.frontdb.values import read_datetime, read_value
from tongban.model.clock import CST

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
