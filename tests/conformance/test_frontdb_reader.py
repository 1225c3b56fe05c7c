"""The FRONTDB reader tests of TBS-LP-1.0 §7.2 run against the bus itself (CONFORMANT), and a
reader that changes the front database fails LP-02."""
from __future__ import annotations

import itertools
from datetime import datetime

import sqlalchemy as sa

from tongban.conformance.frontdb_reader import run_lp_suite
from tongban.conformance.results import Result, Verdict
from tongban.connectors.frontdb.database import FrontDatabase
from tongban.connectors.frontdb.profile import load_profile
from tongban.registry import PartnerConfig
from tongban.store import Store
from tongban.sync.export import export_current
from tongban.sync.frontdb import FrontdbSync


class BusReader:
    """tongban as the SUT: a fresh store and SQLite front database per configured partner."""

    def __init__(self, tmp_path) -> None:
        self.tmp = tmp_path
        self.n = itertools.count()
        self.store = None
        self.sync_ = None
        self.error = None

    def front_database(self, *, system_id, profile, roles, dialect, t_read):
        i = next(self.n)
        url = f"sqlite:///{self.tmp / f'front{i}.db'}"
        self.store = Store(f"sqlite:///{self.tmp / f'store{i}.db'}")
        self.store.upgrade()
        partner = PartnerConfig(id=system_id, transport="frontdb", database_url_env="UNUSED",
                                profile=f"{profile} 1.0", roles=list(roles), evaluation_dialect=dialect)
        prof = load_profile(profile)
        self.url, self.partner, self.t_read = url, partner, datetime.fromisoformat(t_read)
        self.front = FrontDatabase(url, prof, prof.tables_for(set(roles)))
        return url

    def sync(self):
        FrontdbSync(self.store, None, self.partner, front=self.front, clock=lambda: self.t_read).poll()

    def export(self, dataset):
        return list(export_current(self.store, dataset))


class MeddlingReader(BusReader):
    """Marks the rows it has read — what TBS-LP-010 forbids."""

    def sync(self):
        super().sync()
        with self.front.engine.begin() as conn:
            conn.execute(sa.text("UPDATE up_task_general_basic SET data_source = 'OK'"))


def test_the_bus_is_a_conformant_frontdb_reader(tmp_path):
    runs, verdict = run_lp_suite(BusReader(tmp_path))
    assert {r.test.test_id: r.result.result for r in runs} == {
        t: Result.PASS for t in ("LP-01", "LP-02", "LP-03", "LP-04", "LP-13", "LP-14", "LP-16")}, \
        [(r.test.test_id, r.result.reason) for r in runs if r.result.result is not Result.PASS]
    assert verdict is Verdict.CONFORMANT


def test_a_reader_that_writes_up_tables_fails_lp02(tmp_path):
    runs, verdict = run_lp_suite(MeddlingReader(tmp_path), only={"LP-02"})
    assert [(r.test.test_id, r.result.result) for r in runs] == [("LP-02", Result.FAIL)]
    assert runs[0].result.findings[0].requirement_id == "TBS-LP-010"
    assert verdict is Verdict.NOT_CONFORMANT
