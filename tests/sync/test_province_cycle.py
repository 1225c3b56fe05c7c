"""The province cycle through the CLI: a province-scale sandbox of 30 systems (REST, SOAP and file
drop served by one process) with 50,000 case events of 10,000 cases, ``tongban sync --all
--workers 3`` for the full sync, a change round of 1 %, an incremental cycle, then a cycle with
no change.

After each cycle the store must hold exactly the sandbox's current records: compared per dataset
by an order-independent digest of the canonical contents, the expected side computed here from
the generator (same seed, volumes, ``now``) and the stored side read from the store's tables.
"""
from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from tongban.cli import main
from tongban.model.datasets import DATASETS
from tongban.sandbox.scale import digest_of
from tongban.sandbox.scale_serve import province_from_ready
from tongban.store.schema import CaseEventRecord, CaseRecord, CatalogItemVersion, EvaluationRecord, ResultRecord
from tongban.store.store import Store

SYSTEMS = 30
VOLUMES = ("--catalog", "900", "--cases", "10000", "--events-per-case", "5", "--results", "350",
           "--evaluations", "350")
TABLES = {"catalog": CatalogItemVersion, "case": CaseRecord, "case-event": CaseEventRecord,
          "result": ResultRecord, "evaluation": EvaluationRecord}


def run(*args: str) -> dict:
    result = CliRunner().invoke(main, [*args, "--format", "json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def stored_digest(store: Store, dataset: str) -> str:
    table = TABLES[dataset]
    query = select(table.content)
    if table is CatalogItemVersion:
        query = query.where(CatalogItemVersion.is_current.is_(True))
    with store.transaction() as s:
        return digest_of(c.encode() for c in s.scalars(query))


def row_counts(store: Store) -> dict[str, int]:
    with store.transaction() as s:
        return {ds: len(s.scalars(select(t.sha256)).all()) for ds, t in TABLES.items()}


@pytest.fixture
def province(tmp_path, monkeypatch):
    monkeypatch.setenv("TONGBAN_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("TONGBAN_DATABASE_URL", raising=False)
    folder = tmp_path / "sandbox"
    ready = run("sandbox", "up", "--scale", "province", "--folder", str(folder), "--systems", str(SYSTEMS),
                "--seed", "21", "--admission", "off", *VOLUMES)
    for line in Path(ready["secrets"]).read_text().splitlines():
        name, _, value = line.partition("=")
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("TONGBAN_PARTNERS", ready["registry"])
    yield folder, ready
    CliRunner().invoke(main, ["sandbox", "down", "--folder", str(folder)])


def expected_digests(province, rounds: int) -> dict[str, str]:
    """Per dataset, the digest of the sandbox's current records after ``rounds`` change rounds."""
    return {ds: province.content_digest(ds, rounds) for ds in DATASETS}


@pytest.mark.timeout(900)   # about 60,000 records through the CLI: minutes on a shared 2-core machine
def test_full_incremental_and_no_change_cycles(province):
    folder, ready = province
    assert len(ready["systems"]) == SYSTEMS
    assert Counter(s["transport"] for s in ready["systems"]) == {"rest": 10, "soap": 10, "filedrop": 10}
    expected = province_from_ready(ready)
    total = {ds: sum(s.counts[ds] for s in expected.systems) for ds in DATASETS}
    assert total["case-event"] == 50_000
    # a change round changes catalog entries and cases only: the other datasets' records stay
    assert {ds for ds in DATASETS if any(s.round_count(ds, 1) for s in expected.systems)} == {"catalog", "case"}
    round0 = expected_digests(expected, 0)
    round1 = {**round0, "catalog": expected.content_digest("catalog", 1), "case": expected.content_digest("case", 1)}

    full = run("sync", "--all", "--workers", "3")
    t = full["totals"]
    assert (t["partners"], t["runs"], t["failed"], t["skipped"]) == (SYSTEMS, SYSTEMS * len(DATASETS), 0, 0)
    assert (t["held"], t["rejected"], t["stale"]) == (0, 0, 0)
    assert t["stored"] == t["pulled"] == sum(total.values())
    store = Store()
    for ds in DATASETS:
        assert stored_digest(store, ds) == round0[ds], ds

    changed = run("sandbox", "change", "--folder", str(folder))
    assert changed["round"] == 1
    assert changed["changed"] == sum(len(range(0, s.counts[ds], 100)) for s in expected.systems
                                     for ds in ("catalog", "case"))
    incremental = run("sync", "--all", "--workers", "3")["totals"]
    assert incremental["stored"] == incremental["pulled"] == changed["changed"]
    assert (incremental["held"], incremental["rejected"], incremental["failed"]) == (0, 0, 0)
    for ds in DATASETS:
        assert stored_digest(store, ds) == round1[ds], ds
    assert stored_digest(store, "catalog") != round0["catalog"]

    before = row_counts(store)
    quiet = run("sync", "--all", "--workers", "3")["totals"]
    assert (quiet["pulled"], quiet["stored"], quiet["failed"]) == (0, 0, 0)
    assert quiet["runs"] == SYSTEMS * len(DATASETS)
    assert row_counts(store) == before
    for ds in DATASETS:
        assert stored_digest(store, ds) == round1[ds], ds


def test_all_refuses_partner_and_dataset():
    result = CliRunner().invoke(main, ["sync", "--all", "--partner", "X", "--dataset", "case"])
    assert result.exit_code == 2 and "leave out --partner" in result.output
    result = CliRunner().invoke(main, ["sync", "--dataset", "case"])
    assert result.exit_code == 2 and "--all" in result.output
