"""Recording certificates (migration 0002) and the admission gate of TBS-CONF-008."""
from __future__ import annotations

import copy
import time
import uuid
from types import SimpleNamespace

import pytest

from tongban.conformance.admission import (CertificateError, certification_states, is_admitted,
                                           record_certificate)

SYSTEM = "TB:county:440103:LWZWFW"


def certificate(verdicts: dict[str, str], *, spec: str = "TBS-1.0", bindings=("REST",)) -> dict:
    return {"certificateId": str(uuid.uuid4()), "systemId": SYSTEM,
            "roles": [{"role": r, "verdict": v} for r, v in verdicts.items()], "bindings": list(bindings),
            "specVersion": spec, "suiteVersion": "1.0.0", "issuedOn": "2026-11-28",
            "issuer": "TB:province:440000:TONGBAN", "tests": [], "reportSha256": "0" * 64}


def test_migration_0002_adds_the_certificates_table(store):
    assert "certificates" in store.table_names()
    from alembic import command

    cfg = store.alembic_config()
    with store.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0001")
    assert "certificates" not in store.table_names()
    store.upgrade()
    assert "certificates" in store.table_names()


def test_a_conformant_certificate_admits_its_roles_for_its_spec_version_only(store):
    recorded = record_certificate(store, certificate({"CASE_REPORTER": "CONFORMANT",
                                                      "RESULT_PUBLISHER": "NOT_CONFORMANT"}))
    assert sorted(recorded) == ["CASE_REPORTER", "RESULT_PUBLISHER"]
    assert is_admitted(store, SYSTEM, "CASE_REPORTER", "TBS-1.0", "rest")
    assert not is_admitted(store, SYSTEM, "RESULT_PUBLISHER", "TBS-1.0", "rest")
    assert not is_admitted(store, SYSTEM, "CATALOG_PROVIDER", "TBS-1.0", "rest")          # never certified
    assert not is_admitted(store, SYSTEM, "CASE_REPORTER", "TBS-1.1", "rest")             # new spec version
    assert not is_admitted(store, "TB:county:440104:YXZWFW", "CASE_REPORTER", "TBS-1.0", "rest")
    assert is_admitted(store, SYSTEM, "CASE_REPORTER", "TBS-1.0", "REST")


def test_a_certificate_for_one_binding_does_not_admit_another(store):
    """TBS-CONF-008: certified over REST admits REST only — not SOAP, not a file drop, not MQTT; a
    later certificate for SOAP admits SOAP without touching the REST admission."""
    record_certificate(store, certificate({"CASE_REPORTER": "CONFORMANT"}, bindings=("REST",)))
    assert is_admitted(store, SYSTEM, "CASE_REPORTER", "TBS-1.0", "rest")
    for other in ("soap", "filedrop", "mqtt"):
        assert not is_admitted(store, SYSTEM, "CASE_REPORTER", "TBS-1.0", other), other
    time.sleep(0.01)
    record_certificate(store, certificate({"CASE_REPORTER": "NOT_CONFORMANT"}, bindings=("SOAP",)))
    assert not is_admitted(store, SYSTEM, "CASE_REPORTER", "TBS-1.0", "soap")
    assert is_admitted(store, SYSTEM, "CASE_REPORTER", "TBS-1.0", "rest")      # the SOAP failure does not withdraw REST
    time.sleep(0.01)
    record_certificate(store, certificate({"CASE_REPORTER": "CONFORMANT"}, bindings=("SOAP",)))
    assert is_admitted(store, SYSTEM, "CASE_REPORTER", "TBS-1.0", "soap")
    # what `tongban partners list` shows follows the binding of the registry entry
    for transport, expected in (("rest", {"CASE_REPORTER": "CONFORMANT"}), ("soap", {"CASE_REPORTER": "CONFORMANT"}),
                                ("filedrop", None)):
        registry = SimpleNamespace(partners=[SimpleNamespace(id=SYSTEM, spec_version="TBS-1.0", transport=transport)])
        assert certification_states(registry, store).get(SYSTEM) == expected, transport


def test_an_expired_certificate_admits_nothing(store):
    expired = {**certificate({"CASE_REPORTER": "CONFORMANT"}), "validFrom": "2024-01-01", "validUntil": "2024-12-31"}
    record_certificate(store, expired)
    assert not is_admitted(store, SYSTEM, "CASE_REPORTER", "TBS-1.0", "rest")
    registry = SimpleNamespace(partners=[SimpleNamespace(id=SYSTEM, spec_version="TBS-1.0", transport="rest")])
    assert certification_states(registry, store) == {SYSTEM: {"CASE_REPORTER": "EXPIRED"}}


