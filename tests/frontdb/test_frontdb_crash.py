"""LP-06: a real ``tongban sync`` of a FRONTDB partner killed (SIGKILL) while it processes
batches, and run again, stores the same records and receipts as an undisturbed run: nothing
lost, nothing twice (TBS-LP-048). The front database is a SQLite file, and MariaDB when
TONGBAN_TEST_MARIADB_URL is set."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
import yaml
from sqlalchemy import func, select

from frontdb_helpers import MARIADB_URL, Front, mariadb_database
from roundtrip import ROLES, writer_for
from tongban.registry import load_registry
from tongban.store import Store
from tongban.store.schema import FrontdbBatch, QuarantineEntry
from tongban.sync.engine import SyncEngine
from tongban.sync.export import export_current

BUS = "TB:province:440000:GDZWFW"
DATASETS = ("catalog", "case", "case-event", "result", "evaluation")


def _count(store, table):
    with store.reading() as s:
        return s.execute(select(func.count()).select_from(table)).scalar_one()


def _state(store, front_url):
    from tongban.connectors.frontdb.database import FrontDatabase
    from tongban.connectors.frontdb.profile import load_profile

    p = load_profile("NATIONAL-EXCHANGE")
    db = FrontDatabase(front_url, p, p.tables_for(set(ROLES)))
    receipts = sorted(tuple(v for k, v in r.items() if k != "processed_at") for r in db.receipts())
    db.close()
    return {d: list(export_current(store, d)) for d in DATASETS}, receipts


@pytest.fixture(params=["sqlite", "mariadb"])
def fronts(request, tmp_path):
    """Two front databases, undisturbed (a) and killed (b), to be written alike."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'front_a.db'}", f"sqlite:///{tmp_path / 'front_b.db'}"
        return
    if not MARIADB_URL:
        pytest.skip("TONGBAN_TEST_MARIADB_URL is not set: MariaDB front-database tests run in CI (.ci/run)")
    (url_a, drop_a), (url_b, drop_b) = mariadb_database(), mariadb_database()
    yield url_a, url_b
    drop_a()
    drop_b()


def test_sigkill_mid_sync_loses_and_duplicates_nothing(tmp_path, fronts):
    from tongban.sandbox.generate import generate_province

    county = next(s for s in generate_province(5, cities=1, counties_per_city=1, items_per_county=4,
                                               cases_per_county=40).systems.values() if s.level == "county")
    front_a, front_b = fronts
    store_a = Store(f"sqlite:///{tmp_path / 'store_a.db'}")
    store_a.upgrade()
    batches = 0
    for url in (front_a, front_b):  # the writer is deterministic: both front databases hold the same rows
        f = Front(url, store_a, county.system_id, "NATIONAL-EXCHANGE", ROLES)
        written = writer_for(county).write(f.db.engine)
        assert batches in (0, written)
        batches = written
        f.db.close()

    partners = tmp_path / "partners.yaml"
    partners.write_text(yaml.safe_dump({"bus": {"system_id": BUS, "admission": "off"}, "partners": [{
        "id": county.system_id, "parent": BUS, "transport": "frontdb", "database_url_env": "TONGBAN_CRASH_FRONTDB",
        "profile": "NATIONAL-EXCHANGE 1.0", "roles": ROLES, "evaluation_dialect": "HCP-NATIONAL"}]}))
    # the undisturbed run
    os.environ["TONGBAN_CRASH_FRONTDB"] = front_a
    try:
        SyncEngine(store_a, load_registry(partners)).sync(county.system_id, "case")
    finally:
        os.environ.pop("TONGBAN_CRASH_FRONTDB")
    undisturbed = _state(store_a, front_a)
    assert _count(store_a, FrontdbBatch) == batches

    # the killed runs, then one to the end
    db = tmp_path / "store_b.db"
    store_b = Store(f"sqlite:///{db}")
    store_b.upgrade()
    env = {**os.environ, "TONGBAN_DATABASE_URL": f"sqlite:///{db}",
           "TONGBAN_CRASH_FRONTDB": front_b}
    kills = 0
    done = 0
    for _ in range(3):  # each run killed as soon as it has committed a batch: commits come in bursts
        target = done + 1
        proc = subprocess.Popen([sys.executable, "-m", "tongban.cli", "sync", "--partners", str(partners),
                                 "--partner", county.system_id, "--dataset", "case"],
                                env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while _count(store_b, FrontdbBatch) < target and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.01)
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(10) == -signal.SIGKILL, "the sync ended before it could be killed"
        kills += 1
        done = _count(store_b, FrontdbBatch)
        assert 0 < done < batches, "the kill must land mid-run"
    result = subprocess.run([sys.executable, "-m", "tongban.cli", "sync", "--partners", str(partners),
                             "--partner", county.system_id, "--dataset", "case"], env=env, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert kills == 3
    assert _count(store_b, FrontdbBatch) == batches
    assert _state(store_b, env["TONGBAN_CRASH_FRONTDB"]) == undisturbed
    assert _count(store_b, QuarantineEntry) == _count(store_a, QuarantineEntry)
