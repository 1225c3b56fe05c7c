"""CATALOG_PROVIDER tests (TBS-1.0 §20.2 CP-01 … CP-06).

For a pull-only provider, "the operator changes / revokes an item" is satisfied by evidence in
its catalog feed (§20.2): a key with two versions, a REVOKED tombstone. The suite replays the
feed into an empty receiver (writer := the SUT) and judges the verdicts.
"""
from __future__ import annotations

from typing import Any

from . import attribution as A
from .results import KitFinding, Level, TestResult, capped
from .session import Session
from .testkit import PULL, Collected, ConformanceTest

CAT_RULES = tuple(f"TBS-CAT-{n:03d}" for n in range(1, 11)) + tuple(f"TBS-CODE-{n:03d}" for n in range(1, 20))


def version_rules(session: Session) -> tuple[str, ...]:
    """Rules of a version history. A STALE version (TBS-SYNC-004) is a superseded version served
    after its successor in a feed (TBS-SYNC-013), but a harmless resend when pushed (TBS-ENV-033)."""
    rules = ("TBS-SYNC-005", "TBS-SYNC-011")
    return rules + ("TBS-SYNC-004",) if session.collected is Collected.PULLED else rules


class _CatalogTest(ConformanceTest):
    roles = ("CATALOG_PROVIDER",)

    @staticmethod
    def verdicts(session: Session) -> list[Any]:
        return session.sweep().all("catalog")


class Cp01CatalogValid(_CatalogTest):
    test_id = "CP-01"
    requirement_ids = CAT_RULES
    description = "Every catalog record read or received passes stateless validation (no ERROR)."

    def run(self, session: Session) -> TestResult:
        vs = self.verdicts(session)
        if not vs:
            return TestResult.skip("the SUT served no catalog record")
        failures = [KitFinding.from_validation(f, **v.fed.where()) for v in vs for f in v.stateless.items
                    if f.severity.value == "ERROR"]
        return TestResult.judge(capped(failures, "findings"),
                                [{"note": f"{len(vs)} catalog record(s) validated statelessly"}])


class Cp02FeedContent(_CatalogTest):
    test_id = "CP-02"
    requirement_ids = ("TBS-SYNC-013",)
    bindings = PULL
    description = ("The catalog feed holds every current item and every tombstone, and no superseded version "
                   "after its successor.")

    def run(self, session: Session) -> TestResult:
        read = session.feed("catalog")
        if read.error:
            return TestResult.judge([KitFinding("TBS-SYNC-013", f"the catalog feed could not be read: {read.error}",
                                                "无法读取事项目录变更流")], [])
        newest: dict[str, int] = {}
        failures = []
        revoked = 0
        for fed in read.records:
            rec = fed.record
            if not isinstance(rec, dict) or not isinstance(rec.get("implCode"), str) \
                    or not isinstance(rec.get("version"), int):
                continue
            impl, version = rec["implCode"], rec["version"]
            if impl in newest and version <= newest[impl]:
                failures.append(KitFinding("TBS-SYNC-013", f"version {version} of {impl} appears after version "
                                           f"{newest[impl]}", f"{impl} 的版本 {version} 出现在版本 {newest[impl]} 之后",
                                           where=fed.where()))
            newest[impl] = max(version, newest.get(impl, 0))
            revoked += rec.get("status") == "REVOKED"
        if not newest:
            return TestResult.skip("the SUT served no catalog record")
        return TestResult.judge(failures, [{"note": f"{len(newest)} item(s), {revoked} tombstone version(s) "
                                                    "in one complete read"}])


class Cp03NewVersion(_CatalogTest):
    test_id = "CP-03"
    requirement_ids = ("TBS-SYNC-014", "TBS-SYNC-011")
    description = ("A changed item appears as a new version with a later updatedAt; no two different contents "
                   "share a key and version.")

    def run(self, session: Session) -> TestResult:
        vs = self.verdicts(session)
        failures = A.findings(vs, version_rules(session), severities=("ERROR", "WARNING"), stateless=False)
        by_key: dict[str, list[Any]] = {}
        for v in vs:
            if isinstance(v.record, dict) and isinstance(v.record.get("implCode"), str):
                by_key.setdefault(v.record["implCode"], []).append(v)
        changed = [k for k, group in by_key.items() if A.stored_versions(group) > 1]
        evidence = [{"note": f"{len(changed)} item(s) with more than one stored version", "items": changed[:5]}]
        return TestResult.judge_evidenced(failures, evidence, evidenced=bool(changed),
                                          missing="no item in the SUT's catalog feed has a second version: "
                                                  "the change path is not evidenced")


class Cp04Tombstone(_CatalogTest):
    test_id = "CP-04"
    requirement_ids = ("TBS-SYNC-010", "TBS-SYNC-013")
    description = "A revoked item appears as a REVOKED tombstone and stays REVOKED in every later version."

    def run(self, session: Session) -> TestResult:
        vs = self.verdicts(session)
        failures = A.findings(vs, ("TBS-SYNC-010",), stateless=False)
        tombstones = A.stored_with(vs, "status", "REVOKED")
        evidence = [{"note": f"{len(tombstones)} REVOKED version(s) stored",
                     "items": [v.fed.where() for v in tombstones[:5]]}]
        return TestResult.judge_evidenced(failures, evidence, evidenced=bool(tombstones),
                                          missing="no REVOKED tombstone in the SUT's catalog feed: "
                                                  "the revocation path is not evidenced")


class Cp05ScopeAndAuthority(_CatalogTest):
    test_id = "CP-05"
    requirement_ids = ("TBS-SEC-003", "TBS-SYNC-009")
    description = "The SUT emits only items within its scope and changes only the fields it owns."

    def run(self, session: Session) -> TestResult:
        vs = self.verdicts(session)
        if not vs:
            return TestResult.skip("the SUT served no catalog record")
        failures = A.findings(vs, self.requirement_ids)
        return TestResult.judge(capped(failures, "findings"),
                                [{"note": f"{len(vs)} catalog record(s), writer {session.config.system_id}"}])


class Cp06LevelFitsRegion(_CatalogTest):
    test_id = "CP-06"
    requirement_ids = ("TBS-CAT-006",)
    level = Level.SHOULD
    description = "No TBS-CAT-006 warnings: the exercise level fits the shape of the region code."

    def run(self, session: Session) -> TestResult:
        vs = self.verdicts(session)
        if not vs:
            return TestResult.skip("the SUT served no catalog record")
        return TestResult.judge(A.findings(vs, self.requirement_ids, severities=("WARNING",), stateful=False), [])


CATALOG_PROVIDER_TESTS = (Cp01CatalogValid, Cp02FeedContent, Cp03NewVersion, Cp04Tombstone, Cp05ScopeAndAuthority,
                          Cp06LevelFitsRegion)
