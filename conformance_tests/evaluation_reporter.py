"""EVALUATION_REPORTER tests (TBS-1.0 §20.2 ER-01 … ER-05)."""
from __future__ import annotations

from typing import Any

from . import attribution as A
from .results import KitFinding, Level, Result, TestResult, attestation, capped
from .session import Session
from .testkit import ConformanceTest


class _EvaluationTest(ConformanceTest):
    roles = ("EVALUATION_REPORTER",)

    @staticmethod
    def verdicts(session: Session) -> list[Any]:
        return session.sweep().all("evaluation")


def _ok(v: Any) -> bool:
    return not v.stateless.errors


class Er01EvaluationsValid(_EvaluationTest):
    test_id = "ER-01"
    requirement_ids = ("TBS-EVAL-001", "TBS-EVAL-002")
    description = "Evaluations, including a 差评 with details, pass validation."

    def run(self, session: Session) -> TestResult:
        vs = self.verdicts(session)
        failures = [KitFinding.from_validation(f, **v.fed.where()) for v in vs for f in v.stateless.items
                    if f.severity.value == "ERROR"]
        bad_reviews = [v for v in vs if _ok(v) and isinstance(v.record, dict)
                       and isinstance(v.record.get("satisfaction"), int) and v.record["satisfaction"] < 3]
        evidence = [{"note": f"{len(vs)} evaluation(s), {len(bad_reviews)} valid 差评 with details"}]
        return TestResult.judge_evidenced(capped(failures, "findings"), evidence, evidenced=bool(bad_reviews),
                                          missing="no 差评 (satisfaction below 3) in the SUT's evaluations")


class Er02SatisfactionDirection(_EvaluationTest):
    test_id = "ER-02"
    requirement_ids = ("TBS-EVAL-007",)
    description = ("非常满意 is sent as 5 and 非常不满意 as 1; for a pull-only reporter, both extremes appear in its "
                   "feed (an attestation of the tester's inputs may stand in).")

    def run(self, session: Session) -> TestResult:
        attested = attestation(session.config.attestations, self.test_id)
        if attested is not None:
            return attested
        values = {v.record.get("satisfaction") for v in self.verdicts(session) if _ok(v) and isinstance(v.record, dict)}
        evidence = [{"note": f"satisfaction values served: {sorted(x for x in values if isinstance(x, int))}"}]
        if not {1, 5} <= values:
            return TestResult.skip("the feed does not show both 5 (非常满意) and 1 (非常不满意)", evidence)
        return TestResult(Result.PASS, evidence)


class Er03FollowUp(_EvaluationTest):
    test_id = "ER-03"
    requirement_ids = ("TBS-EVAL-003", "TBS-EVAL-004", "TBS-EVAL-005", "TBS-EVAL-010")
    description = "A follow-up evaluation comes after the first one, for the same case, and later in time."

    def run(self, session: Session) -> TestResult:
        vs = self.verdicts(session)
        failures = A.findings(vs, self.requirement_ids + ("TBS-EVAL-006",), stateless=False)
        follow_ups = A.stored_with(vs, "assessNo", 2)
        evidence = [{"note": f"{len(follow_ups)} follow-up evaluation(s) STORED"}]
        return TestResult.judge_evidenced(capped(failures, "findings"), evidence, evidenced=bool(follow_ups),
                                          missing="no follow-up evaluation (assessNo 2) in the SUT's feeds")


class Er04NoDefaultEvaluations(_EvaluationTest):
    test_id = "ER-04"
    requirement_ids = ("TBS-EVAL-008",)
    description = "No system default evaluations are sent (attestation, TBS-CONF-009)."

    def run(self, session: Session) -> TestResult:
        attested = attestation(session.config.attestations, self.test_id)
        if attested is not None:
            return attested
        return TestResult.skip("TBS-EVAL-008 cannot be observed automatically: an attestation is required "
                               "(--attestation FILE)")


class Er05HallDimensions(_EvaluationTest):
    test_id = "ER-05"
    requirement_ids = ("TBS-EVAL-009",)
    level = Level.SHOULD
    description = "Evaluations from service-hall devices (HALL_PAD, HALL_OTHER) carry dimensions."

    def run(self, session: Session) -> TestResult:
        hall = [v for v in self.verdicts(session) if isinstance(v.record, dict)
                and v.record.get("channel") in ("HALL_PAD", "HALL_OTHER")]
        if not hall:
            return TestResult.skip("no hall evaluation in the SUT's feeds")
        failures = [KitFinding("TBS-EVAL-009", "a hall evaluation without dimensions", "大厅评价缺少 dimensions",
                               "WARNING", f"{v.fed.location}/dimensions", where=v.fed.where())
                    for v in hall if "dimensions" not in v.record]
        return TestResult.judge(capped(failures, "evaluations"), [{"note": f"{len(hall)} hall evaluation(s)"}])



EVALUATION_REPORTER_TESTS = (Er01EvaluationsValid, Er02SatisfactionDirection, Er03FollowUp, Er04NoDefaultEvaluations,
                             Er05HallDimensions)
