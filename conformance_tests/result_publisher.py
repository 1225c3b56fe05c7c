"""RESULT_PUBLISHER tests (TBS-1.0 §20.2 RP-01 … RP-04)."""
from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from tongban.model.canonical import canonical_bytes, canonical_sha256
from tongban.model.datasets import SPECS

from . import attribution as A
from .feeds import read_feed
from .results import KitFinding, TestResult, capped
from .session import Session
from .testkit import ConformanceTest


def _result_key(record: dict[str, Any]) -> tuple[Any, ...]:
    """A Result's business key; a member it lacks is None."""
    return tuple(record.get(m) for m in SPECS["result"].key)


class _ResultTest(ConformanceTest):
    roles = ("RESULT_PUBLISHER",)

    @staticmethod
    def verdicts(session: Session) -> list[Any]:
        return session.sweep().all("result")


class Rp01ResultsValid(_ResultTest):
    test_id = "RP-01"
    requirement_ids = ("TBS-RES-001", "TBS-RES-002", "TBS-CODE-013", "TBS-CODE-014")
    description = "Results of the SUT's cases pass stateless validation."

    def run(self, session: Session) -> TestResult:
        vs = self.verdicts(session)
        if not vs:
            return TestResult.skip("the SUT served no Result")
        failures = [KitFinding.from_validation(f, **v.fed.where()) for v in vs for f in v.stateless.items
                    if f.severity.value == "ERROR"]
        return TestResult.judge(capped(failures, "findings"), [{"note": f"{len(vs)} Result(s) validated"}])


class Rp02ResultsOfConcludedCases(_ResultTest):
    test_id = "RP-02"
    requirement_ids = ("TBS-RES-004", "TBS-RES-005", "TBS-RES-007")
    description = "Results only for concluded cases; CERTIFICATE only after APPROVED_WITH_CERT; issued after submission."

    def run(self, session: Session) -> TestResult:
        vs = self.verdicts(session)
        if not vs:
            return TestResult.skip("the SUT served no Result")
        stored = sum(1 for v in vs if A.stored(v))
        failures = A.findings(vs, self.requirement_ids, stateless=False)
        return TestResult.judge(capped(failures, "findings"),
                                [{"note": f"{stored} of {len(vs)} Result(s) STORED after their case's events"}])


class Rp03Documents(_ResultTest):
    test_id = "RP-03"
    requirement_ids = ("TBS-RES-003",)
    description = ("Applies if the SUT publishes `document`: the document bytes the SUT supplies (its documents "
                   "drop) match `sha256` and `size`.")

    def not_applicable(self, session: Session) -> str | None:
        if not any(isinstance(v.record, dict) and isinstance(v.record.get("document"), dict)
                   for v in self.verdicts(session)):
            return "the SUT publishes no Result with a document"
        return None

    def run(self, session: Session) -> TestResult:
        folder = session.config.documents_dir
        docs = [(v, v.record["document"]) for v in self.verdicts(session)
                if isinstance(v.record, dict) and isinstance(v.record.get("document"), dict)]
        if folder is None:
            return TestResult.skip(f"{len(docs)} Result(s) carry a document, but no document bytes were supplied "
                                   "(--documents DIR)")
        failures = []
        checked = 0
        for v, doc in docs:
            name = doc.get("fileName")
            path = document_file(folder, v.record, name)
            if path is None:
                failures.append(KitFinding("TBS-RES-003", f"no bytes supplied for document {name!r}",
                                           f"未提供文件 {name!r} 的内容", where=v.fed.where()))
                continue
            data = path.read_bytes()
            checked += 1
            digest = hashlib.sha256(data).hexdigest()
            if digest != doc.get("sha256") or len(data) != doc.get("size"):
                failures.append(KitFinding("TBS-RES-003", f"document {name}: {len(data)} bytes, sha256 {digest}; the "
                                           f"Result says {doc.get('size')} bytes, {doc.get('sha256')}",
                                           f"文件 {name} 的大小或摘要与结果记录不符", where=v.fed.where()))
        return TestResult.judge(capped(failures, "documents"), [{"note": f"{checked} document(s) checked"}])


def document_file(folder: Path, record: dict[str, Any], file_name: Any) -> Path | None:
    """The supplied bytes of a Result's document: named like the bus's documents drop (SHA-256 of
    the JCS of ``[caseNo, certNo]``, as certificate numbers hold characters a file name must not),
    or else by ``document.fileName``."""
    candidates = [canonical_sha256([record.get("caseNo"), record.get("certNo")])]
    if isinstance(file_name, str) and "/" not in file_name and "\\" not in file_name and file_name not in (".", ".."):
        candidates.append(file_name)
    for name in candidates:
        path = folder / name
        if path.is_file() and not path.is_symlink():
            return path
    return None


class Rp04ResendIdentical(_ResultTest):
    test_id = "RP-04"
    requirement_ids = ("TBS-RES-006",)
    description = ("A resent Result is identical: no (caseNo, certNo) carries two contents; for a pull-only "
                   "publisher a second read of the result feed serves every Result again, identical.")

    def pushed(self, session: Session) -> TestResult:
        vs = self.verdicts(session)
        if not vs:
            return TestResult.skip("the SUT served no Result")
        return TestResult.judge(capped(A.findings(vs, self.requirement_ids, stateless=False), "findings"), [])

    def pulled(self, session: Session) -> TestResult:
        """As pushed, and a second read of the result feed serves every Result again, identical."""
        vs = self.verdicts(session)
        if not vs:
            return TestResult.skip("the SUT served no Result")
        failures = A.findings(vs, self.requirement_ids, stateless=False)
        first: dict[tuple[Any, Any], set[bytes]] = {}
        for v in vs:
            if isinstance(v.record, dict):
                first.setdefault(_result_key(v.record), set()).add(canonical_bytes(v.record))
        again = read_feed(session.connector(), "result", limit=session.config.page_limit)
        evidence = [{"note": f"second read of the result feed: {len(again.records)} record(s)"}]
        if again.error:
            failures.append(KitFinding("TBS-RES-006", f"the second read failed: {again.error}", "第二次读取失败"))
        for fed in again.records:
            rec = fed.record
            if isinstance(rec, dict):
                key = _result_key(rec)
                if key in first and canonical_bytes(rec) not in first[key]:
                    failures.append(KitFinding("TBS-RES-006", f"Result {key} was served again with other content",
                                               f"结果 {key} 再次提供时内容不同", where=fed.where()))
        return TestResult.judge(capped(failures, "findings"), evidence)


RESULT_PUBLISHER_TESTS = (Rp01ResultsValid, Rp02ResultsOfConcludedCases, Rp03Documents, Rp04ResendIdentical)
