"""Fixtures of the fault matrix: one generated county, a local CA, a partner on loopback."""
from __future__ import annotations

import pytest

from fault_support import TOKEN, TOKEN_ENV, BUS, Feeds, write_registry
from tongban.connectors.rest.server import create_rest_app, token_table
from tongban.connectors.serving import ServerThread, make_local_ca
from tongban.registry import load_registry
from tongban.sandbox.generate import generate_province


@pytest.fixture(scope="session")
def fault_county():
    return generate_province(13, cities=1, counties_per_city=1, cases_per_county=10).counties[0]


@pytest.fixture(scope="session")
def fault_tls(tmp_path_factory):
    return make_local_ca(tmp_path_factory.mktemp("fault-tls"))


@pytest.fixture
def partner(fault_tls, tmp_path, monkeypatch):
    """``partner(feeds_service, **registry_keys)`` → (registry, server) on real HTTPS."""
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    servers = []

    def start(service: Feeds, **keys):
        srv = ServerThread(create_rest_app(service, authenticate=token_table({TOKEN: BUS})), tls=fault_tls).start()
        servers.append(srv)
        path = write_registry(tmp_path / "partners.yaml", service.system_id, srv.url, fault_tls.ca_file, **keys)
        return load_registry(path), srv

    yield start
    for srv in servers:
        srv.stop()
