"""One receiving pipeline, two configurations: the bus (state and replay memory in the store) and
the conformance kit's reference receiver (both in memory) answer the same envelopes — every
Annex B envelope (B.1–B.5; B.6 and B.7 are acknowledgements, B.8 a file-drop manifest), every
Annex C row (C.1–C.20), replays, conflicts, unregistered and impersonated senders —
with identical acknowledgements (TBS-RPT-010), or refuse them identically.

Some answers are also pinned to what the standard says, so the two cannot agree on a wrong one.
"""
from __future__ import annotations

import copy
import uuid
from datetime import datetime, timedelta
from typing import Any

import pytest
import yaml

from tbs_examples import COUNTY, DEMO_KEY, DEMO_KEY_ID, changed, load_example
from test_annex_c import ROWS
from tongban.conformance.reference_receiver import ReferenceReceiver
from tongban.connectors.base import ServiceError
from tongban.model.canonical import canonical_sha256, records_sha256
from tongban.registry import load_registry
from tongban.sync.receiver import BusReceiver
from tongban.validators.receiving import SenderProfile
from tongban.validators.signature import sign_hmac_sha256

CITY = "TB:city:440100:GZZWFW"
PROVINCE = "TB:province:440000:GDZWFW"
OTHER = "TB:county:440104:YXZWFW"
STRANGER = "TB:county:440105:HZZWFW"  # no partner profile anywhere
ALL_ROLES = ("CATALOG_PROVIDER", "CASE_REPORTER", "RESULT_PUBLISHER", "EVALUATION_REPORTER")


def _fresh(env: dict[str, Any], label: str) -> dict[str, Any]:
    """``env`` as a new message (TBS-ENV-033): its own messageId, recordsSha256 and signature."""
    env = copy.deepcopy(env)
    env["messageId"] = str(uuid.uuid5(uuid.NAMESPACE_URL, f"tbs-test:{label}"))
    env["integrity"]["recordsSha256"] = records_sha256(env["records"])
    if "signature" in env["integrity"]:
        env = sign_hmac_sha256(env, DEMO_KEY, DEMO_KEY_ID)
    return env


def _with(name: str, label: str, **members: Any) -> dict[str, Any]:
    env = copy.deepcopy(load_example(name))
    env.update(members)
    return _fresh(env, label)


def _only(name: str, label: str, indexes: list[int], edit=None) -> dict[str, Any]:
    env = copy.deepcopy(load_example(name))
    env["records"] = [env["records"][i] for i in indexes]
    if edit is not None:
        edit(env)
    return _fresh(env, label)


def _c14(env: dict[str, Any]) -> None:
    env["records"][1].update(type="CONCLUDE", conclusionCode="APPROVED_WITH_CERT", opinion="准予许可。")


def _c18(env: dict[str, Any]) -> None:
    env["records"][0]["opinion"] = "另一个意见。"


def _c19(env: dict[str, Any]) -> None:
    env["records"][0]["resultType"] = "CERTIFICATE"


def _c10(env: dict[str, Any]) -> None:
    env["sender"] = OTHER


def _b7(env: dict[str, Any]) -> None:  # B.7's request: B.2 with a wrong check character in records[1]
    env["records"][1]["agent"]["idNo"] = "340524198001010010"


def _c16(env: dict[str, Any]) -> None:  # B.5's second evaluation sent by the county itself
    env.update(sender=COUNTY, receiver=CITY)
    del env["origin"]


