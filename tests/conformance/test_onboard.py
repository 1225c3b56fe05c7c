"""Onboarding from the registry: certify a sandbox partner, record its certificate, admit it
(TBS-CONF-008); and the ``onboard_partner`` DAG doing the same through Airflow."""
from __future__ import annotations

import pytest

from tongban.conformance.onboard import OnboardingError, certify_partner, record_partner_certificate


@pytest.fixture()
def sandbox(tmp_path, monkeypatch):
    from tongban.sandbox.runtime import Sandbox

    monkeypatch.setenv("TONGBAN_DATABASE_URL", f"sqlite:///{tmp_path / 'store.db'}")
    monkeypatch.setenv("TONGBAN_CONFORMANCE_DIR", str(tmp_path / "certificates"))
    with Sandbox(tmp_path / "sandbox", seed=7, cities=1, counties=1) as sb:
        monkeypatch.setenv("TONGBAN_PARTNERS", str(sb.registry_file))
        yield sb


def _county(sandbox):
    return next(r.system for r in sandbox.running if r.system.level == "county")


def test_a_registry_partner_is_certified_recorded_and_admitted(sandbox, tmp_path):
    from tongban.conformance.admission import is_admitted
    from tongban.store import Store

    county = _county(sandbox)
    result = certify_partner(county.system_id, ["CATALOG_PROVIDER", "CASE_REPORTER"])
    assert result["verdicts"] == {"CATALOG_PROVIDER": "CONFORMANT", "CASE_REPORTER": "CONFORMANT"}
    assert result["certificate"]["issuer"] == "TB:province:440000:TONGBAN"
    assert (tmp_path / "certificates").is_dir() and result["folder"].startswith(str(tmp_path / "certificates"))
    assert sorted(record_partner_certificate(result)) == ["CASE_REPORTER", "CATALOG_PROVIDER"]
    store = Store()
    running = next(r for r in sandbox.running if r.system.system_id == county.system_id)
    assert is_admitted(store, county.system_id, "CASE_REPORTER", "TBS-1.0", running.transport)
    assert not is_admitted(store, county.system_id, "RESULT_PUBLISHER", "TBS-1.0", running.transport)
    other = "soap" if running.transport != "soap" else "rest"
    assert not is_admitted(store, county.system_id, "CASE_REPORTER", "TBS-1.0", other)   # another binding
    assert result["certificate"]["signature"]["alg"] == "Ed25519"
    assert result["certificate"]["endpoint"] == running.endpoint
    store.dispose()


def test_documents_come_from_the_drop_and_an_attestation_is_needed(sandbox):
    county = _county(sandbox)
    result = certify_partner(county.system_id, ["RESULT_PUBLISHER", "EVALUATION_REPORTER"])
    # RP-03 reads the partner's documents drop from the registry; ER-04 has no attestation
    assert result["verdicts"] == {"RESULT_PUBLISHER": "CONFORMANT", "EVALUATION_REPORTER": "NOT_CONFORMANT"}
    assert {t["testId"]: t["result"] for t in result["certificate"]["tests"]}["RP-03"] == "PASS"
    skipped = {t["testId"] for t in result["certificate"]["tests"] if t["result"] == "SKIP"}
    assert skipped == {"ER-04"}      # TBS-EVAL-008 is tested by attestation (TBS-CONF-009)


def test_unknown_partners_and_unclaimed_roles_are_refused(sandbox):
    with pytest.raises(OnboardingError):
        certify_partner("TB:county:440199:NOSUCH")
    county = _county(sandbox)
    with pytest.raises(OnboardingError, match="does not claim"):
        certify_partner(county.system_id, ["CATALOG_CONSUMER"])


def test_the_onboard_partner_dag_records_the_certificate(sandbox):
    pytest.importorskip("airflow")
    from airflow.utils.state import DagRunState

    from tongban.airflow_ext.local import run_dag
    from tongban.conformance.admission import certification_states
    from tongban.registry import load_registry
    from tongban.store import Store

    county = _county(sandbox)
    dr = run_dag("onboard_partner", run_conf={"system_id": county.system_id, "roles": ["CATALOG_PROVIDER"]})
    assert dr.state == DagRunState.SUCCESS
    store = Store()
    assert certification_states(load_registry(), store)[county.system_id] == {"CATALOG_PROVIDER": "CONFORMANT"}
    store.dispose()
