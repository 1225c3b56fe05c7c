"""CASE_REPORTER tests (TBS-1.0 §20.2 CR-01 … CR-07).

For a pull-only reporter the "scripted" cases are searched for in its feeds (§20.2): CR-01
needs a case whose events run SUBMIT … DELIVER with every record of that case STORED under
stateful validation in feed order; CR-02 a NOT_PERMITTED case and a non-acceptance case; CR-03
a supplement path and a SUSPEND/RESUME path. A path that is absent is SKIP.
"""
from __future__ import annotations

from typing import Any, Callable

from tongban.model.datasets import ROLE_DATASETS

from . import attribution as A
from .catalog_provider import version_rules
from .common import _event_order
from .results import KitFinding, Level, TestResult, capped
from .session import Session
from .sweep import RecordVerdict
from .testkit import ConformanceTest

CASE_DATASETS = ROLE_DATASETS["CASE_REPORTER"]  # case and case-event
CR01_RULES = (tuple(f"TBS-CASE-{n:03d}" for n in range(1, 5)) + tuple(f"TBS-EVT-{n:03d}" for n in range(1, 7))
              + tuple(f"TBS-CODE-{n:03d}" for n in range(8, 19)))


class _CaseTest(ConformanceTest):
    roles = ("CASE_REPORTER",)

    @staticmethod
    def context(session: Session) -> tuple[list[RecordVerdict], dict[str, list[RecordVerdict]], dict[str, set[str]]]:
        sw = session.sweep()
        return sw.all(*CASE_DATASETS), sw.by_case(), A.case_class_map(sw)

    @staticmethod
    def case_records(by_case: dict[str, list[RecordVerdict]], case_no: str) -> list[RecordVerdict]:
        return [v for v in by_case.get(case_no, []) if v.dataset in CASE_DATASETS]

    def paths(self, session: Session, wanted: dict[str, str]) -> tuple[dict[str, str | None], list[dict[str, Any]]]:
        """For each class name, one case on that path with every case/event record STORED."""
        _, by_case, classes = self.context(session)
        found: dict[str, str | None] = {}
        for cls in wanted:
            found[cls] = next((c for c, cl in sorted(classes.items())
                               if cls in cl and A.all_stored(self.case_records(by_case, c))), None)
        evidence = [{"note": f"{wanted[cls]}: " + (f"case {case} fully STORED" if case else "no fully stored case"),
                     "case": case} for cls, case in found.items()]
        return found, evidence

    def scoped(self, session: Session, rules: tuple[str, ...], keep: Callable[[set[str]], bool]) -> list[KitFinding]:
        verdicts, _, classes = self.context(session)
        return A.findings(verdicts, rules, case_filter=lambda c: keep(classes.get(c or "", set())))

    def judge_paths(self, session: Session, wanted: dict[str, str], keep: Callable[[set[str]], bool]) -> TestResult:
        """The violations in the cases ``keep`` selects; SKIP when a wanted path is not in the feeds."""
        found, evidence = self.paths(session, wanted)
        failures = self.scoped(session, self.requirement_ids, keep)
        missing = [k for k, v in found.items() if v is None]
        return TestResult.judge_evidenced(capped(failures, "findings"), evidence, evidenced=not missing,
                                          missing=f"path(s) not evidenced in the SUT's feeds: {', '.join(missing)}")


class Cr01ApprovalPath(_CaseTest):
    test_id = "CR-01"
    requirement_ids = CR01_RULES
    description = ("An approval case SUBMIT … CONCLUDE (APPROVED_WITH_CERT) … DELIVER whose every case and event "
                   "record is STORED under stateful validation, and no violation of the case, event and code rules.")

    def run(self, session: Session) -> TestResult:
        found, evidence = self.paths(session, {"delivered-approval": "approval path SUBMIT … DELIVER"})
        verdicts, _, classes = self.context(session)
        # stateless findings of every case and event record; stateful ones of the cases CR-01 is about
        failures = A.findings(verdicts, self.requirement_ids, stateful=False)
        failures += A.findings(verdicts, self.requirement_ids, stateless=False,
                               case_filter=lambda c: A.for_cr01(classes.get(c or "", set())))
        return TestResult.judge_evidenced(
            capped(failures, "findings"), evidence, evidenced=found["delivered-approval"] is not None,
            missing="no approval case delivered (SUBMIT … DELIVER) with every record STORED in the SUT's feeds")


class Cr02NonApproval(_CaseTest):
    test_id = "CR-02"
    requirement_ids = ("TBS-EVT-003", "TBS-EVT-005")
    description = ("A non-approval case (CONCLUDE NOT_PERMITTED with an opinion) and a non-acceptance case "
                   "(REJECT_ACCEPTANCE), every record STORED.")

    def run(self, session: Session) -> TestResult:
        return self.judge_paths(session, {"not-permitted": "non-approval (NOT_PERMITTED)",
                                          "not-accepted": "non-acceptance (REJECT_ACCEPTANCE)"}, A.for_cr02)


