"""TBS-1.1 in the validator: each envelope is validated under the version its specVersion names.

The TBS-1.1 worked examples of the revision document (its Annex B and Annex C in TBS-1.1) are
built from the TBS-1.0 examples exactly as the document describes; the digests it prints prove
the construction, and each validates with the findings the document gives. A TBS-1.0 envelope
keeps exactly its TBS-1.0 verdict at a system that supports both versions.
"""
from __future__ import annotations

import base64
import copy
import hashlib
import hmac
from typing import Any, Callable

import pytest

from tbs_examples import ANNEX_B, COUNTY, DEMO_KEY, DEMO_KEY_ID, identities, load_example
from tongban.validators import ValidationContext, validate_envelope
from tongban.validators.parsing import jcs_bytes
from tongban.validators.rules import rule_catalog
from tongban.validators.signature import signature_base

BOTH = ValidationContext(spec="TBS-1.1", spec_versions=("TBS-1.0", "TBS-1.1"))
ONLY_10 = ValidationContext()
ONLY_11 = ValidationContext(spec="TBS-1.1")
KEYS = {(COUNTY, DEMO_KEY_ID): ("HMAC-SHA256", DEMO_KEY)}
E, W = "ERROR", "WARNING"


def rehash(envelope: dict[str, Any]) -> dict[str, Any]:
    envelope["integrity"]["recordsSha256"] = hashlib.sha256(jcs_bytes(envelope["records"])).hexdigest()
    return envelope


def in_1_1(name: str, edit: Callable[[dict[str, Any]], Any] | None = None) -> dict[str, Any]:
    """The TBS-1.1 form of an Annex B example (revision document, Annex B in TBS-1.1)."""
    envelope = copy.deepcopy(load_example(name))
    envelope["specVersion"] = "TBS-1.1"
    if name == "B.1":
        record = envelope["records"][0]
        items = list(record.items())
        at = [k for k, _ in items].index("onSiteVisits") + 1
        record.clear()
        record.update(items[:at] + [("accessibility", ["1", "4"])] + items[at:])
        record.update(version=4, updatedAt="2028-03-01T16:20:00+08:00")
        envelope.update(messageId="3b7e0c52-1d9a-4c6e-8f3b-5a2d9e1c7f40", sentAt="2028-03-02T10:00:00+08:00")
    if name == "B.2":
        for record in envelope["records"]:
            record["applyChannel"] = record.pop("channel")
    if name == "B.5":
        for record in envelope["records"]:
            d = record["dimensions"]
            record["dimensions"] = [{"indicator": "ATTITUDE", "score": d["attitude"]},
                                    {"indicator": "EFFICIENCY", "score": d["efficiency"]},
                                    {"indicator": "QUALITY", "score": d["quality"]}]
    if edit is not None:
        edit(envelope)
    return rehash(envelope)


def _hmac(envelope: dict[str, Any]) -> str:
    return base64.b64encode(hmac.new(DEMO_KEY, signature_base(envelope), hashlib.sha256).digest()).decode()


# ----------------------------------------------------------------------------- Annex B in TBS-1.1
@pytest.mark.parametrize(("name", "digest"), [
    ("B.1", "14e511a72d98525025d2f416f7edb57d4355c2034a1d86d3d7384ffcb7789c23"),
    ("B.2", "b36c71091339f1553bd0307f2bd621a45c0de3b48b6252830a7d24b40af6d250"),
    ("B.5", "3903303332d69e7ca0e5cd8bca1a5729f45948b4adcc9b9f219c92cadf8b6000"),
])
def test_tbs_1_1_examples_are_built_as_the_document_prints_them(name: str, digest: str) -> None:
    assert in_1_1(name)["integrity"]["recordsSha256"] == digest


def test_b1_in_tbs_1_1_is_signed_as_printed_and_verifies() -> None:
    envelope = in_1_1("B.1")
    envelope["integrity"]["signature"]["value"] = _hmac(envelope)
    assert envelope["integrity"]["signature"]["value"] == "b1wx9pDhvWKhhnFimEDoUmbpY/nzgESX4uNQEmxmQbs="
    verdict = validate_envelope(envelope, context=ValidationContext(spec="TBS-1.1", keys=KEYS,
                                                                    spec_versions=("TBS-1.0", "TBS-1.1")))
    assert verdict.report.items == [] and verdict.spec_version == "TBS-1.1"


@pytest.mark.parametrize("name", ["B.1", "B.2", "B.3", "B.4", "B.5"])
@pytest.mark.parametrize("context", [BOTH, ONLY_11], ids=["both", "1.1 only"])
@pytest.mark.parametrize("fast", [True, False], ids=["fast", "walk"])
def test_tbs_1_1_examples_have_no_findings(name: str, context: ValidationContext, fast: bool) -> None:
    verdict = validate_envelope(in_1_1(name), context=context, fast=fast)
    assert verdict.report.items == [] and verdict.spec_version == "TBS-1.1"


