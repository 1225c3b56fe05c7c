"""``tongban spec impact tbs-1.1`` on a real store: partners whose records TBS-1.1 would reject.

The records are stored the way the receivers store them (RecordStore, with the partner as
source); the expected counts are computed here from the data the test wrote, not by the code
under test.
"""
from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from store_support import migrated_store
from tongban.cli import main
from tongban.specimpact import field_path, impact
from tongban.store.records import RecordStore

ANNEX_B = Path(__file__).resolve().parent / "data" / "annex_b"
LIWAN, YUEXIU, PANYU = "TB:county:440103:LWZWFW", "TB:county:440104:YXZWFW", "TB:county:440113:PYZWFW"
MANDATORY = "member-now-mandatory catalog.onSiteVisits"


def example(name: str, i: int = 0) -> dict[str, Any]:
    return json.loads((ANNEX_B / f"{name}.json").read_text(encoding="utf-8"))["records"][i]


def catalog_items(prefix_digit: str, n: int, with_visits: bool) -> list[dict[str, Any]]:
    items = []
    for i in range(n):
        item = copy.deepcopy(example("B.1"))
        item["version"] = int(prefix_digit) * 100 + i   # versions of one item, one range per partner
        if not with_visits:
            del item["onSiteVisits"]
        items.append(item)
    return items


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request, tmp_path):
    with migrated_store(request.param, tmp_path) as s:
        s.kind = request.param
        yield s


def sqlite_only(store) -> None:
    if store.kind != "sqlite":
        pytest.skip("the CLI opens the store from TONGBAN_DATABASE_URL, which has no per-test schema")


def put(store, partner: str, dataset: str, records: list[dict[str, Any]]) -> None:
    with store.transaction() as session:
        rs = RecordStore(session)
        rs.prefetch(dataset, records)
        for record in records:
            rs.store(dataset, record, source=partner)
        rs.flush()


@pytest.fixture()
def province(store):
    data = {
        LIWAN: {"catalog": catalog_items("1", 3, False) + catalog_items("2", 2, True)},
        YUEXIU: {"catalog": catalog_items("3", 4, True)},
        PANYU: {"catalog": catalog_items("4", 1, False)},
    }
    text_only = {k: v for k, v in example("B.5", 1).items() if k != "detailCodes"}
    suspend = {**example("B.3", 2), "seq": 9, "type": "SUSPEND", "occurredAt": "2028-04-10T09:00:00+08:00",
               "specialProcedure": {"code": "1", "reason": "延长审批"}}
    for k in ("action", "opinion"):
        suspend.pop(k, None)
    data[YUEXIU]["evaluation"] = [text_only, example("B.5", 0)]
    data[YUEXIU]["case-event"] = [suspend]
    for partner, datasets in data.items():
        for dataset, records in datasets.items():
            put(store, partner, dataset, records)
    return data


def test_partners_sending_items_without_on_site_visits_are_named_with_independent_counts(store, province) -> None:
    report = {p.partner: p for p in impact(store, "TBS-1.1")}
    expected = {partner: sum(1 for r in datasets.get("catalog", []) if "onSiteVisits" not in r)
                for partner, datasets in province.items()}
    assert expected == {LIWAN: 3, YUEXIU: 0, PANYU: 1}
    for partner, count in expected.items():
        counts = report[partner].counts
        assert (counts[MANDATORY].rejected if MANDATORY in counts else 0) == count, partner
        assert report[partner].records == sum(len(r) for r in province[partner].values())
    assert report[LIWAN].counts[MANDATORY].examples[0].startswith("catalog ")


def test_text_only_poor_rating_and_extension_suspend_are_attributed_to_their_requirements(store, province) -> None:
    yuexiu = {p.partner: p for p in impact(store, "TBS-1.1")}[YUEXIU]
    assert yuexiu.counts["TBS-EVAL-002"].rejected == 1
    assert yuexiu.counts["TBS-EVT-011"].meaning_changed == 1
    # every TBS-1.0 evaluation with dimensions is written by E.2, so none fails for its type
    assert not any("dimensions" in key for key in yuexiu.counts)
    assert yuexiu.rejected == 1


