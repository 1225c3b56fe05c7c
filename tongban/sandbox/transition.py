"""A province in transition from TBS-1.0 to TBS-1.1 (TBS-1.1 revision §3).

Each system of the generated province is given the versions it supports (its partner profile,
TBS-REST-002): the province hub supports both; cities alternate between both and TBS-1.0 only;
counties take TBS-1.0 only, both, TBS-1.0 only, … in hierarchy order. A system that supports
only TBS-1.0 has not been updated for TBS-1.1 and never filled the member TBS-1.1 makes
mandatory (change 6): every second of its catalog items (by implCode) has no ``onSiteVisits``
in any of its versions — valid under TBS-1.0, where the member is optional, and rejected under
TBS-1.1. A system that supports TBS-1.1 sends it, as TBS-1.1 requires.
"""
from __future__ import annotations

from typing import Any

from tongban.sandbox.systems import SandboxData

V10, V11 = "TBS-1.0", "TBS-1.1"
BOTH = (V10, V11)
ONLY_10 = (V10,)


def plan_versions(data: SandboxData) -> dict[str, tuple[str, ...]]:
    """The versions each system of ``data`` supports, by system id."""
    versions: dict[str, tuple[str, ...]] = {}
    cities = counties = 0
    for system in data.systems.values():
        if system.level == "city":
            versions[system.system_id] = BOTH if cities % 2 == 0 else ONLY_10
            cities += 1
        elif system.level == "county":
            versions[system.system_id] = ONLY_10 if counties % 2 == 0 else BOTH
            counties += 1
        else:  # the province hub and provincial departments
            versions[system.system_id] = BOTH
    return versions


def without_on_site_visits(data: SandboxData, system_id: str) -> list[str]:
    """The implCodes of ``system_id`` whose catalog versions carry no ``onSiteVisits`` in a
    province in transition (every second of its items by implCode), for a TBS-1.0-only system."""
    codes = sorted({r["implCode"] for r in data.system(system_id).records("catalog")})
    return codes[1::2]


def apply_transition(data: SandboxData) -> dict[str, tuple[str, ...]]:
    """Give ``data`` the versions of :func:`plan_versions` and make the catalog of every
    TBS-1.0-only system lack ``onSiteVisits`` on every second item; returns the versions."""
    versions = plan_versions(data)
    for system_id, supported in versions.items():
        if V11 in supported:
            continue
        dropped = set(without_on_site_visits(data, system_id))
        for _, record in data.system(system_id)._entries["catalog"]:
            if record.get("implCode") in dropped:
                record.pop("onSiteVisits", None)
    return versions


def province_enrich(dataset: str, record: dict[str, Any]) -> dict[str, Any]:
    """What the province hub says in TBS-1.1 that TBS-1.0 cannot carry: the scope of its items
    (change 4, province-owned: 省内跨市通办) and, for items handled at a window, the accessibility
    services (change 5: barrier-free facilities, help for elderly and disabled applicants)."""
    if dataset != "catalog":
        return record
    out = dict(record)
    out["crossRegionScope"] = "3"
    if "1" in out.get("handlingForms", ()):
        out["accessibility"] = ["1", "4"]
    return out
