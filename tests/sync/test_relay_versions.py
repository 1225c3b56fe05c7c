"""TBS-SYNC-015 (b): the version a relay writes a record in, checked with the real validators of both versions."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tongban.model.annex_e import upgrade
from tongban.sync.versions import relay_form

ANNEX_B = Path(__file__).resolve().parents[1] / "data" / "annex_b"
BOTH = ("TBS-1.0", "TBS-1.1")


def record(name: str, i: int = 0) -> dict[str, Any]:
    return json.loads((ANNEX_B / f"{name}.json").read_text(encoding="utf-8"))["records"][i]


def test_b1_received_as_tbs_1_0_is_relayed_to_the_province_in_tbs_1_1() -> None:
    """Revision §3.4 step 2: B.1's content passes TBS-1.1 (with a WARNING only)."""
    form = relay_form("catalog", record("B.1"), "TBS-1.0", BOTH, BOTH)
    assert form.version == "TBS-1.1" and form.record == record("B.1")


def test_an_item_without_on_site_visits_is_relayed_in_tbs_1_0() -> None:
    item = {k: v for k, v in record("B.1").items() if k != "onSiteVisits"}
    form = relay_form("catalog", item, "TBS-1.0", BOTH, BOTH)
    assert form.version == "TBS-1.0" and form.record == item
    # …and to a TBS-1.1-only receiver not at all (after the sunset, §3.3)
    assert relay_form("catalog", item, "TBS-1.0", BOTH, ("TBS-1.1",)).version is None


def test_a_tbs_1_1_case_goes_to_a_tbs_1_0_consumer_in_its_annex_e1_form_or_not_at_all() -> None:
    case = upgrade("case", record("B.2", 1))
    case["applicant"] = {"kind": "PERSON", "name": "陈家明", "idType": "HMTRP", "idNo": "810000199001011230"}
    form = relay_form("case", case, "TBS-1.1", BOTH, ("TBS-1.0",))
    assert form.version == "TBS-1.0" and form.record["applicant"]["idType"] == "990" and "channel" in form.record
    del case["agent"]["idType"], case["agent"]["idNo"]
    withheld = relay_form("case", case, "TBS-1.1", BOTH, ("TBS-1.0",))
    assert withheld.version is None and "agent" in withheld.reason
    assert relay_form("case", case, "TBS-1.1", BOTH, BOTH).version == "TBS-1.1"


def test_a_text_only_poor_rating_received_as_tbs_1_0_stays_tbs_1_0() -> None:
    """Change 21: a 差评 with text only fails TBS-1.1 after E.2 and travels in TBS-1.0 only."""
    evaluation = {k: v for k, v in record("B.5", 1).items() if k != "detailCodes"}
    assert relay_form("evaluation", evaluation, "TBS-1.0", BOTH, BOTH).version == "TBS-1.0"
    assert relay_form("evaluation", record("B.5", 1), "TBS-1.0", BOTH, BOTH).version == "TBS-1.1"
    assert relay_form("evaluation", record("B.5", 1), "TBS-1.0", BOTH, BOTH).record == upgrade("evaluation", record("B.5", 1))


def test_no_common_version_withholds() -> None:
    assert relay_form("catalog", record("B.1"), "TBS-1.0", ("TBS-1.1",), ("TBS-1.0",)).version is None
