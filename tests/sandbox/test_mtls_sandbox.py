"""The sandbox's REST and SOAP systems accept the bus by the client certificate the sandbox's
local CA issued it (mutual TLS, TBS-SEC-001); the registry tells the bus to present it."""
from __future__ import annotations

import os

import pytest

from tongban.connectors.base import ConnectorError
from tongban.connectors.rest.client import RestConnector
from tongban.registry import load_registry
from tongban.sandbox.runtime import BUS_ID, Sandbox
from tongban.sync.connect import open_connector


def test_the_bus_is_known_by_its_client_certificate_without_a_token(tmp_path, monkeypatch):
    sandbox = Sandbox(tmp_path / "sandbox", seed=5, cities=1, counties=1, transports=("rest", "soap"),
                      admission="off").start()
    try:
        registry = load_registry(sandbox.registry_file)
        partners = [p for p in registry.partners if p.transport.value in ("rest", "soap")]
        assert {p.transport.value for p in partners} == {"rest", "soap"}
        for partner in partners:
            assert partner.client_cert_file and os.path.exists(partner.client_cert_file)
            monkeypatch.delenv(partner.credentials.token_env)      # no bearer token: the certificate alone
            with open_connector(partner, BUS_ID, retries=0) as connector:
                assert connector.meta()["systemId"] == partner.id
        rest = next(p for p in partners if p.transport.value == "rest")
        with RestConnector(rest.endpoint, sender=BUS_ID, verify=rest.ca_file, retries=0) as anonymous:
            with pytest.raises(ConnectorError, match="401|UNAUTHENTICATED"):
                anonymous.meta()
    finally:
        sandbox.stop()
