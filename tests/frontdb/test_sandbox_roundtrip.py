"""The sandbox county synced through a real front database: generate, write as legacy rows,
sync through FRONTDB; ``tongban export`` (the command) equals the county's canonical records
line by line (as the profile carries them); a second sync stores nothing."""
from __future__ import annotations

import json

import pytest

from frontdb_helpers import MARIADB_URL, Front, mariadb_database
from roundtrip import ROLES, county_data, expected, writer_for
from tongban.model.canonical import canonical_bytes


@pytest.fixture(params=["sqlite", "mariadb"])
def front_url(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'front.db'}"
        return
    if not MARIADB_URL:
        pytest.skip("TONGBAN_TEST_MARIADB_URL is not set: MariaDB front-database tests run in CI (.ci/run)")
    url, drop = mariadb_database()
    yield url
    drop()


@pytest.fixture
def store(tmp_path):
    from tongban.store import Store

    s = Store(f"sqlite:///{tmp_path / 'store.db'}")
    s.upgrade()
    yield s
    s.dispose()


def tongban_export(store, dataset: str) -> list[str]:
    """The lines ``tongban export --dataset D`` prints for the store."""
    from click.testing import CliRunner

    from tongban.cli import main

    result = CliRunner().invoke(main, ["export", "--dataset", dataset],
                                env={"TONGBAN_DATABASE_URL": str(store.url)})
    assert result.exit_code == 0, result.output
    return result.stdout.splitlines()


def test_sandbox_county_round_trip(front_url, store):
    county, now = county_data()
    f = Front(front_url, store, county.system_id, "NATIONAL-EXCHANGE", ROLES, t_read=now)
    w = writer_for(county)
    for i in range(len(w.batches)):  # the department writes, the bus polls, batch by batch
        w.write(f.db.engine, start=i, stop=i + 1)
        f.poll()
    want = expected(county)
    bad = [r for r in f.db.receipts() if r["outcome"] != "STORED"]
    assert not bad, "\n".join(f"{r['table_name']} {r['cd_batch']} {r['outcome']} {r['message']} {r['findings']}" for r in bad)
    from tongban.sync.export import export_current
    for dataset in ("catalog", "case", "case-event", "result", "evaluation"):
        got = tongban_export(store, dataset)
        want_lines = [canonical_bytes(r).decode() for r in want[dataset]]
        diff = [(g, w) for g, w in zip(got, want_lines) if g != w]
        assert got == want_lines, f"{dataset}: {len(got)} vs {len(want_lines)} lines; first difference {diff[:1]}"
    before = {d: list(export_current(store, d)) for d in want}
    receipts = f.db.receipts()
    report = f.poll()
    assert report.batches == 0 and report.rows == 0
    assert {d: list(export_current(store, d)) for d in want} == before
    assert f.db.receipts() == receipts
