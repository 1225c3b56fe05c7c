"""The Annex B worked examples validate without findings; hashes and signatures match."""
from __future__ import annotations

import copy
import json

import pytest

from tbs_examples import ANNEX_B, COUNTY, DEMO_KEY, DEMO_KEY_ID, changed, identities, load_example
from tongban.model.canonical import records_sha256
from tongban.validators import ValidationContext, validate_envelope, validate_record

KEYS = {(COUNTY, DEMO_KEY_ID): ("HMAC-SHA256", DEMO_KEY)}


@pytest.mark.parametrize("name", ["B.1", "B.2", "B.3", "B.4", "B.5"])
def test_worked_example_has_no_findings(name: str) -> None:
    verdict = validate_envelope((ANNEX_B / f"{name}.json").read_bytes(), context=ValidationContext(keys=KEYS))
    assert verdict.report.items == [] and verdict.report.result.value == "SUCCESS"
    assert len(verdict.record_reports) == len(verdict.envelope["records"])


def test_b1_signature_verifies_with_the_demo_key() -> None:
    context = ValidationContext(keys=KEYS)
    assert validate_envelope(load_example("B.1"), context=context).report.items == []
    tampered = copy.deepcopy(load_example("B.1"))
    tampered["sentAt"] = "2026-11-28T10:00:01+08:00"
    assert identities(validate_envelope(tampered, context=context).report) == \
        [("ERROR", "TBS-ENV-028", "/integrity/signature/value")]


def test_signature_not_checked_without_a_key_for_the_sender() -> None:
    tampered = copy.deepcopy(load_example("B.1"))
    tampered["integrity"]["signature"]["value"] = "AAAA"
    assert validate_envelope(tampered).report.items == []  # stateless: no key, no TBS-ENV-028


def test_unknown_key_id_and_wrong_algorithm_reject() -> None:
    envelope = copy.deepcopy(load_example("B.1"))
    envelope["integrity"]["signature"]["keyId"] = "LWZWFW-K2"
    assert identities(validate_envelope(envelope, context=ValidationContext(keys=KEYS)).report) == \
        [("ERROR", "TBS-ENV-028", "/integrity/signature/keyId")]
    sm3 = ValidationContext(keys={(COUNTY, DEMO_KEY_ID): ("HMAC-SM3", DEMO_KEY)})
    assert identities(validate_envelope(load_example("B.1"), context=sm3).report) == \
        [("ERROR", "TBS-ENV-028", "/integrity/signature/alg")]


def test_b3_request_hash_is_the_one_b6_acknowledges() -> None:
    raw = (ANNEX_B / "B.3.json").read_bytes()
    assert validate_envelope(raw).request_hash == load_example("B.6")["requestHash"]


def test_b7_rejected_record_is_reproduced() -> None:
    def edit(env):
        env["records"][1]["agent"]["idNo"] = "340524198001010010"
    envelope = changed("B.2", edit)
    ack = load_example("B.7")
    assert envelope["integrity"]["recordsSha256"] == "27e04b6596d7291c79c5a22f242854e5f27254f13c211fec83024d2ba33436e7"
    verdict = validate_envelope(envelope)
    assert verdict.request_hash == ack["requestHash"]
    assert verdict.envelope_report.to_json() == ack["envelopeReport"]
    expected = ack["rejected"][0]["report"]
    got = verdict.record_reports[1].to_json()
    assert got["result"] == expected["result"] and got["counters"] == expected["counters"]
    assert [(i["severity"], i["ruleId"], i["location"], i["value"]) for i in got["items"]] == \
        [(i["severity"], i["ruleId"], i["location"], i["value"]) for i in expected["items"]]
    assert verdict.record_reports[0].items == []


def test_b8_logical_envelope_validates_with_file_binding() -> None:
    manifest = load_example("B.8")
    lines = (ANNEX_B / "LW-case-20261102-01.jsonl").read_bytes().splitlines()
    logical = {k: v for k, v in manifest.items() if k != "file"}
    logical["records"] = [json.loads(line) for line in lines]
    assert records_sha256(logical["records"]) == manifest["integrity"]["recordsSha256"]
    context = ValidationContext(keys=KEYS, binding="FILE", binding_dataset="case", require_signature=True)
    assert validate_envelope(logical, context=context).report.items == []


@pytest.mark.parametrize("name", ["B.1", "B.2", "B.3", "B.4", "B.5"])
def test_records_validate_alone(name: str) -> None:
    envelope = load_example(name)
    writer = envelope.get("origin", envelope["sender"])
    for i, record in enumerate(envelope["records"]):
        report = validate_record(envelope["dataset"], record, index=i, writer=writer, sent_at=envelope["sentAt"])
        assert report.items == []
