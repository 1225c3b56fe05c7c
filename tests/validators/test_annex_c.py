"""Every stateless row of Annex C gives exactly the findings the row lists (TBS-RPT-010)."""
from __future__ import annotations

from typing import Any, Callable

import pytest

from tbs_examples import changed, identities
from tongban.validators import ValidationContext, validate_envelope
from tongban.validators.report import Finding, Report, Severity


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def edit(envelope: dict[str, Any]) -> None:
        *parents, last = path.split("/")
        target: Any = envelope
        for token in parents:
            target = target[int(token)] if isinstance(target, list) else target[token]
        target[last] = value
    return edit


def _c2(env: dict[str, Any]) -> None:
    env["records"][0]["implCode"] = "11440103007493637K3440120012002"
    env["records"][0]["handlingItems"][0]["code"] = "11440103007493637K344012001200201"


def _c4(env: dict[str, Any]) -> None:
    env["records"][0]["materials"][0].update(form="PAPER", originals=1)


def _c15(env: dict[str, Any]) -> None:
    del env["records"][1]["detailCodes"], env["records"][1]["text"]


def _c13(env: dict[str, Any]) -> None:
    env["records"][2]["opinion"] = "同意。"


E, I = "ERROR", "INFO"
ROWS = {
    "C.1": ("B.1", _set("records/0/dept/uscc", "11440103007493637J"), [(E, "TBS-CODE-014", "/records/0/dept/uscc")]),
    "C.2": ("B.1", _c2, [(E, "TBS-CODE-019", "/records/0/implCode")]),
    "C.3": ("B.1", _set("records/0/itemCode", "44012O012002"), [(E, "TBS-CODE-004", "/records/0/itemCode")]),
    "C.4": ("B.1", _c4, [(E, "TBS-CAT-009", "/records/0/materials/0/form")]),
    "C.5": ("B.2", _set("records/0/applicant/idNo", "110105194912310021"), [(E, "TBS-CODE-017", "/records/0/applicant/idNo")]),
    "C.6": ("B.2", _set("records/0/caseNo", "11440103007493637K4440120012001202611020007"), [(E, "TBS-CODE-009", "/records/0/caseNo")]),
    "C.7": ("B.2", _set("records/0/submittedAt", "2026-11-02T09:15:00"), [(E, "TBS-ENV-007", "/records/0/submittedAt")]),
    "C.8": ("B.2", _set("records/0/remark", "加急"), [(E, "TBS-ENV-002", "/records/0/remark")]),
    "C.9": ("B.2", _set("records/1/applicant/idNo", "91350211M0000XUF46"), [(I, "TBS-CODE-015", "/records/1/applicant/idNo")]),
    "C.10": ("B.2", _set("sender", "TB:county:440104:YXZWFW"),
             [(E, "TBS-SEC-003", "/records/0/regionCode"), (E, "TBS-SEC-003", "/records/1/regionCode")]),
    "C.11": ("B.3", _set("records/3/conclusionCode", "NOT_PERMITTED"), [(E, "TBS-EVT-003", "/records/3/opinion")]),
    "C.15": ("B.5", _c15, [(E, "TBS-EVAL-002", "/records/1/satisfaction")]),
    "C.20 satisfaction 5.0": ("B.5", _set("records/0/satisfaction", 5.0), [(E, "TBS-ENV-005", "/records/0/satisfaction")]),
    "C.20 version null": ("B.1", _set("records/0/version", None), [(E, "TBS-ENV-004", "/records/0/version")]),
}


def _expected(items: list[tuple[str, str, str]]) -> Report:
    return Report([Finding(Severity(s), r, loc, "-", "-") for s, r, loc in items])


@pytest.mark.parametrize("row", sorted(ROWS))
@pytest.mark.parametrize("fast", [True, False], ids=["fast", "walk"])
def test_stateless_annex_c_row(row: str, fast: bool) -> None:
    base, edit, expected = ROWS[row]
    verdict = validate_envelope(changed(base, edit), fast=fast)
    assert identities(verdict.report) == sorted(expected)
    assert verdict.report.equivalent(_expected(expected))


def test_c13_unrecomputed_hash_rejects_the_envelope() -> None:
    verdict = validate_envelope(changed("B.3", _c13, rehash=False))
    assert identities(verdict.report) == [(E, "TBS-ENV-027", "/integrity/recordsSha256")]
    assert verdict.envelope_rejected and verdict.record_reports == []


def test_c5_value_is_masked() -> None:
    verdict = validate_envelope(changed("B.2", _set("records/0/applicant/idNo", "110105194912310021")))
    assert verdict.report.items[0].value == "110105********0021"


def test_c9_without_the_allowlist_is_an_error() -> None:
    envelope = changed("B.2", _set("records/1/applicant/idNo", "91350211M0000XUF46"))
    verdict = validate_envelope(envelope, context=ValidationContext(allowlist=frozenset()))
    assert identities(verdict.report) == [(E, "TBS-CODE-014", "/records/1/applicant/idNo")]
    assert verdict.report.items[0].value == "91350211M0000XUF46"  # an ORG's USCC is not masked


def test_c10_rejects_records_not_the_envelope() -> None:
    verdict = validate_envelope(changed("B.2", _set("sender", "TB:county:440104:YXZWFW")))
    assert not verdict.envelope_rejected
    assert [r.errors for r in verdict.record_reports] == [1, 1]