# (label, envelope, authenticated sender); the clock is the envelope's sentAt + 2 s
def city_steps() -> list[tuple[str, dict[str, Any], str | None]]:
    b1, b2, b3, b4 = (load_example(n) for n in ("B.1", "B.2", "B.3", "B.4"))
    steps: list[tuple[str, dict[str, Any], str | None]] = [
        ("B.7 request", _only("B.2", "B.7", [0, 1], _b7), COUNTY)]  # stores case …0007, rejects …0008
    # Annex C stateless rows on B.1 and B.2 first, as new messages; those on B.3 come last, so
    # that the stateful rows below meet the state they describe
    for row, (base, edit, _) in sorted(ROWS.items()):
        if base in ("B.1", "B.2"):
            env = _fresh(changed(base, edit), row)
            steps.append((row, env, env["sender"]))
    steps += [
        ("B.1", b1, COUNTY), ("B.1 replayed", b1, COUNTY),
        ("B.2", b2, COUNTY), ("B.2 replayed", b2, COUNTY),
        ("C.13 reused messageId", changed("B.2", lambda e: e["records"][0].update(remark="x")), COUNTY),
        ("B.2 unregistered sender", _with("B.2", "stranger", sender=STRANGER), STRANGER),
        ("B.2 unregistered sender, no binding identity", _with("B.2", "stranger-mqtt", sender=STRANGER), None),
        ("B.2 impersonated", _with("B.2", "impersonated"), OTHER),
        ("catalog from a CASE_REPORTER", _with("B.1", "other-catalog", sender=OTHER), OTHER),
        ("C.12: B.3 records 0 and 2 only", _only("B.3", "C.12", [0, 2]), COUNTY),
        ("B.3", b3, COUNTY),
        ("C.18", _only("B.3", "C.18", [2], _c18), COUNTY),
        ("C.19 before B.4", _only("B.4", "C.19", [0], _c19), COUNTY),
        ("B.4", b4, COUNTY),
        ("C.17 stale", _with("B.1", "C.17", records=[{**b1["records"][0], "version": 2}]), COUNTY),
        ("C.14", _only("B.3", "C.14", [0, 1, 2, 3, 4], _c14), COUNTY),
        ("C.13 tampered", {**changed("B.3", lambda e: e["records"][2].update(opinion="同意。"), rehash=False),
                           "messageId": str(uuid.uuid5(uuid.NAMESPACE_URL, "tbs-test:C.13"))}, COUNTY),
        ("stale sentAt", _with("B.2", "stale", sentAt="2026-11-01T10:05:00+08:00"), COUNTY),
        ("wrong receiver", _with("B.2", "wrong-receiver", receiver=PROVINCE), COUNTY),
    ]
    steps += [(row, _fresh(changed(base, edit), row), COUNTY) for row, (base, edit, _) in sorted(ROWS.items())
              if base == "B.3"]
    steps.append(("C.16", _only("B.5", "C.16", [1], _c16), COUNTY))  # B.3 concluded the case before
    return steps


def province_steps() -> list[tuple[str, dict[str, Any], str | None]]:
    """B.5 as sent (city → province), with its case relayed first (origin = the county)."""
    relayed = [_with(n, f"relayed {n}", sender=CITY, origin=COUNTY, receiver=PROVINCE) for n in ("B.2", "B.3")]
    steps = [("B.5 before its case", _fresh(load_example("B.5"), "B.5-early"), CITY),
             ("relayed B.2", relayed[0], CITY), ("relayed B.3", relayed[1], CITY)]
    for row, (base, edit, _) in sorted(ROWS.items()):
        if base == "B.5":
            steps.append((row, _fresh(changed(base, edit), row), CITY))
    steps += [("B.5", load_example("B.5"), CITY), ("B.5 replayed", load_example("B.5"), CITY),
              ("origin not relayed", _with("B.2", "bad-origin", sender=CITY, origin=STRANGER, receiver=PROVINCE), CITY)]
    return steps


def _partner(pid: str, parent: str, roles: tuple[str, ...], *, key: bool = False) -> dict[str, Any]:
    entry: dict[str, Any] = {"id": pid, "parent": parent, "transport": "rest", "endpoint": "https://127.0.0.1:1",
                             "roles": list(roles)}
    if key:
        entry["credentials"] = {"hmac_key_env": "TONGBAN_TEST_LW_HMAC", "key_id": DEMO_KEY_ID}
    return entry


def _answers(receiver: Any, steps, clock: dict[str, datetime]) -> list[tuple[str, Any]]:
    out = []
    for label, env, caller in steps:
        clock["now"] = datetime.fromisoformat(env["sentAt"]) + timedelta(seconds=2)
        if label == "stale sentAt":
            clock["now"] += timedelta(days=1)
        try:
            answer: Any = receiver.receive(env, binding="REST", request_hash=canonical_sha256(env),
                                           authenticated_sender=caller, binding_dataset=env["dataset"])
        except ServiceError as err:
            answer = ("refused", err.status, err.code, err.rule_id)
        out.append((label, answer))
    return out


def _both(store, tmp_path, monkeypatch, bus_id: str, partners: list[dict[str, Any]],
          profiles: dict[str, SenderProfile], steps) -> tuple[list, list]:
    monkeypatch.setenv("TONGBAN_TEST_LW_HMAC", DEMO_KEY.decode())
    path = tmp_path / "partners.yaml"
    path.write_text(yaml.safe_dump({"bus": {"system_id": bus_id}, "partners": partners}))
    registry = load_registry(path)
    clock: dict[str, datetime] = {}
    bus = BusReceiver(store, registry, clock=lambda: clock["now"])
    kit = ReferenceReceiver(bus_id, profiles, allowlist=frozenset(registry.bus.uscc_allowlist),
                            clock=lambda: clock["now"])
    return _answers(bus, steps, clock), _answers(kit, steps, clock)


def _by_label(answers) -> dict[str, Any]:
    return dict(answers)


