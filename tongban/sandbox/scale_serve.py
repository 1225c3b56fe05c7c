"""The province-scale sandbox on loopback: ~150 systems served cheaply by one process.

Every REST or SOAP system is its own ASGI app (its own bearer token, its own feeds) mounted
under ``/p/{CODE}`` of a single server, so one process and one port carry the whole province;
the registry still lists each as a separate system with separate credentials. Feeds are
computed page by page from :class:`~tongban.sandbox.scale.ScaleSystem` (nothing is held), and
read the current change round from the folder's ``round`` file, which ``tongban sandbox
change`` advances. File-drop systems drop signed batches of each round into their drop roots,
streaming. MQTT systems are listed with their signing keys; they push through the bus gateway.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Sequence

from tongban.connectors.base import ServiceError, SystemService
from tongban.connectors.serving import ServerThread, TlsFiles, make_local_ca
from tongban.model.datasets import DATASETS
from tongban.sandbox.feed import LIMITS, SPEC_VERSIONS, _check_limit, cursor_for, parse_cursor
from tongban.sandbox.runtime import (BUS_ID, BUS_KEY_ENV, BUS_KEY_ID, FILE_BATCH, RunningSystem, _secret, partner_entry,
                                     write_registry_files)
from tongban.sandbox.scale import ProvinceScale, ScaleSystem, Volumes

__all__ = ["ProvinceSandbox", "ScaleService", "read_round", "advance_round", "SCALE_TRANSPORTS"]

ROUND_FILE = "round"
SCALE_TRANSPORTS = ("rest", "soap", "filedrop", "mqtt")


def read_round(folder: Path) -> int:
    try:
        return int((folder / ROUND_FILE).read_text().strip() or 0)
    except FileNotFoundError:
        return 0


class RoundFile:
    """The current change round, re-read only when the file changed (one ``stat`` per request)."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / ROUND_FILE
        self._seen: tuple[int, int] | None = None
        self._round = 0

    def __call__(self) -> int:
        try:
            st = self.path.stat()
        except FileNotFoundError:
            return 0
        if (st.st_mtime_ns, st.st_ino) != self._seen:
            self._round = int(self.path.read_text().strip() or 0)
            self._seen = (st.st_mtime_ns, st.st_ino)
        return self._round


class ScaleService(SystemService):
    """``meta`` and the changes feeds of one scale system, computed per page."""

    def __init__(self, system: ScaleSystem, rounds: RoundFile, binding: str) -> None:
        self.system, self.rounds, self.binding = system, rounds, binding

    def meta(self) -> dict[str, Any]:
        s = self.system
        return {"systemId": s.system_id, "roles": list(s.roles), "datasets": list(s.datasets),
                "specVersions": list(SPEC_VERSIONS), "bindings": [self.binding], "limits": dict(LIMITS)}

    def changes(self, dataset: str, since: str | None, limit: int = 100) -> dict[str, Any]:
        if dataset not in DATASETS:
            raise ServiceError(404, "NOT_FOUND", f"{self.system.system_id} serves no changes feed for "
                                                 f"dataset {str(dataset)[:40]!r}")
        limit = _check_limit(limit)
        start = 0 if since is None else parse_cursor(since)
        rounds = self.rounds()
        end = self.system.feed_length(dataset, rounds)
        if start >= end:
            return {"records": [], "nextCursor": since if since is not None else cursor_for(start), "hasMore": False}
        records = list(self.system.feed(dataset, start, start + limit, rounds))
        return {"records": records, "nextCursor": cursor_for(start + len(records)),
                "hasMore": start + len(records) < end}

    def receive(self, envelope: dict[str, Any], **kw: Any) -> dict[str, Any]:
        raise ServiceError(404, "NOT_FOUND", f"{self.system.system_id} accepts no pushes")

    def get_ack(self, message_id: str, caller: str) -> dict[str, Any] | None:
        return None


def _code(system: ScaleSystem) -> str:
    return system.code.replace("-", "_")


