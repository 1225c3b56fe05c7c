"""The oracle of the consumer tests reproduces the acknowledgements of Annex B (B.6, B.7) and
the stateful rows of Annex C, and TBS-RPT-010 equivalence tells acknowledgements apart."""
from __future__ import annotations

import copy
import json
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from tongban.connectors.base import ServiceError
from tongban.conformance.reference_receiver import (ReferenceReceiver, SenderProfile, ack_differences,
                                                    request_hash_of)
from tongban.model.canonical import records_sha256

ANNEX_B = Path(__file__).resolve().parents[1] / "data" / "annex_b"
COUNTY, CITY = "TB:county:440103:LWZWFW", "TB:city:440100:GZZWFW"
DEMO_KEY = b"tbs-1.0-demo-key-440103-LWZWFW!!"
ROLES = ("CATALOG_PROVIDER", "CASE_REPORTER", "RESULT_PUBLISHER")


def example(name: str) -> dict:
    return json.loads((ANNEX_B / f"{name}.json").read_text(encoding="utf-8"))


def receiver(sent_at: str, *, keys: bool = True) -> ReferenceReceiver:
    t_ref = datetime.fromisoformat(sent_at) + timedelta(seconds=1)
    profile = SenderProfile(ROLES, {"LWZWFW-K1": ("HMAC-SHA256", DEMO_KEY)} if keys else {})
    return ReferenceReceiver(CITY, {COUNTY: profile}, clock=lambda: t_ref)


def push(rx: ReferenceReceiver, envelope: dict) -> dict:
    return rx.receive(copy.deepcopy(envelope), binding="REST", request_hash=request_hash_of(envelope),
                      authenticated_sender=envelope["sender"], binding_dataset=envelope["dataset"])


def rehashed(envelope: dict) -> dict:
    envelope["integrity"]["recordsSha256"] = records_sha256(envelope["records"])
    return envelope


def test_b1_signed_catalog_envelope_is_accepted():
    b1 = example("B.1")
    ack = push(receiver(b1["sentAt"]), b1)
    assert ack["status"] == "ACCEPTED" and ack["final"] is True
    assert ack["counts"] == {"received": 1, "stored": 1, "duplicate": 0, "stale": 0, "held": 0, "rejected": 0}
    assert ack["requestHash"] == request_hash_of(b1) and ack["requestMessageId"] == b1["messageId"]
    assert (ack["sender"], ack["receiver"]) == (CITY, COUNTY)


def test_b3_after_b2_is_acknowledged_as_b6():
    b2, b3 = example("B.2"), example("B.3")
    rx = receiver(b2["sentAt"])
    push(rx, b2)
    rx.clock = lambda: datetime.fromisoformat(b3["sentAt"]) + timedelta(seconds=1)
    ack = push(rx, b3)
    assert ack_differences(example("B.6"), ack) == []
    assert ack["requestHash"] == example("B.6")["requestHash"]


def test_b7_the_rejected_agent_id_number():
    b2 = example("B.2")
    b2["records"][1]["agent"]["idNo"] = "340524198001010010"
    b2 = rehashed(b2)
    expected = example("B.7")
    ack = push(receiver(b2["sentAt"]), b2)
    assert ack_differences(expected, ack) == []
    assert ack["requestHash"] == expected["requestHash"]
    assert ack["rejected"][0]["key"] == {"caseNo": "11440103007493637K4440120012002202611020008"}
    assert ack["rejected"][0]["report"]["items"][0]["value"] == "340524********0010"   # TBS-SEC-012


def test_c13_unrecomputed_hash_rejects_the_envelope():
    b3 = example("B.3")
    b3["records"][0]["stepName"] = "网上申报（修改）"
    ack = push(receiver(b3["sentAt"]), b3)
    assert ack["status"] == "REJECTED" and ack["rejected"] == []
    assert ack["counts"]["rejected"] == ack["counts"]["received"] == 5
    assert [(i["ruleId"], i["location"]) for i in ack["envelopeReport"]["items"]] == \
        [("TBS-ENV-027", "/integrity/recordsSha256")]


