"""Every requirement id a payload can violate statelessly has an invalid example here that
produces exactly that id, through the reporting walk and through the fast path alike."""
from __future__ import annotations

import json
from typing import Any, Callable

import pytest

from tbs_examples import ANNEX_B, COUNTY, DEMO_KEY, DEMO_KEY_ID, changed, load_example
from tongban.validators import ValidationContext, validate_envelope
from tongban.validators.rules import rule_catalog

# Produced by the stateless validator (stages S0–S4).
STATELESS_RULES = {
    "TBS-ENV-001", "TBS-ENV-002", "TBS-ENV-003", "TBS-ENV-004", "TBS-ENV-005", "TBS-ENV-006", "TBS-ENV-007",
    "TBS-ENV-008", "TBS-ENV-011", "TBS-ENV-021", "TBS-ENV-022", "TBS-ENV-024", "TBS-ENV-025", "TBS-ENV-026",
    "TBS-ENV-027", "TBS-ENV-028",
    "TBS-CODE-001", "TBS-CODE-002", "TBS-CODE-004", "TBS-CODE-005", "TBS-CODE-006", "TBS-CODE-007", "TBS-CODE-008",
    "TBS-CODE-009", "TBS-CODE-010", "TBS-CODE-011", "TBS-CODE-012", "TBS-CODE-013", "TBS-CODE-014", "TBS-CODE-015",
    "TBS-CODE-016", "TBS-CODE-017", "TBS-CODE-018", "TBS-CODE-019",
    "TBS-CAT-001", "TBS-CAT-002", "TBS-CAT-003", "TBS-CAT-004", "TBS-CAT-005", "TBS-CAT-006", "TBS-CAT-007",
    "TBS-CAT-008", "TBS-CAT-009", "TBS-CAT-010",
    "TBS-CASE-001", "TBS-CASE-002", "TBS-CASE-003", "TBS-CASE-004",
    "TBS-EVT-001", "TBS-EVT-002", "TBS-EVT-003", "TBS-EVT-004",
    "TBS-RES-001", "TBS-RES-002", "TBS-EVAL-001", "TBS-EVAL-002",
    "TBS-SEC-003", "TBS-SEC-007", "TBS-SEC-009", "TBS-SEC-011", "TBS-MQTT-002",
}
# Only the stateful layer (S5, receiver state, partner profiles) can produce these.
STATEFUL_ONLY_RULES = {
    "TBS-ENV-023", "TBS-SEC-002", "TBS-SEC-004", "TBS-SEC-005", "TBS-SEC-006",
    "TBS-SYNC-004", "TBS-SYNC-005", "TBS-SYNC-006", "TBS-SYNC-007", "TBS-SYNC-008", "TBS-SYNC-009", "TBS-SYNC-010",
    "TBS-SYNC-011", "TBS-EVT-005", "TBS-EVT-006", "TBS-EVT-007", "TBS-EVT-008", "TBS-EVT-009", "TBS-EVT-010",
    "TBS-RES-004", "TBS-RES-005", "TBS-RES-006", "TBS-RES-007",
    "TBS-EVAL-003", "TBS-EVAL-004", "TBS-EVAL-005", "TBS-EVAL-006", "TBS-EVAL-010",
}
# Produced while mapping a binding's wire form (SOAP XML, file-drop batches, REST headers).
BINDING_MAPPING_RULES = {"TBS-SOAP-003", "TBS-SEC-010", "TBS-REST-006", "TBS-FILE-003", "TBS-FILE-004",
                         "TBS-FILE-005", "TBS-FILE-006", "TBS-FILE-008"}

KEYS = {(COUNTY, DEMO_KEY_ID): ("HMAC-SHA256", DEMO_KEY)}


def rec(i: int, **changes: Any) -> Callable[[dict[str, Any]], None]:
    def edit(env: dict[str, Any]) -> None:
        for k, v in changes.items():
            if v is DELETE:
                del env["records"][i][k]
            else:
                env["records"][i][k] = v
    return edit


def sub(i: int, member: str, **changes: Any) -> Callable[[dict[str, Any]], None]:
    def edit(env: dict[str, Any]) -> None:
        target = env["records"][i][member]
        for k, v in changes.items():
            if v is DELETE:
                del target[k]
            else:
                target[k] = v
    return edit


def env_set(**changes: Any) -> Callable[[dict[str, Any]], None]:
    return lambda env: env.update(changes)


DELETE = object()
NO_KEYS = ValidationContext()


def _cat_region(env):
    r = env["records"][0]
    r.update(implCode="11440103007493637K4450120012002", itemCode="450120012002")
    r["handlingItems"][0]["code"] = "11440103007493637K445012001200201"


