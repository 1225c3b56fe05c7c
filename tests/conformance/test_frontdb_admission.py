"""Admission applies to FRONTDB partners (TBS-CONF-008): without a certificate for the
``FRONTDB`` binding a sync is refused; a writer whose front database passes LP-22 is
certified, recorded and then synced. A torn manifest fails LP-22."""
from __future__ import annotations

import os

import pytest
import sqlalchemy as sa
import yaml

from tongban.conformance.admission import is_admitted, record_certificate
from tongban.conformance.frontdb_writer import lp22_batches, writer_certificate
from tongban.conformance.results import Result
from tongban.connectors.frontdb.database import FrontDatabase
from tongban.connectors.frontdb.profile import load_profile, split_sql
from tongban.registry import load_registry
from tongban.store import Store
from tongban.sync.engine import NotAdmitted, SyncEngine

VECTORS = os.path.join(os.path.dirname(__file__), "..", "data", "frontdb")
LW = "TB:county:440103:LWZWFW"
BUS = "TB:province:440000:GDZWFW"


def _front(tmp_path, name="front.db"):
    p = load_profile("NATIONAL-EXCHANGE")
    db = FrontDatabase(f"sqlite:///{tmp_path / name}", p, p.tables_for({"CATALOG_PROVIDER"}))
    db.create_schema()
    with db.engine.begin() as conn:
        for stmt in split_sql(open(os.path.join(VECTORS, "8.1-item.sql"), encoding="utf-8").read()):
            conn.exec_driver_sql(stmt)
    return db


def test_uncertified_partner_refused_then_certified_and_synced(tmp_path, monkeypatch):
    db = _front(tmp_path)
    monkeypatch.setenv("TONGBAN_ADMIT_FRONTDB", db.url)
    (tmp_path / "partners.yaml").write_text(yaml.safe_dump({"bus": {"system_id": BUS}, "partners": [{
        "id": LW, "parent": BUS, "transport": "frontdb", "database_url_env": "TONGBAN_ADMIT_FRONTDB",
        "profile": "NATIONAL-EXCHANGE 1.0", "roles": ["CATALOG_PROVIDER"]}]}))
    store = Store(f"sqlite:///{tmp_path / 'store.db'}")
    store.upgrade()
    engine = SyncEngine(store, load_registry(tmp_path / "partners.yaml"), admission=is_admitted)
    with pytest.raises(NotAdmitted, match="frontdb"):
        engine.sync(LW, "catalog")
    result = lp22_batches(db)
    assert result.result is Result.PASS
    cert = writer_certificate(LW, ["CATALOG_PROVIDER"], {"LP-22": result}, issuer="test")
    assert record_certificate(store, cert) == ["CATALOG_PROVIDER"]
    report = engine.sync(LW, "catalog")
    assert report.status == "SUCCESS" and report.counts.stored == 6


def test_lp22_fails_a_manifest_that_does_not_match(tmp_path):
    db = _front(tmp_path)
    with db.engine.begin() as conn:
        conn.execute(sa.text("UPDATE tb_batch SET row_count = 5"))
    result = lp22_batches(db)
    assert result.result is Result.FAIL
    assert result.findings[0].requirement_id == "TBS-LP-020"
