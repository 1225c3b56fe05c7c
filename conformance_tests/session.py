"""A conformance session: what the suite was told about the SUT, and what it saw.

TBS-CONF-005: a session pins the suite version, the validator version and the reference
allowlist, so that a rerun reproduces the verdicts. Observations shared by several tests (the
self-description, full reads of the feeds, the stateful replay) are made once and cached; every
HTTP exchange is kept as an excerpt for the report (TBS-CONF-007), without credentials.
"""
from __future__ import annotations

import hashlib
import os
import ssl
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

import httpx

from tongban.connectors.base import Connector, ConnectorError
from tongban.model.datasets import CASE_LINKED, PROVIDER_ROLES, ROLE_DATASETS, ROLES
from tongban.validators import REFERENCE_ALLOWLIST, ValidationContext

from .feeds import FeedRead, FedRecord, read_feed
from .push import pushed_records
from .sweep import Sweep, sweep
from .testkit import ALL_BINDINGS, COLLECTED, Collected

SUITE_VERSION = "1.0.0"
SPEC_VERSION = "TBS-1.0"
#: TBS-CONF-005 as changed by TBS-1.1: the suite is versioned per spec version (1.0.x, 1.1.x)
SUITE_VERSIONS = {"TBS-1.0": SUITE_VERSION, "TBS-1.1": "1.1.0"}
SPEC_VERSIONS = tuple(SUITE_VERSIONS)
#: the bindings a TBS-1.1 session can test: the suite speaks TBS-1.1 only over REST so far
# (SOAP's urn:tbs:1.1 namespace, FILE manifests and MQTT broadcasts in TBS-1.1 are not built)
SPEC_BINDINGS = {"TBS-1.0": None, "TBS-1.1": ("REST",)}
DEFAULT_ISSUER = "TB:province:440000:TONGBAN"
BINDINGS = ALL_BINDINGS
EXCERPT_CHARS = 1500
SAFE_HEADERS = ("content-type", "x-tb-sender", "x-tb-spec-version", "x-tb-message-id", "x-tb-request-hash",
                "soapaction", "retry-after", "location")


def validator_version() -> str:
    try:
        from importlib.metadata import version

        return version("tongban")
    except Exception:  # an uninstalled checkout
        from tongban import __version__

        return __version__


BINDING_OF_TRANSPORT = {"rest": "REST", "soap": "SOAP", "filedrop": "FILE", "file": "FILE", "mqtt": "MQTT"}


def binding_of(transport: Any) -> str:
    """The TBS binding name of a registry transport (``filedrop`` → ``FILE``)."""
    value = str(getattr(transport, "value", transport)).lower()
    return BINDING_OF_TRANSPORT.get(value, value.upper())


@dataclass
class SessionConfig:
    """Everything a run needs to know. ``token`` is never written to a report.

    ``attestations`` maps a test id to ``{"result": "PASS"|"FAIL", "statement": …, "evidence": …}``
    (TBS-CONF-009). ``documents_dir`` holds result documents named by ``document.fileName``
    (RP-03). ``kit_key`` is ``(keyId, key bytes)``: the HMAC-SHA256 key the SUT holds for the
    suite's system id, when it has one. ``sut_pulls`` declares that the SUT, as a consumer, pulls
    feeds (CC-06 applies).
    """

    system_id: str
    roles: tuple[str, ...]
    binding: str
    endpoint: str
    token: str | None = None
    ca_file: str | None = None
    kit_system_id: str = DEFAULT_ISSUER
    issuer: str = DEFAULT_ISSUER
    page_limit: int = 50
    documents_dir: Path | None = None
    attestations: dict[str, dict[str, Any]] = field(default_factory=dict)
    kit_key: tuple[str, bytes] | None = None
    sut_keys: dict[str, bytes] = field(default_factory=dict)   # keyId -> key of the SUT (FILE/MQTT senders)
    sut_pulls: bool = False
    wait_seconds: float = 30.0       # push bindings: how long to wait for the SUT at most
    idle_seconds: float = 5.0        # push bindings: the SUT is done after this long without a batch
    allowlist: frozenset[str] = REFERENCE_ALLOWLIST
    system_name: str | None = None   # the system's name, as the certificate states it
    valid_days: int = 365            # the certificate's validity period
    spec_version: str = SPEC_VERSION  # the version certified: what the suite sends and validates against

    def __post_init__(self) -> None:
        self.binding = self.binding.upper()
        if self.binding not in BINDINGS:
            raise ValueError(f"binding must be one of {', '.join(BINDINGS)}, not {self.binding!r}")
        if not self.roles:
            raise ValueError("claim at least one role (TBS-CONF-001)")
        unknown = [r for r in self.roles if r not in ROLES]
        if unknown:
            raise ValueError(f"unknown role(s) {unknown}; roles are {', '.join(ROLES)}")
        self.roles = tuple(dict.fromkeys(self.roles))
        if self.spec_version not in SUITE_VERSIONS:
            raise ValueError(f"spec version must be one of {', '.join(SUITE_VERSIONS)}, not {self.spec_version!r}")
        allowed = SPEC_BINDINGS[self.spec_version]
        if allowed is not None and self.binding not in allowed:
            raise ValueError(f"a {self.spec_version} session can test only {', '.join(allowed)} so far, not "
                             f"{self.binding}: the suite does not speak {self.spec_version} over {self.binding} yet")

    @property
    def suite_version(self) -> str:
        return SUITE_VERSIONS[self.spec_version]

    def metadata(self) -> dict[str, Any]:
        """The session metadata of the report (TBS-CONF-005), without secrets."""
        return {"systemId": self.system_id, "roles": list(self.roles), "bindings": [self.binding],
                "endpoint": self.endpoint, "suiteVersion": self.suite_version, "specVersion": self.spec_version,
                "validator": {"name": "tongban.validators", "version": validator_version()},
                "referenceAllowlist": sorted(self.allowlist), "kitSystemId": self.kit_system_id,
                "issuer": self.issuer, "pageLimit": self.page_limit,
                "attestations": {k: {m: v for m, v in a.items() if m in ("result", "statement", "evidence")}
                                 for k, a in sorted(self.attestations.items())},
                "kitSigningKeyId": self.kit_key[0] if self.kit_key else None, "sutPulls": self.sut_pulls,
                "holdTimeout": "PT2M"}