def test_b6_request_hash_of_b3_in_tbs_1_1() -> None:
    assert validate_envelope(in_1_1("B.3"), context=BOTH).request_hash == \
        "9bfe257459bc50889268fdd61fa4b1de88c0f341ea5fd62c6442b28ce7f414e6"


def test_b7_in_tbs_1_1_masks_the_value_as_tbs_sec_012_now_says() -> None:
    envelope = in_1_1("B.2", lambda e: e["records"][1]["agent"].update(idNo="340524198001010010"))
    assert envelope["integrity"]["recordsSha256"] == "4cf80d3fee80aa64dc72846ce462456cc2ae280ebb5dc1373cc3e48dcd1fab56"
    verdict = validate_envelope(envelope, context=BOTH)
    assert verdict.request_hash == "3ea1417c6923655e8239d7379a64ec09d2e3fe561f4b7fbc0cd7f890197da500"
    assert identities(verdict.report) == [(E, "TBS-CODE-017", "/records/1/agent/idNo")]
    assert verdict.report.items[0].value == "34**************10"


def test_person_names_are_masked_in_tbs_1_1_reports_only() -> None:
    """TBS-SEC-012 (b) as TBS-1.1 words it: a person's name keeps its first character. The
    name is 120 characters, over the party name's 100 (TBS-CASE-001)."""
    long_name = "陈" + "家" * 119

    def edit(e: dict[str, Any]) -> None:
        e["records"][0]["applicant"]["name"] = long_name

    verdict_11 = validate_envelope(in_1_1("B.2", edit), context=BOTH)
    at_name = [f for f in verdict_11.report.items if f.location == "/records/0/applicant/name"]
    assert [f.rule_id for f in at_name] == ["TBS-CASE-001"]
    assert at_name[0].value == "陈" + "*" * 119
    envelope_10 = load_example("B.2")
    edit(envelope_10)
    verdict_10 = validate_envelope(rehash(envelope_10), context=ONLY_10)
    at_name_10 = [f for f in verdict_10.report.items if f.location == "/records/0/applicant/name"]
    assert [f.value for f in at_name_10] == [long_name]   # TBS-1.0 masks idNo only


# ----------------------------------------------------------------------------- Annex C in TBS-1.1
def _c24(env: dict[str, Any]) -> None:
    env["records"][0]["applicant"] = {"kind": "PERSON", "name": "陈家明", "idType": "HMTRP", "idNo": "810000199001011235"}


def _c25(env: dict[str, Any]) -> None:
    env["records"][2]["action"] = "RETURN"
    del env["records"][2]["opinion"]


ROWS_1_1 = {
    "C.21": (lambda: in_1_1("B.2", lambda e: e["records"][0].update(channel=e["records"][0]["applyChannel"])),
             [(E, "TBS-CASE-006", "/records/0/channel")]),
    "C.22": (lambda: in_1_1("B.2", lambda e: e["records"][0].pop("applyChannel")),
             [(E, "TBS-CASE-006", "/records/0/applyChannel")]),
    "C.23": (lambda: in_1_1("B.2", lambda e: e["records"][1]["agent"].pop("idNo")),
             [(E, "TBS-CASE-007", "/records/1/agent/idNo")]),
    "C.24": (lambda: in_1_1("B.2", _c24), [(E, "TBS-CODE-017", "/records/0/applicant/idNo")]),
    "C.25": (lambda: in_1_1("B.3", _c25), [(E, "TBS-EVT-014", "/records/2/opinion")]),
    "C.26": (lambda: in_1_1("B.5", lambda e: e["records"][0].update(channel="WECHAT_MINIAPP")),
             [(W, "TBS-EVAL-011", "/records/0/channel")]),
    "C.27": (lambda: in_1_1("B.5", lambda e: e["records"][1].pop("detailCodes")),
             [(E, "TBS-EVAL-002", "/records/1/satisfaction")]),
    "C.28": (lambda: rehash({**copy.deepcopy(load_example("B.1")), "specVersion": "TBS-1.1"}),
             [(W, "TBS-CAT-011", "/records/0/accessibility")]),
    "C.29": (lambda: rehash({**copy.deepcopy(load_example("B.2")), "specVersion": "TBS-1.1"}),
             [(W, "TBS-ENV-013", "/records/0/channel"), (W, "TBS-ENV-013", "/records/1/channel")]),
}


