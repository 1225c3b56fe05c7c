"""The sandbox's reference systems pass every SHALL test of their roles on REST and on SOAP."""
from __future__ import annotations

import pytest

from tongban.conformance.results import Level, Result, Verdict
from tongban.conformance.session import Session
from tongban.conformance.suite import TEST_IDS, run_suite

from conformance_support import config, make_app, reference_service, serving, without_follow_ups

PROVIDER_TESTS = {t for t in TEST_IDS if t[:2] in ("CO", "CP", "CR", "RP", "ER")}
CONSUMER_TESTS = {t for t in TEST_IDS if t.startswith(("CO", "CC"))}


def _run(system, binding, tls, documents, roles=None):
    service = reference_service(system, binding)
    with serving(make_app(service, binding), tls) as url:
        session = Session(config(system, url, binding, tls, documents, roles=roles))
        try:
            return run_suite(session)
        finally:
            session.close()


def _not_passed(run):
    return {r.test_id: (r.result.result.value, r.result.reason) for r in run.runs
            if r.test.level is Level.SHALL and r.result.result not in (Result.PASS, Result.OMIT)}


@pytest.mark.parametrize("binding", ["REST", "SOAP"])
def test_a_reference_county_is_conformant_for_every_provider_role(county, tls, documents, binding):
    run = _run(county, binding, tls, documents)
    assert _not_passed(run) == {}
    assert {r.test_id for r in run.runs} == PROVIDER_TESTS
    assert run.role_verdicts() == {role: Verdict.CONFORMANT for role in county.roles}
    # OMIT only where the applicability condition is false, never for the SHALL core of a role
    omitted = {r.test_id for r in run.runs if r.result.result is Result.OMIT}
    assert omitted == {"COM-05"}                       # a pull-only provider sends no envelope


@pytest.mark.parametrize("binding", ["REST", "SOAP"])
def test_a_reference_city_is_conformant_as_catalog_consumer(city, tls, documents, binding):
    run = _run(city, binding, tls, documents, roles=("CATALOG_CONSUMER",))
    assert _not_passed(run) == {}
    assert {r.test_id for r in run.runs} == CONSUMER_TESTS
    assert run.role_verdicts() == {"CATALOG_CONSUMER": Verdict.CONFORMANT}
    results = {r.test_id: r.result.result for r in run.runs}
    assert results["CC-07"] is (Result.PASS if binding == "SOAP" else Result.OMIT)
    cc02 = next(r for r in run.runs if r.test_id == "CC-02")
    assert len(cc02.result.evidence) >= 10               # every negative vector was exchanged and compared


def test_a_skipped_path_blocks_the_role(city, tls, documents):
    """A city whose feed shows no follow-up evaluation: ER-03 is SKIP and EVALUATION_REPORTER is
    not conformant (SKIP blocks, TBS-CONF-003)."""
    run = _run(without_follow_ups(city), "REST", tls, documents, roles=("EVALUATION_REPORTER",))
    results = {r.test_id: r.result.result for r in run.runs}
    assert results["ER-03"] is Result.SKIP
    assert run.role_verdicts() == {"EVALUATION_REPORTER": Verdict.NOT_CONFORMANT}
