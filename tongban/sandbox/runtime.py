"""A running sandbox: the generated province served on loopback, one real server per system.

REST and SOAP systems are real servers speaking HTTPS with a certificate from a local CA
generated here (TBS-REST-001; plain HTTP only with ``insecure_http=True``, for development).
File-drop systems push signed batches into their drop roots. Each system gets fresh
secrets (a bearer token ``TONGBAN_TOKEN_{CODE}``, an HMAC key ``TONGBAN_HMAC_{CODE}``),
exported to the environment and written to ``secrets.env`` (mode 0600); ``partners.yaml``
names the variables, never the secrets.
"""
from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Collection

import yaml

from tongban.connectors.serving import ServerThread, TlsFiles, make_local_ca
from tongban.model.datasets import CONSUMER_ROLE, DATASETS, RELAYED
from tongban.sandbox.generate import generate_province
from tongban.sandbox.systems import SandboxData, SandboxSystem

BUS_ID = "TB:province:440000:TONGBAN"
BUS_KEY_ENV = "TONGBAN_HMAC_TONGBAN"
BUS_KEY_ID = "TONGBAN-K1"


@dataclass
class RunningSystem:
    system: SandboxSystem
    transport: str
    endpoint: str
    credentials: dict[str, str]
    stop: Callable[[], None] = lambda: None
    documents_dir: str | None = None
    direct: bool = True  # False: its case-linked records reach the bus through its parent's relay
    sftp_url: str | None = None  # a file-drop system that drops over SFTP: its account on the gateway
    service: Any = None  # the SandboxService behind a REST/SOAP server (feeds a demo step appends to)
    hold_timeout: str | None = None  # written into its registry entry when set
    mqtt: Any = None  # an mqtt system sending on its own (Sandbox.send_over_mqtt): what it sent, what was acknowledged
    registry_extra: dict[str, Any] = field(default_factory=dict)  # frontdb: database_url_env, profile, dialect


def _secret(name: str) -> str:
    value = secrets.token_urlsafe(32)  # 256 bits of entropy (TBS-SEC-008)
    os.environ[name] = value
    return value


def _consumer_receiver(system: SandboxSystem):
    """A CATALOG_CONSUMER system accepts the catalog the bus publishes down: a reference
    receiver (validation S0–S5 in memory) that trusts the bus's signing key."""
    if CONSUMER_ROLE not in system.roles:
        return None
    from tongban.conformance.reference_receiver import ReferenceReceiver, SenderProfile

    key = os.environ.get(BUS_KEY_ENV) or _secret(BUS_KEY_ENV)
    return ReferenceReceiver(system.system_id, {BUS_ID: SenderProfile(
        roles=("CATALOG_PROVIDER",), keys={BUS_KEY_ID: ("HMAC-SHA256", key.encode())})})


def _serve(system: SandboxSystem, app_factory, folder: Path, tls: TlsFiles | None, path: str,
           binding: str = "REST", relay: Collection[str] = ()) -> RunningSystem:
    code = system.system_id.rsplit(":", 1)[1].replace("-", "_")
    env = f"TONGBAN_TOKEN_{code}"
    token = _secret(env)
    from tongban.connectors.rest.server import token_table
    from tongban.sandbox.feed import SandboxService

    service = SandboxService(system, bindings=(binding,), include_relayed=tuple(relay),
                             receiver=_consumer_receiver(system))
    authenticate = token_table({token: BUS_ID})
    if tls is not None and tls.client_ca_file is not None:
        # mutual TLS (TBS-SEC-001): the bus's client certificate of the local CA names it
        import ssl

        from tongban.connectors.mtls import ClientCertificates, MutualTlsAuthenticator, fingerprint

        bus_der = ssl.PEM_cert_to_DER_cert(bus_client_cert(tls)[0].read_text())
        authenticate = MutualTlsAuthenticator(ClientCertificates({BUS_ID: [fingerprint(bus_der)]}), authenticate)
    server = ServerThread(app_factory(service, authenticate=authenticate), tls=tls).start()
    return RunningSystem(system, "", server.url + path, {"token_env": env}, server.stop, service=service)


def bus_client_cert(tls: TlsFiles) -> tuple[Path, Path]:
    """The bus's client certificate and key, issued by the sandbox's local CA (mutual TLS)."""
    folder = tls.ca_file.parent
    return folder / "client-bus.pem", folder / "client-bus.key"