class Cr03SupplementAndSuspension(_CaseTest):
    test_id = "CR-03"
    requirement_ids = ("TBS-EVT-005", "TBS-EVT-011")
    description = ("A supplement path (REQUEST_SUPPLEMENT, SUPPLEMENT) and a SUSPEND/RESUME path, every record "
                   "STORED.")

    def run(self, session: Session) -> TestResult:
        return self.judge_paths(session, {"supplement": "supplement path", "suspend": "SUSPEND/RESUME path"},
                                A.for_cr03)


class Cr04EventsContiguous(_CaseTest):
    test_id = "CR-04"
    requirement_ids = ("TBS-EVT-004", "TBS-EVT-006", "TBS-EVT-007", "TBS-EVT-008")
    description = ("Events delivered across several envelopes (for a pull-only reporter: several changes pages) "
                   "remain contiguous and ordered: no seq gap, no conflicting resend, no time going backwards.")

    def run(self, session: Session) -> TestResult:
        verdicts, _, _ = self.context(session)
        events = [v for v in verdicts if v.dataset == "case-event"]
        if not events:
            return TestResult.skip("the SUT served no case event")
        failures = A.findings(verdicts, self.requirement_ids + ("TBS-EVT-009",))
        failures += _event_order([v.fed for v in events])
        pages: dict[str, set[int]] = {}
        for v in events:
            if v.case_no is not None:
                pages.setdefault(v.case_no, set()).add(v.fed.page)
        spanning = sorted(c for c, p in pages.items() if len(p) > 1)
        evidence = [{"note": f"{len(spanning)} case(s) whose events came in more than one page/envelope",
                     "cases": spanning[:5]}]
        return TestResult.judge_evidenced(capped(failures, "findings"), evidence, evidenced=bool(spanning),
                                          missing="no case's events span more than one page or envelope")


class Cr05CaseVersions(_CaseTest):
    test_id = "CR-05"
    requirement_ids = ("TBS-SYNC-014", "TBS-SYNC-005")
    description = "A changed Case appears with a higher version; no two contents share a caseNo and version."

    def run(self, session: Session) -> TestResult:
        verdicts, _, _ = self.context(session)
        cases = [v for v in verdicts if v.dataset == "case"]
        rules = tuple(r for r in version_rules(session) if r != "TBS-SYNC-011")
        failures = A.findings(cases, rules, severities=("ERROR", "WARNING"), stateless=False)
        by_key: dict[str, list[RecordVerdict]] = {}
        for v in cases:
            if v.case_no is not None:
                by_key.setdefault(v.case_no, []).append(v)
        changed = [k for k, g in by_key.items() if A.stored_versions(g) > 1]
        evidence = [{"note": f"{len(changed)} case(s) with more than one stored version", "cases": changed[:5]}]
        return TestResult.judge_evidenced(failures, evidence, evidenced=bool(changed),
                                          missing="no Case in the SUT's feeds has a second version")


class Cr06Scope(_CaseTest):
    test_id = "CR-06"
    requirement_ids = ("TBS-SEC-003",)
    description = "Only cases within the SUT's scope are sent (and case-linked records of such cases)."

    def run(self, session: Session) -> TestResult:
        verdicts, _, _ = self.context(session)
        if not any(v.dataset == "case" for v in verdicts):
            return TestResult.skip("the SUT served no case")
        failures = A.findings(verdicts, self.requirement_ids)
        return TestResult.judge(capped(failures, "findings"),
                                [{"note": f"{len(verdicts)} case and event record(s), writer {session.config.system_id}"}])


class Cr07Recommended(_CaseTest):
    test_id = "CR-07"
    requirement_ids = ("TBS-CODE-011", "TBS-CODE-012", "TBS-EVT-010", "TBS-EVT-013")
    level = Level.SHOULD
    description = "Structured case numbers dated on the submission day; SUBMIT at submittedAt; events in order."

    def run(self, session: Session) -> TestResult:
        verdicts, _, _ = self.context(session)
        if not verdicts:
            return TestResult.skip("the SUT served no case")
        failures = A.findings(verdicts, self.requirement_ids, severities=("WARNING", "INFO"))
        failures += [KitFinding("TBS-EVT-013", f.message_en, f.message_zh, where=f.where)
                     for f in _event_order([v.fed for v in verdicts if v.dataset == "case-event"])]
        return TestResult.judge(capped(failures, "findings"), [])


CASE_REPORTER_TESTS = (Cr01ApprovalPath, Cr02NonApproval, Cr03SupplementAndSuspension, Cr04EventsContiguous,
                       Cr05CaseVersions, Cr06Scope, Cr07Recommended)