def _cat_level(env):
    r = env["records"][0]
    r.update(implCode="11440103007493637K3440120012002", level="3")
    r["handlingItems"][0]["code"] = "11440103007493637K344012001200201"


# rule id -> (example, edit, context); the edit leaves every other rule satisfied.
CASES: dict[str, tuple[str, Callable[[dict[str, Any]], Any], ValidationContext]] = {
    "TBS-ENV-002": ("B.2", rec(0, remark="加急"), NO_KEYS),
    "TBS-ENV-003": ("B.2", rec(0, ext={"Bad": 1}), NO_KEYS),
    "TBS-ENV-004": ("B.1", rec(0, version=None), NO_KEYS),
    "TBS-ENV-005": ("B.5", rec(0, satisfaction=5.0), NO_KEYS),
    "TBS-ENV-006": ("B.2", rec(0, itemName=" 公共场所卫生许可（新证）"), NO_KEYS),
    "TBS-ENV-007": ("B.2", rec(0, submittedAt="2026-11-02T09:15:00"), NO_KEYS),
    "TBS-ENV-008": ("B.4", rec(0, validUntil="2030-02-30"), NO_KEYS),
    "TBS-ENV-011": ("B.2", rec(0, submittedAt="2026-11-02T10:10:01+08:00"), NO_KEYS),
    "TBS-ENV-021": ("B.2", env_set(specVersion="TBS-1.1"), NO_KEYS),
    "TBS-ENV-022": ("B.2", env_set(messageId="0B9E4C71-2D3A-4E8F-A5B6-7C8D9E0F1A2B"), NO_KEYS),
    "TBS-ENV-024": ("B.2", env_set(dataset="cases"), NO_KEYS),
    "TBS-ENV-025": ("B.2", env_set(records=[]), NO_KEYS),
    "TBS-ENV-026": ("B.3", env_set(batch={"batchId": "LW-evt-20261106-01", "part": 2, "parts": 1}), NO_KEYS),
    "TBS-ENV-027": ("B.2", env_set(integrity={"recordsSha256": "0" * 64}), NO_KEYS),
    "TBS-ENV-028": ("B.1", env_set(sentAt="2026-11-28T10:00:01+08:00"), ValidationContext(keys=KEYS)),
    "TBS-CODE-001": ("B.2", env_set(sender="TB:city:440103:LWZWFW"), NO_KEYS),
    "TBS-CODE-002": ("B.2", rec(0, regionCode="990103"), NO_KEYS),
    "TBS-CODE-004": ("B.1", rec(0, itemCode="44012O012002"), NO_KEYS),
    "TBS-CODE-005": ("B.2", rec(0, implCode="11440103007493637K8440120012002"), NO_KEYS),
    "TBS-CODE-006": ("B.2", rec(1, handlingItemCode="11440103007493637K444012001200200"), NO_KEYS),
    "TBS-CODE-007": ("B.2", rec(1, handlingItemCode="91440103MA5TB0001W444012001200201"), NO_KEYS),
    "TBS-CODE-008": ("B.3", rec(0, caseNo="lw-2026-0007"), NO_KEYS),
    "TBS-CODE-009": ("B.2", rec(0, caseNo="11440103007493637K4440120012001202611020007"), NO_KEYS),
    "TBS-CODE-010": ("B.2", rec(0, caseNo="11440103007493637K4440120012002202613020007"), NO_KEYS),
    "TBS-CODE-011": ("B.2", rec(0, caseNo="11440103007493637K4440120012002202611030007"), NO_KEYS),
    "TBS-CODE-012": ("B.2", rec(0, caseNo="LW20261102007"), NO_KEYS),
    "TBS-CODE-013": ("B.1", sub(0, "dept", uscc="11440103007493637k"), NO_KEYS),
    "TBS-CODE-014": ("B.1", sub(0, "dept", uscc="11440103007493637J"), NO_KEYS),
    "TBS-CODE-015": ("B.2", sub(1, "applicant", idNo="91350211M0000XUF46"), NO_KEYS),
    "TBS-CODE-016": ("B.2", sub(0, "applicant", idNo="99010519491231002X"), NO_KEYS),
    "TBS-CODE-017": ("B.2", sub(0, "applicant", idNo="110105194912310021"), NO_KEYS),
    "TBS-CODE-018": ("B.2", sub(1, "applicant", idNo="91440103ma5tb0001w"), NO_KEYS),
    "TBS-CODE-019": ("B.1", rec(0, implCode="11440103007493637K3440120012002",
                                handlingItems=[{"code": "11440103007493637K344012001200201", "name": "公共场所卫生许可（新证）"}]), NO_KEYS),
    "TBS-CAT-001": ("B.1", rec(0, name="事" * 201), NO_KEYS),
    "TBS-CAT-002": ("B.1", rec(0, itemCode="440120012003"), NO_KEYS),
    "TBS-CAT-003": ("B.1", rec(0, itemType="02"), NO_KEYS),
    "TBS-CAT-004": ("B.1", sub(0, "dept", uscc="91440103MA5TB0001W"), NO_KEYS),
    "TBS-CAT-005": ("B.1", _cat_region, NO_KEYS),
    "TBS-CAT-006": ("B.1", _cat_level, NO_KEYS),
    "TBS-CAT-007": ("B.1", sub(0, "promiseLimit", value=30), NO_KEYS),
    "TBS-CAT-008": ("B.1", sub(0, "fee", charged=True), NO_KEYS),
    "TBS-CAT-009": ("B.1", rec(0, onSiteVisits=1), NO_KEYS),
    "TBS-CAT-010": ("B.1", lambda env: env["records"][0]["materials"][2].update(originals=0), NO_KEYS),
    "TBS-CASE-001": ("B.2", rec(0, caseType="5"), NO_KEYS),
    "TBS-CASE-002": ("B.2", sub(0, "applicant", kind="ORG"), NO_KEYS),
    "TBS-CASE-003": ("B.2", rec(0, promisedBy=DELETE), NO_KEYS),
    "TBS-CASE-004": ("B.2", rec(0, promisedBy="2026-11-01T17:30:00+08:00"), NO_KEYS),
    "TBS-EVT-001": ("B.3", rec(2, action="MAYBE"), NO_KEYS),
    "TBS-EVT-002": ("B.3", rec(1, handler=DELETE), NO_KEYS),
    "TBS-EVT-003": ("B.3", rec(3, conclusionCode="NOT_PERMITTED"), NO_KEYS),
    "TBS-EVT-004": ("B.3", rec(1, seq=1), NO_KEYS),
    "TBS-RES-001": ("B.4", rec(0, resultType="LICENCE"), NO_KEYS),
    "TBS-RES-002": ("B.4", rec(0, validUntil="2026-11-04"), NO_KEYS),
    "TBS-EVAL-001": ("B.5", rec(0, channel="FAX"), NO_KEYS),
    "TBS-EVAL-002": ("B.5", rec(1, detailCodes=DELETE, text=DELETE), NO_KEYS),
    "TBS-SEC-003": ("B.2", env_set(sender="TB:county:440104:YXZWFW"), NO_KEYS),
    "TBS-SEC-007": ("B.2", lambda env: None, ValidationContext(require_signature=True)),
    "TBS-SEC-009": ("B.2", rec(0, itemName="办" * 100_000), NO_KEYS),
    "TBS-SEC-011": ("B.5", env_set(origin="TB:county:440303:FTZWFW"), NO_KEYS),
    "TBS-MQTT-002": ("B.2", lambda env: None, ValidationContext(binding="MQTT", topic_region="440100")),
}


