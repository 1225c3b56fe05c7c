"""FRONTDB batches are ledgered like the envelopes and pages of every other binding: after a
sync of a front-database county, ``tongban ledger verify`` passes and explains every stored
record by the entries of the batches that stored it; a record stored outside the ledger is
still caught."""
from __future__ import annotations

import json

import pytest
import yaml
from click.testing import CliRunner
from sqlalchemy import func, select

from tongban.cli import main
from tongban.model.datasets import SPECS
from tongban.registry import load_registry
from tongban.sandbox.frontdb import start_frontdb
from tongban.sandbox.generate import generate_province
from tongban.sandbox.runtime import BUS_ID, partner_entry
from tongban.store import Store
from tongban.store.schema import Base, LedgerEntry
from tongban.sync.engine import SyncEngine
from tongban.sync.ledger import verify

KEY = "frontdb-ledger-test-key"


@pytest.fixture
def synced(tmp_path, monkeypatch):
    monkeypatch.delenv("TONGBAN_SANDBOX_MARIADB_URL", raising=False)
    data = generate_province(7, cities=1, counties_per_city=1, items_per_county=3, cases_per_county=6)
    county = next(s for s in data.systems.values() if s.level == "county")
    running = start_frontdb(county, tmp_path, None)
    entry = {**partner_entry(running, None), "parent": BUS_ID}
    partners = tmp_path / "partners.yaml"
    partners.write_text(yaml.safe_dump({"bus": {"system_id": BUS_ID, "admission": "off",
                                                "ledger_key_env": "TONGBAN_TEST_LEDGER_KEY"},
                                        "partners": [entry]}))
    db = f"sqlite:///{tmp_path / 'store.db'}"
    monkeypatch.setenv("TONGBAN_DATABASE_URL", db)
    monkeypatch.setenv("TONGBAN_PARTNERS", str(partners))
    monkeypatch.setenv("TONGBAN_TEST_LEDGER_KEY", KEY)
    store = Store(db)
    store.upgrade()
    report = SyncEngine(store, load_registry(partners)).sync(county.system_id, "case")
    assert report.status == "SUCCESS" and report.counts.stored > 20
    yield store, county
    store.dispose()


def _stored_rows(store) -> int:
    with store.reading() as s:
        return sum(s.execute(select(func.count()).select_from(Base.metadata.tables[spec.table])).scalar_one()
                   for spec in SPECS.values())


def test_ledger_verify_explains_every_record_a_frontdb_sync_stored(synced):
    store, county = synced
    result = verify(store, key=KEY.encode(), records=True)
    assert result.ok, result.problem
    assert result.head == "authenticated"
    assert result.records == _stored_rows(store) > 20
    with store.reading() as s:
        entries = s.execute(select(LedgerEntry).where(LedgerEntry.binding == "FRONTDB")).scalars().all()
    inbound = [e for e in entries if e.direction == "IN"]
    assert inbound and {e.sender for e in inbound} == {county.system_id}
    # one entry per dataset of a batch, named by the batch (message_id = cd_batch)
    assert {"catalog", "case", "case-event"} <= {e.dataset for e in inbound}
    assert all(e.message_id for e in inbound)
    assert sum(json.loads(e.counts)["stored"] for e in inbound if e.dataset in SPECS) >= result.records
    cli = CliRunner().invoke(main, ["ledger", "verify"])
    assert cli.exit_code == 0, cli.output
    assert f"{result.records} stored records explained by the ledger" in " ".join(cli.output.split())


def test_a_second_sync_adds_no_record_and_the_ledger_still_verifies(synced):
    store, county = synced
    before = _stored_rows(store)
    with store.reading() as s:
        n_entries = s.execute(select(func.count()).select_from(LedgerEntry)).scalar_one()
    SyncEngine(store, load_registry()).sync(county.system_id, "case")
    assert _stored_rows(store) == before
    with store.reading() as s:
        assert s.execute(select(func.count()).select_from(LedgerEntry)).scalar_one() == n_entries
    assert verify(store, key=KEY.encode(), records=True).ok


def test_a_ledgered_record_deleted_behind_the_bus_is_still_found(synced):
    store, _ = synced
    table = Base.metadata.tables[SPECS["evaluation"].table]
    with store.transaction() as s:
        assert s.execute(table.delete()).rowcount > 0
    result = verify(store, key=KEY.encode(), records=True)
    assert not result.ok and "missing (deleted)" in result.problem
