"""The province-scale sandbox: real divisions, records computed by position, valid and deterministic."""
from __future__ import annotations

import tracemalloc
from collections import Counter

import pytest

from tongban.model.canonical import canonical_bytes
from tongban.model.codes import system_id_ok
from tongban.model.datasets import DATASETS, business_key
from tongban.sandbox.divisions import guangdong_divisions
from tongban.sandbox.scale import ProvinceScale, Volumes
from tongban.validators.cli import _records_report
from tongban.validators.context import ValidationContext


def test_divisions_are_guangdongs_real_ones():
    divisions = guangdong_divisions()
    levels = Counter(d.level for d in divisions)
    assert levels == {"province": 1, "city": 21, "county": 122}
    by_code = {d.code: d for d in divisions}
    assert len(by_code) == len(divisions)
    assert by_code["440000"].name == "广东省"
    assert by_code["440103"].name == "荔湾区" and by_code["440103"].parent == "440100"
    assert by_code["440300"].name == "深圳市"
    assert by_code["440309"].name == "龙华区" and by_code["440309"].parent == "440300"
    assert by_code["441322"].name == "博罗县"
    assert by_code["445381"].name == "罗定市" and by_code["445381"].parent == "445300"
    assert by_code["441900"].level == "city" and not [d for d in divisions if d.parent in ("441900", "442000")]
    for d in divisions:  # a county's code lies within its city's (GB/T 2260 structure)
        if d.level == "county":
            assert d.code[:4] == d.parent[:4] and d.code != d.parent


def test_every_division_is_a_partner_system():
    p = ProvinceScale(7, Volumes(catalog=1_500, cases=300))
    levels = Counter(s.level for s in p.systems)
    assert levels == {"province": 1, "department": 6, "city": 21, "county": 122}
    assert len({s.system_id for s in p.systems}) == 150
    assert all(system_id_ok(s.system_id) for s in p.systems)
    ids = {s.system_id for s in p.systems}
    assert all(s.parent_id in ids for s in p.systems if s.level != "province")
    assert p.system("TB:county:440103:ZWFW440103").name == "广州市荔湾区一体化政务服务平台"
    assert sum(s.counts["catalog"] for s in p.systems) == 1_500
    assert sum(s.counts["case"] for s in p.systems) == 300
    assert sum(s.counts["case-event"] for s in p.systems) == 1_500


@pytest.fixture(scope="module")
def small():
    return ProvinceScale(11, Volumes(catalog=900, cases=600, results=300, evaluations=300), limit=30)


@pytest.mark.parametrize("dataset", DATASETS)
def test_records_are_valid_and_keys_distinct(small, dataset):
    records = [r for s in small.systems for r in s.feed(dataset, 0, 10**9, 2)]
    assert records
    report = _records_report(dataset, records, ValidationContext())
    serious = [(f.rule_id, f.path) for f in report.items if f.severity.value in ("ERROR", "WARNING")]
    assert serious == []
    current = [business_key(dataset, r) for s in small.systems for r in s.current(dataset, 2)]
    assert len(set(map(repr, current))) == len(current)


def test_feed_positions_and_change_rounds(small):
    s = small.systems[10]
    n = s.counts["catalog"]
    feed = list(s.feed("catalog", 0, 10**9, 2))
    assert len(feed) == s.feed_length("catalog", 2) == n + len(range(0, n, 100)) + len(range(1, n, 100))
    assert feed[n]["implCode"] == feed[0]["implCode"] and feed[n]["version"] == 2
    assert feed[n]["updatedAt"] > feed[0]["updatedAt"]
    assert feed[n]["materials"] != feed[0]["materials"]
    # a page anywhere equals the same slice of the whole feed
    assert list(s.feed("catalog", n - 3, n + 2, 2)) == feed[n - 3:n + 2]
    # events of a case in ascending seq, time never going back
    events = list(s.feed("case-event", 0, 10**9, 0))
    for a, b in zip(events, events[1:]):
        if a["caseNo"] == b["caseNo"]:
            assert b["seq"] == a["seq"] + 1 and b["occurredAt"] >= a["occurredAt"]


def test_one_percent_changes_per_round():
    p = ProvinceScale(3, Volumes(catalog=10_000, cases=5_000), limit=10)
    for dataset, total in (("catalog", 10_000), ("case", 5_000)):
        changed = sum(s.round_count(dataset, 1) for s in p.systems)
        assert changed == total // 100
        assert p.content_digest(dataset, 0) != p.content_digest(dataset, 1)
    assert p.content_digest("case-event", 0) == p.content_digest("case-event", 1)


def test_deterministic_by_seed(small):
    again = ProvinceScale(11, Volumes(catalog=900, cases=600, results=300, evaluations=300), limit=30,
                          now=small.now)
    other = ProvinceScale(12, Volumes(catalog=900, cases=600, results=300, evaluations=300), limit=30,
                          now=small.now)
    for dataset in DATASETS:
        assert again.content_digest(dataset, 1) == small.content_digest(dataset, 1)
    assert other.content_digest("case", 1) != small.content_digest("case", 1)


def test_memory_does_not_grow_with_volume():
    def peak(cases: int) -> int:
        p = ProvinceScale(5, Volumes(catalog=cases, cases=cases), limit=3)
        tracemalloc.start()
        try:
            for s in p.systems:
                for r in s.feed("case-event", 0, 10**9, 0):
                    canonical_bytes(r)
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    small_peak, large_peak = peak(300), peak(3_000)
    assert large_peak < small_peak * 1.5 + 64_000, (small_peak, large_peak)
