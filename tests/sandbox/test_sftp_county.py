"""A sandbox county that drops over SFTP: its batches reach the bus's drop root through the
SFTP gateway (one account, confined to the drop root) and the bus syncs them like any drop."""
from __future__ import annotations

from tongban.model.datasets import DATASETS
from tongban.registry import load_registry
from tongban.sandbox.runtime import Sandbox
from tongban.store import Store
from tongban.sync.engine import SyncEngine


def test_a_county_drops_over_sftp_and_the_bus_stores_what_it_dropped(tmp_path):
    sandbox = Sandbox(tmp_path / "sandbox", seed=5, cities=1, counties=1, transports=("sftp",),
                      admission="off").start()
    store = Store(f"sqlite:///{tmp_path / 'store.db'}")
    store.upgrade()
    try:
        [county] = [r for r in sandbox.running if r.system.level == "county"]
        assert county.transport == "filedrop" and county.sftp_url.startswith("sftp://")
        registry = load_registry(sandbox.registry_file)
        partner = registry.get(county.system.system_id)
        engine = SyncEngine(store, registry, trigger="test")
        stored = {}
        for dataset in DATASETS:
            if dataset in partner.datasets:
                stored[dataset] = engine.sync(partner.id, dataset).counts.stored
        expected = {ds: len(county.system.feed_records(ds)) for ds in stored}
        assert stored == expected and sum(expected.values()) > 0
        # nothing was left half-written by the SFTP sender (TBS-FILE-005)
        assert not list((tmp_path / "sandbox" / "drop").rglob("*.part"))
    finally:
        sandbox.stop()
        store.dispose()
