"""Killing a sync process for real (SIGKILL) mid-run and running again loses nothing and
duplicates nothing: records, cursor and ledger entry of a page commit together."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
import yaml
from sqlalchemy import func, select

from tongban.connectors.rest.server import create_rest_app, token_table
from tongban.connectors.serving import ServerThread, make_local_ca
from tongban.registry import load_registry
from tongban.sandbox.feed import ChangeFeed
from tongban.sandbox.generate import generate_province
from tongban.store import Store
from tongban.store.schema import CaseEventRecord, QuarantineEntry
from tongban.sync import ledger
from tongban.sync.engine import SyncEngine
from tongban.sync.export import export_current

BUS = "TB:province:440000:TONGBAN"
TOKEN = "crash-test-token-0123456789abcdef"


class SlowFeeds:
    """Serves fixed feeds, slowly, so a kill lands in the middle of the run."""

    def __init__(self, system_id, feeds, delay):
        self.system_id, self.delay = system_id, delay
        self.feeds = {ds: ChangeFeed(ds, recs) for ds, recs in feeds.items()}

    def meta(self):
        return {"systemId": self.system_id, "roles": ["CASE_REPORTER"], "datasets": sorted(self.feeds),
                "specVersions": ["TBS-1.0"]}

    def changes(self, dataset, since, limit):
        time.sleep(self.delay)
        return self.feeds[dataset].page(since, limit)

    def receive(self, *a, **kw):
        raise NotImplementedError

    def get_ack(self, *a):
        return None


def count(store, table):
    with store.reading() as s:
        return s.execute(select(func.count()).select_from(table)).scalar_one()


def test_sigkill_mid_sync_then_rerun_loses_and_duplicates_nothing(tmp_path):
    county = generate_province(9, cities=1, counties_per_city=1).counties[0]
    cases, events = county.records("case"), county.records("case-event")
    tls = make_local_ca(tmp_path / "tls")
    service = SlowFeeds(county.system_id, {"case": cases, "case-event": events}, delay=0.05)
    db = tmp_path / "store.db"
    env = {**os.environ, "TONGBAN_DATABASE_URL": f"sqlite:///{db}", "TONGBAN_CRASH_TOKEN": TOKEN}
    with ServerThread(create_rest_app(service, authenticate=token_table({TOKEN: BUS})), tls=tls) as srv:
        partners = tmp_path / "partners.yaml"
        partners.write_text(yaml.safe_dump({"bus": {"system_id": BUS, "admission": "off"}, "partners": [{
            "id": county.system_id, "parent": BUS, "transport": "rest", "endpoint": srv.url,
            "ca_file": str(tls.ca_file), "credentials": {"token_env": "TONGBAN_CRASH_TOKEN"},
            "roles": ["CASE_REPORTER"], "page_size": 4, "retries": 0}]}))
        store = Store(f"sqlite:///{db}")
        store.upgrade()
        os.environ["TONGBAN_CRASH_TOKEN"] = TOKEN
        try:
            engine = SyncEngine(store, load_registry(partners))
            engine.sync(county.system_id, "case")
            kills = 0
            for _ in range(3):  # three real crashes at different points of the run
                proc = subprocess.Popen([sys.executable, "-m", "tongban.cli", "sync", "--partners", str(partners),
                                         "--partner", county.system_id, "--dataset", "case-event"],
                                        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                before = count(store, CaseEventRecord)
                deadline = time.monotonic() + 30
                while count(store, CaseEventRecord) <= before + 4 * (kills + 1) and time.monotonic() < deadline:
                    time.sleep(0.02)
                proc.send_signal(signal.SIGKILL)
                assert proc.wait(10) == -signal.SIGKILL
                kills += 1
                stored = count(store, CaseEventRecord)
                assert before < stored < len(events), "the kill must land mid-run"
                # The committed cursor covers exactly the committed records.
                cursor = store.cursor(county.system_id, "case-event")
                assert cursor == f"c-{stored:016d}"
            report = engine.sync(county.system_id, "case-event")
        finally:
            os.environ.pop("TONGBAN_CRASH_TOKEN", None)
    assert report.counts.duplicate == 0 and report.counts.rejected == 0
    assert count(store, CaseEventRecord) == len(events)
    assert count(store, QuarantineEntry) == 0
    from tongban.model.canonical import canonical_bytes

    assert sorted(export_current(store, "case-event")) == sorted(canonical_bytes(e).decode() for e in events)
    assert ledger.verify(store).ok
