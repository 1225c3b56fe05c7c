"""Admission checks the version a partner sends (TBS-1.1 §4, TBS-CONF-008): a TBS-1.0 certificate
admits TBS-1.0 pushes only, never TBS-1.1 ones. Real store, registry and bus receiver."""
from __future__ import annotations

import uuid

import pytest

from tongban.conformance.admission import is_admitted, record_certificate
from tongban.gateway.service import GatewayService, NotAdmitted
from tongban.registry import load_registry
from tongban.store import Store
from tongban.sync.receiver import BusReceiver

COUNTY = "TB:county:440104:YXZWFW"
REGISTRY = f"""
bus:
  system_id: TB:province:440000:TONGBAN
  admission: enforce
  spec_versions: [TBS-1.0, TBS-1.1]
partners:
  - id: {COUNTY}
    transport: rest
    endpoint: https://127.0.0.1:9/
    roles: [CASE_REPORTER]
    spec_versions: [TBS-1.0, TBS-1.1]
"""


def certificate(spec: str) -> dict:
    return {"certificateId": str(uuid.uuid4()), "systemId": COUNTY,
            "roles": [{"role": "CASE_REPORTER", "verdict": "CONFORMANT"}], "bindings": ["REST"],
            "specVersion": spec, "suiteVersion": "1.0.0", "issuedOn": "2026-11-28",
            "issuer": "TB:province:440000:TONGBAN", "tests": [], "reportSha256": "0" * 64}


@pytest.fixture()
def gateway(tmp_path):
    (tmp_path / "partners.yaml").write_text(REGISTRY, encoding="utf-8")
    registry = load_registry(tmp_path / "partners.yaml")
    store = Store(f"sqlite:///{tmp_path / 'store.db'}")
    store.upgrade()
    yield GatewayService(BusReceiver(store, registry), admission=is_admitted), store
    store.dispose()


def test_a_tbs_1_0_certificate_admits_tbs_1_0_pushes_only(gateway) -> None:
    service, store = gateway
    record_certificate(store, certificate("TBS-1.0"))
    service.check_admission(COUNTY, "case", "REST", "TBS-1.0")
    with pytest.raises(NotAdmitted, match="TBS-1.1"):
        service.check_admission(COUNTY, "case", "REST", "TBS-1.1")
    # a version the envelope names but the bus does not take is judged at the version exchanged
    with pytest.raises(NotAdmitted, match="TBS-1.1"):
        service.check_admission(COUNTY, "case", "REST", "TBS-9.9")
    record_certificate(store, certificate("TBS-1.1"))
    service.check_admission(COUNTY, "case", "REST", "TBS-1.1")


def test_the_bus_lists_its_configured_versions(gateway) -> None:
    service, _ = gateway
    assert service.spec_versions == ("TBS-1.0", "TBS-1.1")
    assert service.meta()["specVersions"] == ["TBS-1.0", "TBS-1.1"]
