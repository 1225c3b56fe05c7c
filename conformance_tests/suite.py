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
from typing import Callable

from .case_reporter import CASE_REPORTER_TESTS
from .catalog_consumer import CATALOG_CONSUMER_TESTS
from .catalog_provider import CATALOG_PROVIDER_TESTS
from .common import COMMON_TESTS
from .evaluation_reporter import EVALUATION_REPORTER_TESTS
from .result_publisher import RESULT_PUBLISHER_TESTS
from .results import KitFinding, Level, Result, TestResult, Verdict, role_verdict
from .session import Session
from .testkit import ConformanceTest

CATALOGUE: tuple[type[ConformanceTest], ...] = (COMMON_TESTS + CATALOG_PROVIDER_TESTS + CASE_REPORTER_TESTS
                                                + RESULT_PUBLISHER_TESTS + EVALUATION_REPORTER_TESTS
                                                + CATALOG_CONSUMER_TESTS)
TEST_IDS: tuple[str, ...] = tuple(t.test_id for t in CATALOGUE)


def catalogue() -> list[ConformanceTest]:
    return [cls() for cls in CATALOGUE]


@dataclass
class TestRun:
    __test__ = False

    test: ConformanceTest
    roles: list[str]
    requirement_ids: list[str]
    result: TestResult
    seconds: float

    @property
    def test_id(self) -> str:
        return self.test.test_id


@dataclass
class SuiteRun:
    session: Session
    runs: list[TestRun] = field(default_factory=list)
    finished_at: datetime | None = None

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


def run_suite(session: Session, *, only: set[str] | None = None,
              progress: Callable[[TestRun], None] | None = None) -> SuiteRun:
    """Run every catalogue test that applies to a claimed role (optionally only ``only``)."""
    run = SuiteRun(session)
    claimed = session.config.roles
    for test in catalogue():
        roles = [r for r in claimed if test.applies_to_role(r)]
        if not roles or (only is not None and test.test_id not in only):
            continue
        start = time.monotonic()
        result = run_test(test, session)
        item = TestRun(test, roles, test.requirements_for(session.config.binding), result, time.monotonic() - start)
        run.runs.append(item)
        if progress is not None:
            progress(item)
    run.finished_at = datetime.now(timezone.utc)
    return run
