"""Annex E of TBS-1.1: records written in the other version, and TBS-ENV-012 across versions.

The TBS-1.1 forms are those the revision document prints (their recordsSha256 values); the
TBS-1.0 forms are the Annex B examples of TBS-1.0.
"""
from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from tongban.model.annex_e import NotRepresentable, carry_forward, convert, downgrade, identical_content, upgrade
from tongban.model.canonical import records_sha256

ANNEX_B = Path(__file__).resolve().parents[1] / "data" / "annex_b"


def records(name: str) -> list[dict[str, Any]]:
    return json.loads((ANNEX_B / f"{name}.json").read_text(encoding="utf-8"))["records"]


@pytest.mark.parametrize(("name", "dataset", "digest"), [
    ("B.2", "case", "b36c71091339f1553bd0307f2bd621a45c0de3b48b6252830a7d24b40af6d250"),
    ("B.5", "evaluation", "3903303332d69e7ca0e5cd8bca1a5729f45948b4adcc9b9f219c92cadf8b6000"),
])
def test_e2_upgrade_gives_the_tbs_1_1_examples_and_e1_gives_back_the_tbs_1_0_ones(name: str, dataset: str,
                                                                                    digest: str) -> None:
    upgraded = [upgrade(dataset, r) for r in records(name)]
    assert records_sha256(upgraded) == digest
    assert [downgrade(dataset, r) for r in upgraded] == records(name)
    assert list(upgraded[0]) == [("applyChannel" if k == "channel" and dataset == "case" else k) for k in records(name)[0]]


def test_e1_catalog_drops_the_members_tbs_1_0_cannot_carry() -> None:
    item = {**records("B.1")[0], "crossRegionScope": "2", "accessibility": ["1", "4"]}
    assert downgrade("catalog", item) == records("B.1")[0]
    assert "crossRegionScope" in item  # the argument is not changed


def test_e1_hmtrp_becomes_990_and_self_service_hall_other() -> None:
    case = upgrade("case", records("B.2")[0])
    case["applicant"] = {"kind": "PERSON", "name": "陈家明", "idType": "HMTRP", "idNo": "810000199001011230"}
    old = downgrade("case", case)
    assert old["applicant"]["idType"] == "990" and old["applicant"]["idNo"] == "810000199001011230"
    assert old["channel"] == case["applyChannel"] and "applyChannel" not in old
    evaluation = {**upgrade("evaluation", records("B.5")[0]), "channel": "SELF_SERVICE"}
    assert downgrade("evaluation", evaluation)["channel"] == "HALL_OTHER"
    # E.2 does not restore the finer value from the content
    assert upgrade("evaluation", downgrade("evaluation", evaluation))["channel"] == "HALL_OTHER"


@pytest.mark.parametrize(("dataset", "edit", "member"), [
    ("case", lambda r: r["agent"].pop("idType") and r["agent"].pop("idNo"), "agent"),
    ("result", lambda r: r.update(certNo="A" * 51), "certNo"),
    ("evaluation", lambda r: r.update(channel="WECHAT_MINIAPP"), "channel"),
    ("evaluation", lambda r: r.update(dimensions=[{"indicator": "QUALITY", "score": 3}]), "dimensions"),
    ("evaluation", lambda r: r["dimensions"].append({"indicator": "USABILITY", "score": 4}), "dimensions"),
])
def test_e1_not_representable(dataset: str, edit: Any, member: str) -> None:
    base = {"case": lambda: upgrade("case", records("B.2")[1]), "result": lambda: records("B.4")[0],
            "evaluation": lambda: upgrade("evaluation", records("B.5")[1])}[dataset]()
    edit(base)
    with pytest.raises(NotRepresentable) as caught:
        downgrade(dataset, base)
    assert caught.value.member == member


def test_a_cert_no_of_exactly_50_characters_is_representable() -> None:
    result = {**records("B.4")[0], "certNo": "A" * 50}
    assert downgrade("result", result)["certNo"] == "A" * 50


def test_e3_carries_forward_what_tbs_1_0_cannot_carry() -> None:
    stored = {**records("B.1")[0], "crossRegionScope": "2", "accessibility": ["1"]}
    incoming = {**records("B.1")[0], "version": 5}
    out = carry_forward("catalog", incoming, stored)
    assert out["crossRegionScope"] == "2" and out["accessibility"] == ["1"] and out["version"] == 5
    case = upgrade("case", records("B.2")[0])
    case["applicant"] = {"kind": "PERSON", "name": "陈家明", "idType": "HMTRP", "idNo": "810000199001011230"}
    resent = downgrade("case", case)
    assert carry_forward("case", resent, case)["applicant"]["idType"] == "HMTRP"
    other_person = copy.deepcopy(resent)
    other_person["applicant"]["idNo"] = "P1234567"
    assert carry_forward("case", other_person, case)["applicant"]["idType"] == "990"


def test_env_012_a_tbs_1_0_resend_of_a_tbs_1_1_record_is_identical() -> None:
    """Revision §3.4 step 4: the city resends in TBS-1.0 a case the province stored as TBS-1.1."""
    case = upgrade("case", records("B.2")[0])
    case["applicant"] = {"kind": "PERSON", "name": "陈家明", "idType": "HMTRP", "idNo": "810000199001011230"}
    resent = convert("case", case, "TBS-1.1", "TBS-1.0")
    assert identical_content("case", resent, "TBS-1.0", case, "TBS-1.1")
    changed = {**resent, "itemName": resent["itemName"] + "（变更）"}
    assert not identical_content("case", changed, "TBS-1.0", case, "TBS-1.1")
    # channel and applyChannel with the same value are the same content (TBS-1.1 both sides)
    alias = {k if k != "applyChannel" else "channel": v for k, v in case.items()}
    assert identical_content("case", alias, "TBS-1.1", case, "TBS-1.1")


def test_env_012_a_stored_record_with_no_tbs_1_0_form_differs_from_every_tbs_1_0_record() -> None:
    stored = upgrade("case", records("B.2")[1])
    del stored["agent"]["idType"], stored["agent"]["idNo"]
    assert not identical_content("case", records("B.2")[1], "TBS-1.0", stored, "TBS-1.1")
