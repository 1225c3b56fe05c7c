"""Fixtures of the conformance-suite tests: one sandbox province, a local CA, result documents."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tongban.connectors.serving import make_local_ca
from tongban.sandbox.generate import generate_province
from tongban.sandbox.systems import SandboxData, SandboxSystem


@pytest.fixture(scope="session")
def province() -> SandboxData:
    return generate_province(7)


@pytest.fixture(scope="session")
def county(province: SandboxData) -> SandboxSystem:
    return province.counties[0]


@pytest.fixture(scope="session")
def city(province: SandboxData) -> SandboxSystem:
    return province.cities[0]


@pytest.fixture(scope="session")
def tls(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return make_local_ca(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="session")
def documents(province: SandboxData, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every result document of the province, by fileName (RP-03)."""
    folder = tmp_path_factory.mktemp("documents")
    for system in province.systems.values():
        for r in system.records("result"):
            if "document" in r:
                (folder / r["document"]["fileName"]).write_bytes(province.documents[r["document"]["sha256"]])
    return folder