@pytest.mark.parametrize("row", sorted(ROWS_1_1))
@pytest.mark.parametrize("fast", [True, False], ids=["fast", "walk"])
def test_annex_c_rows_of_tbs_1_1(row: str, fast: bool) -> None:
    build, expected = ROWS_1_1[row]
    verdict = validate_envelope(build(), context=BOTH, fast=fast)
    assert identities(verdict.report) == sorted(expected)
    assert verdict.report.result.value == ("FAILURE" if any(s == E for s, _, _ in expected) else "WARNING")


def test_c24_value_is_masked_the_tbs_1_1_way() -> None:
    verdict = validate_envelope(ROWS_1_1["C.24"][0](), context=BOTH)
    assert verdict.report.items[0].value == "81**************35"


def test_hmtrp_with_a_right_check_character_passes_and_a_taiwan_prefix_is_checked() -> None:
    good = in_1_1("B.2", lambda e: e["records"][0]["applicant"].update(idType="HMTRP", idNo="810000199001011230"))
    assert validate_envelope(good, context=BOTH).report.items == []
    bad_date = in_1_1("B.2", lambda e: e["records"][0]["applicant"].update(idType="HMTRP", idNo="830000199013011230"))
    assert identities(validate_envelope(bad_date, context=BOTH).report) == [(E, "TBS-CODE-021", "/records/0/applicant/idNo")]


def test_rows_c1_to_c20_keep_their_findings_in_tbs_1_1() -> None:
    from test_annex_c import ROWS

    for row, (base, edit, expected) in sorted(ROWS.items()):
        verdict = validate_envelope(in_1_1(base, edit), context=BOTH)
        assert identities(verdict.report) == sorted(expected), row
    c5 = next(r for r in ROWS if r == "C.5")
    verdict = validate_envelope(in_1_1(ROWS[c5][0], ROWS[c5][1]), context=BOTH)
    assert verdict.report.items[0].value == "11**************21"


# ----------------------------------------------------------------------------- TBS-1.0 unchanged
@pytest.mark.parametrize("name", ["B.1", "B.2", "B.3", "B.4", "B.5"])
def test_tbs_1_0_examples_keep_their_tbs_1_0_verdict_at_a_dual_version_system(name: str) -> None:
    raw = (ANNEX_B / f"{name}.json").read_bytes()
    alone, dual = validate_envelope(raw, context=ONLY_10), validate_envelope(raw, context=BOTH)
    assert dual.report.items == alone.report.items == [] and dual.spec_version == "TBS-1.0"
    assert dual.request_hash == alone.request_hash


def test_annex_c_rows_of_tbs_1_0_give_the_same_findings_and_only_tbs_1_0_ids_at_a_dual_version_system() -> None:
    from test_annex_c import ROWS
    from tbs_examples import changed

    ids_1_0 = set(rule_catalog("TBS-1.0"))
    for row, (base, edit, expected) in sorted(ROWS.items()):
        envelope = changed(base, edit)
        alone, dual = validate_envelope(envelope, context=ONLY_10), validate_envelope(envelope, context=BOTH)
        assert [(f.identity, f.value, f.message_en) for f in dual.report.items] == \
            [(f.identity, f.value, f.message_en) for f in alone.report.items], row
        assert {f.rule_id for f in dual.report.items} <= ids_1_0


def test_tbs_1_0_content_sent_as_tbs_1_0_gets_no_tbs_1_1_rule() -> None:
    """Revision §3.4 step 1: B.1 posted as TBS-1.0 to a dual-version city: SUCCESS, no TBS-CAT-011;
    B.2 with channel: no TBS-ENV-013; a 差评 with text only: still accepted under TBS-1.0."""
    assert validate_envelope(load_example("B.1"), context=BOTH).report.items == []
    assert validate_envelope(load_example("B.2"), context=BOTH).report.items == []
    text_only = copy.deepcopy(load_example("B.5"))
    del text_only["records"][1]["detailCodes"]
    assert validate_envelope(rehash(text_only), context=BOTH).report.items == []
    # the same content sent as TBS-1.1: the TBS-1.0 dimensions are the wrong type (change 18) and
    # the text-only 差评 fails the changed TBS-EVAL-002 (change 21)
    assert identities(validate_envelope(rehash({**text_only, "specVersion": "TBS-1.1"}), context=BOTH).report) == [
        (E, "TBS-ENV-005", "/records/0/dimensions"), (E, "TBS-ENV-005", "/records/1/dimensions"),
        (E, "TBS-EVAL-002", "/records/1/satisfaction")]


