"""A running gateway: the HTTP servers, the MQTT subscribers and the file-drop watcher of one
process, started and stopped together.

Several processes may serve one store (PostgreSQL) and one port (``reuse_port``: the kernel
spreads the connections): every envelope is received under the store's write lock
(:func:`tongban.store.locks.serialize_writes`), the file-drop watcher collects a drop root only
while it holds that feed's sync lock, and only one process at a time subscribes to the MQTT
brokers (the bus's client identifier is its ``systemCode``, TBS-SEC-001, and a broker keeps one
connection per identifier): the others wait on a store lock and take over when it is released.

Shutdown (:meth:`Gateway.stop`, on SIGTERM or SIGINT): ``/readyz`` turns 503 at once, the
file-drop watcher finishes the batch it is on, the MQTT subscribers finish the message they
are on and take no other (an unprocessed message is not acknowledged to the broker, which
delivers it again), and the HTTP server stops accepting, lets the requests in flight finish
within ``graceful_timeout`` and closes. An acknowledgement is only ever sent after the
transaction that stored its envelope committed, so an envelope is either stored and
acknowledged, stored and answered again from the replay memory when it is resent, or not
stored at all.
"""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import text

from tongban.connectors.edge import Authenticate
from tongban.connectors.rest.server import token_table
from tongban.connectors.serving import ServerThread, TlsFiles
from tongban.registry import Registry, Transport
from tongban.store.store import Store
from tongban.sync.receiver import BusReceiver

from .app import create_gateway_app
from .metrics import GatewayMetrics
from .service import Admission, GatewayService

log = logging.getLogger(__name__)


class GatewayConfigError(ValueError):
    """The gateway cannot start with this configuration; the message says what to change."""


@dataclass
class GatewayConfig:
    host: str = "127.0.0.1"
    port: int = 8443
    tls_cert: str | None = None          # PEM chain of the gateway's server certificate
    tls_key: str | None = None
    client_ca: str | None = None         # mutual TLS: ask clients for a certificate of this CA
    insecure_http: bool = False          # development only (TBS-REST-001 requires HTTPS)
    public_url: str | None = None        # written into the served WSDL and OpenAPI documents
    reuse_port: bool = False
    graceful_timeout: float = 30.0
    mqtt: bool = True
    filedrop: bool = True
    poll_interval: float = 2.0           # file-drop watcher
    mqtt_password_env: str | None = None  # the bus's broker password (mqtts), by variable name
    mqtt_cert: str | None = None
    mqtt_key: str | None = None
    mqtt_ca: str | None = None
    log_level: str = "warning"
    anchor_interval: float = 60.0        # seconds between ledger anchors (bus.ledger_anchor_file)

    def tls(self) -> TlsFiles | None:
        if self.insecure_http:
            return None
        if not (self.tls_cert and self.tls_key):
            raise GatewayConfigError("the gateway serves HTTPS (TBS-REST-001): give --tls-cert and --tls-key "
                                     "(PEM files), or --insecure-http for development")
        for name, path in (("--tls-cert", self.tls_cert), ("--tls-key", self.tls_key), ("--client-ca", self.client_ca)):
            if path and not Path(path).is_file():
                raise GatewayConfigError(f"{name} {path}: no such file")
        return TlsFiles(Path(self.tls_cert), Path(self.tls_key), Path(self.client_ca or self.tls_cert),
                        client_ca_file=Path(self.client_ca) if self.client_ca else None)


def registry_authenticator(registry: Registry, *, mutual_tls: bool) -> Authenticate:
    """TBS-SEC-001 per the registry: each partner's bearer token (``credentials.token_env``) and,
    with mutual TLS, its bound client certificates (``client_certificates``)."""
    tokens: dict[str, str] = {}
    for p in registry.partners:
        token = p.credentials.token()
        if p.credentials.token_env and not token:
            log.warning("%s: %s is not set; the partner can authenticate only by client certificate",
                        p.id, p.credentials.token_env)
        if token:
            if token in tokens:
                raise GatewayConfigError(f"{p.id} and {tokens[token]} share one bearer token "
                                         f"({p.credentials.token_env}): a token must name exactly one system")
            tokens[token] = p.id
    authenticate: Authenticate = token_table(tokens)
    if mutual_tls:
        from tongban.connectors.mtls import ClientCertificates, MutualTlsAuthenticator

        bound = {p.id: p.client_certificates for p in registry.partners if p.client_certificates}
        authenticate = MutualTlsAuthenticator(ClientCertificates(bound), authenticate)
    return authenticate