def test_window_and_partner_filters(store, province) -> None:
    only = impact(store, "TBS-1.1", partners=[PANYU])
    assert [p.partner for p in only] == [PANYU] and only[0].records == 1
    later = impact(store, "TBS-1.1", since="2028-01-01T00:00:00+08:00")
    assert [(p.partner, p.records) for p in later] == [(YUEXIU, 1)]   # only the 2028 SUSPEND event


def test_cli_json(store, province, monkeypatch) -> None:
    sqlite_only(store)
    monkeypatch.setenv("TONGBAN_DATABASE_URL", str(store.engine.url))
    result = CliRunner().invoke(main, ["spec", "impact", "tbs-1.1", "--format", "json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    partners = {p["partner"]: p for p in json.loads(result.output)["partners"]}
    # 3 of Liwan's 5 items lack onSiteVisits; all 5 are ACTIVE window items without accessibility
    assert {c["difference"]: (c["rejected"], c["warned"]) for c in partners[LIWAN]["changes"]} == \
        {MANDATORY: (3, 0), "TBS-CAT-011": (0, 5)}


def test_field_paths_follow_the_spec_diff() -> None:
    assert field_path("evaluation", "/records/0/detailCodes/1") == "evaluation.detailCodes[]"
    assert field_path("case", "/records/0/agent/idNo") == "case.agent.idNo"


def test_certificates_carry_over_or_are_rerun_per_role(store, province) -> None:
    import uuid
    from datetime import date

    from tongban.conformance.admission import record_certificate

    def certificate(verdicts: dict[str, str], issued: str) -> dict[str, Any]:
        return {"certificateId": str(uuid.uuid4()), "systemId": LIWAN, "bindings": ["REST"],
                "roles": [{"role": r, "verdict": v} for r, v in verdicts.items()], "specVersion": "TBS-1.0",
                "suiteVersion": "1.0.0", "issuedOn": issued, "issuer": "TB:province:440000:TONGBAN", "tests": [],
                "reportSha256": "0" * 64}

    record_certificate(store, certificate({"CASE_REPORTER": "CONFORMANT", "RESULT_PUBLISHER": "NOT_CONFORMANT"},
                                          "2026-11-28"))
    liwan = {p.partner: p for p in impact(store, "TBS-1.1", on=date(2028, 3, 1))}[LIWAN]
    plans = {p["role"]: p for p in liwan.certification}
    assert sorted(plans["CASE_REPORTER"]["rerun"]) == ["COM-02", "COM-03", "COM-04", "COM-07", "CR-01", "CR-03",
                                                       "CR-07"]
    assert plans["CASE_REPORTER"]["new"] == ["COM-08"] and plans["CASE_REPORTER"]["basedOn"]
    assert plans["RESULT_PUBLISHER"]["carryOver"] == [] and "RP-02" in plans["RESULT_PUBLISHER"]["rerun"]
    # a base certificate more than 24 months old: certified in full
    late = {p.partner: p for p in impact(store, "TBS-1.1", on=date(2029, 1, 1))}[LIWAN]
    assert all(p["carryOver"] == [] for p in late.certification)


def test_dashboard_page_of_the_impact_report(store, province, tmp_path) -> None:
    import httpx

    from tongban.connectors.serving import ServerThread
    from tongban.monitoring.app import create_app

    server = ServerThread(create_app(store)).start()   # a real HTTP server on loopback
    try:
        page = httpx.get(f"{server.url}/impact.html", timeout=30)
        unknown = httpx.get(f"{server.url}/impact.html", params={"target": "tbs-9.9"}, timeout=30)
    finally:
        server.stop()
    assert page.status_code == 200 and unknown.status_code == 404
    text = page.text
    for partner in (LIWAN, YUEXIU, PANYU):
        assert f'id="{partner}"' in text
    # Liwan: 3 of 5 records rejected for the member made mandatory (counts as computed in the fixture)
    liwan = text[text.index(f'id="{LIWAN}"'):text.index(f'id="{YUEXIU}"')]
    assert "rejected under TBS-1.1: <b class=\"bad\">3</b>" in liwan and MANDATORY in liwan
    if store.kind != "sqlite":
        return
    out = tmp_path / "impact.html"
    result = CliRunner().invoke(main, ["spec", "impact", "tbs-1.1", "--format", "json", "--html", str(out)],
                                env={"TONGBAN_DATABASE_URL": str(store.engine.url)}, catch_exceptions=False)
    assert result.exit_code == 0 and f'id="{PANYU}"' in out.read_text(encoding="utf-8")