def _rest(system: SandboxSystem, folder: Path, tls: TlsFiles | None, relay: Collection[str] = ()) -> RunningSystem:
    from tongban.connectors.rest.server import create_rest_app

    running = _serve(system, create_rest_app, folder, tls, "", relay=relay)
    running.transport = "rest"
    return running


def _soap(system: SandboxSystem, folder: Path, tls: TlsFiles | None, relay: Collection[str] = ()) -> RunningSystem:
    from tongban.connectors.soap.server import create_soap_app

    running = _serve(system, create_soap_app, folder, tls, "/tbs/v1/soap", "SOAP", relay=relay)
    running.transport = "soap"
    return running


def _filedrop(system: SandboxSystem, folder: Path, tls: TlsFiles | None,
              relay: Collection[str] = (), *, over_sftp: bool = False,
              versions: tuple[str, ...] = ()) -> RunningSystem:
    """The system pushes its records as signed batches into its drop root (TBS-FILE-001..005).

    Like a real sender it keeps what it already dropped (``sent.json``) and drops only what
    is new, so a restarted sandbox does not resend acknowledged records (TBS-SYNC-001).
    ``over_sftp``: the drop root is served by an SFTP gateway (one account for this sender,
    confined to its drop root, TBS-SEC-001) and the system drops through it; the bus scans
    the drop root as for any file-drop partner.

    ``versions``: the versions the system supports (a province in transition). One that supports
    TBS-1.1 writes each batch in TBS-1.1 (the manifest's ``specVersion``, the version the bus
    supports too), its records in their TBS-1.1 form (Annex E.2), when every record of the batch
    passes TBS-1.1; otherwise that batch in TBS-1.0 as generated.
    """
    import json

    from tongban.connectors.filedrop.writer import FileDropWriter

    code = system.system_id.rsplit(":", 1)[1].replace("-", "_")
    root = folder / "drop" / code
    for sub in ("inbox", "archive", "rejected"):  # provisioned by the receiver (TBS-FILE-001)
        for dataset in DATASETS:
            (root / sub / dataset).mkdir(parents=True, exist_ok=True)
    gateway = _sftp_gateway(system, root, folder) if over_sftp else None
    key_env, key_id = f"TONGBAN_HMAC_{code}", f"{code}-K1"
    key_file = root.parent / f".{code}.key"  # the key persists with the drop root it signs for
    if key_file.exists():
        os.environ[key_env] = key_file.read_text().strip()
    else:
        key_file.touch(mode=0o600)
        key_file.write_text(_secret(key_env))
    files = gateway[1] if gateway else root
    writer = FileDropWriter(files, sender=system.system_id, receiver=BUS_ID, key_id=key_id,
                            key=os.environ[key_env].encode())
    sent_file = root.parent / f".{code}.sent.json"
    sent = json.loads(sent_file.read_text()) if sent_file.exists() else {}
    dropped: list[tuple[list[dict[str, Any]], Any]] = []
    try:
        for dataset in DATASETS:  # prerequisites first: cases before their events, results, evaluations
            if dataset not in system.provides:
                continue
            records = system.feed_records(dataset, include_relayed=dataset in relay)[sent.get(dataset, 0):]
            for start in range(0, len(records), FILE_BATCH):
                version, batch = _batch_form(dataset, records[start:start + FILE_BATCH], versions)
                dropped.append((batch, writer.write_batch(dataset, batch, spec_version=version)))
            sent[dataset] = sent.get(dataset, 0) + len(records)
    finally:
        if gateway:
            gateway[1].close()
    sent_file.write_text(json.dumps(sent))
    running = RunningSystem(system, "filedrop", str(root), {"hmac_key_env": key_env, "key_id": key_id})
    if not gateway and dropped:
        running.stop = FileResender(writer, dropped).start().stop
    if gateway:
        running.stop = gateway[0].stop
        running.sftp_url = f"sftp://{code}@{gateway[0].host}:{gateway[0].port}"
        # the account in the registry, so that `tongban sftp serve` serves it as the sandbox did
        running.registry_extra["sftp_authorized_keys"] = [
            key for account in gateway[0].accounts.values() for key in account.authorized_keys]
    return running