def test_the_latest_certificate_is_current(store):
    record_certificate(store, certificate({"CASE_REPORTER": "CONFORMANT"}))
    time.sleep(0.01)
    record_certificate(store, certificate({"CASE_REPORTER": "NOT_CONFORMANT"}))   # failed re-certification
    assert not is_admitted(store, SYSTEM, "CASE_REPORTER", "TBS-1.0", "rest")
    time.sleep(0.01)
    record_certificate(store, certificate({"CASE_REPORTER": "CONFORMANT"}))
    assert is_admitted(store, SYSTEM, "CASE_REPORTER", "TBS-1.0", "rest")


def test_recording_twice_is_a_no_op_and_bad_certificates_are_refused(store):
    cert = certificate({"CATALOG_PROVIDER": "CONFORMANT"})
    assert record_certificate(store, cert) == ["CATALOG_PROVIDER"]
    assert record_certificate(store, copy.deepcopy(cert)) == []
    broken = dict(cert)
    del broken["reportSha256"]
    with pytest.raises(CertificateError):
        record_certificate(store, broken)
    with pytest.raises(CertificateError):
        record_certificate(store, {**cert, "certificateId": str(uuid.uuid4()), "roles": []})


def test_certification_states_per_partner_at_its_spec_version(store):
    record_certificate(store, certificate({"CASE_REPORTER": "CONFORMANT", "CATALOG_PROVIDER": "NOT_CONFORMANT"}))
    record_certificate(store, certificate({"EVALUATION_REPORTER": "CONFORMANT"}, spec="TBS-1.1"))
    registry = SimpleNamespace(partners=[SimpleNamespace(id=SYSTEM, spec_version="TBS-1.0", transport="rest"),
                                         SimpleNamespace(id="TB:city:440100:GZZWFW", spec_version="TBS-1.0",
                                                         transport="rest")])
    assert certification_states(registry, store) == {SYSTEM: {"CASE_REPORTER": "CONFORMANT",
                                                              "CATALOG_PROVIDER": "NOT_CONFORMANT"}}


def test_an_unmigrated_store_has_no_certification_state(tmp_path):
    from tongban.store import Store

    store = Store(f"sqlite:///{tmp_path / 'empty.db'}")
    assert certification_states(SimpleNamespace(partners=[]), store) == {}
    store.dispose()


def _com_08(cert: dict, role: str, result: str = "PASS", **extra) -> dict:
    cert["tests"].append({"testId": "COM-08", "role": role, "level": "SHALL",
                          "requirementIds": ["TBS-ENV-029"], "result": result, **extra})
    return cert


def test_a_tbs_1_1_certificate_whose_session_ran_com_08_admits_tbs_1_0_traffic(store):
    """TBS-1.1 TBS-CONF-008: TBS-1.0 envelopes need a TBS-1.0 certificate or a TBS-1.1 certificate
    whose session ran COM-08; TBS-1.1 traffic is never admitted by a TBS-1.0 certificate."""
    ran = _com_08(certificate({"CASE_REPORTER": "CONFORMANT"}, spec="TBS-1.1"), "CASE_REPORTER")
    record_certificate(store, ran)
    assert is_admitted(store, SYSTEM, "CASE_REPORTER", "TBS-1.1", "rest")
    assert is_admitted(store, SYSTEM, "CASE_REPORTER", "TBS-1.0", "rest")
    assert not is_admitted(store, SYSTEM, "CASE_REPORTER", "TBS-1.0", "soap")      # only its binding

    other = "TB:county:440104:YXZWFW"
    for role, cert in (("RESULT_PUBLISHER", certificate({"RESULT_PUBLISHER": "CONFORMANT"}, spec="TBS-1.1")),
                       ("EVALUATION_REPORTER", _com_08(certificate({"EVALUATION_REPORTER": "CONFORMANT"},
                                                                   spec="TBS-1.1"), "EVALUATION_REPORTER", "OMIT"))):
        record_certificate(store, {**cert, "systemId": other})
        assert is_admitted(store, other, role, "TBS-1.1", "rest")
        assert not is_admitted(store, other, role, "TBS-1.0", "rest"), role   # no COM-08 run: no TBS-1.0 traffic
    record_certificate(store, {**certificate({"CATALOG_PROVIDER": "CONFORMANT"}), "systemId": other})
    assert is_admitted(store, other, "CATALOG_PROVIDER", "TBS-1.0", "rest")
    assert not is_admitted(store, other, "CATALOG_PROVIDER", "TBS-1.1", "rest")