@pytest.mark.parametrize(("context", "version", "expected"), [
    (ONLY_10, "TBS-1.1", [(E, "TBS-ENV-021", "/specVersion")]),   # a TBS-1.0 system refuses TBS-1.1 (§3.2 item 4)
    (ONLY_11, "TBS-1.0", [(E, "TBS-ENV-021", "/specVersion")]),   # after the sunset
    (BOTH, "TBS-2.0", [(E, "TBS-ENV-021", "/specVersion")]),
    (BOTH, "TBS-1.0", []),
])
def test_an_unsupported_version_is_tbs_env_021(context: ValidationContext, version: str, expected: list) -> None:
    envelope = {**copy.deepcopy(load_example("B.3")), "specVersion": version}
    verdict = validate_envelope(envelope, context=context)
    assert identities(verdict.report) == expected


# ----------------------------------------------------------------------------- tongban validate
def _cli(*args: str) -> tuple[int, str]:
    from click.testing import CliRunner

    from tongban.cli import main

    result = CliRunner().invoke(main, ["validate", *args], catch_exceptions=False)
    return result.exit_code, result.output


def test_stand_alone_validator_supports_both_versions_by_default(tmp_path) -> None:
    import json

    c29 = tmp_path / "c29.json"
    c29.write_text(json.dumps(ROWS_1_1["C.29"][0](), ensure_ascii=False), encoding="utf-8")
    code, text = _cli("--format", "json", str(c29))
    report = json.loads(text)
    assert code == 0 and report["specVersion"] == "TBS-1.1" and report["result"] == "WARNING"
    assert [i["ruleId"] for i in report["items"]] == ["TBS-ENV-013", "TBS-ENV-013"]
    b1 = str(ANNEX_B / "B.1.json")
    code, text = _cli("--format", "json", b1)
    report = json.loads(text.splitlines()[0])  # then a hint: the signature was not checked (no key)
    assert code == 0 and report["specVersion"] == "TBS-1.0" and report["items"] == []
    # a TBS-1.0-only stand-alone validator refuses the TBS-1.1 envelope (TBS-ENV-021)
    code, text = _cli("--spec", "TBS-1.0", "--format", "json", str(c29))
    assert code == 1 and [i["ruleId"] for i in json.loads(text.splitlines()[0])["items"]] == ["TBS-ENV-021"]


# ----------------------------------------------------------------------------- fast path under TBS-1.1
_EXTRA_1_1 = ["SELF_SERVICE", "WECHAT_MINIAPP", "wechat", "HMTRP", "810000199001011230", "830000199001011231",
              "RETURN", "ATTITUDE", "USABILITY", "123", "12345678"]


@pytest.mark.parametrize("name", ["B.1", "B.2", "B.3", "B.4", "B.5"])
def test_fast_path_agrees_with_the_walk_under_tbs_1_1(name: str) -> None:
    """The compiled fast path of the TBS-1.1 schemas (open A.13, deprecated values, agentParty)
    finds exactly what the reporting walk finds, mutant by mutant (as test_fast_path does for TBS-1.0)."""
    from test_fast_path import _identities, _paths, _set, _variants

    from tongban.validators import validate_record

    envelope = in_1_1(name)
    compared = fast_hits = 0
    for index, record in enumerate(envelope["records"]):
        for path in _paths(record):
            target: Any = record
            for token in path:
                target = target[token]
            variants = _variants(target) + (_EXTRA_1_1 if isinstance(target, str) else [])
            for variant in variants:
                mutant = _set(record, path, variant)
                fast = validate_record(envelope["dataset"], mutant, index=index, writer=envelope["sender"],
                                       context=ONLY_11, sent_at=envelope["sentAt"])
                walk = validate_record(envelope["dataset"], mutant, index=index, writer=envelope["sender"],
                                       context=ONLY_11, sent_at=envelope["sentAt"], fast=False)
                assert sorted(_identities(fast)) == sorted(_identities(walk)), mutant
                compared += 1
                fast_hits += not walk.items
    assert compared > 300 and fast_hits > 0


def test_objects_in_findings_mask_person_and_handler_names_under_tbs_1_1() -> None:
    from tongban.validators.rules import mask_parties

    value = {"applicant": {"kind": "PERSON", "name": "陈家明", "idType": "ID", "idNo": "440103199001011234"},
             "agent": {"kind": "ORG", "name": "广州某公司", "idType": "USCC", "idNo": "91440101MA5CXXXX0X"},
             "handler": {"name": "李四", "deptUscc": "11440100MB2C00000X"}}
    masked = mask_parties(value, lambda v: "MASKED", names=True)
    assert masked["applicant"]["name"] == "陈**" and masked["applicant"]["idNo"] == "MASKED"
    assert masked["agent"] == value["agent"]                       # an organisation stays readable
    assert masked["handler"] == {"name": "李*", "deptUscc": "11440100MB2C00000X"}
    assert mask_parties(value, lambda v: "MASKED")["handler"]["name"] == "李四"   # TBS-1.0: idNo only