def test_c17_an_older_version_is_stale():
    b1 = example("B.1")
    rx = receiver(b1["sentAt"])
    push(rx, b1)
    older = copy.deepcopy(b1)
    older["messageId"] = "6f1c3e2a-8b4d-4f6a-9c1e-2a7b5d3e9f02"
    older["records"][0]["version"] = 2
    older = rehashed(older)
    del older["integrity"]["signature"]
    ack = push(rx, older)
    assert ack["status"] == "ACCEPTED" and ack["counts"]["stale"] == 1
    assert [(n["outcome"], n["report"]["items"][0]["ruleId"], n["report"]["items"][0]["location"])
            for n in ack["notes"]] == [("STALE", "TBS-SYNC-004", "/records/0/version")]


def test_replays_return_the_stored_ack_or_conflict():
    b1 = example("B.1")
    rx = receiver(b1["sentAt"])
    first = push(rx, b1)
    assert push(rx, b1) is first                                  # same messageId and requestHash
    other = rehashed(copy.deepcopy(b1))
    other["records"][0]["name"] = "改名"
    with pytest.raises(ServiceError) as err:
        push(rx, rehashed(other))
    assert (err.value.status, err.value.code, err.value.rule_id) == (409, "MESSAGE_ID_CONFLICT", "TBS-SEC-005")


@pytest.mark.parametrize("edit, rule, location", [
    (lambda e: e.update(sentAt="2026-11-28T09:00:00+08:00"), "TBS-SEC-006", "/sentAt"),
    (lambda e: e.update(receiver="TB:city:440300:SZZWFW"), "TBS-ENV-023", "/receiver"),
])
def test_receiver_only_envelope_rules(edit, rule, location):
    b1 = example("B.1")
    rx = receiver(b1["sentAt"], keys=False)
    env = copy.deepcopy(b1)
    del env["integrity"]["signature"]
    edit(env)
    ack = push(rx, env)
    assert ack["status"] == "REJECTED"
    assert [(i["ruleId"], i["location"]) for i in ack["envelopeReport"]["items"]] == [(rule, location)]


def test_a_signature_is_verified_with_the_profile_key_and_refused_without_one():
    b1 = example("B.1")
    forged = copy.deepcopy(b1)
    forged["integrity"]["signature"]["value"] = "A" * 43 + "="
    assert [i["ruleId"] for i in push(receiver(b1["sentAt"]), forged)["envelopeReport"]["items"]] == ["TBS-ENV-028"]
    unknown = push(receiver(b1["sentAt"], keys=False), b1)     # no key bound to the sender
    assert [(i["ruleId"], i["location"]) for i in unknown["envelopeReport"]["items"]] == \
        [("TBS-ENV-028", "/integrity/signature/keyId")]


def test_a_dataset_outside_the_senders_roles_is_forbidden():
    b1 = example("B.1")
    rx = ReferenceReceiver(CITY, {COUNTY: SenderProfile(("CASE_REPORTER",))},
                           clock=lambda: datetime.fromisoformat(b1["sentAt"]))
    with pytest.raises(ServiceError) as err:
        push(rx, b1)
    assert (err.value.status, err.value.rule_id) == (403, "TBS-SEC-004")


def test_equivalence_names_the_rules_of_a_difference():
    expected = example("B.7")
    ignored = copy.deepcopy(expected)
    ignored.update(status="ACCEPTED", rejected=[], accepted=2,
                   counts={"received": 2, "stored": 2, "duplicate": 0, "stale": 0, "held": 0, "rejected": 0})
    diffs = ack_differences(expected, ignored)
    assert {r for d in diffs for r in d.rule_ids} >= {"TBS-CODE-017", "TBS-ENV-032", "TBS-ENV-030"}
    reworded = copy.deepcopy(expected)
    reworded["rejected"][0]["report"]["items"][0]["message"] = {"zh": "别的说法", "en": "other words"}
    assert ack_differences(expected, reworded) == []          # messages are not part of equivalence
