"""Supervision metrics from the really synced store equal the values computed independently
from the generated sandbox data (monitoring_oracle), for every region, roll-up and level."""
from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta

import pytest
from monitoring_oracle import expected_metrics, expected_overdue, latest

from tongban.monitoring.metrics import (DEFINITIONS, MetricsInput, ScopeMetrics, compute_metrics, definitions_markdown,
                                        metrics_from_store, nearest_rank)

FIELDS = ("items_active", "items_online_rate", "items_fully_online_rate", "cases", "cases_concluded",
          "fully_online_case_rate", "overdue_cases", "overdue_rate", "evaluations", "satisfaction_avg",
          "bad_review_rate", "conclusion_hours_p50", "conclusion_hours_p90")


@pytest.fixture(scope="module")
def at(world):
    return datetime.fromisoformat(world.data.now)


@pytest.fixture(scope="module")
def report(world, at):
    return metrics_from_store(world.store, at)


def test_the_sync_stored_everything_it_was_offered(world):
    # precondition of comparing with the generated data: nothing was rejected or left held
    assert world.reports and all(r.status == "SUCCESS" for r in world.reports.values())
    assert sum(r.counts.rejected + r.counts.held for r in world.reports.values()) == 0


def test_every_metric_of_every_scope_equals_the_independent_computation(report, world, at):
    expected = expected_metrics(world.data, at)
    got = {(r.scope, r.key): r for r in report.rows}
    assert set(got) == set(expected)
    assert {s for s, _ in got} == {"region", "city", "province", "level"}
    for key, values in expected.items():
        for name in FIELDS:
            assert getattr(got[key], name) == pytest.approx(values[name]), (key, name)


def test_the_numbers_are_not_trivial(report):
    """The sandbox exercises each metric: a comparison of zeros would prove nothing."""
    p = report.row("province", "440000")
    assert p.items_active > 40 and p.cases > 150 and p.evaluations > 50
    assert 0 < p.items_fully_online_rate < 1 and 0 < p.fully_online_case_rate < 1
    assert 0 < p.overdue_cases < p.deadline_cases and 0 < p.bad_review_rate < 1
    assert 1 < p.satisfaction_avg < 5 and 0 < p.conclusion_hours_p50 < p.conclusion_hours_p90
    assert len(report.scope("city")) == 2 and len(report.scope("region")) == 7
    assert {r.key for r in report.scope("level")} == {"province", "city", "county"}


def test_overdue_cases_match_the_planted_ground_truth_and_the_longhand_rule(report, world, at):
    got = {o.case_no: o.overdue_seconds for o in report.overdue}
    assert got == expected_overdue(world.data, at)   # the oracle's longhand reading of the rule
    assert any(o.concluded for o in report.overdue) and any(not o.concluded for o in report.overdue)


def test_overdue_depends_on_the_instant(world, at):
    earlier = metrics_from_store(world.store, at - timedelta(days=30)).row("province", "440000")
    now = metrics_from_store(world.store, at).row("province", "440000")
    assert earlier.overdue_cases < now.overdue_cases


def test_volume_by_item_and_day_count_every_case_once(report, world):
    cases = latest(world.data.province_view("case"), "caseNo").values()
    assert Counter({v.impl_code: v.cases for v in report.by_item}) == Counter(c["implCode"] for c in cases)
    province = report.row("province", "440000")
    days = Counter(datetime.fromisoformat(c["submittedAt"]).date().isoformat() for c in cases)  # all +08:00
    assert province.cases_by_day == days


def test_satisfaction_histogram_uses_the_tbs_direction(report, world):
    evaluations = world.data.province_view("evaluation")
    assert report.satisfaction_histogram == {s: sum(e["satisfaction"] == s for e in evaluations) for s in range(1, 6)}


def test_nearest_rank_percentiles():
    assert nearest_rank([], 50) is None
    assert nearest_rank([5.0], 90) == 5.0
    assert nearest_rank([4.0, 1.0, 3.0, 2.0], 50) == 2.0     # ⌈0.5·4⌉ = 2nd smallest
    assert nearest_rank(list(map(float, range(1, 11))), 90) == 9.0


def test_metrics_work_on_plain_records_and_keep_the_latest_versions():
    item = {"implCode": "I1", "itemCode": "440131003000", "regionCode": "440103", "status": "ACTIVE", "onlineDepth": 4,
            "version": 1, "name": "x"}
    newer = {**item, "version": 2, "onlineDepth": 3}
    case = {"caseNo": "C1", "implCode": "I1", "regionCode": "440103", "caseType": "1", "channel": "2",
            "submittedAt": "2026-01-05T09:00:00+08:00", "version": 1, "itemName": "x"}
    events = [{"caseNo": "C1", "seq": 1, "type": "SUBMIT", "occurredAt": "2026-01-05T09:00:00+08:00"},
              {"caseNo": "C1", "seq": 2, "type": "ACCEPT", "occurredAt": "2026-01-05T10:00:00+08:00"},
              {"caseNo": "C1", "seq": 3, "type": "CONCLUDE", "occurredAt": "2026-01-06T01:00:00+08:00"}]
    data = MetricsInput.from_records([newer, item], [case], events,
                                     [{"caseNo": "C1", "assessNo": 1, "satisfaction": 2}])
    r = compute_metrics(data, datetime.fromisoformat("2026-02-01T00:00:00+08:00"))
    county = r.row("region", "440103")
    assert county.items_fully_online_rate == 0.0          # version 2 (depth 3) counts, not version 1
    assert county.fully_online_case_rate == 0.0
    assert county.overdue_cases == 1                        # 即办件 due 23:59:59 on the acceptance day
    assert r.overdue[0].overdue_seconds == 3601
    assert county.bad_review_rate == 1.0 and county.conclusion_hours_p50 == 16.0
    with pytest.raises(ValueError):
        compute_metrics(data, datetime(2026, 2, 1))


def test_definitions_cover_every_reported_rate_and_label_our_own():
    keys = {d.key for d in DEFINITIONS}
    rates = {n for n in dir(ScopeMetrics) if isinstance(getattr(ScopeMetrics, n), property)}
    assert rates <= keys
    ours = [d for d in DEFINITIONS if "tongban definition" in d.basis]
    assert {"items_online_rate", "fully_online_case_rate", "bad_review_rate"} <= {d.key for d in ours}
    assert next(d for d in DEFINITIONS if d.key == "overdue_cases").requirements == ("TBS-EVT-011", "TBS-EVT-012")
    table = definitions_markdown()
    assert table.count("\n") == len(DEFINITIONS) + 2 and "事项上网率" in table and "全程网办率" in table


def test_the_readme_section_shows_the_current_definitions():
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    assert definitions_markdown() in readme
