"""Each defective sandbox variant fails exactly the tests of its defect, and no other test; the
failing tests' findings name the defect's requirement ids."""
from __future__ import annotations

import pytest

from tongban.conformance.defects import DEFECTS, KIT
from tongban.conformance.results import Level, Result, Verdict
from tongban.conformance.session import Session
from tongban.conformance.suite import run_suite

from conformance_support import TOKEN, config, run_file_push, run_mqtt_push, serving


@pytest.fixture(scope="module")
def broker():
    from tongban.connectors.mqtt import EmbeddedBroker

    with EmbeddedBroker() as running:
        yield running


def test_every_binding_has_at_least_four_defects():
    per_binding = {b: sum(1 for d in DEFECTS.values() if d.binding == b) for b in ("REST", "SOAP", "FILE", "MQTT")}
    assert min(per_binding.values()) >= 4, per_binding


def test_there_are_at_least_twelve_defects_each_failing_something():
    assert len(DEFECTS) >= 12
    assert all(d.fails and d.rules for d in DEFECTS.values())


@pytest.mark.parametrize("name", sorted(DEFECTS))
def test_a_defect_fails_exactly_its_tests(name, province, tls, documents, tmp_path, request):
    defect = DEFECTS[name]
    system = province.counties[0] if defect.level == "county" else province.cities[0]
    if defect.binding == "FILE":
        # a SUT that never resends keeps the suite waiting for the resend until the end of the wait
        run, _ = run_file_push(system, tmp_path / "drop", documents, defect,
                               wait=6.0 if defect.pusher_tries == 1 else 40.0)
    elif defect.binding == "MQTT":
        run, _ = run_mqtt_push(system, request.getfixturevalue("broker").url, documents, defect,
                               wait=6.0 if defect.pusher_tries == 1 else 40.0)
    else:
        service = defect.service(system)
        app = defect.app(service, authenticate=defect.authenticate({TOKEN: KIT}))
        with serving(app, tls) as url:
            session = Session(config(system, url, defect.binding, tls, documents, roles=defect.roles))
            try:
                run = run_suite(session)
            finally:
                session.close()
    not_passed = {r.test_id for r in run.runs
                  if r.test.level is Level.SHALL and r.result.result not in (Result.PASS, Result.OMIT)}
    assert not_passed == defect.fails
    assert all(r.result.result is Result.FAIL for r in run.runs if r.test_id in defect.fails)
    named = {f.requirement_id for r in run.runs if r.test_id in defect.fails for f in r.result.findings}
    assert defect.rules <= named
    assert any(v is Verdict.NOT_CONFORMANT for v in run.role_verdicts().values())