def _batch_form(dataset: str, records: list[dict[str, Any]],
                versions: tuple[str, ...]) -> tuple[str, list[dict[str, Any]]]:
    """The version a sandbox sender writes a batch in, and its records in that version."""
    from tongban.sandbox.transition import V10, V11

    if V11 not in versions:
        return V10, records
    from tongban.model.annex_e import upgrade
    from tongban.sync.versions import passes

    upgraded = [upgrade(dataset, r) for r in records]
    return (V11, upgraded) if all(passes(dataset, r, V11) for r in upgraded) else (V10, records)


def _sftp_gateway(system: SandboxSystem, root: Path, folder: Path):
    """The bus's SFTP gateway for one sandbox sender, and the sender's connection to it. The
    keys are kept in the sandbox folder (mode 0600), like the HMAC keys."""
    from tongban.connectors.filedrop.sftp import (SftpAccount, SftpDropFiles, SftpDropServer, generate_key,
                                                  public_key_text)

    code = system.system_id.rsplit(":", 1)[1]

    def key_at(path: Path) -> str:
        if not path.exists():
            path.touch(mode=0o600)
            path.write_text(generate_key())
        return path.read_text()

    host_key = key_at(folder / "drop" / ".sftp_host.key")
    client_key = key_at(folder / "drop" / f".{code}.ssh.key")
    server = SftpDropServer([SftpAccount(code, root, (public_key_text(client_key),))], host_key).start()
    files = SftpDropFiles(f"sftp://{code}@{server.host}:{server.port}", private_key=client_key,
                          host_public_key=server.host_public_key)
    return server, files


def _sftp(system: SandboxSystem, folder: Path, tls: TlsFiles | None, relay: Collection[str] = (),
          versions: tuple[str, ...] = ()) -> RunningSystem:
    return _filedrop(system, folder, tls, relay, over_sftp=True, versions=versions)


def document_name(case_no: str, cert_no: str) -> str:
    """File name of a Result's document in a documents folder: a digest of the business key
    (certificate numbers hold characters a file name must not, TBS-FILE-002)."""
    from tongban.model.canonical import canonical_sha256

    return canonical_sha256([case_no, cert_no])


def _drop_documents(system: SandboxSystem, documents: dict[str, bytes], folder: Path,
                    relay: Collection[str] = ()) -> Path:
    """The result documents travel by file drop: one file per Result with a document."""
    code = system.system_id.rsplit(":", 1)[1].replace("-", "_")
    target = folder / "documents" / code
    target.mkdir(parents=True, exist_ok=True)
    for result in system.feed_records("result", include_relayed="result" in relay):  # a relay forwards documents too
        doc = result.get("document")
        if doc and doc["sha256"] in documents:
            path = target / document_name(result["caseNo"], result["certNo"])
            if not path.exists():
                tmp = path.with_name(path.name + ".part")
                tmp.write_bytes(documents[doc["sha256"]])
                tmp.rename(path)
    return target


# Batches small enough that a case's events span several envelopes, as a real sender's do
# (what CR-04 observes, TBS-EVT-004..008).
FILE_BATCH = 50
FILE_ACK_TIMEOUT = 3.0   # seconds a receiver has to acknowledge a batch it took from the inbox
FILE_TRIES = 3


class FileResender:
    """The file-drop sender's side of TBS-SYNC-001: a batch that a receiver took from the inbox
    but did not acknowledge within :data:`FILE_ACK_TIMEOUT` is dropped again as a new envelope
    with the same records (at most :data:`FILE_TRIES` drops in all). A batch still waiting in
    the inbox is not lost, so nothing is resent while no receiver scans."""

    def __init__(self, writer: Any, dropped: list[tuple[list[dict[str, Any]], Any]]) -> None:
        import threading

        self.writer = writer
        self.pending = [[records, written, 1, None] for records, written in dropped]  # tries, taken at
        self.resent: list[str] = []   # messageIds of the resends
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sandbox-file-resender", daemon=True)

    def start(self) -> "FileResender":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopped.set()
        self._thread.join(5)

    def _run(self) -> None:
        import time

        while self.pending and not self._stopped.wait(0.2):
            now = time.monotonic()
            for item in list(self.pending):
                records, written, tries, taken_at = item
                try:
                    if self.writer.read_ack(written.dataset, written.batch_id, message_id=written.message_id):
                        self.pending.remove(item)
                        continue
                    if Path(written.data_path).exists():
                        continue  # still in the inbox: no receiver took it yet
                    if taken_at is None:
                        item[3] = now
                    elif now - taken_at > FILE_ACK_TIMEOUT:
                        if tries >= FILE_TRIES:
                            self.pending.remove(item)
                            continue
                        again = self.writer.write_batch(written.dataset, records,   # in the same version
                                                        spec_version=written.envelope["specVersion"])
                        self.resent.append(again.message_id)
                        item[1], item[2], item[3] = again, tries + 1, None
                except (OSError, ValueError):
                    continue  # a file moved under us: look again at the next round

