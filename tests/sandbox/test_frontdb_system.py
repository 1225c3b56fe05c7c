"""A sandbox county that publishes only through a front database: the bus syncs it and the
receipts show what was stored, held and rejected."""
from __future__ import annotations

import os

import yaml

from tongban.registry import load_registry
from tongban.sandbox.generate import generate_province
from tongban.sandbox.runtime import BUS_ID, partner_entry
from tongban.sandbox.frontdb import start_frontdb
from tongban.store import Store
from tongban.sync.engine import SyncEngine


def test_county_over_a_front_database(tmp_path, monkeypatch):
    monkeypatch.delenv("TONGBAN_SANDBOX_MARIADB_URL", raising=False)
    data = generate_province(7, cities=1, counties_per_city=1, items_per_county=3, cases_per_county=6)
    county = next(s for s in data.systems.values() if s.level == "county")
    running = start_frontdb(county, tmp_path, None)
    entry = {**partner_entry(running, None), "parent": BUS_ID}
    assert entry["transport"] == "frontdb" and "://" not in yaml.safe_dump(entry)
    (tmp_path / "partners.yaml").write_text(yaml.safe_dump({"bus": {"system_id": BUS_ID, "admission": "off"},
                                                            "partners": [entry]}))
    store = Store(f"sqlite:///{tmp_path / 'store.db'}")
    store.upgrade()
    report = SyncEngine(store, load_registry(tmp_path / "partners.yaml")).sync(county.system_id, "case")
    assert report.status == "SUCCESS"
    from tongban.connectors.frontdb.database import FrontDatabase
    from tongban.connectors.frontdb.profile import load_profile

    p = load_profile("NATIONAL-EXCHANGE")
    db = FrontDatabase(os.environ[entry["database_url_env"]], p, p.tables_for(set(county.roles)))
    rules = {r["rule_ids"] for r in db.receipts() if r["outcome"] == "REJECTED"}
    held = [r for r in db.receipts() if r["outcome"] == "HELD"]
    db.close()
    assert {"TBS-LP-034", "TBS-LP-036", "TBS-LP-022"} <= rules
    # the step written before its case waits for it (TBS-LP-045)
    assert "up_pro_process" in {r["table_name"] for r in held}
    assert report.counts.stored > 20
