"""The partner registry: ``partners.yaml`` loaded and validated with pydantic.

Each partner is a system of TBS-1.0 §6.1 (``TB:{level}:{regionCode}:{code}``) with its
transport, endpoint, roles and spec version. Credentials are *references* — names of
environment variables — never the secrets themselves. A bad file is reported with file,
line and field (:class:`RegistryError`), and nothing is written anywhere.
"""
from __future__ import annotations

import os
import re
import threading
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any, Callable, Iterable

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from tongban.model.codes import parse_system_id, system_id_ok, within_scope
from tongban.model.datasets import RELAYED, ROLE_SENDS, SENDING_ROLE

ENV_REGISTRY = "TONGBAN_PARTNERS"
DEFAULT_FILE = "partners.yaml"
ENV_NAME_RE = re.compile(r"^[A-Z_][A-Z0-9_]{0,127}$")
SSH_PUBLIC_KEY_RE = re.compile(r"(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(?:256|384|521)) [A-Za-z0-9+/]+={0,3}( [^\n]*)?")
DURATION_RE = re.compile(r"^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?)?$")


class Role(str, Enum):
    """TBS-1.0 Annex A.15."""

    CATALOG_PROVIDER = "CATALOG_PROVIDER"
    CASE_REPORTER = "CASE_REPORTER"
    RESULT_PUBLISHER = "RESULT_PUBLISHER"
    EVALUATION_REPORTER = "EVALUATION_REPORTER"
    CATALOG_CONSUMER = "CATALOG_CONSUMER"


def role_for(dataset: str) -> "Role":
    """The provider role that sends ``dataset`` (Annex A.15)."""
    try:
        return Role(SENDING_ROLE[dataset])
    except KeyError:
        raise ValueError(f"no role sends {dataset!r}") from None


class Transport(str, Enum):
    REST = "rest"
    SOAP = "soap"
    FILEDROP = "filedrop"
    MQTT = "mqtt"
    FRONTDB = "frontdb"  # a front-end database (前置库), TBS-LP-1.0


def parse_duration(text: str) -> int:
    """ISO 8601 duration (days, hours, minutes) → seconds."""
    m = DURATION_RE.match(text)
    if not m or text in ("P", "PT"):
        raise ValueError(f"not an ISO 8601 duration like PT24H or P7D: {text!r}")
    days, hours, minutes = (int(g or 0) for g in m.groups())
    return ((days * 24 + hours) * 60 + minutes) * 60


class Credentials(BaseModel):
    """Names of environment variables holding the secrets (TBS-SEC-001, -008)."""

    model_config = ConfigDict(extra="forbid")
    token_env: str | None = Field(None, description="bearer token the partner presents / we present")
    hmac_key_env: str | None = Field(None, description="HMAC-SHA256 key (TBS-ENV-028)")
    key_id: str | None = Field(None, pattern=r"^[A-Za-z0-9._-]{1,64}$")

    @field_validator("token_env", "hmac_key_env")
    @classmethod
    def _env_name(cls, v: str | None) -> str | None:
        if v is not None and not ENV_NAME_RE.match(v):
            raise ValueError("must be the NAME of an environment variable (A-Z, 0-9, _), never the secret itself")
        return v

    def token(self) -> str | None:
        return os.environ.get(self.token_env) if self.token_env else None

    def hmac_key(self) -> bytes | None:
        value = os.environ.get(self.hmac_key_env) if self.hmac_key_env else None
        return value.encode("utf-8") if value else None


class PartnerConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    name: str = ""
    level: str | None = None
    region_code: str | None = None
    parent: str | None = None
    transport: Transport
    endpoint: str = ""
    credentials: Credentials = Credentials()
    roles: tuple[Role, ...] = Field(min_length=1)
    spec_version: str = Field("TBS-1.0", description="the version the bus exchanges with this partner in now "
                              "(its certificates are checked for it, TBS-CONF-008)")
    spec_versions: tuple[str, ...] = Field((), description="the partner profile's supported versions (TBS-1.1 "
                                           "TBS-REST-002, TBS-ENV-034); empty: spec_version alone")
    direct: bool = Field(True, description="三级数据直连: the bus pulls this system's case-linked records itself; "
                                          "false: they reach the bus through its parent's relayed feed")
    hold_timeout: str = "PT24H"
    page_size: int = Field(500, ge=1, le=1000)
    retries: int = Field(2, ge=0, le=10)
    pool_slots: int = Field(2, ge=1, le=128, description="Airflow: slots of the partner's pool partner_<slug>, "
                            "i.e. how many tasks may talk to this partner at once (tongban airflow sync-pools)")
    max_pages_per_run: int = Field(10_000, ge=1, description="a sync run ends after this many changes pages; "
                                   "the next run continues from the committed cursor")
    max_run_seconds: int = Field(3600, ge=1, description="a sync run reads no new page after this many seconds")
    ca_file: str | None = None
    client_certificates: tuple[str, ...] = Field((), description="mutual TLS (TBS-SEC-001): the partner's client "
                                                 "certificates bound to its id, each a sha256:<hex> fingerprint or "
                                                 "an RFC 4514 subject; two during a rotation")
    client_cert_file: str | None = Field(None, description="mutual TLS: the bus's own client certificate (PEM) "
                                         "presented to this partner")
    client_key_file: str | None = Field(None, description="the key of client_cert_file")
    sftp_authorized_keys: tuple[str, ...] = Field((), description="filedrop over SFTP (TBS-SEC-001): the OpenSSH "
                                                  "public keys of the partner's account on the bus's SFTP drop "
                                                  "server (user name = its systemCode, confined to its drop root, "
                                                  "the endpoint); two during a rotation (tongban sftp serve)")
    documents_dir: str | None = Field(None, description="folder the partner drops result documents into "
                                      "(TBS-RES-003: the bus checks sha256 and size against the Result)")
    allow_insecure_http: bool = Field(False, description="development only: plain http:// endpoints")
    database_url_env: str | None = Field(None, description="frontdb: NAME of the environment variable holding the "
                                         "front database's SQLAlchemy URL (never the URL itself)")
    profile: str | None = Field(None, pattern=r"^(NATIONAL-EXCHANGE|EA-JC-STEP) 1\.0$",
                                description="frontdb: the partner's legacy profile and version (TBS-LP-001)")
    evaluation_dialect: str | None = Field(None, pattern="^(HCP-NATIONAL|HCP-ALT|GB39046)$",
                                           description="frontdb: the 好差评 dialect (TBS-LP-160); never guessed")
    lookback: str = Field("PT10M", description="frontdb: look-back L of TBS-LP-026 (PT6M to PT24H)")
    poll_interval: str = Field("PT1M", description="frontdb: poll interval of TBS-LP-028")
    dn_data_source: str = Field("TBS", max_length=3, description="frontdb: data_source of dn rows (TBS-LP-058)")
    satisfaction_scale: str = Field("tbs", pattern="^(tbs|gbt39046)$",
                                    description="gbt39046: the partner's feed writes satisfaction in GB/T 39046 A.8 "
                                                "order (1 = 非常满意); the bus maps it (TBS-EVAL-007)")

    @field_validator("id", "parent")
    @classmethod
    def _system_id(cls, v: str | None) -> str | None:
        if v is not None and not system_id_ok(v):
            raise ValueError(
                "not a TBS-1.0 system identifier TB:{province|city|county|department}:{6-digit region}:{CODE} "
                "whose region shape fits the level (TBS-CODE-001)"
            )
        return v

    @field_validator("client_certificates")
    @classmethod
    def _certificates(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        for name in v:
            if not (re.fullmatch(r"sha256:[0-9a-fA-F]{64}", name) or re.fullmatch(r"[A-Za-z.0-9]+=.+", name)):
                raise ValueError(f"not a sha256:<64 hex> fingerprint or an RFC 4514 subject like CN=…: {name!r}")
        return v

    @field_validator("sftp_authorized_keys")
    @classmethod
    def _ssh_keys(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        for line in v:
            if "PRIVATE KEY" in line:  # never echoed: it is a secret that does not belong here
                raise ValueError("this is a PRIVATE key: the registry takes the partner's PUBLIC key line "
                                 "('ssh-ed25519 AAAA…'); the private key stays with the partner")
            if not SSH_PUBLIC_KEY_RE.fullmatch(line.strip()):
                raise ValueError(f"not an OpenSSH public key line like 'ssh-ed25519 AAAA… comment': {line[:60]!r}"
                                 " (the PUBLIC key; the private key stays with the partner)")
        if len(v) > 2:
            raise ValueError("at most two keys: the current one and, during a rotation, its successor")
        return tuple(line.strip() for line in v)

    @field_validator("hold_timeout")
    @classmethod
    def _hold(cls, v: str) -> str:
        seconds = parse_duration(v)
        if not 60 <= seconds <= 7 * 86400:
            raise ValueError("must lie between PT1M and P7D (TBS-SYNC-007)")
        return v

    @field_validator("spec_version")
    @classmethod
    def _spec(cls, v: str) -> str:
        from tongban.specs import available_versions

        if v not in available_versions():
            raise ValueError(f"unknown spec version; known: {', '.join(available_versions())}")
        return v

    @field_validator("spec_versions")
    @classmethod
    def _specs(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        for version in v:
            cls._spec(version)
        if len(set(v)) != len(v):
            raise ValueError("a version is listed twice (TBS-REST-002: without duplicates)")
        return v

    @property
    def versions(self) -> tuple[str, ...]:
        """The versions the partner supports, per its profile."""
        return self.spec_versions or (self.spec_version,)

    @model_validator(mode="after")
    def _consistent(self) -> "PartnerConfig":
        level, region, _ = parse_system_id(self.id)  # type: ignore[misc]
        if self.spec_versions and self.spec_version not in self.spec_versions:
            raise ValueError(f"spec_version {self.spec_version} is not among spec_versions {list(self.spec_versions)}")
        if self.level is not None and self.level != level:
            raise ValueError(f"level {self.level!r} does not match the id's level {level!r}")
        if self.region_code is not None and self.region_code != region:
            raise ValueError(f"region_code {self.region_code!r} does not match the id's region {region!r}")
        if self.transport in (Transport.REST, Transport.SOAP):
            if not re.match(r"^https?://[^\s/]+", self.endpoint):
                raise ValueError("endpoint must be an https:// URL for rest and soap")
            if self.endpoint.startswith("http://") and not self.allow_insecure_http:
                raise ValueError("plain http:// needs allow_insecure_http: true (TBS-REST-001 requires HTTPS)")
        elif self.transport is Transport.MQTT and not re.match(r"^mqtts?://", self.endpoint):
            raise ValueError("endpoint must be an mqtt:// or mqtts:// URL for mqtt")
        elif self.transport is Transport.FRONTDB:
            if not self.database_url_env or not ENV_NAME_RE.match(self.database_url_env):
                raise ValueError("frontdb needs database_url_env: the NAME of an environment variable holding the "
                                 "front database URL (never the URL in this file)")
            if not self.profile:
                raise ValueError("frontdb needs profile: 'NATIONAL-EXCHANGE 1.0' or 'EA-JC-STEP 1.0' (TBS-LP-001)")
            if "://" in self.endpoint:
                raise ValueError("frontdb: the database URL belongs in the environment variable named by "
                                 "database_url_env, not in endpoint")
        if not 360 <= parse_duration(self.lookback) <= 86400:
            raise ValueError("lookback must lie between PT6M and PT24H (TBS-LP-026)")
        parse_duration(self.poll_interval)
        if self.sftp_authorized_keys and self.transport is not Transport.FILEDROP:
            raise ValueError("sftp_authorized_keys belong to a filedrop partner (its drop root served over SFTP)")
        if (self.client_cert_file is None) != (self.client_key_file is None):
            raise ValueError("client_cert_file and client_key_file go together")
        return self

    @property
    def system_level(self) -> str:
        return parse_system_id(self.id)[0]  # type: ignore[index]

    @property
    def system_region(self) -> str:
        return parse_system_id(self.id)[1]  # type: ignore[index]

    @property
    def system_code(self) -> str:
        return parse_system_id(self.id)[2]  # type: ignore[index]

    @property
    def datasets(self) -> tuple[str, ...]:
        return tuple(d for r in self.roles for d in ROLE_SENDS.get(r.value, ()))

    def database_url(self) -> str:
        """frontdb: the front database URL, read from the environment at use."""
        url = os.environ.get(self.database_url_env or "")
        if not url:
            raise ValueError(f"{self.id}: environment variable {self.database_url_env} (database_url_env) is not set")
        return url

    @property
    def hold_timeout_seconds(self) -> int:
        return parse_duration(self.hold_timeout)

    @property
    def slug(self) -> str:
        """A name safe for Airflow task groups and pools: ``county_440103_LWZWFW``."""
        return re.sub(r"[^A-Za-z0-9_]", "_", f"{self.system_level}_{self.system_region}_{self.system_code}")


REFERENCE_ALLOWLIST = ("91350211M0000XUF46", "91350203M0001QAY9B")  # TBS-CODE-015


class BusConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    system_id: str
    uscc_allowlist: tuple[str, ...] = Field(REFERENCE_ALLOWLIST, description="legally issued USCCs that fail the "
                                            "check character, reported as INFO (TBS-CODE-015)")
    admission: str = Field("enforce", pattern="^(enforce|off)$",
                           description="enforce: sync a partner for a role only while it holds a current CONFORMANT "
                                       "certificate for it (TBS-CONF-008); off: development only")
    hmac_key_env: str | None = Field(None, description="the bus's own HMAC key, for the envelopes it publishes")
    spec_versions: tuple[str, ...] = Field((), description="the versions of the standard the bus supports "
                                           "(TBS-1.1 §3.1: configuration, never a clock; removing TBS-1.0 is the "
                                           "sunset). Each partner is then read and written in the highest version "
                                           "both support (TBS-ENV-034); none in common: nothing is exchanged. "
                                           "Empty: each partner's spec_version as configured")
    key_id: str | None = Field(None, pattern=r"^[A-Za-z0-9._-]{1,64}$")
    ledger_key_env: str | None = Field(None, description="name of the environment variable holding the key the "
                                       "ledger's chain head is authenticated with (HMAC-SHA256)")
    ledger_anchor_file: str | None = Field(None, description="append-only file the chain head is anchored to after "
                                           "every sync run; keep it where the bus cannot rewrite it")
    sftp_host_key_file: str | None = Field(None, description="the SFTP drop server's host key (OpenSSH private key "
                                           "file, mode 0600; tongban sftp keygen); partners pin its public key")

    @field_validator("ledger_key_env")
    @classmethod
    def _ledger_env(cls, v: str | None) -> str | None:
        return Credentials._env_name(v)

    def ledger_key(self) -> bytes | None:
        value = os.environ.get(self.ledger_key_env) if self.ledger_key_env else None
        return value.encode("utf-8") if value else None

    @field_validator("uscc_allowlist")
    @classmethod
    def _codes(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        from tongban.model.codes import uscc_syntax_ok

        bad = [c for c in v if not uscc_syntax_ok(c)]
        if bad:
            raise ValueError(f"not USCCs (18 characters of the GB 32100 alphabet): {bad}")
        return v

    @field_validator("system_id")
    @classmethod
    def _system_id(cls, v: str) -> str:
        return PartnerConfig._system_id(v)  # type: ignore[return-value]

    @field_validator("spec_versions")
    @classmethod
    def _specs(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        return PartnerConfig._specs(v)  # type: ignore[return-value]


class RegistryFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    bus: BusConfig
    partners: tuple[PartnerConfig, ...] = ()

    @model_validator(mode="after")
    def _graph(self) -> "RegistryFile":
        ids = [p.id for p in self.partners]
        seen: set[str] = set()
        for i, pid in enumerate(ids):
            if pid in seen:
                raise _IndexedError(("partners", i, "id"), f"duplicate partner id {pid!r}")
            seen.add(pid)
        known = seen | {self.bus.system_id}
        accounts: dict[str, str] = {}
        for i, p in enumerate(self.partners):
            if p.sftp_authorized_keys:
                if p.system_code in accounts:
                    raise _IndexedError(("partners", i, "sftp_authorized_keys"),
                                        f"SFTP account {p.system_code!r} (the systemCode) is already {accounts[p.system_code]}'s: "
                                        "one account per sender (TBS-SEC-001)")
                accounts[p.system_code] = p.id
        for i, p in enumerate(self.partners):
            if p.id == self.bus.system_id:
                raise _IndexedError(("partners", i, "id"), "a partner cannot have the bus's own system id")
            if p.parent is not None:
                if p.parent not in known:
                    raise _IndexedError(("partners", i, "parent"), f"unknown parent {p.parent!r}")
                parent_region = parse_system_id(p.parent)[1]  # type: ignore[index]
                if not within_scope(p.system_region, parent_region):
                    raise _IndexedError(("partners", i, "parent"),
                                        f"region {p.system_region} is not within the scope of parent {p.parent}")
        return self


class _IndexedError(ValueError):
    """A cross-entry error that knows which entry and field it concerns."""

    def __init__(self, loc: tuple[Any, ...], message: str) -> None:
        super().__init__(message)
        self.loc = loc


@dataclass(frozen=True)
class Problem:
    file: str
    line: int | None
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"


class RegistryError(Exception):
    """``partners.yaml`` is unreadable or invalid; ``problems`` say file, line and field."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


@dataclass(frozen=True)
class Registry:
    path: Path
    bus: BusConfig
    partners: tuple[PartnerConfig, ...]

    def overdue_rule(self) -> str:
        """Which TBS-EVT-011 the bus counts overdue cases by: TBS-1.1's (change 14) once it speaks
        TBS-1.1 (``bus.spec_versions``, or without it any partner's versions), else TBS-1.0's."""
        from tongban.model.overdue import overdue_rule

        versions = self.bus.spec_versions or tuple(v for p in self.partners for v in p.versions)
        return overdue_rule(versions)

    def get(self, partner_id: str) -> PartnerConfig:
        for p in self.partners:
            if p.id == partner_id or p.slug == partner_id or p.system_code == partner_id:
                return p
        raise KeyError(f"no partner {partner_id!r} in {self.path}")

    def relay_of(self, partner: PartnerConfig) -> PartnerConfig | None:
        """The parent that relays ``partner``'s case-linked records (county → city → province),
        or None when the bus reaches it directly (三级数据直连)."""
        if partner.direct or partner.parent is None:
            return None
        try:
            return self.get(partner.parent)
        except KeyError:
            return None

    def relays_for(self, sender_id: str, origin_id: str) -> bool:
        """Does ``sender_id`` relay for ``origin_id``? True when walking the registered relay
        chain up from ``origin`` (county → city → province, :meth:`relay_of`) reaches the sender.
        An ``origin`` the registry does not know is relayed by nobody (TBS-SEC-011)."""
        try:
            current = self.get(origin_id)
        except KeyError:
            return False
        seen = {current.id}
        while (parent := self.relay_of(current)) is not None and parent.id not in seen:
            if parent.id == sender_id:
                return True
            seen.add(parent.id)
            current = parent
        return False

    def pulls(self, partner: PartnerConfig, dataset: str) -> bool:
        """Does the bus sync ``dataset`` from ``partner`` itself? The catalog always comes from
        the implementing system (field authority, TBS-SYNC-009); case-linked records of a
        relayed system come through its parent."""
        return dataset in partner.datasets and (dataset not in RELAYED or self.relay_of(partner) is None)

    def with_role(self, *roles: Role | str) -> list[PartnerConfig]:
        wanted = {Role(r) for r in roles}
        return [p for p in self.partners if wanted & set(p.roles)]



def registry_path(path: str | os.PathLike[str] | None = None) -> Path:
    return Path(path or os.environ.get(ENV_REGISTRY) or DEFAULT_FILE)


def load_registry(path: str | os.PathLike[str] | None = None) -> Registry:
    """Load and validate a registry file; raises :class:`RegistryError` on any problem."""
    file = registry_path(path)
    name = str(file)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RegistryError([Problem(name, None, "", "file not found (set TONGBAN_PARTNERS or pass --partners)")])
    except (OSError, UnicodeDecodeError) as exc:
        raise RegistryError([Problem(name, None, "", f"cannot read: {exc}")])
    return parse_registry(text, name=name, path=file)


def parse_registry(text: str, *, name: str = DEFAULT_FILE, path: Path | None = None) -> Registry:
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark else None
        raise RegistryError([Problem(name, line, "", f"not valid YAML: {getattr(exc, 'problem', exc)}")])
    lines = _line_index(node)
    if not isinstance(data, dict):
        raise RegistryError([Problem(name, 1, "", "expected a mapping with 'bus' and 'partners'")])
    try:
        model = RegistryFile.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = tuple(err["loc"])
            ctx_err = (err.get("ctx") or {}).get("error")
            if isinstance(ctx_err, _IndexedError):
                loc = ctx_err.loc
            message = str(ctx_err) if ctx_err is not None else err["msg"]
            problems.append(Problem(name, _nearest_line(lines, loc), _dotted(loc), message))
        raise RegistryError(problems) from None
    return Registry(path=path or Path(name), bus=model.bus, partners=model.partners)


def _dotted(loc: Iterable[Any]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _line_index(node: yaml.Node | None) -> dict[tuple[Any, ...], int]:
    """Map each path in the YAML document to its 1-based line."""
    index: dict[tuple[Any, ...], int] = {}

    def walk(n: yaml.Node, path: tuple[Any, ...]) -> None:
        index.setdefault(path, n.start_mark.line + 1)
        if isinstance(n, yaml.MappingNode):
            for k, v in n.value:
                key = k.value
                index[path + (key,)] = k.start_mark.line + 1
                walk(v, path + (key,))
                index[path + (key,)] = k.start_mark.line + 1
        elif isinstance(n, yaml.SequenceNode):
            for i, v in enumerate(n.value):
                walk(v, path + (i,))

    if node is not None:
        walk(node, ())
    return index


def _nearest_line(index: dict[tuple[Any, ...], int], loc: tuple[Any, ...]) -> int | None:
    # pydantic may add a model-level or literal suffix to loc; fall back to the closest parent.
    for cut in range(len(loc), -1, -1):
        if loc[:cut] in index:
            return index[loc[:cut]]
    return None


def watch_registry(file: Path, stop: threading.Event, interval: float, reread: Callable[[Registry], None],
                   refused: Callable[[Exception], None],
                   errors: tuple[type[Exception], ...] = (RegistryError,)) -> None:
    """Until ``stop`` is set, look every ``interval`` seconds whether ``file`` changed (its mtime)
    and, when it did, load it again and hand it to ``reread``. A registry that does not load, or
    that ``reread`` refuses with one of ``errors``, goes to ``refused``; what runs keeps its state."""
    def mtime() -> int | None:
        try:
            return file.stat().st_mtime_ns
        except OSError:
            return None

    seen = mtime()
    while not stop.wait(interval):
        now = mtime()
        if now == seen:
            continue
        seen = now
        try:
            reread(load_registry(file))
        except errors as exc:
            refused(exc)
