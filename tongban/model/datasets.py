"""The five TBS-1.0 datasets, declared once (§13.1, Annex A.15).

Each :class:`DatasetSpec` row says everything the rest of the bus needs to know about one
dataset, in the spirit of a Singer stream or a dlt resource: its business key, whether it is
versioned, the member holding its source timestamp, the store table and the columns filled
from record members, the role that sends it, whether the bus announces it on MQTT and which
record it waits for when it arrives early. The store, the stateful rules (S5), ingest, the
outbox, the sandbox and the conformance kit all read :data:`SPECS`; adding a dataset or a
column means adding to this table (and to the interface specs), nowhere else.
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from functools import cached_property
from operator import itemgetter
from typing import Any, Mapping


class Dataset(str, Enum):
    CATALOG = "catalog"
    CASE = "case"
    CASE_EVENT = "case-event"
    RESULT = "result"
    EVALUATION = "evaluation"

    @property
    def spec(self) -> DatasetSpec:
        return SPECS[self.value]

    @property
    def key_members(self) -> tuple[str, ...]:
        return self.spec.key

    @property
    def versioned(self) -> bool:
        """catalog and case carry a ``version``; the others are immutable (§13.1)."""
        return self.spec.versioned


@dataclass(frozen=True)
class DatasetSpec:
    """One dataset as the bus handles it."""

    name: str
    key: tuple[str, ...]
    """Business-key members (§13.1); for a versioned dataset without ``version``."""
    versioned: bool
    """Carries ``version``: a higher version replaces a lower one (TBS-SYNC-004/005)."""
    timestamp: str
    """The member with the record's source time (the newest one seen is a feed's freshness)."""
    sender: str
    """The provider role that sends it (Annex A.15; TBS-SEC-004, TBS-CONF-008)."""
    table: str
    """Store table of its records."""
    columns: tuple[tuple[str, tuple[str, ...]], ...]
    """Query columns besides content and digest: (column, member path); an absent member is NULL."""
    announced: bool = False
    """The bus publishes what it stores of it as MQTT events (§18)."""
    waits_for_case: bool = False
    """Case-linked: arriving before its Case it is held, and released once the Case is stored
    (TBS-SYNC-007); released records go in table order, then by business key."""
    keeps_history: bool = False
    """Every version is stored and one marked current (catalog), rather than the latest only."""
    relayed: bool = True
    """May flow up through a city (a county's records reach the province via its city); the
    catalog does not: every level's catalog provider is pulled directly."""

    @property
    def identity(self) -> tuple[str, ...]:
        """The members naming one record: the business key, and ``version`` when versioned."""
        return (*self.key, "version") if self.versioned else self.key

    @cached_property
    def _key_getter(self) -> Any:
        if len(self.key) == 1:
            (member,) = self.key
            return lambda record: (record[member],)
        return itemgetter(*self.key)   # a tuple already for two members or more

    def key_of(self, record: Mapping[str, Any]) -> tuple[Any, ...]:
        return self._key_getter(record)

    @cached_property
    def timestamp_column(self) -> str:
        """The store column holding the source-timestamp member."""
        for column, path in self.columns:
            if path == (self.timestamp,):
                return column
        raise LookupError(f"dataset {self.name}: no column holds {self.timestamp}")

    @cached_property
    def _paths(self) -> tuple[tuple[str, tuple[tuple[str, ...], ...]], ...]:
        # "a|b" (member a, or b when a is absent: a renamed member) split once, not per record
        return tuple((column, tuple(tuple(m.split("|")) for m in path)) for column, path in self.columns)

    @cached_property
    def _stored_row(self) -> Any:
        # One dict display per dataset, compiled once (a row is built per stored record, and a
        # literal beats a loop over the column table by a factor of two): top-level members read
        # with .get, a renamed or nested member through the general walk of :meth:`row`.
        parts = []
        for n, (column, path) in enumerate(self._paths):
            if len(path) == 1 and len(path[0]) == 1:
                parts.append(f"{column!r}: r.get({path[0][0]!r})")
            else:
                parts.append(f"{column!r}: walk(r, paths[{n}][1])")
        parts += ["'source': source", "'content': content", "'sha256': sha256", "'spec_version': version"]
        code = f"lambda r, source, content, sha256, version: {{{', '.join(parts)}}}"
        # names and members enter as repr() literals: the text is built from this table only
        return eval(code, {"walk": _walk, "paths": self._paths})  # noqa: S307

    def stored_row(self, record: dict[str, Any], source: str, content: str, sha256: str,
                   version: str) -> dict[str, Any]:
        """The store row of ``record`` (a parsed record that passed S1–S4, so a dict): its query
        columns, then source, canonical text, digest and received version."""
        return self._stored_row(record, source, content, sha256, version)

    def row(self, record: Mapping[str, Any]) -> dict[str, Any]:
        """The store's query columns of ``record`` (an absent member is None)."""
        return {column: _walk(record, path) for column, path in self._paths}


def _walk(record: Any, path: tuple[tuple[str, ...], ...]) -> Any:
    """The value at ``path`` (members; each a tuple of alternatives, the first present wins)."""
    value: Any = record
    for alternatives in path:
        if type(value) is dict or isinstance(value, Mapping):
            found = None
            for member in alternatives:
                if member in value:
                    found = value[member]
                    break
            value = found
        else:
            return None
    return value


def _columns(**members: str) -> tuple[tuple[str, tuple[str, ...]], ...]:
    return tuple((column, tuple(path.split("."))) for column, path in members.items())


SPECS: dict[str, DatasetSpec] = {s.name: s for s in (
    DatasetSpec("catalog", ("implCode",), True, "updatedAt", "CATALOG_PROVIDER", "catalog_item_versions",
                _columns(impl_code="implCode", version="version", item_code="itemCode", region_code="regionCode",
                         name="name", status="status", online_depth="onlineDepth", updated_at="updatedAt"),
                keeps_history=True, relayed=False),
    DatasetSpec("case", ("caseNo",), True, "submittedAt", "CASE_REPORTER", "cases",
                _columns(case_no="caseNo", version="version", impl_code="implCode", region_code="regionCode",
                         case_type="caseType", channel="channel|applyChannel", submitted_at="submittedAt",
                         promised_by="promisedBy")),
    DatasetSpec("case-event", ("caseNo", "seq"), False, "occurredAt", "CASE_REPORTER", "case_events",
                _columns(case_no="caseNo", seq="seq", type="type", occurred_at="occurredAt",
                         conclusion_code="conclusionCode"),
                announced=True, waits_for_case=True),
    DatasetSpec("result", ("caseNo", "certNo"), False, "issuedAt", "RESULT_PUBLISHER", "results",
                _columns(case_no="caseNo", cert_no="certNo", result_type="resultType", issued_at="issuedAt",
                         document_sha256="document.sha256"),
                waits_for_case=True),
    DatasetSpec("evaluation", ("caseNo", "assessNo"), False, "assessedAt", "EVALUATION_REPORTER", "evaluations",
                _columns(case_no="caseNo", assess_no="assessNo", satisfaction="satisfaction", channel="channel",
                         assessed_at="assessedAt"),
                announced=True, waits_for_case=True),
)}

DATASETS: tuple[str, ...] = tuple(SPECS)
"""Every dataset name, in the order records depend on each other (catalog … evaluation)."""
ANNOUNCED: tuple[str, ...] = tuple(d for d, s in SPECS.items() if s.announced)
RELAYED: tuple[str, ...] = tuple(d for d, s in SPECS.items() if s.relayed)
CASE_LINKED: tuple[str, ...] = tuple(d for d, s in SPECS.items() if s.waits_for_case)
RELEASE_ORDER: dict[str, int] = {d: i for i, d in enumerate(CASE_LINKED)}
"""Order in which records held for one Case are released (TBS-SYNC-007)."""


def business_key(dataset: Dataset | str, record: Mapping[str, Any]) -> dict[str, Any]:
    """The record's business-key members (for versioned datasets, without ``version``)."""
    spec = SPECS[dataset] if type(dataset) is str else SPECS[Dataset(dataset).value]
    return {m: record[m] for m in spec.key if m in record}


# Annex A.15: the roles, what each provider role sends and what the consumer accepts.
CONSUMER_ROLE = "CATALOG_CONSUMER"
PROVIDER_ROLES: tuple[str, ...] = tuple(dict.fromkeys(s.sender for s in SPECS.values()))
"""In the order of Annex A.15."""
ROLES: tuple[str, ...] = (*PROVIDER_ROLES, CONSUMER_ROLE)
ROLE_SENDS: dict[str, tuple[str, ...]] = {
    role: tuple(d for d, s in SPECS.items() if s.sender == role) for role in PROVIDER_ROLES}
ROLE_ACCEPTS: dict[str, tuple[str, ...]] = {CONSUMER_ROLE: ("catalog",)}
ROLE_DATASETS: dict[str, tuple[str, ...]] = {**ROLE_SENDS, **ROLE_ACCEPTS}
"""role → the datasets it sends (a provider) or accepts (the consumer)."""
SENDING_ROLE: dict[str, str] = {d: s.sender for d, s in SPECS.items()}
"""dataset → the provider role that sends it (what TBS-SEC-004 and TBS-CONF-008 check)."""
