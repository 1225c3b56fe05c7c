"""Finding 9 (sync side) and finding 7: concurrent syncs, killed runs, a read-only store, a
PostgreSQL connection killed mid-sync, and what an error may carry.

Each fault ends with the store counted against the partner's feed: 0 lost, 0 duplicated.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid

import pytest
from sqlalchemy import create_engine, select, text

from fault_support import Feeds, assert_exactly_once, count, write_registry, TOKEN, TOKEN_ENV
from tongban.registry import load_registry
from tongban.store import Store
from tongban.store.locks import AlreadyRunning
from tongban.store.schema import CaseRecord, SyncRun
from tongban.sync.engine import SyncEngine, SyncFailed

PG_URL = os.environ.get("TONGBAN_TEST_PG_URL")


def wait_for(predicate, seconds=20.0):
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.02)


def runs(store):
    with store.reading() as s:
        return s.execute(select(SyncRun).order_by(SyncRun.id)).scalars().all()


@pytest.mark.timeout(90)
def test_a_second_sync_of_the_same_feed_is_refused_as_already_running(store, partner, fault_county):
    cases = fault_county.records("case")
    service = Feeds(fault_county.system_id, {"case": cases}, delay=0.15)
    registry, _ = partner(service, page_size=2)
    first: dict = {}
    worker = threading.Thread(target=lambda: first.update(
        report=SyncEngine(store, registry, trigger="test").sync(fault_county.system_id, "case")))
    worker.start()
    try:
        wait_for(lambda: service.calls >= 1)
        with pytest.raises(AlreadyRunning, match="already running"):
            SyncEngine(store, registry, trigger="test").sync(fault_county.system_id, "case")
    finally:
        worker.join(60)
    assert first["report"].status == "SUCCESS" and first["report"].pulled == len(cases)
    assert [r.status for r in runs(store)] == ["SUCCESS"], "the refused sync recorded no run"
    assert_exactly_once(store, "case", cases)
    # Released: the next run proceeds.
    assert SyncEngine(store, registry, trigger="test").sync(fault_county.system_id, "case").status == "SUCCESS"


@pytest.mark.timeout(120)
def test_a_run_killed_with_sigkill_is_marked_stale_and_the_rerun_completes(tmp_path, partner, fault_county):
    cases = fault_county.records("case")
    service = Feeds(fault_county.system_id, {"case": cases}, delay=0.2)
    registry, _ = partner(service, page_size=2)
    db = tmp_path / "store.db"
    store = Store(f"sqlite:///{db}")
    store.upgrade()
    env = {**os.environ, "TONGBAN_DATABASE_URL": f"sqlite:///{db}"}
    proc = subprocess.Popen([sys.executable, "-m", "tongban.cli", "sync", "--partners", str(tmp_path / "partners.yaml"),
                             "--partner", fault_county.system_id, "--dataset", "case"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: count(store, CaseRecord) >= 2)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    [killed] = runs(store)
    assert killed.status == "RUNNING"
    stored = count(store, CaseRecord)
    assert 0 < stored < len(cases), "the kill must land mid-run"
    report = SyncEngine(store, registry, trigger="test").sync(fault_county.system_id, "case")
    killed_after, rerun = runs(store)
    assert (killed_after.status, killed_after.error_code) == ("FAILED", "STALE_RUN")
    assert rerun.status == "SUCCESS" and report.counts.duplicate == 0
    assert_exactly_once(store, "case", cases)
    store.dispose()


@pytest.mark.timeout(60)
def test_a_read_only_store_fails_in_one_clear_line(tmp_path, partner, fault_county):
    cases = fault_county.records("case")
    registry, _ = partner(Feeds(fault_county.system_id, {"case": cases}))
    db = tmp_path / "store.db"
    Store(f"sqlite:///{db}").upgrade()
    env = {**os.environ, "TONGBAN_DATABASE_URL": f"sqlite:///file:{db}?mode=ro&uri=true"}
    done = subprocess.run([sys.executable, "-m", "tongban.cli", "sync", "--partners", str(tmp_path / "partners.yaml"),
                           "--partner", fault_county.system_id, "--dataset", "case"],
                          env=env, capture_output=True, text=True, timeout=40)
    output = done.stdout + done.stderr
    assert done.returncode == 1, output
    assert "Traceback" not in output and "readonly" in output.replace("read-only", "readonly").lower()
    assert len([line for line in output.splitlines() if line.strip()]) <= 2, output
    assert count(Store(f"sqlite:///{db}"), CaseRecord) == 0


@pytest.mark.timeout(90)
@pytest.mark.skipif(not PG_URL, reason="TONGBAN_TEST_PG_URL is not set: the PostgreSQL fault runs in CI (.ci/run)")
def test_postgresql_connection_killed_mid_sync_is_a_retriable_failure_then_the_rerun_completes(partner, fault_county):
    """pg_terminate_backend on the sync's own connections (only those: a unique application_name)."""
    cases = fault_county.records("case")
    registry, _ = partner(Feeds(fault_county.system_id, {"case": cases}), page_size=3)
    schema, app = f"t_{uuid.uuid4().hex[:12]}", f"tbfault-{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine = create_engine(PG_URL, pool_pre_ping=False,
                           connect_args={"options": f"-csearch_path={schema}", "application_name": app})
    store = Store(PG_URL, engine=engine)
    store.upgrade()
    killed = []

    def kill_after_first_page(report):
        if report.pages == 1 and not killed:
            with admin.begin() as conn:
                killed.extend(conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                                "WHERE application_name = :a"), {"a": app}).scalars())
    try:
        with pytest.raises(SyncFailed) as info:
            SyncEngine(store, registry, trigger="test").sync(fault_county.system_id, "case",
                                                             on_page=kill_after_first_page)
        failure = info.value.report
        assert killed and failure.retriable and failure.error_hop == "store"
        assert "\n" not in failure.error and "Traceback" not in failure.error and "SELECT" not in failure.error
        report = SyncEngine(store, registry, trigger="test").sync(fault_county.system_id, "case")
        assert report.status == "SUCCESS" and report.counts.duplicate == 0
        assert_exactly_once(store, "case", cases)
    finally:
        store.dispose()
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.mark.timeout(60)
def test_a_store_error_stored_and_printed_carries_no_record_values(store, partner, fault_county):
    """Finding 7: a real unique violation raised mid-run, with a resident id number among its
    parameters, reaches sync_runs.error without SQL, parameters or the number (TBS-SEC-012)."""
    cases = fault_county.records("case")
    registry, _ = partner(Feeds(fault_county.system_id, {"case": cases}))
    id_no = "44010319491231002X"
    victim = cases[0]

    def collide(report):
        with store.transaction() as s:  # the same primary key again: the database refuses it
            s.add(CaseRecord(case_no=victim["caseNo"], version=1, impl_code=victim["implCode"],
                             region_code="440103", case_type="1", channel="2", submitted_at="x", source="x",
                             content=json.dumps({"applicant": {"idNo": id_no}}), sha256="0" * 64))

    with pytest.raises(SyncFailed) as info:
        SyncEngine(store, registry, trigger="test").sync(fault_county.system_id, "case", on_page=collide)
    assert info.value.report.error_code in ("IntegrityError", "UniqueViolation")
    [run] = runs(store)
    for text_out in (run.error, str(info.value)):
        assert id_no not in text_out and "INSERT" not in text_out and "parameters" not in text_out.lower()
        assert "\n" not in text_out
    assert "440103" in run.error or "unique" in run.error.lower() or "UNIQUE" in run.error
