"""A running sandbox: the generated province served on loopback, one real server per system.

Every server speaks HTTPS with a certificate from a local CA generated here (TBS-REST-001);
plain HTTP only with ``insecure_http=True`` (development). Each system gets a fresh bearer
token, exported as ``TONGBAN_TOKEN_{CODE}`` and written to ``tokens.env`` (mode 0600);
``partners.yaml`` names the variables, never the tokens.
"""
from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import yaml

from tongban.connectors.serving import ServerThread, TlsFiles, make_local_ca
from tongban.sandbox.generate import SandboxData, SandboxSystem, generate_province

BUS_ID = "TB:province:440000:TONGBAN"


@dataclass
class RunningSystem:
    system: SandboxSystem
    transport: str
    endpoint: str
    token_env: str
    server: ServerThread | None = None


def _rest_server(system: SandboxSystem, token: str, tls: TlsFiles | None) -> ServerThread:
    from tongban.connectors.rest.server import create_rest_app, token_table
    from tongban.sandbox.feed import SandboxService

    app = create_rest_app(SandboxService(system), authenticate=token_table({token: BUS_ID}))
    return ServerThread(app, tls=tls).start()


SERVERS: dict[str, Callable[[SandboxSystem, str, TlsFiles | None], ServerThread]] = {"rest": _rest_server}


@dataclass
class Sandbox:
    folder: Path
    seed: int = 7
    cities: int = 2
    counties: int = 2
    transports: tuple[str, ...] = ("rest",)
    insecure_http: bool = False
    data: SandboxData | None = None
    running: list[RunningSystem] = field(default_factory=list)
    tls: TlsFiles | None = None

    def start(self) -> "Sandbox":
        unknown = set(self.transports) - set(SERVERS)
        if unknown:
            raise ValueError(f"sandbox transports not available: {sorted(unknown)}; choose from {sorted(SERVERS)}")
        self.folder.mkdir(parents=True, exist_ok=True)
        self.data = generate_province(self.seed, cities=self.cities, counties_per_city=self.counties)
        self.tls = None if self.insecure_http else make_local_ca(self.folder / "tls")
        serving = [s for s in self.data.systems.values() if s.provides]
        try:
            for i, system in enumerate(serving):
                transport = self.transports[i % len(self.transports)]
                token = secrets.token_urlsafe(32)
                code = system.system_id.rsplit(":", 1)[1].replace("-", "_")
                env = f"TONGBAN_TOKEN_{code}"
                os.environ[env] = token
                server = SERVERS[transport](system, token, self.tls)
                self.running.append(RunningSystem(system, transport, server.url, env, server))
        except Exception:
            self.stop()
            raise
        self._write_files()
        return self

    @property
    def registry_file(self) -> Path:
        return self.folder / "partners.yaml"

    def registry(self) -> dict[str, Any]:
        partners = []
        for r in self.running:
            s = r.system
            entry: dict[str, Any] = {
                "id": s.system_id, "name": s.name, "parent": s.parent_id if s.parent_id else BUS_ID,
                "transport": r.transport, "endpoint": r.endpoint,
                "credentials": {"token_env": r.token_env}, "roles": list(s.roles), "spec_version": "TBS-1.0",
                # the demo province pulls counties directly (三级数据直连); cities serve their own records
                "direct": s.level == "county", "page_size": 200, "retries": 1,
            }
            if self.tls:
                entry["ca_file"] = str(self.tls.ca_file)
            else:
                entry["allow_insecure_http"] = True
            partners.append(entry)
        return {"bus": {"system_id": BUS_ID}, "partners": partners}

    def _write_files(self) -> None:
        header = "# Written by the tongban sandbox; endpoints and tokens change on every start.\n"
        self.registry_file.write_text(header + yaml.safe_dump(self.registry(), allow_unicode=True, sort_keys=False),
                                      encoding="utf-8")
        tokens = self.folder / "tokens.env"
        tokens.touch(mode=0o600)
        tokens.write_text("".join(f"{r.token_env}={os.environ[r.token_env]}\n" for r in self.running))

    def stop(self) -> None:
        for r in self.running:
            if r.server is not None:
                r.server.stop()
        self.running.clear()

    def __enter__(self) -> "Sandbox":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
