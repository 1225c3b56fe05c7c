"""The fault matrix, store side: the SQLite store locked by another writer, and the disk full
(a real ENOSPC-like failure: RLIMIT_FSIZE in the sync's process makes every write past the
limit fail with EFBIG, which SQLite reports as a full disk).

Expected: a lock held for a while is waited out and the run completes; a full disk fails the
run in one line without a traceback, and the rerun with space stores everything — counted,
0 lost and 0 duplicated.
"""
from __future__ import annotations

import os
import resource
import signal
import sqlite3
import subprocess
import sys
import threading

import pytest

from fault_support import Feeds, assert_exactly_once, count
from tongban.store import Store
from tongban.store.schema import CaseRecord
from tongban.sync.engine import SyncEngine


@pytest.mark.timeout(60)
def test_a_store_locked_by_another_writer_is_waited_out(tmp_path, partner, fault_county):
    cases = fault_county.records("case")
    registry, _ = partner(Feeds(fault_county.system_id, {"case": cases}))
    db = tmp_path / "store.db"
    store = Store(f"sqlite:///{db}")
    store.upgrade()
    other = sqlite3.connect(db, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")  # another process' write transaction holds the lock
    released = threading.Timer(1.5, lambda: other.execute("COMMIT"))
    released.start()
    try:
        report = SyncEngine(store, registry, trigger="test").sync(fault_county.system_id, "case")
    finally:
        released.join()
        other.close()
    assert report.status == "SUCCESS" and report.duration_s >= 1.0
    assert_exactly_once(store, "case", cases)
    store.dispose()


def _limit_file_size(limit: int):
    def apply() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead of a kill, as on a full disk
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return apply


@pytest.mark.timeout(90)
def test_disk_full_fails_in_one_line_and_the_rerun_completes(tmp_path, partner, fault_county):
    cases = fault_county.records("case")
    registry, _ = partner(Feeds(fault_county.system_id, {"case": cases}), page_size=2)
    db = tmp_path / "store.db"
    store = Store(f"sqlite:///{db}")
    store.upgrade()
    env = {**os.environ, "TONGBAN_DATABASE_URL": f"sqlite:///{db}"}
    done = subprocess.run([sys.executable, "-m", "tongban.cli", "sync", "--partners", str(tmp_path / "partners.yaml"),
                           "--partner", fault_county.system_id, "--dataset", "case"],
                          env=env, capture_output=True, text=True, timeout=60,
                          preexec_fn=_limit_file_size(os.path.getsize(db) + 48 * 1024))
    output = done.stdout + done.stderr
    assert done.returncode == 1, output
    assert "Traceback" not in output and "disk" in output.lower(), output
    assert len([line for line in output.splitlines() if line.strip()]) <= 2, output
    partial = count(store, CaseRecord)
    assert partial < len({c["caseNo"] for c in cases})
    report = SyncEngine(store, registry, trigger="test").sync(fault_county.system_id, "case")
    assert report.status == "SUCCESS" and report.counts.duplicate == 0
    assert_exactly_once(store, "case", cases)
    store.dispose()
