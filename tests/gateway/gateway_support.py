"""A bus gateway on loopback with a registry naming one sandbox county, for the gateway tests.

The county (荔湾区, LWZWFW, seed 7) pushes its own records; the bus identity carries a random
system code, so the MQTT client identifier and the replay memory never meet another test's."""
from __future__ import annotations

import json
import os
import secrets
import socket
import ssl
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import yaml
from sqlalchemy import func, select

from tongban.conformance.admission import record_certificate
from tongban.sandbox.generate import generate_province
from tongban.store.schema import LedgerEntry
from tongban.sync.export import export_current

MQTT_URL = os.environ.get("TONGBAN_TEST_MQTT_URL")
PG_URL = os.environ.get("TONGBAN_TEST_PG_URL")
TOKEN_ENV, HMAC_ENV, KEY_ID = "TONGBAN_TEST_GW_TOKEN", "TONGBAN_TEST_GW_HMAC", "LWZWFW-K1"

_DATA = generate_province(7, cities=1, counties_per_city=1)
COUNTY = _DATA.counties[0]
assert COUNTY.system_id == "TB:county:440103:LWZWFW"


def new_bus_id() -> str:
    return f"TB:province:440000:GW{secrets.token_hex(4).upper()}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_registry(folder: Path, bus_id: str, transport: str, *, endpoint: str = "https://127.0.0.1:1",
                   ca_file: str | None = None, client_certificates: list[str] | None = None,
                   admission: str = "enforce", anchor_file: Path | None = None) -> Path:
    """partners.yaml: the bus, and the county over ``transport`` with a token and an HMAC key."""
    os.environ.setdefault(TOKEN_ENV, secrets.token_urlsafe(32))
    os.environ.setdefault(HMAC_ENV, secrets.token_urlsafe(32))
    entry: dict[str, Any] = {"id": COUNTY.system_id, "parent": bus_id, "transport": transport, "endpoint": endpoint,
                             "credentials": {"token_env": TOKEN_ENV, "hmac_key_env": HMAC_ENV, "key_id": KEY_ID},
                             "roles": list(COUNTY.roles)}
    if ca_file:
        entry["ca_file"] = ca_file
    if client_certificates:
        entry["client_certificates"] = client_certificates
    path = folder / "partners.yaml"
    bus: dict[str, Any] = {"system_id": bus_id, "admission": admission}
    if anchor_file is not None:
        bus["ledger_anchor_file"] = str(anchor_file)
    path.write_text(yaml.safe_dump({"bus": bus, "partners": [entry]}, allow_unicode=True))
    return path


def certify(store, binding: str, roles: tuple[str, ...] = ("CASE_REPORTER", "CATALOG_PROVIDER"),
            verdict: str = "CONFORMANT") -> None:
    """Record a certificate of the county for ``roles`` over ``binding`` (TBS-CONF-008)."""
    record_certificate(store, {"certificateId": str(uuid.uuid4()), "systemId": COUNTY.system_id,
                               "roles": [{"role": r, "verdict": verdict} for r in roles], "bindings": [binding],
                               "specVersion": "TBS-1.0", "suiteVersion": "1.0.0", "issuedOn": "2026-11-28",
                               "issuer": "TB:province:440000:TONGBAN", "tests": [], "reportSha256": "0" * 64})


def stored(store, dataset: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in export_current(store, dataset)]


def expected(dataset: str, key: tuple[str, ...]) -> dict[tuple, dict[str, Any]]:
    """The county's current record per business key (the last version in feed order)."""
    out: dict[tuple, dict[str, Any]] = {}
    for record in COUNTY.records(dataset):
        out[tuple(record[k] for k in key)] = record
    return out


def ledger_in_entries(store) -> int:
    with store.reading() as s:
        return s.execute(select(func.count()).select_from(LedgerEntry).where(LedgerEntry.direction == "IN")).scalar()


def metric(text: str, name: str, **labels: str) -> float:
    """The value of one sample of an OpenMetrics exposition (0 when absent)."""
    from prometheus_client.openmetrics.parser import text_string_to_metric_families

    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return sample.value
    return 0.0


class GatewayProcess:
    """``tongban gateway`` as a child process (killed and restarted by the restart tests)."""

    def __init__(self, folder: Path, registry: Path, database_url: str, port: int, *extra: str,
                 tls: tuple[Path, Path, Path] | None = None) -> None:
        """``tls``: (certificate chain, key, CA) to serve HTTPS with; else plain HTTP."""
        self.folder, self.registry, self.database_url, self.port, self.extra = folder, registry, database_url, port, extra
        self.proc: subprocess.Popen | None = None
        self.tls = tls
        self.url = f"{'https' if tls else 'http'}://127.0.0.1:{port}"
        self.logs: list[Path] = []

    def start(self, timeout: float = 30.0) -> "GatewayProcess":
        env = {**os.environ, "TONGBAN_DATABASE_URL": self.database_url, "TONGBAN_PARTNERS": str(self.registry),
               "TONGBAN_HOME": str(self.folder / "home"), "COLUMNS": "200"}
        log = self.folder / f"gateway-{len(self.logs)}.log"
        self.logs.append(log)
        serving = ["--tls-cert", str(self.tls[0]), "--tls-key", str(self.tls[1])] if self.tls else ["--insecure-http"]
        verify: Any = ssl.create_default_context(cafile=str(self.tls[2])) if self.tls else False
        self.proc = subprocess.Popen([sys.executable, "-m", "tongban.cli", "gateway", *serving,
                                      "--port", str(self.port), "--poll-interval", "0.2",
                                      "--graceful-timeout", "10", *self.extra],
                                     env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gateway exited {self.proc.returncode}: {log.read_text()[-2000:]}")
            try:
                # its own line first: with --reuse-port another process may answer /readyz
                if "listening on" in log.read_text(errors="replace") and \
                        httpx.get(self.url + "/readyz", timeout=1, verify=verify).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"gateway not ready: {log.read_text()[-2000:]}")

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(10)

    def terminate(self) -> int:
        assert self.proc is not None
        self.proc.terminate()
        return self.proc.wait(30)

    def output(self) -> str:
        return "".join(p.read_text(errors="replace") for p in self.logs)
