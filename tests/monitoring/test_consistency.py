"""Consistency reports find every planted defect of the sandbox and flag none of its clean items:
two skins from the store (quarantined relay conflicts) and from feeds, many names, near
duplicates."""
from __future__ import annotations

import pytest

from tongban.monitoring.consistency import (ConsistencyReport, consistency_report, diff_paths, many_names,
                                            near_duplicates, quarantined_catalog, store_catalog, store_sources,
                                            two_skins)
from tongban.sandbox.feed import SandboxService


def _flagged_impl_codes(report: ConsistencyReport) -> set[str]:
    codes = {f.impl_code for f in report.two_skins.findings}
    codes |= {i.impl_code for m in report.many_names for i in m.variants}
    for n in report.near_duplicates:
        codes |= {i.impl_code for i in n.implementations}
    return codes


@pytest.fixture(scope="module")
def from_store(world):
    return consistency_report(store_sources(world.store))


@pytest.fixture(scope="module")
def from_feeds(world):
    sources = {"store": store_catalog(world.store)}
    for city in world.data.cities:
        sources[city.system_id] = SandboxService(city, include_relayed=True).feeds["catalog"].records()
    return consistency_report(sources)


def test_the_planted_defects_exist(world):
    assert len(world.data.planted_two_skins) >= 2
    assert world.data.planted_many_names and world.data.planted_near_duplicates and world.data.planted_clean


@pytest.mark.parametrize("which", ["from_store", "from_feeds"])
def test_every_planted_two_skins_is_found_field_by_field(which, request, world):
    report = request.getfixturevalue(which)
    found = {f.impl_code: f for f in report.two_skins.findings}
    planted = {p["implCode"]: p for p in world.data.planted_two_skins}
    assert set(found) == set(planted)
    for impl, p in planted.items():
        f = found[impl]
        assert f.fields == sorted(p["fields"]) and f.kind == "content"
        city = p["systemIds"][1]
        assert set(f.versions) == {"store", city} and set(f.versions.values()) == {p["version"]}
        for member in f.fields:
            assert f.values[member]["store"] != f.values[member][city]
    assert report.two_skins.compared >= len(planted)


def test_relay_conflicts_were_quarantined_by_the_real_sync(world):
    quarantined = quarantined_catalog(world.store)
    by_city = {}
    for p in world.data.planted_two_skins:
        by_city.setdefault(p["systemIds"][1], set()).add(p["implCode"])
    assert {city: {r["implCode"] for r in records} for city, records in quarantined.items()} == by_city
    for city, report in world.relay_reports.items():
        assert report.counts.rejected == len(by_city.get(city, ()))
        # everything else is already stored: the same versions are DUPLICATE, earlier ones STALE
        assert report.counts.stored == 0 and report.counts.duplicate > 0
        assert report.counts.duplicate + report.counts.stale == report.pulled - report.counts.rejected


def test_every_planted_many_names_is_found(from_store, world):
    found = {m.item_code: m for m in from_store.many_names}
    for p in world.data.planted_many_names:
        m = found[p["itemCode"]]
        assert m.names == p["names"]
        assert m.majority_name in p["names"]
        variant_impls = {i["implCode"] for i in p["implementations"] if i["systemId"] in p["variantSystemIds"]}
        assert {i.impl_code for i in m.variants} == variant_impls
        assert {i.source for i in m.variants} == {"store"}
    assert set(found) == {p["itemCode"] for p in world.data.planted_many_names}


def test_every_planted_near_duplicate_is_found(from_store, world):
    found = {n.item_codes: n for n in from_store.near_duplicates}
    assert set(found) == {tuple(p["itemCodes"]) for p in world.data.planted_near_duplicates}
    for p in world.data.planted_near_duplicates:
        n = found[tuple(p["itemCodes"])]
        assert set(n.names) == set(p["names"]) and n.score >= 85
        assert {i.impl_code for i in n.implementations} == {i["implCode"] for i in p["implementations"]}


@pytest.mark.parametrize("which", ["from_store", "from_feeds"])
def test_no_planted_clean_item_is_flagged(which, request, world):
    flagged = _flagged_impl_codes(request.getfixturevalue(which))
    assert not flagged & {c["implCode"] for c in world.data.planted_clean}


