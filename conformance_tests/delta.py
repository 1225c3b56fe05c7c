"""Delta certification plans (TBS-1.1 TBS-CONF-010, Table 4.1 of the revision document).

A CONFORMANT certificate of the older version for a role is the base of a delta certification
of that role: the tests Table 4.1 marks *rerun* or *new* for the role and the claimed binding
are run under the new suite; every other applicable test carries over with its earlier result.
A NOT_CONFORMANT role, a new role and a new binding are certified in full.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from tongban.specs import spec_dir

from .suite import CATALOGUE
from .testkit import EVERY_ROLE


@dataclass
class DeltaPlan:
    role: str
    binding: str
    based_on: str | None            # certificate id, None: certified in full
    rerun: list[str] = field(default_factory=list)
    new: list[str] = field(default_factory=list)
    carry_over: list[str] = field(default_factory=list)
    reason: str = ""

    def as_json(self) -> dict[str, Any]:
        return {"role": self.role, "binding": self.binding, "basedOn": self.based_on, "rerun": self.rerun,
                "new": self.new, "carryOver": self.carry_over, "reason": self.reason}


def delta_table(spec: str = "TBS-1.1") -> dict[str, Any]:
    path = spec_dir(spec) / "delta-certification.json"
    if not path.is_file():
        raise LookupError(f"{spec} defines no delta certification")
    return json.loads(path.read_text(encoding="utf-8"))


def _row(table: dict[str, Any], test_id: str, binding: str) -> dict[str, Any] | None:
    for row in table["tests"]:
        if row["test"] == test_id and (row["bindings"] is None or binding in row["bindings"]):
            return row
    return None


def delta_plan(role: str, binding: str, *, verdict: str = "CONFORMANT", certificate_id: str | None = None,
               spec: str = "TBS-1.1", multi_version: bool = True) -> DeltaPlan:
    """The tests a ``role`` certified on ``binding`` reruns, runs new and carries over.

    ``multi_version``: the system lists more than one version or relays (COM-08 applies; every
    TBS-1.1 system until the TBS-1.0 sunset)."""
    table = delta_table(spec)
    binding = binding.upper()
    applicable = [t for t in CATALOGUE
                  if (EVERY_ROLE in t.roles or role in t.roles) and binding in t.bindings]
    if verdict != "CONFORMANT":
        plan = DeltaPlan(role, binding, None, reason=f"{verdict}: certified in full (TBS-CONF-010)")
        plan.rerun = [t.test_id for t in applicable]
    else:
        plan = DeltaPlan(role, binding, certificate_id, reason="delta certification (TBS-CONF-010)")
        for test in applicable:
            row = _row(table, test.test_id, binding)
            if row is not None and row["action"] in ("rerun", "new"):
                plan.rerun.append(test.test_id)
            else:
                plan.carry_over.append(test.test_id)
    for test_id, rule in table.get("newTests", {}).items():
        if multi_version and (rule["roles"] == "*" or role in rule["roles"]):
            plan.new.append(test_id)
    return plan
