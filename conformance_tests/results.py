"""Test results of the conformance suite (TBS-1.0 §20.1, TBS-CONF-002/-003).

Results follow the Inferno semantics: PASS (verified and met), FAIL (verified and not met),
SKIP (could not be verified, e.g. the SUT served no data for the path; blocks), OMIT (does not
apply to the claimed roles or bindings; does not block) and ERROR (the harness failed; the
session must be rerun). Roll-up priority is ERROR > FAIL > SKIP > PASS > OMIT.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Iterable

from tongban.validators.report import Finding as ValidationFinding


class Result(str, Enum):
    PASS = "PASS"
    FAIL = "FAIL"
    SKIP = "SKIP"
    OMIT = "OMIT"
    ERROR = "ERROR"


class Level(str, Enum):
    SHALL = "SHALL"
    SHOULD = "SHOULD"


class Verdict(str, Enum):
    CONFORMANT = "CONFORMANT"
    NOT_CONFORMANT = "NOT_CONFORMANT"


#: TBS-CONF-003 roll-up priority, highest first.
PRIORITY: tuple[Result, ...] = (Result.ERROR, Result.FAIL, Result.SKIP, Result.PASS, Result.OMIT)


def roll_up(results: Iterable[Result]) -> Result:
    """The highest-priority result of ``results`` (TBS-CONF-003); OMIT for none."""
    seen = set(results)
    for result in PRIORITY:
        if result in seen:
            return result
    return Result.OMIT


def role_verdict(shall_results: Iterable[Result]) -> Verdict:
    """CONFORMANT exactly when every applicable SHALL test passed (TBS-CONF-003).

    OMIT marks a test whose applicability condition is false, so it does not block; an
    empty set (nothing applicable) is not a verification and is NOT_CONFORMANT.
    """
    applicable = [r for r in shall_results if r is not Result.OMIT]
    if applicable and all(r is Result.PASS for r in applicable):
        return Verdict.CONFORMANT
    return Verdict.NOT_CONFORMANT


@dataclass(frozen=True)
class KitFinding:
    """Why a test did not pass: one requirement id, where, and what was observed.

    ``severity`` is the validation severity when the finding comes from a validator
    (ERROR/WARNING/INFO), else ``"FAIL"`` for an assertion of the suite itself.
    ``where`` locates it in the SUT's data or exchange (dataset, feed position, message id …).
    """

    requirement_id: str
    message_en: str
    message_zh: str
    severity: str = "FAIL"
    location: str | None = None
    value: str | None = None
    where: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_validation(cls, finding: ValidationFinding, **where: Any) -> "KitFinding":
        return cls(finding.rule_id, finding.message_en, finding.message_zh, finding.severity.value,
                   finding.location, finding.value, dict(where))

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"requirementId": self.requirement_id, "severity": self.severity,
                               "message": {"zh": self.message_zh, "en": self.message_en}}
        if self.location is not None:
            out["location"] = self.location
        if self.value is not None:
            out["value"] = self.value
        if self.where:
            out["where"] = self.where
        return out


@dataclass
class TestResult:
    """What one test's ``run`` returns: the result, the evidence it saw, and its findings.

    ``evidence`` items are small JSON objects: a ``note`` and, where there was an exchange,
    ``request``/``response`` excerpts.
    """

    __test__ = False  # not a pytest class

    result: Result
    evidence: list[dict[str, Any]] = field(default_factory=list)
    findings: list[KitFinding] = field(default_factory=list)
    reason: str = ""

    @classmethod
    def omit(cls, reason: str) -> "TestResult":
        return cls(Result.OMIT, [{"note": reason}], [], reason)

    @classmethod
    def skip(cls, reason: str, evidence: list[dict[str, Any]] | None = None) -> "TestResult":
        return cls(Result.SKIP, list(evidence or []) + [{"note": reason}], [], reason)

    @classmethod
    def judge(cls, failures: list[KitFinding], evidence: list[dict[str, Any]], *,
              notes: Iterable[KitFinding] = ()) -> "TestResult":
        """FAIL when there is any failure, PASS otherwise; ``notes`` are reported, never blocking."""
        findings = list(failures) + list(notes)
        if failures:
            return cls(Result.FAIL, evidence, findings, f"{len(failures)} failure(s)")
        return cls(Result.PASS, evidence, findings)

    @classmethod
    def judge_evidenced(cls, failures: list[KitFinding], evidence: list[dict[str, Any]], *, evidenced: bool,
                        missing: str) -> "TestResult":
        """:meth:`judge`, except SKIP (``missing`` says what the SUT did not show) when there is
        no failure and nothing the test looks for was evidenced: no failure is not a PASS then."""
        if not evidenced and not failures:
            return cls.skip(missing, evidence)
        return cls.judge(failures, evidence)


MAX_LISTED = 40  # findings listed per test; the count says how many there were


def capped(findings: list[KitFinding], what: str) -> list[KitFinding]:
    """At most :data:`MAX_LISTED` findings, plus one saying how many were left out."""
    if len(findings) <= MAX_LISTED:
        return findings
    rest = len(findings) - MAX_LISTED
    last = findings[MAX_LISTED]
    return findings[:MAX_LISTED] + [KitFinding(last.requirement_id, f"… and {rest} more {what}",
                                               f"……另有 {rest} 条{what}", last.severity)]


def attestation(attestations: dict[str, dict[str, Any]], test_id: str) -> TestResult | None:
    """The testing authority's record of an attestation of ``test_id`` (TBS-CONF-009), or None;
    ``attestations`` is the session's (:attr:`SessionConfig.attestations`)."""
    entry = attestations.get(test_id)
    if not entry:
        return None
    result = str(entry.get("result", "")).upper()
    evidence = [{"note": "attestation", "statement": entry.get("statement", ""), "evidence": entry.get("evidence", "")}]
    if result == "PASS":
        return TestResult(Result.PASS, evidence)
    return TestResult(Result.FAIL, evidence, [KitFinding(next(iter(_ATTESTED.get(test_id, ("TBS-CONF-009",)))),
                                                         "the attestation records FAIL", "声明记录为不通过")])


_ATTESTED = {"ER-04": ("TBS-EVAL-008",), "ER-02": ("TBS-EVAL-007",), "LP-27": ("TBS-LP-050",)}
