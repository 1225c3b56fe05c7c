"""The unhappy paths a sandbox system can be made to show, after it has been certified.

What a data team meets in production and the demo should show: records that fail validation
(quarantined with the rule they break), an event that waits for its Case and is released when
the Case arrives later (TBS-SYNC-007), and an event whose Case never arrives, so its hold
expires after the partner's ``hold_timeout`` and it is rejected under the dependency rule.

They are appended to a system's feeds once it is running (``Sandbox.plant_unhappy_paths``):
its certification saw clean feeds, as a certified system's later defects are seen only in
production. Every planted record is a copy of one of the system's own cases with a new case
number (serial 99xx), so the ground truth is known: :class:`UnhappyPaths` lists it.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from tongban.sandbox.systems import SandboxSystem

__all__ = ["UnhappyPaths", "plan_unhappy_paths"]


@dataclass
class UnhappyPaths:
    """What is appended, in two waves, and what the bus should make of it."""

    system_id: str
    now: list[tuple[str, dict[str, Any]]] = field(default_factory=list)      # (dataset, record)
    later: list[tuple[str, dict[str, Any]]] = field(default_factory=list)    # the late prerequisite
    invalid: dict[str, str] = field(default_factory=dict)   # caseNo → what is wrong with it
    released: list[str] = field(default_factory=list)       # caseNo whose event is held, then released
    expiring: list[str] = field(default_factory=list)       # caseNo whose event is held until it expires


def _renumbered(case: dict[str, Any], serial: int) -> dict[str, Any]:
    new = copy.deepcopy(case)
    new["caseNo"] = case["caseNo"][:-4] + f"{serial:04d}"
    new["version"] = 1
    return new


def _submit(case: dict[str, Any], events: list[dict[str, Any]]) -> dict[str, Any]:
    first = next(e for e in events if e["caseNo"] == case["caseNo"] and e["type"] == "SUBMIT")
    return {**copy.deepcopy(first), "caseNo": case["caseNo"]}


def plan_unhappy_paths(system: SandboxSystem) -> UnhappyPaths:
    """Two invalid cases, one event held until its Case arrives later, one whose Case never does."""
    cases = [c for c in system.records("case") if c.get("version", 1) == 1]
    events = system.records("case-event")
    template = next(c for c in cases if any(e["caseNo"] == c["caseNo"] and e["type"] == "SUBMIT" for e in events))
    plan = UnhappyPaths(system.system_id)

    bad_id = _renumbered(template, 9901)
    id_no = bad_id["applicant"]["idNo"]
    last = id_no[-1]
    bad_id["applicant"]["idNo"] = id_no[:-1] + ("0" if last != "0" else "1")   # wrong check character
    plan.invalid[bad_id["caseNo"]] = "applicant idNo with a wrong check character (GB 11643 / GB 32100)"
    bad_deadline = _renumbered(template, 9902)
    bad_deadline["promisedBy"] = bad_deadline["submittedAt"][:10] + "T00:00:00+08:00"   # before submission
    plan.invalid[bad_deadline["caseNo"]] = "promisedBy before submittedAt (TBS-CASE-004)"
    plan.now += [("case", bad_id), ("case", bad_deadline)]

    late = _renumbered(template, 9903)
    plan.now.append(("case-event", _submit(late, [{**e, "caseNo": late["caseNo"]} for e in events
                                                  if e["caseNo"] == template["caseNo"]])))
    plan.later.append(("case", late))
    plan.released.append(late["caseNo"])

    never = _renumbered(template, 9904)
    plan.now.append(("case-event", _submit(never, [{**e, "caseNo": never["caseNo"]} for e in events
                                                   if e["caseNo"] == template["caseNo"]])))
    plan.expiring.append(never["caseNo"])
    return plan
