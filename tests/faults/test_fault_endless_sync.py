"""Finding 3: a partner whose feed never ends must not keep ``tongban sync`` running.

No progress — a cursor already read in this run (a cycle, or a cursor going back), a page
identical to the one before it — fails the run with TBS-REST-004 at the connector hop
before anything of the offending page is stored; a run is also bounded by the registry's
``max_pages_per_run`` and ``max_run_seconds``, ending with everything read so far committed.
"""
from __future__ import annotations

import copy

import pytest

from fault_support import Feeds, assert_exactly_once, count
from tongban.sandbox.feed import cursor_for, parse_cursor
from tongban.store.schema import LedgerEntry, SyncRun
from tongban.sync.engine import SyncEngine, SyncFailed


def same_page_forever(dataset, since, limit, page):
    """Ignores ``since``: the first page, with its cursor, again and again (hasMore true)."""
    first = copy.deepcopy(page) if since is None else same_page_forever.first
    same_page_forever.first = first
    return {**first, "hasMore": True}


def cycling_cursor(dataset, since, limit, page):
    """After the second page the cursor jumps back to the first page's cursor: a → b → a → b …"""
    if since is not None and parse_cursor(since) >= 2 * limit:
        return {**page, "nextCursor": cursor_for(limit), "hasMore": True}
    return page


def fresh_cursor_same_records(dataset, since, limit, page):
    """A new cursor every time, but always the same records: no real progress."""
    n = 0 if since is None else parse_cursor(since)
    first = fresh_cursor_same_records.first if since is not None else copy.deepcopy(page["records"])
    fresh_cursor_same_records.first = first
    return {"records": first, "nextCursor": cursor_for(n + limit), "hasMore": True}


@pytest.mark.timeout(60)
@pytest.mark.parametrize("fault, what", [
    (same_page_forever, "already read in this run"),
    (cycling_cursor, "already read in this run"),
    (fresh_cursor_same_records, "identical to the page before"),
], ids=["same-page-forever", "cursor-cycle", "repeated-records-new-cursor"])
def test_no_progress_fails_the_run_with_the_rule_and_the_hop(store, partner, fault_county, fault, what):
    cases = fault_county.records("case")
    service = Feeds(fault_county.system_id, {"case": cases}, fault=fault)
    registry, _ = partner(service)
    with pytest.raises(SyncFailed) as info:
        SyncEngine(store, registry, trigger="test").sync(fault_county.system_id, "case")
    report = info.value.report
    assert report.error_code == "TBS-REST-004" and report.error_hop == "connector"
    assert what in report.error
    assert service.calls <= 5, f"the engine kept reading: {service.calls} pages"
    with store.reading() as s:
        run = s.get(SyncRun, report.run_id)
        assert (run.status, run.error_code, run.error_hop) == ("FAILED", "TBS-REST-004", "connector")
    # What was read before the fault is committed once; the repeated page added nothing.
    assert count(store, LedgerEntry) == report.pages <= 3
    stored_keys = {r["caseNo"] for r in cases[:4 * report.pages]}
    assert_exactly_once(store, "case", [c for c in cases if c["caseNo"] in stored_keys])


@pytest.mark.timeout(60)
def test_a_run_stops_at_max_pages_and_the_next_run_continues(store, partner, fault_county):
    cases = fault_county.records("case")
    assert len(cases) > 2 * 4
    service = Feeds(fault_county.system_id, {"case": cases})
    registry, _ = partner(service, max_pages_per_run=2)
    engine = SyncEngine(store, registry, trigger="test")
    first = engine.sync(fault_county.system_id, "case")
    assert first.status == "SUCCESS" and first.pages == 2 and first.stopped_by == "max_pages_per_run"
    assert first.cursor_after == cursor_for(8) == store.cursor(fault_county.system_id, "case")
    runs = 1
    while engine.sync(fault_county.system_id, "case").stopped_by:
        runs += 1
        assert runs < 20
    assert_exactly_once(store, "case", cases)


@pytest.mark.timeout(60)
def test_a_run_stops_at_max_run_seconds(store, partner, fault_county):
    cases = fault_county.records("case")
    service = Feeds(fault_county.system_id, {"case": cases}, delay=0.4)
    registry, _ = partner(service, max_run_seconds=1, page_size=1)
    report = SyncEngine(store, registry, trigger="test").sync(fault_county.system_id, "case")
    assert report.status == "SUCCESS" and report.stopped_by == "max_run_seconds"
    assert 1 <= report.pages <= 4 and report.pages < len(cases)
    assert store.cursor(fault_county.system_id, "case") == cursor_for(report.pages)
    assert_exactly_once(store, "case", cases[:report.pages])


def test_registry_refuses_nonsense_bounds(tmp_path, fault_county):
    from fault_support import write_registry
    from tongban.registry import RegistryError, load_registry

    path = write_registry(tmp_path / "p.yaml", fault_county.system_id, "https://x.example:1", None,
                          max_pages_per_run=0)
    with pytest.raises(RegistryError, match="max_pages_per_run"):
        load_registry(path)