def test_city_bus_and_reference_receiver_answer_alike(store, tmp_path, monkeypatch):
    partners = [_partner(COUNTY, CITY, ALL_ROLES, key=True), _partner(OTHER, CITY, ("CASE_REPORTER",))]
    profiles = {COUNTY: SenderProfile(ALL_ROLES, {DEMO_KEY_ID: ("HMAC-SHA256", DEMO_KEY)}, relays_for=frozenset()),
                OTHER: SenderProfile(("CASE_REPORTER",), relays_for=frozenset())}
    bus, kit = _both(store, tmp_path, monkeypatch, CITY, partners, profiles, city_steps())
    for (label, a), (_, b) in zip(bus, kit):
        assert a == b, label
    answers = _by_label(bus)
    # pinned to the standard, not to either implementation (B.3 against B.6 on fresh state:
    # tests/sync/test_receiver.py)
    assert answers["B.1 replayed"] == answers["B.1"] and answers["B.2 replayed"] == answers["B.2"]
    assert answers["C.13 reused messageId"] == ("refused", 409, "MESSAGE_ID_CONFLICT", "TBS-SEC-005")
    assert answers["B.2 unregistered sender"] == ("refused", 403, "FORBIDDEN", "TBS-SEC-004")
    assert answers["B.2 unregistered sender, no binding identity"] == ("refused", 403, "FORBIDDEN", "TBS-SEC-004")
    assert answers["B.2 impersonated"] == ("refused", 403, "FORBIDDEN", "TBS-SEC-002")
    assert answers["catalog from a CASE_REPORTER"] == ("refused", 403, "FORBIDDEN", "TBS-SEC-004")
    b7 = load_example("B.7")  # TBS-RPT-010: equivalent, the message texts aside
    assert {k: answers["B.7 request"][k] for k in ("status", "final", "counts", "accepted", "notes")} \
        == {k: b7[k] for k in ("status", "final", "counts", "accepted", "notes")}
    assert [(r["index"], r["key"], [(i["severity"], i["ruleId"], i["location"], i.get("value"))
                                    for i in r["report"]["items"]]) for r in answers["B.7 request"]["rejected"]] == \
        [(1, {"caseNo": "11440103007493637K4440120012002202611020008"},
          [("ERROR", "TBS-CODE-017", "/records/1/agent/idNo", "340524********0010")])]
    assert answers["C.12: B.3 records 0 and 2 only"]["counts"]["held"] == 1  # seq 3 waits for seq 2
    assert [(n["outcome"], [(i["severity"], i["ruleId"], i["location"]) for i in n["report"]["items"]])
            for n in answers["C.16"]["notes"]] == [("HELD", [("INFO", "TBS-SYNC-007", "/records/0/assessNo")])]
    assert [(n["outcome"], [i["ruleId"] for i in n["report"]["items"]]) for n in answers["C.17 stale"]["notes"]] == \
        [("STALE", ["TBS-SYNC-004"])]
    assert [r["report"]["items"][0]["ruleId"] for r in answers["C.18"]["rejected"]] == ["TBS-EVT-008"]
    assert answers["C.13 tampered"]["status"] == "REJECTED"
    assert [(i["ruleId"], i["location"]) for i in answers["stale sentAt"]["envelopeReport"]["items"]] == \
        [("TBS-SEC-006", "/sentAt")]
    assert [(i["ruleId"], i["location"]) for i in answers["wrong receiver"]["envelopeReport"]["items"]] == \
        [("TBS-ENV-023", "/receiver")]
    for row, (base, _, expected) in ROWS.items():
        if base != "B.5" and row != "C.10":
            ack = answers[row]  # the row's own findings; TBS-SYNC-* ones come from the earlier rows
            found = sorted((i["severity"], i["ruleId"], i["location"]) for entry in ack["rejected"] + ack["notes"]
                           for i in entry["report"]["items"] if not i["ruleId"].startswith("TBS-SYNC-"))
            assert found == sorted(expected), row


def test_province_bus_and_reference_receiver_answer_alike(store, tmp_path, monkeypatch):
    relayed = {"direct": False}  # the city relays its counties' case-linked records
    partners = [_partner(CITY, PROVINCE, ALL_ROLES), {**_partner(COUNTY, CITY, ALL_ROLES), **relayed},
                {**_partner(OTHER, CITY, ("CASE_REPORTER",)), **relayed}]
    profiles = {CITY: SenderProfile(ALL_ROLES, relays_for=frozenset({COUNTY, OTHER}))}
    bus, kit = _both(store, tmp_path, monkeypatch, PROVINCE, partners, profiles, province_steps())
    for (label, a), (_, b) in zip(bus, kit):
        assert a == b, label
    answers = _by_label(bus)
    assert answers["B.5 before its case"]["counts"]["held"] == 2  # TBS-EVAL-006: the Case is not stored yet
    assert answers["relayed B.2"]["status"] == "ACCEPTED"
    # the held evaluations were released once their case and its events arrived (TBS-SYNC-007)
    assert answers["B.5"]["counts"]["duplicate"] == 2 and answers["B.5 replayed"] == answers["B.5"]
    assert [(i["ruleId"], i["location"]) for i in answers["origin not relayed"]["envelopeReport"]["items"]] == \
        [("TBS-SEC-011", "/origin")]