def _excerpt(body: bytes | str | None) -> str:
    if body is None:
        return ""
    text = body.decode("utf-8", "replace") if isinstance(body, (bytes, bytearray)) else body
    return text if len(text) <= EXCERPT_CHARS else text[:EXCERPT_CHARS] + f"… ({len(text)} chars)"


class Session:
    """One run of the suite against one SUT (see the module docstring)."""

    def __init__(self, config: SessionConfig) -> None:
        self.config = config
        self.session_id = str(uuid.uuid4())
        self.started_at = datetime.now(timezone.utc)
        self.exchanges: list[dict[str, Any]] = []
        self.cache: dict[str, Any] = {}
        self._connector: Connector | None = None

    # -- exchanges ------------------------------------------------------------------------
    def record_exchange(self, *, method: str, url: str, status: int | None, request_headers: Any = None,
                        request_body: bytes | str | None = None, response_headers: Any = None,
                        response_body: bytes | None = None, note: str = "") -> int:
        """Keep an excerpt of one exchange; returns its number (evidence refers to it)."""
        def pick(headers: Any) -> dict[str, str]:
            if not headers:
                return {}
            return {k: v for k, v in ((str(k).lower(), str(v)) for k, v in dict(headers).items())
                    if k in SAFE_HEADERS}

        number = len(self.exchanges)
        entry: dict[str, Any] = {"n": number, "method": method, "url": url, "status": status,
                                 "requestHeaders": pick(request_headers), "requestBody": _excerpt(request_body),
                                 "responseHeaders": pick(response_headers), "responseBody": _excerpt(response_body)}
        if response_body is not None:
            entry["responseSha256"] = hashlib.sha256(bytes(response_body)).hexdigest()
        if note:
            entry["note"] = note
        self.exchanges.append(entry)
        return number

    @property
    def collected(self) -> Collected:
        """How the suite collects what the SUT sends over the session's binding."""
        return COLLECTED[self.config.binding]

    # -- transport ------------------------------------------------------------------------
    @property
    def verify(self) -> bool | str:
        """For requests (SOAP): the CA file, or the system trust store."""
        return self.config.ca_file or True

    @property
    def httpx_verify(self) -> Any:
        """For httpx (REST, probes): an SSL context trusting ``--ca-file``, or the system store."""
        if not self.config.ca_file:
            return True
        return self.once("_ssl", lambda: ssl.create_default_context(cafile=self.config.ca_file))

    def connector(self) -> Connector:
        """The client connector for the SUT's binding, with HTTP exchanges recorded (REST, SOAP); over
        MQTT and FILE the suite pushes as a provider to a consumer."""
        if self._connector is None:
            self._connector = self.open_connector(token=self.config.token)
        return self._connector

    def open_connector(self, *, token: str | None, sender: str | None = None,
                       spec_version: str | None = None) -> Connector:
        """``spec_version``: the version the connector speaks (REST), default the session's."""
        binding = self.config.binding
        sender = sender or self.config.kit_system_id
        if binding == "REST":
            from tongban.connectors.rest.client import RestConnector

            return RestConnector(self.config.endpoint, sender=sender, token=token, verify=self.httpx_verify,
                                 spec_version=spec_version or self.config.spec_version, retries=0, connect_timeout=10.0, read_timeout=60.0,
                                 transport=_RecordingTransport(self, verify=self.httpx_verify))
        if binding == "SOAP":
            from tongban.connectors.soap.client import SoapConnector

            conn = SoapConnector(self.config.endpoint, sender=sender, token=token, verify=self.verify, retries=0)
            session = getattr(getattr(conn, "_transport", None), "session", None)
            if session is not None:
                # requests lets REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE override session.verify
                # (psf/requests#3829): without this, --ca-file is ignored where those are set.
                session.trust_env = False
                session.hooks["response"].append(self._requests_hook)
            return conn
        if binding == "MQTT":   # the suite publishes to a consumer (CATALOG_CONSUMER) as a provider would
            from tongban.connectors.mqtt import MqttConnection, MqttConnector, MqttSettings

            secure = self.config.endpoint.startswith("mqtts://")
            connection = MqttConnection(MqttSettings(self.config.endpoint, sender, persistent_session=False,
                                                     ca_file=self.config.ca_file, password=token if secure else None))
            return MqttConnector(connection, ack_timeout=min(self.config.wait_seconds, 15.0))
        if binding == "FILE":   # the suite drops into the consumer's drop root for it
            from tongban.connectors.filedrop import FileDropConnector, FileDropWriter

            return FileDropConnector(FileDropWriter(self.config.endpoint), ack_timeout=min(self.config.wait_seconds,
                                                                                          15.0), poll_interval=0.1)
        raise ValueError(f"no client connector for binding {binding}")

    def _requests_hook(self, response: Any, *args: Any, **kwargs: Any) -> None:
        req = response.request
        self.record_exchange(method=req.method, url=req.url, status=response.status_code,
                             request_headers=req.headers, request_body=req.body,
                             response_headers=response.headers, response_body=response.content)

    def http_client(self) -> Any:
        """A raw httpx client for protocol probes (COM-01, COM-04, CC-07); the caller closes it."""
        return httpx.Client(verify=self.httpx_verify, timeout=httpx.Timeout(60.0, connect=10.0),
                            follow_redirects=False, transport=_RecordingTransport(self, verify=self.httpx_verify))

    def close(self) -> None:
        if self._connector is not None:
            self._connector.close()
            self._connector = None
        for closer in self.cache.pop("_closers", []):
            closer()

    # -- shared observations --------------------------------------------------------------
    def provided_datasets(self) -> tuple[str, ...]:
        return tuple(ds for role in self.config.roles if role in PROVIDER_ROLES for ds in ROLE_DATASETS[role])

    def once(self, key: str, make: Callable[[], Any]) -> Any:
        if key not in self.cache:
            self.cache[key] = make()
        return self.cache[key]

    def meta(self) -> dict[str, Any] | ConnectorError:
        def get() -> dict[str, Any] | ConnectorError:
            try:
                return self.connector().meta()
            except ConnectorError as exc:
                return exc
        return self.once("meta", get)

    def feed(self, dataset: str) -> FeedRead:
        """A full read of ``dataset`` from the start (pull bindings)."""
        return self.once(f"feed:{dataset}",
                         lambda: read_feed(self.connector(), dataset, limit=self.config.page_limit))

    def records(self) -> dict[str, list[FedRecord]]:
        """Every record the SUT served (pull) or sent (push), per provided dataset."""
        if "records" in self.cache:
            return self.cache["records"]
        if self.collected is Collected.PUSHED:
            return self.once("records", lambda: pushed_records(self))
        out = {ds: self.feed(ds).records for ds in self.provided_datasets()}
        for ds in self.context_datasets():
            read = self.feed(ds)
            if read.error is None:
                out[ds] = read.records
        return out

    def context_datasets(self) -> tuple[str, ...]:
        """Feeds read only as context: the cases and events that case-linked records of a claimed
        role need under S5, when the SUT serves them without claiming CASE_REPORTER."""
        provided = self.provided_datasets()
        if not set(CASE_LINKED) & set(provided):
            return ()
        meta = self.meta()
        listed = meta.get("datasets", []) if isinstance(meta, dict) else []
        return tuple(ds for ds in ROLE_DATASETS["CASE_REPORTER"] if ds not in provided and ds in listed)

    def validation_context(self) -> ValidationContext:
        return ValidationContext(spec=self.config.spec_version, allowlist=self.config.allowlist)

    def sweep(self) -> Sweep:
        return self.once("sweep", lambda: sweep(self.records(), writer=self.config.system_id,
                                                context=self.validation_context()))


class _RecordingTransport(httpx.BaseTransport):
    """An httpx transport that keeps an excerpt of every exchange in the session."""

    def __init__(self, session: Session, *, verify: Any) -> None:
        self._session = session
        self._inner = httpx.HTTPTransport(verify=verify)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self._inner.handle_request(request)
        body = response.read()
        self._session.record_exchange(method=request.method, url=str(request.url), status=response.status_code,
                                      request_headers=request.headers, request_body=request.content,
                                      response_headers=response.headers, response_body=body)
        return response

    def close(self) -> None:
        self._inner.close()

