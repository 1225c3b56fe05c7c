"""One sandbox county served over REST, over SOAP and pushed over file drop: after the connector
and the real bus path (``SyncEngine`` pulls REST/SOAP; the engine's file-drop scan hands the
batches to ``BusReceiver``) three fresh stores hold identical canonical records, equal to the
county's own (issue 4 acceptance; TBS-ENV-012 canonical form, TBS-SOAP-003 mapping, TBS-FILE-*)."""
from __future__ import annotations

import hashlib
import os

import pytest
import yaml

from tongban.connectors.serving import make_local_ca
from tongban.model.canonical import canonical_bytes
from tongban.model.datasets import DATASETS, Dataset, business_key
from tongban.registry import load_registry
from tongban.sandbox.generate import generate_province
from tongban.sandbox.runtime import BUS_ID, partner_entry, serve_system
from tongban.store import Store
from tongban.sync.engine import SyncEngine
from tongban.sync.export import export_current

BINDINGS = ("rest", "soap", "filedrop")


@pytest.fixture(scope="module")
def county():
    return generate_province(19, cities=1, counties_per_city=1).counties[0]


@pytest.fixture(scope="module")
def synced(county, tmp_path_factory):
    """{binding: {dataset: export lines}} after syncing every dataset through that binding."""
    folder = tmp_path_factory.mktemp("cross")
    tls = make_local_ca(folder / "tls")
    exported: dict[str, dict[str, list[str]]] = {}
    running = []
    with pytest.MonkeyPatch.context() as mp:
        try:
            for binding in BINDINGS:
                r = serve_system(county, binding, folder / binding, tls)
                running.append(r)
                entry = {**partner_entry(r, tls), "parent": BUS_ID}   # the county alone, pulled directly
                # the sandbox names one secret per system; give each binding's its own variable
                for kind, name in list(entry["credentials"].items()):
                    if kind.endswith("_env"):
                        own = f"TONGBAN_TEST_XB_{binding.upper()}_{kind.upper()}"
                        mp.setenv(own, os.environ[name])
                        entry["credentials"][kind] = own
                path = folder / f"{binding}.yaml"
                path.write_text(yaml.safe_dump({"bus": {"system_id": BUS_ID}, "partners": [entry]}))
                store = Store(f"sqlite:///{folder / binding}.db")
                store.upgrade()
                engine = SyncEngine(store, load_registry(path), trigger="test")
                for dataset in DATASETS:     # prerequisites first: cases before their events
                    if dataset in county.provides:
                        report = engine.sync(county.system_id, dataset)
                        assert report.status == "SUCCESS", report.as_dict()
                exported[binding] = {d: list(export_current(store, d)) for d in county.provides}
                store.dispose()
        finally:
            for r in running:
                r.stop()
    return exported


def _digest(lines: list[str]) -> str:
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


def _own_current(county, dataset: str) -> list[str]:
    """The county's own records of ``dataset`` as the store keeps them: the latest version of a
    versioned key, canonical (JCS), in business-key order."""
    ds = Dataset(dataset)
    latest: dict[tuple, dict] = {}
    for record in county.records(dataset):
        key = tuple(business_key(ds, record)[m] for m in ds.key_members)
        if ds.versioned and key in latest and latest[key]["version"] > record["version"]:
            continue
        latest[key] = record
    return [canonical_bytes(latest[k]).decode() for k in sorted(latest)]


def test_every_binding_stores_identical_canonical_records(county, synced):
    for dataset in county.provides:
        digests = {b: _digest(synced[b][dataset]) for b in BINDINGS}
        assert len(set(digests.values())) == 1, (dataset, digests, {b: len(synced[b][dataset]) for b in BINDINGS})


def test_the_stored_records_are_the_countys_own(county, synced):
    for dataset in county.provides:
        expected = _own_current(county, dataset)
        assert expected, dataset                       # the county really has records of it
        assert _digest(synced["rest"][dataset]) == _digest(expected), dataset


def test_nothing_was_held_or_lost_on_the_way(county, synced):
    """Each binding stored every record the county owns (current versions), none held back."""
    sizes = {b: {d: len(synced[b][d]) for d in county.provides} for b in BINDINGS}
    expected = {d: len(_own_current(county, d)) for d in county.provides}
    assert sizes == {b: expected for b in BINDINGS}
    assert sum(expected.values()) > 50
