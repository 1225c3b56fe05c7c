"""The TBS-1.0 test catalogue (§20.2) and the runner that applies it to a session.

Every test of the catalogue runs at most once per session; its result counts for each claimed
role it applies to. A test whose role is not claimed is not run; a test whose binding or
applicability condition does not hold is OMIT; a test that raises is ERROR (TBS-CONF-002).
"""
from __future__ import annotations

import time
import traceback
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Callable

from .case_reporter import CASE_REPORTER_TESTS
from .catalog_consumer import CATALOG_CONSUMER_TESTS
from .catalog_provider import CATALOG_PROVIDER_TESTS
from .common import COMMON_TESTS
from .dual_version import DUAL_VERSION_TESTS
from .evaluation_reporter import EVALUATION_REPORTER_TESTS
from .result_publisher import RESULT_PUBLISHER_TESTS
from .results import KitFinding, Level, Result, TestResult, Verdict, role_verdict
from .session import Session
from .testkit import ConformanceTest

if TYPE_CHECKING:
    from .delta import DeltaSession

CATALOGUE: tuple[type[ConformanceTest], ...] = (COMMON_TESTS + CATALOG_PROVIDER_TESTS + CASE_REPORTER_TESTS
                                                + RESULT_PUBLISHER_TESTS + EVALUATION_REPORTER_TESTS
                                                + CATALOG_CONSUMER_TESTS)
TEST_IDS: tuple[str, ...] = tuple(t.test_id for t in CATALOGUE)
#: the catalogue per spec version: TBS-1.1 adds COM-08 (change 23); the other tests run either
#: version, as the session's ``spec_version`` says
CATALOGUES: dict[str, tuple[type[ConformanceTest], ...]] = {"TBS-1.0": CATALOGUE,
                                                            "TBS-1.1": CATALOGUE + DUAL_VERSION_TESTS}


def catalogue(spec: str = "TBS-1.0") -> list[ConformanceTest]:
    return [cls() for cls in CATALOGUES[spec]]


@dataclass
class TestRun:
    __test__ = False

    test: ConformanceTest
    roles: list[str]
    requirement_ids: list[str]
    result: TestResult
    seconds: float
    carried_over: bool = False        # the result of the base certificate (TBS-CONF-010), not run here

    @property
    def test_id(self) -> str:
        return self.test.test_id


@dataclass
class SuiteRun:
    session: Session
    runs: list[TestRun] = field(default_factory=list)
    finished_at: datetime | None = None
    delta: "DeltaSession | None" = None   # a delta session: what carried over, from which certificate

    @property
    def based_on(self) -> str | None:
        """The certificate whose results were carried over (TBS-CONF-006 ``basedOn``), if any."""
        return self.delta.based_on if self.delta is not None and self.delta.used else None

    def role_verdicts(self) -> dict[str, Verdict]:
        out = {}
        for role in self.session.config.roles:
            shall = [r.result.result for r in self.runs if role in r.roles and r.test.level is Level.SHALL]
            out[role] = role_verdict(shall)
        return out

    @property
    def conformant(self) -> bool:
        return all(v is Verdict.CONFORMANT for v in self.role_verdicts().values())

    @property
    def harness_failed(self) -> bool:
        return any(r.result.result is Result.ERROR for r in self.runs)


def run_test(test: ConformanceTest, session: Session) -> TestResult:
    binding = session.config.binding
    if binding not in test.bindings:
        return TestResult.omit(f"applies only to the {', '.join(test.bindings)} binding(s), not {binding}")
    try:
        reason = test.not_applicable(session)
        if reason:
            return TestResult.omit(reason)
        return test.run(session)
    except Exception as exc:  # noqa: BLE001 - the harness failed: ERROR, the session must be rerun
        tb = traceback.format_exc(limit=6)
        return TestResult(Result.ERROR, [{"note": "the test harness failed", "traceback": tb[-3000:]}],
                          [KitFinding("TBS-CONF-002", f"harness error: {type(exc).__name__}: {exc}",
                                      f"测试工具出错：{type(exc).__name__}")], f"{type(exc).__name__}: {exc}")


def settle_carried_omits(delta: "DeltaSession", session: Session) -> None:
    """TBS-CONF-010: a SHALL test carries over as OMIT only while its applicability condition is
    still false; where it now holds, the role is certified in full (decided before anything runs)."""
    tests = {t.test_id: t for t in catalogue(session.config.spec_version)}
    for (test_id, role), carried in sorted(delta.carried.items()):
        if role in delta.full or carried.level != "SHALL" or carried.result != "OMIT":
            continue
        test = tests[test_id]
        if session.config.binding in test.bindings and test.not_applicable(session) is None:
            delta.certify_in_full(role, f"{test_id} was OMIT for {role} in {delta.based_on}, but its applicability "
                                        "condition now holds: certified in full")


def run_suite(session: Session, *, only: set[str] | None = None,
              progress: Callable[[TestRun], None] | None = None, delta: "DeltaSession | None" = None) -> SuiteRun:
    """Run every catalogue test of the session's spec version that applies to a claimed role
    (optionally only ``only``). With ``delta`` (TBS-CONF-010) a test that every role it applies
    to carries over is not run: it gets the base certificate's result, marked carried over; a
    test that some role reruns is run and its result counts for every role."""
    run = SuiteRun(session, delta=delta)
    claimed = session.config.roles
    if delta is not None:
        settle_carried_omits(delta, session)
    for test in catalogue(session.config.spec_version):
        roles = [r for r in claimed if test.applies_to_role(r)]
        if not roles or (only is not None and test.test_id not in only):
            continue
        carried = [delta.carries(test.test_id, r) for r in roles] if delta is not None else [None]
        if all(c is not None for c in carried):
            for result, group in _by_result(carried).items():
                item = TestRun(test, [c.role for c in group], test.requirements_for(session.config.binding),
                               TestResult(Result(result), [{"note": f"carried over from {delta.based_on}"}], [],
                                          f"carried over from certificate {delta.based_on} "
                                          f"(TBS-1.0, suite {delta.base_suite}): {result}"),
                               0.0, carried_over=True)
                run.runs.append(item)
                if progress is not None:
                    progress(item)
            continue
        start = time.monotonic()
        result = run_test(test, session)
        item = TestRun(test, roles, test.requirements_for(session.config.binding), result, time.monotonic() - start)
        run.runs.append(item)
        if progress is not None:
            progress(item)
    run.finished_at = datetime.now(timezone.utc)
    return run


def _by_result(carried: list) -> dict[str, list]:
    out: dict[str, list] = {}
    for c in carried:
        out.setdefault(c.result, []).append(c)
    return out
