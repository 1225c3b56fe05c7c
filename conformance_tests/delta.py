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


# -- the delta session (TBS-CONF-010) --------------------------------------------------------------

BASE_SPEC = "TBS-1.0"
MAX_AGE_MONTHS = 24


class BaseCertificateError(Exception):
    """The earlier certificate cannot be the base of a delta session at all (exit 2): unreadable,
    not validly signed, of another system, not a TBS-1.0 certificate."""


@dataclass
class Carried:
    """A result of the base certificate that carries over for one role."""

    test_id: str
    role: str
    level: str
    result: str


@dataclass
class DeltaSession:
    """What a delta session runs and carries over, per claimed role. ``full`` maps a role that is
    certified in full to why; every other role is certified by delta on ``based_on``."""

    based_on: str
    base_suite: str
    plans: dict[str, DeltaPlan] = field(default_factory=dict)
    full: dict[str, str] = field(default_factory=dict)
    carried: dict[tuple[str, str], Carried] = field(default_factory=dict)   # (test id, role)

    def carries(self, test_id: str, role: str) -> Carried | None:
        if role in self.full:
            return None
        return self.carried.get((test_id, role))

    def certify_in_full(self, role: str, reason: str) -> None:
        self.full.setdefault(role, reason)

    @property
    def used(self) -> bool:
        """Any role certified by delta (else the certificate names no ``basedOn``)."""
        return any(role not in self.full for role in self.plans)

    def as_json(self) -> dict[str, Any]:
        roles = {}
        for role, plan in self.plans.items():
            if role in self.full:
                roles[role] = {"mode": "full", "reason": self.full[role]}
            else:
                roles[role] = {"mode": "delta", "rerun": plan.rerun, "new": plan.new,
                               "carriedOver": sorted(t for t, r in self.carried if r == role)}
        return {"basedOn": self.based_on if self.used else None, "baseSpecVersion": BASE_SPEC,
                "baseSuiteVersion": self.base_suite, "roles": roles}


def _add_months(day: "date", months: int) -> "date":
    import calendar

    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    return day.replace(year=year, month=month, day=min(day.day, calendar.monthrange(year, month)[1]))


def load_base_certificate(path: Any) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The certificate at ``path`` and, when ``report.json`` lies beside it, that report."""
    from pathlib import Path

    path = Path(path)
    try:
        certificate = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise BaseCertificateError(f"--delta-from {path}: cannot be read ({exc.strerror or exc})") from exc
    except ValueError as exc:
        raise BaseCertificateError(f"--delta-from {path}: not JSON ({exc})") from exc
    if not isinstance(certificate, dict):
        raise BaseCertificateError(f"--delta-from {path}: not a certificate (a JSON object is expected)")
    report_file = path.parent / "report.json"
    report = None
    if report_file.is_file():
        try:
            report = json.loads(report_file.read_text(encoding="utf-8"))
        except ValueError as exc:
            raise BaseCertificateError(f"--delta-from: {report_file} beside the certificate is not JSON ({exc})") from exc
    return certificate, report


def check_base_certificate(certificate: dict[str, Any], *, system_id: str, trusted_key: Any = None,
                           report: dict[str, Any] | None = None, where: str = "--delta-from") -> None:
    """Raise :class:`BaseCertificateError` naming every reason ``certificate`` cannot be the base
    of a delta session of ``system_id``: the checks of ``tongban conformance verify`` (its
    signature, with ``trusted_key`` the issuer's key; with ``report`` also reportSha256), the same
    system, spec version TBS-1.0."""
    from .certificate import certificate_problems
    from .signing import signature_problems

    problems = (certificate_problems(certificate, report, trusted_key=trusted_key) if report is not None
                else signature_problems(certificate, trusted_key))
    for member in ("certificateId", "systemId", "roles", "bindings", "specVersion", "issuedOn", "tests"):
        if member not in certificate:
            problems.append(f"it lacks {member} (TBS-CONF-006)")
    if "systemId" in certificate and certificate["systemId"] != system_id:
        problems.append(f"it certifies {certificate['systemId']}, not the system under test {system_id} "
                        "(TBS-CONF-010: a certificate of the same system)")
    if "specVersion" in certificate and certificate["specVersion"] != BASE_SPEC:
        problems.append(f"its specVersion is {certificate['specVersion']!r}: a delta session is based on a "
                        f"{BASE_SPEC} certificate (TBS-CONF-010)")
    if problems:
        raise BaseCertificateError(f"{where}: the earlier certificate {certificate.get('certificateId', '?')} "
                                   "cannot be the base of a delta session: " + "; ".join(dict.fromkeys(problems)))


def plan_delta_session(certificate: dict[str, Any], roles: tuple[str, ...], binding: str, *,
                       today: "date | None" = None, spec: str = "TBS-1.1") -> DeltaSession:
    """Per claimed role: delta on ``certificate`` (already checked) or in full, and why
    (TBS-CONF-010: a NOT_CONFORMANT or new role, a binding not covered, a certificate older than
    24 months, a carried SHALL result other than PASS/OMIT)."""
    from datetime import date, datetime

    from tongban.model.clock import CST

    today = today or datetime.now(CST).date()
    binding = binding.upper()
    session = DeltaSession(str(certificate["certificateId"]), str(certificate.get("suiteVersion", "")))
    verdicts = {e.get("role"): e.get("verdict") for e in certificate.get("roles", []) if isinstance(e, dict)}
    bindings = [str(b).upper() for b in certificate.get("bindings", [])]
    issued = date.fromisoformat(str(certificate["issuedOn"]))
    base_results = {(t.get("testId"), t.get("role")): t for t in certificate.get("tests", []) if isinstance(t, dict)}
    for role in roles:
        verdict = verdicts.get(role)
        plan = delta_plan(role, binding, verdict=verdict or "NOT_CERTIFIED", certificate_id=session.based_on, spec=spec)
        session.plans[role] = plan
        if verdict is None:
            session.certify_in_full(role, f"{role} is not certified by {session.based_on}: a new role is certified "
                                          "in full")
        elif verdict != "CONFORMANT":
            session.certify_in_full(role, f"{role} is {verdict} in {session.based_on}: certified in full")
        elif binding not in bindings:
            session.certify_in_full(role, f"{session.based_on} does not cover the {binding} binding "
                                          f"({', '.join(bindings)}): a new binding is tested in full")
        elif today > _add_months(issued, MAX_AGE_MONTHS):
            session.certify_in_full(role, f"{session.based_on} was issued on {issued}, more than {MAX_AGE_MONTHS} "
                                          "months before this session: certified in full")
        if role in session.full:
            continue
        for test_id in plan.carry_over:
            entry = base_results.get((test_id, role))
            if entry is None:
                session.certify_in_full(role, f"{session.based_on} holds no result of {test_id} for {role}: "
                                              "certified in full")
                break
            level, result = str(entry.get("level")), str(entry.get("result"))
            if level == "SHALL" and result not in ("PASS", "OMIT"):
                session.certify_in_full(role, f"{test_id} was {result} for {role} in {session.based_on}: a SHALL "
                                              "test carries over only as PASS or OMIT; certified in full")
                break
            session.carried[(test_id, role)] = Carried(test_id, role, level, result)
    return session