def test_rule_sets_partition_the_catalog() -> None:
    assert STATELESS_RULES.isdisjoint(STATEFUL_ONLY_RULES | BINDING_MAPPING_RULES)
    assert STATELESS_RULES | STATEFUL_ONLY_RULES | BINDING_MAPPING_RULES == set(rule_catalog("TBS-1.0"))


def test_every_stateless_rule_has_an_example() -> None:
    assert set(CASES) | {"TBS-ENV-001"} == STATELESS_RULES


@pytest.mark.parametrize("rule_id", sorted(CASES))
@pytest.mark.parametrize("fast", [True, False], ids=["fast", "walk"])
def test_example_produces_exactly_its_rule(rule_id: str, fast: bool) -> None:
    example, edit, context = CASES[rule_id]
    verdict = validate_envelope(changed(example, edit, rehash=rule_id != "TBS-ENV-027"), context=context, fast=fast)
    assert {f.rule_id for f in verdict.report.items} == {rule_id}
    catalog = rule_catalog("TBS-1.0")
    assert all(f.severity.value == catalog[rule_id]["severity"] for f in verdict.report.items)


def test_env_001_example() -> None:
    verdict = validate_envelope(b"\xef\xbb\xbf" + (ANNEX_B / "B.1.json").read_bytes())
    assert {f.rule_id for f in verdict.report.items} == {"TBS-ENV-001"}


def test_examples_are_really_changed() -> None:
    for rule_id, (example, edit, _) in CASES.items():
        if rule_id in ("TBS-SEC-007", "TBS-MQTT-002"):
            continue  # the context, not the payload, makes these fail
        edited = changed(example, edit, rehash=rule_id != "TBS-ENV-027")
        assert json.dumps(edited) != json.dumps(load_example(example)), rule_id