@dataclass
class Gateway:
    store: Store
    registry: Registry
    config: GatewayConfig = field(default_factory=GatewayConfig)
    admission: Admission | None = None
    metrics: GatewayMetrics = field(default_factory=GatewayMetrics)

    def __post_init__(self) -> None:
        self.service = GatewayService(BusReceiver(self.store, self.registry), admission=self.admission,
                                      metrics=self.metrics)
        self.draining = threading.Event()
        self.server: ServerThread | None = None
        self.mqtt: Any = None
        self.watcher: Any = None
        self.anchorer: LedgerAnchorer | None = None
        self.certificates: Any = None   # the bound client certificates, with mutual TLS
        self._schema_head: str | None = None

    # -- readiness ------------------------------------------------------------------------
    def readiness(self) -> dict[str, str]:
        problems: dict[str, str] = {}
        if self.draining.is_set():
            problems["gateway"] = "shutting down"
        try:
            with self.store.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
                from alembic.runtime.migration import MigrationContext

                current = MigrationContext.configure(conn).get_current_revision()
            if current != self.schema_head():
                problems["store"] = f"schema at {current}, not {self.schema_head()}: run tongban db upgrade"
        except Exception as exc:  # noqa: BLE001 - reported, never raised
            from tongban.sync.errors import safe_error_text

            problems["store"] = f"unreachable: {safe_error_text(exc)}"
        if self.mqtt is not None:
            problems.update(self.mqtt.problems())
        return problems

    def schema_head(self) -> str:
        if self._schema_head is None:
            from alembic.script import ScriptDirectory

            self._schema_head = ScriptDirectory.from_config(self.store.alembic_config()).get_current_head()
        return self._schema_head

    # -- lifecycle ------------------------------------------------------------------------
    def start(self) -> "Gateway":
        cfg = self.config
        tls = cfg.tls()
        authenticate = registry_authenticator(self.registry, mutual_tls=bool(tls and tls.client_ca_file))
        self.certificates = getattr(authenticate, "certificates", None)
        app = create_gateway_app(self.service, authenticate=authenticate, metrics=self.metrics,
                                 readiness=self.readiness, public_url=cfg.public_url)
        try:
            if cfg.filedrop and any(p.transport is Transport.FILEDROP for p in self.registry.partners):
                from .drops import DropWatcher

                self.watcher = DropWatcher(self.store, self.registry, self.service, admission=self.admission,
                                           interval=cfg.poll_interval).start()
            if cfg.mqtt and any(p.transport is Transport.MQTT for p in self.registry.partners):
                from .mqtt import GatewayMqtt

                self.mqtt = GatewayMqtt(self.store, self.registry, self.service, cfg).start()
            self.server = ServerThread(app, host=cfg.host, port=cfg.port, tls=tls, log_level=cfg.log_level,
                                       reuse_port=cfg.reuse_port, graceful_timeout=cfg.graceful_timeout).start()
            if self.registry.bus.ledger_anchor_file:
                self.anchorer = LedgerAnchorer(self.store, self.registry.bus.ledger_anchor_file,
                                               cfg.anchor_interval).start()
        except Exception:
            self.stop()
            raise
        return self

    def rebind_client_certificates(self, registry: Registry) -> int | None:
        """Take the partners' ``client_certificates`` of ``registry`` (the registry file read
        again) from the next request on, without a restart: a certificate added for a rotation
        is accepted, one removed is refused (TBS-SEC-001). Everything else keeps the registry the
        gateway started with. Returns the number of certificates bound, None without mutual TLS."""
        if self.certificates is None:
            return None
        bound = {p.id: p.client_certificates for p in registry.partners if p.client_certificates}
        self.certificates.replace(bound)
        return sum(len(names) for names in bound.values())

    @property
    def url(self) -> str:
        assert self.server is not None
        return self.server.url

    def stop(self) -> None:
        self.draining.set()
        if self.watcher is not None:
            self.watcher.stop()
        if self.mqtt is not None:
            self.mqtt.stop()
        if self.server is not None:
            self.server.stop()
            self.server = None
        if self.anchorer is not None:
            self.anchorer.stop()  # anchors the head the last envelopes left
            self.anchorer = None

    def __enter__(self) -> "Gateway":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class LedgerAnchorer:
    """Appends the ledger's chain head to ``bus.ledger_anchor_file`` every ``interval`` seconds
    while it moved, and once more on stop: pushes are anchored as sync runs are (after every
    run), in time rather than per envelope, which would cost an fsync each."""

    def __init__(self, store: Store, path: str, interval: float) -> None:
        self.store, self.path, self.interval = store, path, interval
        self._anchored: int | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="tongban-gateway-anchor", daemon=True)

    def start(self) -> "LedgerAnchorer":
        self._thread.start()
        return self

    def anchor_if_moved(self) -> None:
        from sqlalchemy import func, select

        from tongban.store.schema import LedgerEntry
        from tongban.sync import ledger

        with self.store.reading() as s:
            seq = s.execute(select(func.max(LedgerEntry.seq))).scalar()
        if seq is not None and seq != self._anchored:
            line = ledger.anchor(self.store, self.path)
            self._anchored = line["seq"] if line else seq

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.anchor_if_moved()
            except Exception:  # noqa: BLE001 - the next tick tries again
                log.exception("anchoring the ledger head to %s failed", self.path)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
        try:
            self.anchor_if_moved()
        except Exception:  # noqa: BLE001
            log.exception("anchoring the ledger head to %s failed", self.path)