def _mqtt(system: SandboxSystem, folder: Path, broker_url: str) -> RunningSystem:
    """The system pushes over MQTT (§18) to the broker the bus subscribes on: it serves nothing,
    and its envelopes are signed with its HMAC key (TBS-SEC-007). It sends when told to
    (``tongban sandbox push``), since a push waits for the bus's acknowledgement."""
    code = system.system_id.rsplit(":", 1)[1].replace("-", "_")
    key_env, key_id = f"TONGBAN_HMAC_{code}", f"{code}-K1"
    _secret(key_env)
    return RunningSystem(system, "mqtt", broker_url, {"hmac_key_env": key_env, "key_id": key_id})


def _frontdb(system: SandboxSystem, folder: Path, tls: TlsFiles | None, relay: Collection[str] = ()) -> RunningSystem:
    from tongban.sandbox.frontdb import start_frontdb

    return start_frontdb(system, folder, tls, relay)


STARTERS: dict[str, Callable[..., RunningSystem]] = {
    "rest": _rest, "soap": _soap, "filedrop": _filedrop, "sftp": _sftp, "frontdb": _frontdb,
    "mqtt": _mqtt,  # started by Sandbox.start with the broker's URL
}


def serve_system(system: SandboxSystem, transport: str, folder: Path, tls: TlsFiles | None,
                 relay: Collection[str] = ()) -> RunningSystem:
    """Serve one sandbox system over one transport (``rest``, ``soap``, ``filedrop`` or ``sftp``): what
    :meth:`Sandbox.start` does per system, for tests that serve the same system several ways."""
    try:
        starter = STARTERS[transport]
    except KeyError:
        raise ValueError(f"sandbox transport not available: {transport!r}; choose from {sorted(STARTERS)}") from None
    return starter(system, folder, tls, relay)


def partner_entry(r: RunningSystem, tls: TlsFiles | None, versions: tuple[str, ...] = ()) -> dict[str, Any]:
    """The ``partners.yaml`` entry of a running system, as the bus sees it; ``versions``: the
    versions its profile lists (a province in transition), written as ``spec_versions``."""
    s = r.system
    entry: dict[str, Any] = {
        "id": s.system_id, "name": s.name, "parent": s.parent_id if s.parent_id else BUS_ID,
        "transport": r.transport, "endpoint": r.endpoint,
        "credentials": dict(r.credentials), "roles": list(s.roles), "spec_version": "TBS-1.0",
        "direct": r.direct, "page_size": 200, "retries": 1,
    }
    if versions:
        entry["spec_versions"] = list(versions)
    if r.transport == "frontdb":  # the URL stays in the environment (secrets.env), never in the file
        entry.update({k: v for k, v in r.registry_extra.items() if v is not None})
        entry.pop("credentials")
    if r.sftp_url:
        entry["sftp_authorized_keys"] = list(r.registry_extra["sftp_authorized_keys"])
    if r.documents_dir:
        entry["documents_dir"] = r.documents_dir
    if r.hold_timeout:
        entry["hold_timeout"] = r.hold_timeout
    if r.transport in ("rest", "soap"):
        if tls:
            entry["ca_file"] = str(tls.ca_file)
            if tls.client_ca_file is not None:   # the bus presents its client certificate (mutual TLS)
                cert, key = bus_client_cert(tls)
                entry["client_cert_file"], entry["client_key_file"] = str(cert), str(key)
        else:
            entry["allow_insecure_http"] = True
    return entry


