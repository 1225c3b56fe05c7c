"""Shared pieces of the fault matrix: a partner served by the real REST server on loopback
(HTTPS, local CA) whose feed can misbehave, a registry pointing at it, and counting.

Every fault test ends by counting what reached the store against what the partner holds:
0 lost and 0 duplicated records, counted per business key.
"""
from __future__ import annotations

import time
from collections import Counter
from pathlib import Path
from typing import Any, Callable

import yaml
from sqlalchemy import func, select

from tongban.model.canonical import canonical_bytes
from tongban.sandbox.feed import ChangeFeed
from tongban.store.schema import CaseEventRecord, CaseRecord
from tongban.sync.export import export_current

BUS = "TB:province:440000:TONGBAN"
TOKEN = "fault-matrix-token-0123456789abcdef"
TOKEN_ENV = "TONGBAN_TEST_FAULT_TOKEN"


class Feeds:
    """A partner's ``SystemService``: fixed feeds, with a hook that may replace any page."""

    def __init__(self, system_id: str, feeds: dict[str, list[dict[str, Any]]],
                 fault: Callable[[str, str | None, int, dict[str, Any]], dict[str, Any]] | None = None,
                 delay: float = 0.0) -> None:
        self.system_id = system_id
        self.feeds = {ds: ChangeFeed(ds, recs) for ds, recs in feeds.items()}
        self.fault = fault
        self.delay = delay
        self.calls = 0

    def meta(self) -> dict[str, Any]:
        return {"systemId": self.system_id, "roles": ["CASE_REPORTER"], "datasets": sorted(self.feeds),
                "specVersions": ["TBS-1.0"]}

    def changes(self, dataset: str, since: str | None, limit: int) -> dict[str, Any]:
        self.calls += 1
        if self.delay:
            time.sleep(self.delay)
        page = self.feeds[dataset].page(since, limit)
        return self.fault(dataset, since, limit, page) if self.fault else page

    def receive(self, *a, **kw):
        raise NotImplementedError

    def get_ack(self, *a):
        return None


def write_registry(path: Path, system_id: str, endpoint: str, ca_file: Path | str | None, *,
                   transport: str = "rest", **partner_keys: Any) -> Path:
    entry: dict[str, Any] = {"id": system_id, "parent": BUS, "transport": transport, "endpoint": endpoint,
                             "credentials": {"token_env": TOKEN_ENV}, "roles": ["CASE_REPORTER"],
                             "page_size": 4, "retries": 0}
    if ca_file is not None:
        entry["ca_file"] = str(ca_file)
    entry.update(partner_keys)
    path.write_text(yaml.safe_dump({"bus": {"system_id": BUS, "admission": "off"}, "partners": [entry]},
                                   allow_unicode=True))
    return path


def count(store, table) -> int:
    with store.reading() as s:
        return s.execute(select(func.count()).select_from(table)).scalar_one()


def assert_exactly_once(store, dataset: str, expected: list[dict[str, Any]]) -> None:
    """0 lost and 0 duplicated: the store holds each expected record once, nothing else."""
    table = {"case": CaseRecord, "case-event": CaseEventRecord}[dataset]
    with store.reading() as s:
        if dataset == "case-event":
            keys = Counter(s.execute(select(CaseEventRecord.case_no, CaseEventRecord.seq)).all())
            want = Counter((e["caseNo"], e["seq"]) for e in expected)
        else:
            keys = Counter(k for (k,) in s.execute(select(CaseRecord.case_no)).all())
            want = Counter({e["caseNo"]: 1 for e in expected})
    lost = want - keys
    duplicated = {k: n for k, n in keys.items() if n > 1}
    extra = keys - want
    assert not lost, f"{sum(lost.values())} record(s) lost: {sorted(lost)[:5]}"
    assert not duplicated and not extra, f"duplicated {duplicated}, unexpected {sorted(extra)[:5]}"
    assert count(store, table) == len(want)
    latest: dict[Any, dict[str, Any]] = {}
    for e in expected:
        k = (e["caseNo"], e.get("seq")) if dataset == "case-event" else e["caseNo"]
        if dataset != "case" or k not in latest or e["version"] > latest[k]["version"]:
            latest[k] = e
    assert sorted(export_current(store, dataset)) == sorted(canonical_bytes(e).decode() for e in latest.values())