def test_the_report_serializes_with_counts(from_store, world):
    d = from_store.as_dict()
    assert d["twoSkins"]["count"] == len(world.data.planted_two_skins)
    assert d["manyNames"]["count"] == len(world.data.planted_many_names)
    assert d["nearDuplicates"]["count"] == len(world.data.planted_near_duplicates)
    assert sum(d["twoSkins"]["byField"].values()) == sum(len(p["fields"]) for p in world.data.planted_two_skins)


# ------------------------------------------------------------------------- pure functions
ITEM = {"implCode": "I1", "itemCode": "440131003000", "regionCode": "440103", "name": "食品经营许可",
        "status": "ACTIVE", "version": 3, "updatedAt": "2026-01-01T09:00:00+08:00",
        "promiseLimit": {"value": 5, "unit": "WORKDAY"}, "materials": [{"name": "a"}]}


def test_diff_paths_are_json_pointers():
    a = {"x": {"y": 1, "z": [1, 2]}, "k/l": 1}
    assert diff_paths(a, a) == []
    assert diff_paths(a, {"x": {"y": 2, "z": [1, 3]}, "k/l": 1}) == ["/x/y", "/x/z/1"]
    assert diff_paths(a, {"x": {"y": 1, "z": [1]}}) == ["/k~1l", "/x/z"]


def test_identical_copies_and_single_sources_are_not_two_skins():
    assert two_skins({"a": [ITEM], "b": [dict(ITEM)]}).findings == []
    assert two_skins({"a": [ITEM], "b": []}).compared == 0


def test_a_lagging_copy_is_reported_as_a_version_difference_only_when_content_differs():
    older = {**ITEM, "version": 2, "updatedAt": "2025-12-01T09:00:00+08:00"}
    assert two_skins({"a": [ITEM], "b": [older]}).findings == []          # only version/updatedAt differ
    stale = {**older, "promiseLimit": {"value": 9, "unit": "WORKDAY"}}
    (finding,) = two_skins({"a": [ITEM], "b": [older | {"version": 1}, stale]}).findings
    assert finding.kind == "version" and finding.fields == ["promiseLimit"] and finding.versions == {"a": 3, "b": 2}


def test_revoked_items_name_nothing_and_near_duplicates_respect_the_threshold():
    renamed = {**ITEM, "implCode": "I2", "regionCode": "440104", "name": "食品经营许可证核发"}
    assert [m.item_code for m in many_names({"s": [ITEM, renamed]})] == ["440131003000"]
    assert many_names({"s": [ITEM, {**renamed, "status": "REVOKED"}]}) == []
    other = {**ITEM, "implCode": "I3", "itemCode": "440131003001", "name": "食品经营许可 "}
    assert [n.item_codes for n in near_duplicates({"s": [ITEM, other]})] == [("440131003000", "440131003001")]
    unrelated = {**other, "name": "导游证核发"}
    assert near_duplicates({"s": [ITEM, unrelated]}) == []
    assert near_duplicates({"s": [ITEM, unrelated]}, threshold=0) != []


def test_report_compares_a_partners_live_catalog_feed(world, tmp_path):
    """``tongban report --compare-feed CITY`` reads the city's (relaying) feed over HTTPS."""
    import json

    from click.testing import CliRunner

    from tongban.cli import main

    cities = sorted(world.relay_reports)
    args = ["report", "--partners", str(world.registry_file), "--out", str(tmp_path)]
    for city in cities:
        args += ["--compare-feed", city]
    result = CliRunner().invoke(main, args, env={"TONGBAN_DATABASE_URL": world.store.url}, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    two_skins = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))["consistency"]["twoSkins"]
    relayed = {r["implCode"] for city in cities for r in world.relayed_catalog[city]}
    assert two_skins["compared"] == len(relayed) > len(world.data.planted_two_skins)   # every relayed item compared
    assert {f["implCode"] for f in two_skins["findings"]} == {p["implCode"] for p in world.data.planted_two_skins}
