"""A sandbox province in transition to TBS-1.1: which systems support which versions, and the
impact report of ``tongban spec impact`` on what the bus synced from it.

The expected counts are computed here from the records the sandbox's servers serve and from
the store's own rows, not by the code under test."""
from __future__ import annotations

import json
from collections import Counter

import pytest
from sqlalchemy import select

from tongban.specimpact import impact
from tongban.store.schema import CatalogItemVersion
from transition_support import transition_province

MANDATORY = "member-now-mandatory catalog.onSiteVisits"


@pytest.fixture(scope="module")
def province(tmp_path_factory):
    with transition_province(tmp_path_factory.mktemp("transition")) as (sandbox, registry, store, engine):
        reports = {p.id: engine.sync(p.id, "catalog") for p in registry.partners if "catalog" in p.datasets}
        yield sandbox, registry, store, reports


def test_the_registry_lists_each_partners_versions(province) -> None:
    sandbox, registry, _, _ = province
    versions = {p.id: p.versions for p in registry.partners}
    assert set(versions.values()) == {("TBS-1.0",), ("TBS-1.0", "TBS-1.1")}
    hub = next(r.system.system_id for r in sandbox.running if r.system.level == "province")
    assert versions[hub] == ("TBS-1.0", "TBS-1.1")
    # the bus exchanges TBS-1.0 with every partner here: a version each of them supports
    assert all(p.spec_version in p.versions for p in registry.partners)


def test_impact_names_the_partners_sending_items_without_on_site_visits(province) -> None:
    sandbox, registry, store, reports = province
    served = {r.system.system_id: r.service.feed("catalog").records() for r in sandbox.running
              if r.service is not None and "catalog" in r.system.provides}
    # everything served was stored once
    assert {pid: rep.counts.stored for pid, rep in reports.items()} == {pid: len(rs) for pid, rs in served.items()}
    expected = {pid: n for pid, n in ((pid, sum(1 for r in rs if "onSiteVisits" not in r))
                                      for pid, rs in served.items()) if n}
    with store.reading() as s:
        rows = s.execute(select(CatalogItemVersion.source, CatalogItemVersion.content)).all()
    in_store = Counter(source for source, content in rows if "onSiteVisits" not in json.loads(content))
    assert dict(in_store) == expected
    # only TBS-1.0-only partners send such items, and there are some
    assert expected and all(registry.get(pid).versions == ("TBS-1.0",) for pid in expected)

    report = {p.partner: p for p in impact(store, "TBS-1.1")}
    named = {pid: p.counts[MANDATORY].rejected for pid, p in report.items()
             if MANDATORY in p.counts and p.counts[MANDATORY].rejected}
    assert named == expected
    some = next(iter(expected))
    assert report[some].counts[MANDATORY].examples[0].startswith("catalog ")
