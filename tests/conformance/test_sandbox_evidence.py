"""Every sandbox system certifies for every provider role: its generated feeds carry the evidence
the suite searches a pull-only provider's feeds for (TBS-1.0 §20.2), so no SHALL test is SKIP
for want of a path (a SKIP blocks conformance, TBS-CONF-003).

The demo's province (seed 7, 2 cities × 2 counties) and one other seed, each system served over
REST by the real server, the suite run in-process for all its roles but CATALOG_CONSUMER.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from tongban.conformance.results import Level, Result, Verdict
from tongban.conformance.session import Session
from tongban.conformance.suite import run_suite
from tongban.model.datasets import CONSUMER_ROLE
from tongban.sandbox.generate import generate_province
from tongban.sandbox.systems import SandboxData

from conformance_support import config, make_app, reference_service, serving

# the evidence each provider role's pull-only tests search for (§20.2)
EVIDENCE_TESTS = {"CP-03", "CP-04", "CR-01", "CR-02", "CR-03", "CR-05", "ER-01", "ER-02", "ER-03"}


def _documents(data: SandboxData, folder: Path) -> Path:
    folder.mkdir()
    for system in data.systems.values():
        for r in system.records("result"):
            if "document" in r:
                path = folder / r["document"]["fileName"]
                assert not path.exists(), f"two result documents named {path.name}"
                path.write_bytes(data.documents[r["document"]["sha256"]])
    return folder


@pytest.mark.parametrize("seed", [7, 11])
def test_every_sandbox_system_is_conformant_for_every_provider_role(seed, tls, tmp_path):
    data = generate_province(seed, cities=2, counties_per_city=2)
    documents = _documents(data, tmp_path / "documents")
    verdicts: dict[str, dict[str, Verdict]] = {}
    not_passed: dict[str, dict[str, str]] = {}
    for system in data.systems.values():
        roles = tuple(r for r in system.roles if r != CONSUMER_ROLE)
        with serving(make_app(reference_service(system, "REST"), "REST"), tls) as url:
            session = Session(config(system, url, "REST", tls, documents, roles=roles))
            try:
                run = run_suite(session)
            finally:
                session.close()
        verdicts[system.system_id] = run.role_verdicts()
        not_passed[system.system_id] = {r.test_id: f"{r.result.result.value}: {r.result.reason}" for r in run.runs
                                        if r.test.level is Level.SHALL
                                        and r.result.result not in (Result.PASS, Result.OMIT)}
        ran = {r.test_id: r.result.result for r in run.runs}
        assert all(ran[t] is Result.PASS for t in EVIDENCE_TESTS if t in ran), (system.system_id, ran)

    assert len(verdicts) == 7
    assert not_passed == {sid: {} for sid in verdicts}
    assert verdicts == {s.system_id: {r: Verdict.CONFORMANT for r in s.roles if r != CONSUMER_ROLE}
                        for s in data.systems.values()}
    assert sum(len(v) for v in verdicts.values()) == 28


@pytest.mark.parametrize("seed", [1, 7, 23])
def test_every_system_owns_the_evidence_records(seed):
    """The records behind the verdicts, checked on the data itself at the smallest size the
    generator promises them for (items_per_county 4, cases_per_county 20)."""
    data = generate_province(seed, items_per_county=4, cases_per_county=20)
    planted = {c["implCode"] for c in data.planted_clean} | {p["implCode"] for p in data.planted_two_skins}
    planted |= {e["implCode"] for g in data.planted_many_names for e in g["implementations"]}
    planted |= {e["implCode"] for g in data.planted_near_duplicates for e in g["implementations"]}
    for system in data.systems.values():
        revoked = {i["implCode"] for i in system.records("catalog") if i["status"] == "REVOKED"}
        assert revoked and not revoked & planted, system.system_id
        evaluations = system.records("evaluation")
        assert {5, 1} <= {e["satisfaction"] for e in evaluations}, system.system_id
        for e in evaluations:
            if e["satisfaction"] < 3:                                                    # TBS-EVAL-002
                assert e.get("detailCodes") or e.get("text")
        first = {e["caseNo"]: e["assessedAt"] for e in evaluations if e["assessNo"] == 1}
        follow_ups = [e for e in evaluations if e["assessNo"] == 2]
        assert follow_ups, system.system_id
        for e in follow_ups:                                                             # TBS-EVAL-004/005
            assert e["caseNo"] in first and e["assessedAt"] > first[e["caseNo"]] and e["assessedAt"] < data.now
        events: dict[str, list[dict]] = {}
        for ev in system.records("case-event"):
            events.setdefault(ev["caseNo"], []).append(ev)
        paths = [([e["type"] for e in evs], {e.get("conclusionCode") for e in evs}) for evs in events.values()]
        assert any("DELIVER" in t and "APPROVED_WITH_CERT" in c for t, c in paths), system.system_id
        assert any(e["type"] == "CONCLUDE" and e.get("conclusionCode") == "NOT_PERMITTED" and e.get("opinion")
                   for evs in events.values() for e in evs)
        assert any("REJECT_ACCEPTANCE" in t and "NOT_ACCEPTED" in c for t, c in paths)
        assert any("SUPPLEMENT" in t for t, _ in paths)
        assert any("SUSPEND" in t and "RESUME" in t for t, _ in paths)


def test_evidence_does_not_change_determinism():
    a = generate_province(11, items_per_county=4, cases_per_county=20).snapshot()
    b = generate_province(11, items_per_county=4, cases_per_county=20).snapshot()
    assert a == b
