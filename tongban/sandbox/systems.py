"""The sandbox province as data: partner systems, their departments and records per dataset."""
from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from tongban.model.datasets import CONSUMER_ROLE, DATASETS, ROLE_DATASETS  # Annex A.15
from tongban.sandbox.regions import GUANGDONG, City, County

__all__ = ["Department", "Place", "SandboxData", "SandboxSystem"]



@dataclass(frozen=True)
class Department:
    """An implementing body (实施主体) with its staff (环节处理人)."""

    kind: str
    name: str
    uscc: str
    nature: str
    staff: tuple[str, ...]

    def as_dept(self) -> dict[str, str]:
        return {"name": self.name, "uscc": self.uscc, "nature": self.nature}

    def handler(self, name: str) -> dict[str, str]:
        return {"name": name, "deptUscc": self.uscc}


# One feed entry: (order key, record). The order key starts with the RFC 3339 +08:00 instant of
# the change, so string order is time order; the rest breaks ties by business key.
_Entry = tuple[tuple, dict]


@dataclass
class SandboxSystem:
    """One simulated partner system: identity, departments and its records per dataset.

    ``records(dataset)`` is what the system owns, in feed order. A city also relays the
    records of its counties upward (``relayed_records``); a relay copy may differ from the
    county's own record where a "two skins" defect is planted.
    """

    system_id: str
    level: str
    region_code: str
    name: str
    parent_id: str | None
    roles: tuple[str, ...]
    departments: dict[str, Department]
    children: list[str] = field(default_factory=list)
    _entries: dict[str, list[_Entry]] = field(default_factory=lambda: {d: [] for d in DATASETS}, repr=False)
    _relayed: dict[str, list[_Entry]] = field(default_factory=lambda: {d: [] for d in DATASETS}, repr=False)

    @property
    def provides(self) -> tuple[str, ...]:
        """Datasets this system serves as a provider (TBS-REST-003)."""
        return tuple(d for d in DATASETS if any(d in ROLE_DATASETS[r] for r in self.roles if r != CONSUMER_ROLE))

    @property
    def accepts(self) -> tuple[str, ...]:
        return ROLE_DATASETS[CONSUMER_ROLE] if CONSUMER_ROLE in self.roles else ()

    @property
    def datasets(self) -> tuple[str, ...]:
        """Every dataset it provides or accepts, sorted (the ``datasets`` of TBS-REST-002)."""
        return tuple(sorted(set(self.provides) | set(self.accepts)))

    def records(self, dataset: str) -> list[dict[str, Any]]:
        """The system's own records of ``dataset`` in feed order (deep copies)."""
        return [copy.deepcopy(r) for _, r in sorted(self._entries[check_dataset(dataset)], key=entry_key)]

    def relayed_records(self, dataset: str) -> list[dict[str, Any]]:
        """Records of subordinate systems as this system relays them, in feed order."""
        return [copy.deepcopy(r) for _, r in sorted(self._relayed[check_dataset(dataset)], key=entry_key)]

    def feed_records(self, dataset: str, *, include_relayed: bool = False) -> list[dict[str, Any]]:
        """Own records, merged in change order with relayed ones when ``include_relayed``."""
        entries = list(self._entries[check_dataset(dataset)])
        if include_relayed:
            entries += self._relayed[dataset]
        return [copy.deepcopy(r) for _, r in sorted(entries, key=entry_key)]

    def _add(self, dataset: str, at: str, tiebreak: tuple, record: dict) -> None:
        self._entries[dataset].append(((at, *tiebreak), record))


@dataclass
class SandboxData:
    """The generated province: every system, the basic catalog and the planted ground truth."""

    seed: int
    now: str
    systems: dict[str, SandboxSystem]          # hierarchy order: province, city, its counties, city …
    basic_catalog: list[dict[str, Any]]        # {itemCode, name, itemType, legalBasis}, by itemCode
    planted_two_skins: list[dict[str, Any]]
    planted_many_names: list[dict[str, Any]]
    planted_near_duplicates: list[dict[str, Any]]
    planted_clean: list[dict[str, Any]]
    case_paths: dict[str, str]                 # caseNo → scenario that generated it
    overdue_at_now: list[dict[str, Any]]       # {caseNo, systemId, overdueSeconds} per TBS-EVT-012
    documents: dict[str, bytes]                # result document bytes by sha256

    @property
    def province(self) -> SandboxSystem:
        return next(s for s in self.systems.values() if s.level == "province")

    @property
    def cities(self) -> list[SandboxSystem]:
        return [s for s in self.systems.values() if s.level == "city"]

    @property
    def counties(self) -> list[SandboxSystem]:
        return [s for s in self.systems.values() if s.level == "county"]

    def system(self, system_id: str) -> SandboxSystem:
        return self.systems[system_id]

    def province_view(self, dataset: str) -> list[dict[str, Any]]:
        """Every record owned by any system of the province, in change order: what the province
        hub holds once all feeds are consumed without defects."""
        entries = [e for s in self.systems.values() for e in s._entries[check_dataset(dataset)]]
        return [copy.deepcopy(r) for _, r in sorted(entries, key=entry_key)]

    def owner_of(self, dataset: str, key: dict[str, Any]) -> str | None:
        """System id owning the record with these business-key members, if any."""
        for s in self.systems.values():
            for _, r in s._entries[check_dataset(dataset)]:
                if all(r.get(k) == v for k, v in key.items()):
                    return s.system_id
        return None

    def snapshot(self) -> dict[str, Any]:
        """A JSON value holding everything generated (for determinism checks and fixtures)."""
        return {
            "seed": self.seed,
            "now": self.now,
            "systems": {sid: {"level": s.level, "regionCode": s.region_code, "name": s.name,
                              "parent": s.parent_id or "", "roles": list(s.roles), "children": list(s.children),
                              "departments": {k: {**d.as_dept(), "staff": list(d.staff)}
                                              for k, d in s.departments.items()},
                              "records": {ds: s.records(ds) for ds in DATASETS},
                              "relayed": {ds: s.relayed_records(ds) for ds in DATASETS}}
                        for sid, s in self.systems.items()},
            "basicCatalog": self.basic_catalog,
            "plantedTwoSkins": self.planted_two_skins,
            "plantedManyNames": self.planted_many_names,
            "plantedNearDuplicates": self.planted_near_duplicates,
            "plantedClean": self.planted_clean,
            "casePaths": self.case_paths,
            "overdueAtNow": self.overdue_at_now,
            "documents": sorted(self.documents),
        }


def check_dataset(dataset: str) -> str:
    if dataset not in DATASETS:
        raise KeyError(f"unknown dataset {dataset!r}")
    return dataset


def entry_key(entry: _Entry) -> tuple:
    return entry[0]


@dataclass
class Place:
    """Where a system sits: its region and the names used in documents."""

    level: str
    region: str
    city: City | None = None
    county: County | None = None

    @property
    def prefix(self) -> str:  # 粤 / 穗 / 穗荔: abbreviation in document numbers
        if self.county is not None and self.city is not None:
            return self.city.short + self.county.short
        return self.city.short if self.city is not None else GUANGDONG.short
