"""One synced sandbox province shared by the monitoring tests.

The sandbox (2 cities × 2 counties) serves every system over HTTPS on loopback; a real
``SyncEngine`` pulls every partner × dataset it provides into a fresh SQLite store. Then two
things data teams must see happen for real:

* each city's catalog feed is re-read **with its relayed county copies** (the planted "two
  skins" included): identical copies are DUPLICATE, the differing ones are rejected as
  same-version conflicts (TBS-SYNC-005) and land in quarantine;
* a registered county whose server is down is synced once: a FAILED run with its hop.
"""
from __future__ import annotations

import os
import socket
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from tongban.connectors.rest.server import create_rest_app, token_table
from tongban.connectors.serving import ServerThread
from tongban.model.datasets import DATASETS
from tongban.registry import Registry, load_registry
from tongban.sandbox.feed import SandboxService
from tongban.sandbox.systems import SandboxData
from tongban.sandbox.runtime import BUS_ID, Sandbox
from tongban.store.store import Store
from tongban.sync.engine import SyncEngine, SyncFailed, SyncReport

SEED = 23
DOWN_PARTNER = "TB:county:440105:HZZWFW"   # 海珠区: registered, never reachable


@dataclass
class World:
    data: SandboxData
    store: Store
    registry: Registry            # the registry with the relaying cities and the unreachable county
    registry_file: Path
    sandbox_registry: Registry    # the sandbox's own registry
    reports: dict[tuple[str, str], SyncReport]
    relay_reports: dict[str, SyncReport]
    failure: SyncFailed
    relayed_catalog: dict[str, list[dict]] = field(default_factory=dict)
    down_partner: str = DOWN_PARTNER


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def world(tmp_path_factory):
    folder = tmp_path_factory.mktemp("monitoring")
    sandbox = Sandbox(folder / "sandbox", seed=SEED, cities=2, counties=2, admission="off").start()
    store = Store(f"sqlite:///{folder / 'store.db'}")
    store.upgrade()
    relays: list[ServerThread] = []
    try:
        registry = load_registry(sandbox.registry_file)
        engine = SyncEngine(store, registry, trigger="test")
        reports = {(p.id, ds): engine.sync(p.id, ds) for p in registry.partners for ds in DATASETS
                   if ds in p.datasets}

        # Each city now serves its relayed copies too, from a second server with the same credentials.
        document = yaml.safe_load(sandbox.registry_file.read_text(encoding="utf-8"))
        relayed: dict[str, list[dict]] = {}
        for entry in document["partners"]:
            if entry["id"].startswith("TB:city:"):
                service = SandboxService(sandbox.data.system(entry["id"]), include_relayed=True)
                relayed[entry["id"]] = service.feeds["catalog"].records()
                token = os.environ[entry["credentials"]["token_env"]]
                server = ServerThread(create_rest_app(service, authenticate=token_table({token: BUS_ID})),
                                      tls=sandbox.tls).start()
                relays.append(server)
                entry["endpoint"] = server.url
        city = next(e for e in document["partners"] if e["id"].startswith("TB:city:440100"))
        document["partners"].append({
            "id": DOWN_PARTNER, "name": "广州市海珠区一体化政务服务平台", "parent": city["id"], "transport": "rest",
            "endpoint": f"https://127.0.0.1:{_closed_port()}", "credentials": {"token_env": "TONGBAN_TEST_DOWN_TOKEN"},
            "roles": ["CASE_REPORTER"], "ca_file": city["ca_file"], "retries": 0})
        os.environ["TONGBAN_TEST_DOWN_TOKEN"] = "down-partner-token-0123456789abcdef"
        registry_file = folder / "partners.yaml"
        registry_file.write_text(yaml.safe_dump(document, allow_unicode=True, sort_keys=False), encoding="utf-8")
        full = load_registry(registry_file)
        engine = SyncEngine(store, full, trigger="test")
        relay_reports = {cid: engine.sync(cid, "catalog", since="c-0000000000000000") for cid in relayed}
        with pytest.raises(SyncFailed) as failed:
            engine.sync(DOWN_PARTNER, "case")
        yield World(sandbox.data, store, full, registry_file, registry, reports, relay_reports, failed.value,
                    relayed)
    finally:
        for server in relays:
            server.stop()
        sandbox.stop()
        store.dispose()