@dataclass
class Sandbox:
    folder: Path
    seed: int = 7
    cities: int = 2
    counties: int = 2
    transports: tuple[str, ...] = ("rest",)
    insecure_http: bool = False
    admission: str = "enforce"  # the bus's certification gate (TBS-CONF-008); "off" for development
    # one county (the first one pulled directly) publishes only through a front database (TBS-LP-1.0)
    frontdb_county: bool = False
    # direct: every county is pulled by the bus itself (三级数据直连); relay: counties' case-linked
    # records reach the bus through their city's feed; mixed: the first city relays, the others not
    hierarchy: str = "direct"
    # a province in transition to TBS-1.1: systems on TBS-1.0 only and on both versions
    # (tongban.sandbox.transition); the TBS-1.0-only ones send items without onSiteVisits
    transition: bool = False
    versions: dict[str, tuple[str, ...]] = field(default_factory=dict)
    data: SandboxData | None = None
    running: list[RunningSystem] = field(default_factory=list)
    tls: TlsFiles | None = None
    # the broker MQTT systems push to; None: an embedded broker (amqtt) in this process
    broker_url: str | None = None
    broker: Any = None

    def start(self) -> "Sandbox":
        unknown = set(self.transports) - set(STARTERS)
        if unknown:
            raise ValueError(f"sandbox transports not available: {sorted(unknown)}; choose from {sorted(STARTERS)}")
        self.folder.mkdir(parents=True, exist_ok=True)
        self.data = generate_province(self.seed, cities=self.cities, counties_per_city=self.counties)
        if self.transition:
            from tongban.sandbox.transition import apply_transition

            self.versions = apply_transition(self.data)
        self.tls = None if self.insecure_http else self._local_ca()
        if self.hierarchy not in ("direct", "relay", "mixed"):
            raise ValueError(f"hierarchy must be direct, relay or mixed, not {self.hierarchy!r}")
        cities = [s.system_id for s in self.data.cities]
        relaying = set(cities if self.hierarchy == "relay" else cities[:1] if self.hierarchy == "mixed" else ())
        serving = [s for s in self.data.systems.values() if s.provides]
        try:
            if "mqtt" in self.transports and self.broker_url is None:
                from tongban.connectors.mqtt import EmbeddedBroker

                self.broker = EmbeddedBroker().start()
                self.broker_url = self.broker.url
            # the first directly pulled county (the last one is where the demo plants its unhappy paths)
            front = next((s.system_id for s in serving if s.level == "county"
                          and s.parent_id not in relaying), None) if self.frontdb_county else None
            for i, system in enumerate(serving):
                # The province hub always serves REST; the others take the transports in turn.
                transport = "rest" if system.level == "province" else self.transports[i % len(self.transports)]
                if system.system_id == front:
                    transport = "frontdb"
                relay = RELAYED if system.system_id in relaying else ()
                if transport == "mqtt":
                    running = _mqtt(system, self.folder, self.broker_url)
                elif transport in ("filedrop", "sftp") and self.transition:   # the manifest's version
                    running = STARTERS[transport](system, self.folder, self.tls, relay,
                                                  versions=self.versions[system.system_id])
                else:
                    running = STARTERS[transport](system, self.folder, self.tls, relay)
                running.direct = system.parent_id not in relaying
                if "result" in system.provides:
                    running.documents_dir = str(_drop_documents(system, self.data.documents, self.folder, relay))
                self.running.append(running)
            if self.transition:
                self._serve_versions()
        except Exception:
            self.stop()
            raise
        self._write_files()
        return self

    def _serve_versions(self) -> None:
        """A province in transition: REST and SOAP systems serve the versions of their profile
        (TBS-1.1 TBS-REST-012, TBS-SOAP-001: a SOAP system answers in the namespace of the
        request), the province hub with what only TBS-1.1 says; file-drop senders write their
        batches in their versions (the manifest's ``specVersion``); systems on other bindings
        stay on TBS-1.0 here."""
        from tongban.sandbox.transition import ONLY_10, province_enrich

        for r in self.running:
            sid = r.system.system_id
            if r.transport in ("filedrop", "sftp"):
                continue   # its batches are written in its versions (_filedrop)
            if r.transport not in ("rest", "soap") or r.service is None:
                self.versions[sid] = ONLY_10
                continue
            r.service.spec_versions = self.versions[sid]
            if r.service.receiver is not None:   # a catalog consumer accepts the versions it supports
                for profile in r.service.receiver.senders.values():
                    profile.spec_versions = self.versions[sid]
            if r.system.level == "province":
                r.service.enrich = province_enrich

    def _local_ca(self) -> TlsFiles:
        """The local CA: server certificates, and the bus's client certificate (mutual TLS)."""
        from dataclasses import replace

        from tongban.connectors.serving import issue_client_certificate

        tls = make_local_ca(self.folder / "tls")
        issue_client_certificate(tls.ca_file.parent, "TONGBAN", name="bus")
        return replace(tls, client_ca_file=tls.ca_file)

    @property
    def registry_file(self) -> Path:
        return self.folder / "partners.yaml"

    def registry(self) -> dict[str, Any]:
        if not os.environ.get(BUS_KEY_ENV):
            _secret(BUS_KEY_ENV)  # the bus signs what it publishes (TBS-SEC-007)
        bus: dict[str, Any] = {"system_id": BUS_ID, "admission": self.admission, "hmac_key_env": BUS_KEY_ENV,
                               "key_id": BUS_KEY_ID}
        if self.transition:   # the bus supports both versions until the TBS-1.0 sunset
            from tongban.sandbox.transition import BOTH

            bus["spec_versions"] = list(BOTH)
        if any(r.sftp_url for r in self.running):
            bus["sftp_host_key_file"] = str(self.folder / "drop" / ".sftp_host.key")
        return {"bus": bus,
                "partners": [partner_entry(r, self.tls, self.versions.get(r.system.system_id, ()))
                             for r in self.running]}

    def _write_files(self) -> None:
        write_registry_files(self.registry_file, self.registry(), "tongban sandbox",
                             [n for r in self.running for k, n in [*r.credentials.items(), *r.registry_extra.items()]
                              if k.endswith("_env")])

    def plant_unhappy_paths(self, hold_timeout: str = "PT1M"):
        """Append the first wave of :func:`~tongban.sandbox.unhappy.plan_unhappy_paths` to the last
        directly pulled county serving REST or SOAP, and give it a short ``hold_timeout`` (the
        registry is rewritten); returns the plan, whose ``later`` wave :meth:`deliver_late` appends."""
        from tongban.sandbox.unhappy import plan_unhappy_paths

        target = next((r for r in reversed(self.running) if r.system.level == "county" and r.direct
                       and r.service is not None), None)
        if target is None:
            raise ValueError("no directly pulled county serving REST or SOAP to plant unhappy paths in")
        plan = plan_unhappy_paths(target.system)
        for dataset, record in plan.now:
            target.service.append(dataset, record)
        target.hold_timeout = hold_timeout
        self._write_files()
        self._planted = (target, plan)
        return plan

    def deliver_late(self) -> None:
        """The second wave: the prerequisites that arrive after their dependants were held."""
        target, plan = self._planted
        for dataset, record in plan.later:
            target.service.append(dataset, record)

    def send_over_mqtt(self, system_id: str):
        """Let the ``mqtt`` system ``system_id`` send on its own, as a system in production does:
        it publishes its records (resending each chunk in a new envelope until acknowledged) and,
        as a CATALOG_CONSUMER, consumes the catalog on the same connection — what a conformance
        suite certifying it over MQTT needs (:class:`~tongban.sandbox.mqtt.MqttSandboxSystem`).
        Stopped with the sandbox; ``tongban sandbox push`` remains the way to push on command."""
        from tongban.sandbox.mqtt import MqttSandboxSystem

        running = next((r for r in self.running if r.system.system_id == system_id and r.transport == "mqtt"), None)
        if running is None:
            raise ValueError(f"{system_id} is not an mqtt system of this sandbox")
        if running.mqtt is None:
            key_env, key_id = running.credentials["hmac_key_env"], running.credentials["key_id"]
            running.mqtt = MqttSandboxSystem(running.system, running.endpoint, receiver_id=BUS_ID, key_id=key_id,
                                             key=os.environ[key_env].encode(),
                                             consumer=_consumer_receiver(running.system)).start()
            running.stop = running.mqtt.stop
        return running.mqtt

    def stop(self) -> None:
        for r in self.running:
            r.stop()
        self.running.clear()
        if self.broker is not None:
            self.broker.stop()
            self.broker = None

    def __enter__(self) -> "Sandbox":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def write_registry_files(registry_file: Path, registry: dict[str, Any], writer: str, secret_envs: list[str]) -> None:
    """A running sandbox's ``partners.yaml`` and, beside it, ``secrets.env`` (mode 0600): the value of
    each named environment variable and of the bus's key, one ``NAME=value`` a line."""
    header = f"# Written by the {writer}; endpoints and tokens change on every start.\n"
    registry_file.write_text(header + yaml.safe_dump(registry, allow_unicode=True, sort_keys=False), encoding="utf-8")
    secrets_file = registry_file.parent / "secrets.env"
    secrets_file.touch(mode=0o600)
    secrets_file.write_text("".join(f"{n}={os.environ[n]}\n" for n in [*secret_envs, BUS_KEY_ENV]))