def drop_round(system: ScaleSystem, folder: Path, k: int) -> int:
    """Drop the records of round ``k`` (0: every base record) as signed batches; returns how many."""
    from tongban.connectors.filedrop.writer import FileDropWriter

    code = _code(system)
    root = folder / "drop" / code
    writer = FileDropWriter(root, sender=system.system_id, receiver=BUS_ID, key_id=f"{code}-K1",
                            key=os.environ[f"TONGBAN_HMAC_{code}"].encode())
    written = 0
    for dataset in DATASETS:  # prerequisites first: cases before their events, results, evaluations
        source = system.feed(dataset, 0, system.counts[dataset], 0) if k == 0 else system.changed_in(dataset, k)
        batch: list[dict[str, Any]] = []
        for record in source:
            batch.append(record)
            if len(batch) == FILE_BATCH:
                writer.write_batch(dataset, batch)
                written, batch = written + len(batch), []
        if batch:
            writer.write_batch(dataset, batch)
            written += len(batch)
    return written


@dataclass
class ProvinceSandbox:
    """Start with :meth:`start`; ``running`` then lists every system as the registry sees it."""

    folder: Path
    seed: int = 7
    volumes: Volumes = field(default_factory=Volumes)
    systems_limit: int | None = None
    transports: tuple[str, ...] = ("rest", "soap", "filedrop")
    insecure_http: bool = False
    admission: str = "enforce"
    now: datetime | None = None
    running: list[RunningSystem] = field(default_factory=list)
    tls: TlsFiles | None = None
    server: ServerThread | None = None

    @property
    def province(self) -> ProvinceScale:
        return ProvinceScale(self.seed, self.volumes, now=self.now, limit=self.systems_limit)

    @property
    def registry_file(self) -> Path:
        return self.folder / "partners.yaml"

    def start(self) -> "ProvinceSandbox":
        from starlette.applications import Starlette
        from starlette.routing import Mount

        from tongban.connectors.rest.server import create_rest_app, token_table
        from tongban.connectors.soap.server import create_soap_app

        unknown = set(self.transports) - set(SCALE_TRANSPORTS)
        if unknown or not self.transports:
            raise ValueError(f"province-scale transports: choose from {', '.join(SCALE_TRANSPORTS)}")
        self.folder.mkdir(parents=True, exist_ok=True)
        province = self.province
        self.now = province.now
        if self.tls is None and not self.insecure_http:
            self.tls = make_local_ca(self.folder / "tls")
        rounds = RoundFile(self.folder)
        first_start = not (self.folder / ROUND_FILE).exists()
        routes, served = [], []
        for k, system in enumerate(province.systems):
            transport = self.transports[k % len(self.transports)]
            code = _code(system)
            if transport in ("rest", "soap"):
                env = f"TONGBAN_TOKEN_{code}"
                token = os.environ.get(env) or _secret(env)
                service = ScaleService(system, rounds, transport.upper())
                factory = create_rest_app if transport == "rest" else create_soap_app
                routes.append(Mount(f"/p/{code}", app=factory(service, authenticate=token_table({token: BUS_ID}))))
                served.append((system, transport, {"token_env": env}))
            elif transport == "filedrop":
                key_env = f"TONGBAN_HMAC_{code}"
                key_file = self.folder / "drop" / f".{code}.key"
                root = self.folder / "drop" / code
                for sub in ("inbox", "archive", "rejected"):
                    for dataset in DATASETS:
                        (root / sub / dataset).mkdir(parents=True, exist_ok=True)
                if key_file.exists():
                    os.environ[key_env] = key_file.read_text().strip()
                else:
                    key_file.touch(mode=0o600)
                    key_file.write_text(_secret(key_env))
                if first_start:  # a restarted sandbox does not drop its records again
                    drop_round(system, self.folder, 0)
                self.running.append(RunningSystem(system, "filedrop", str(root),  # type: ignore[arg-type]
                                                  {"hmac_key_env": key_env, "key_id": f"{code}-K1"}))
            else:  # mqtt: a sender with its signing key; it pushes through the bus gateway
                key_env = f"TONGBAN_HMAC_{code}"
                os.environ.get(key_env) or _secret(key_env)
                self.running.append(RunningSystem(system, "mqtt", "mqtt://127.0.0.1:1883",  # type: ignore[arg-type]
                                                  {"hmac_key_env": key_env, "key_id": f"{code}-K1"}))
        if first_start:
            _write_atomic(self.folder / ROUND_FILE, "0\n")
        if routes:
            self.server = ServerThread(Starlette(routes=routes), tls=self.tls).start()
            for system, transport, credentials in served:
                path = f"/p/{_code(system)}" + ("/tbs/v1/soap" if transport == "soap" else "")
                self.running.append(RunningSystem(system, transport, self.server.url + path,  # type: ignore[arg-type]
                                                  credentials, self.server.stop))
        order = {s.system_id: i for i, s in enumerate(province.systems)}
        self.running.sort(key=lambda r: order[r.system.system_id])
        os.environ.get(BUS_KEY_ENV) or _secret(BUS_KEY_ENV)
        self._write_files()
        return self

    def registry(self) -> dict[str, Any]:
        return {"bus": {"system_id": BUS_ID, "admission": self.admission, "hmac_key_env": BUS_KEY_ENV,
                        "key_id": BUS_KEY_ID},
                "partners": [partner_entry(r, self.tls) for r in self.running]}  # type: ignore[arg-type]

    def _write_files(self) -> None:
        write_registry_files(self.registry_file, self.registry(), "tongban sandbox (province scale)",
                             [n for r in self.running for k, n in r.credentials.items() if k.endswith("_env")])

    def ready_document(self) -> dict[str, Any]:
        v = self.volumes
        return {"pid": os.getpid(), "seed": self.seed, "scale": "province", "now": self.now.isoformat(),
                "volumes": {"catalog": v.catalog, "cases": v.cases, "eventsPerCase": v.events_per_case,
                            "results": v.results, "evaluations": v.evaluations},
                "systemsLimit": self.systems_limit, "transports": list(self.transports),
                "insecureHttp": self.insecure_http, "admission": self.admission, "hierarchy": "direct",
                "registry": str(self.registry_file), "secrets": str(self.folder / "secrets.env"),
                "caFile": str(self.tls.ca_file) if self.tls else None, "mqttBroker": None,
                "systems": [{"id": r.system.system_id, "level": r.system.level, "transport": r.transport,
                             "endpoint": r.endpoint} for r in self.running]}

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None
        self.running.clear()

    def __enter__(self) -> "ProvinceSandbox":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def province_from_ready(ready: dict[str, Any]) -> ProvinceScale:
    """The same generator as the running sandbox (same seed, volumes, ``now`` and systems)."""
    v = ready["volumes"]
    return ProvinceScale(ready["seed"], Volumes(catalog=v["catalog"], cases=v["cases"],
                                                events_per_case=v["eventsPerCase"], results=v["results"],
                                                evaluations=v["evaluations"]),
                         now=datetime.fromisoformat(ready["now"]), limit=ready.get("systemsLimit"))


def advance_round(folder: Path, ready: dict[str, Any]) -> tuple[int, int]:
    """One change round: file-drop systems drop what changed, then feeds serve it (the round file
    moves last, so a reader never sees a round whose drops are missing). Returns (round, records)."""
    province = province_from_ready(ready)
    k = read_round(folder) + 1
    transports = ready["transports"]
    changed = 0
    for i, system in enumerate(province.systems):
        transport = transports[i % len(transports)]
        if transport == "filedrop":
            key_file = folder / "drop" / f".{_code(system)}.key"
            os.environ[f"TONGBAN_HMAC_{_code(system)}"] = key_file.read_text().strip()
            changed += drop_round(system, folder, k)
        else:
            changed += sum(system.round_count(ds, k) for ds in DATASETS)
    _write_atomic(folder / ROUND_FILE, f"{k}\n")
    return k, changed


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".part")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


