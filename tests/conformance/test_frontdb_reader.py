"""The FRONTDB reader tests of TBS-LP-1.0 §7.2 run against the bus itself (CONFORMANT), and each
test against a reader with the defect it exists to find (FAIL, naming the requirement)."""
from __future__ import annotations

import itertools
import logging
import os
import signal
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa

from tongban.conformance.frontdb_reader import LP_READER_TESTS, run_lp_suite
from tongban.conformance.results import Level, Result, Verdict
from tongban.connectors.frontdb.database import FrontDatabase
from tongban.connectors.frontdb.profile import load_profile
from tongban.registry import PartnerConfig
from tongban.store import Store
from tongban.sync.export import export_current
from tongban.sync.frontdb import FrontdbSync


class BusReader:
    """tongban as the SUT: a fresh store and SQLite front database per configured partner; its
    clock is the kit's; its operator alerts are the warnings the sync logs."""

    def __init__(self, tmp_path) -> None:
        self.tmp = tmp_path
        self.n = itertools.count()
        self.store = None
        self.logged: list[str] = []

    def front_database(self, *, system_id, profile, roles, dialect, t_read, hold_timeout="PT24H"):
        i = next(self.n)
        url = f"sqlite:///{self.tmp / f'front{i}.db'}"
        self.store = Store(f"sqlite:///{self.tmp / f'store{i}.db'}")
        self.store.upgrade()
        self.partner = PartnerConfig(id=system_id, transport="frontdb", database_url_env="UNUSED",
                                     profile=f"{profile} 1.0", roles=list(roles), evaluation_dialect=dialect,
                                     hold_timeout=hold_timeout)
        prof = load_profile(profile)
        self.t_read = datetime.fromisoformat(t_read)
        self.front = FrontDatabase(url, prof, prof.tables_for(set(roles)))
        self.logged = []
        return url

    def make_sync(self) -> FrontdbSync:
        return FrontdbSync(self.store, None, self.partner, front=self.front, clock=lambda: self.t_read)

    def sync(self):
        handler = _Collect(self.logged)
        log = logging.getLogger("tongban.sync.frontdb")
        log.addHandler(handler)
        try:
            self.make_sync().poll()
        finally:
            log.removeHandler(handler)

    def export(self, dataset):
        return list(export_current(self.store, dataset))

    def advance(self, seconds):
        self.t_read += timedelta(seconds=seconds)

    def alerts(self):
        return list(self.logged)

    def sync_killed(self, after_batches):
        """A child process polls and SIGKILLs itself once it has committed ``after_batches``
        batches, before their receipts are written (the sync's after-commit hook)."""
        pid = os.fork()
        if pid == 0:  # pragma: no cover - runs in the child
            try:
                self.store.engine.dispose(close=False)
                self.front.engine.dispose(close=False)
                done = itertools.count(1)

                def die(_batch):
                    if next(done) >= after_batches:
                        os.kill(os.getpid(), signal.SIGKILL)
                FrontdbSync(self.store, None, self.partner, front=self.front, clock=lambda: self.t_read,
                            after_batch=die).poll()
            finally:
                os._exit(0)
        _, status = os.waitpid(pid, 0)
        assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL, "the reader was not killed"


class _Collect(logging.Handler):
    def __init__(self, sink: list[str]) -> None:
        super().__init__(logging.WARNING)
        self.sink = sink

    def emit(self, record: logging.LogRecord) -> None:
        self.sink.append(record.getMessage())


# --- readers with one defect each -------------------------------------------------------------
class ReceiptRewritingReader(BusReader):
    """Writes every receipt again at every poll (TBS-LP-050: only when the outcome changes)."""

    def sync(self):
        super().sync()
        self.t_read += timedelta(seconds=1)
        with self.front.engine.begin() as conn:
            conn.execute(sa.text("UPDATE tb_receipt SET processed_at = :t"),
                         {"t": self.t_read.strftime("%Y-%m-%d %H:%M:%S")})


class MeddlingReader(BusReader):
    """Marks the rows it has read — what TBS-LP-010 forbids."""

    def sync(self):
        super().sync()
        with self.front.engine.begin() as conn:
            conn.execute(sa.text("UPDATE up_task_general_basic SET data_source = 'OK'"))


class NoLookBackReader(BusReader):
    """Reads only markers after its cursor: a marker committed late is lost (TBS-LP-026)."""

    def make_sync(self):
        sync = super().make_sync()
        sync.lookback = timedelta(0)
        return sync


class ReceiptWithoutFindingsReader(BusReader):
    """Rejects rows but writes receipts that name no rule and no column (TBS-LP-051)."""

    def sync(self):
        super().sync()
        with self.front.engine.begin() as conn:
            conn.execute(sa.text("UPDATE tb_receipt SET rule_ids = '', findings = '[]' WHERE outcome = 'REJECTED'"))


class RePushAsNewReader(BusReader):
    """Reports an identical re-push as STORED, not DUPLICATE (TBS-LP-035)."""

    def sync(self):
        super().sync()
        with self.front.engine.begin() as conn:
            conn.execute(sa.text("UPDATE tb_receipt SET outcome = 'STORED' WHERE outcome = 'DUPLICATE'"))


class ProvinceWriterReader(BusReader):
    """Validates the county's items as if the province wrote them: the county may then change the
    basic fields it does not own (TBS-SYNC-009, TBS-LP-002)."""

    def front_database(self, **kw):
        url = super().front_database(**kw)
        self.partner = self.partner.model_copy(update={"id": "TB:province:440000:GDZWFW"})
        return url


class EverlastingHoldReader(BusReader):
    """Ignores the configured hold timeout: held rows are never rejected (TBS-LP-045)."""

    def front_database(self, **kw):
        return super().front_database(**{**kw, "hold_timeout": "PT24H"})


class FutureClockReader(BusReader):
    """Its clock runs 80 years ahead: nothing written in 2099 is from the future (TBS-ENV-011)."""

    def make_sync(self):
        ahead = self.t_read.replace(year=2100)
        return FrontdbSync(self.store, None, self.partner, front=self.front, clock=lambda: ahead)


class DnForEveryoneReader(BusReader):
    """Writes dn rows whatever the partner's roles (TBS-LP-058)."""

    def front_database(self, **kw):
        kw["roles"] = tuple(sorted({*kw["roles"], "CATALOG_CONSUMER"}))
        return super().front_database(**kw)


class NoResumeReader(BusReader):
    """Never derives RESUME from a special procedure's end_time (TBS-LP-108)."""

    def make_sync(self):
        sync = super().make_sync()
        derive = sync.mapper.linked_events
        sync.mapper.linked_events = lambda *a, **kw: [c for c in derive(*a, **kw) if c.part != "RESUME"]
        return sync


class SilentReader(BusReader):
    """Tells its operator nothing (TBS-LP-026, -027 SHOULD)."""

    def alerts(self):
        return []


DEFECTS = {"LP-02": (MeddlingReader, "TBS-LP-010"), "LP-05": (NoLookBackReader, "TBS-LP-026"),
           "LP-06": (ReceiptRewritingReader, "TBS-LP-048"),
           "LP-07": (ReceiptWithoutFindingsReader, "TBS-LP-031"), "LP-08": (RePushAsNewReader, "TBS-LP-035"),
           "LP-09": (ProvinceWriterReader, "TBS-SYNC-009"), "LP-10": (EverlastingHoldReader, "TBS-EVT-009"),
           "LP-11": (NoResumeReader, "TBS-LP-108"),
           "LP-12": (FutureClockReader, "TBS-ENV-011"), "LP-15": (DnForEveryoneReader, "TBS-LP-057"),
           "LP-17": (SilentReader, "TBS-LP-026")}


def test_the_bus_is_a_conformant_frontdb_reader(tmp_path):
    runs, verdict = run_lp_suite(BusReader(tmp_path))
    assert {r.test.test_id: r.result.result for r in runs} == {
        t: Result.PASS for t in ("LP-01", "LP-02", "LP-03", "LP-04", "LP-05", "LP-06", "LP-07", "LP-08", "LP-09", "LP-10",
                                 "LP-11", "LP-12", "LP-13", "LP-14", "LP-15", "LP-16", "LP-17")}, \
        [(r.test.test_id, r.result.reason) for r in runs if r.result.result is not Result.PASS]
    assert verdict is Verdict.CONFORMANT


@pytest.mark.parametrize("test_id", sorted(DEFECTS))
def test_a_defective_reader_fails_the_test_that_targets_its_defect(tmp_path, test_id):
    reader, requirement = DEFECTS[test_id]
    runs, verdict = run_lp_suite(reader(tmp_path), only={test_id})
    assert [(r.test.test_id, r.result.result) for r in runs] == [(test_id, Result.FAIL)], runs[0].result.reason
    assert requirement in {f.requirement_id for f in runs[0].result.findings}, runs[0].result.reason
    if next(cls for cls in LP_READER_TESTS if cls.test_id == test_id).level is Level.SHALL:
        assert verdict is Verdict.NOT_CONFORMANT


def test_tests_that_need_the_clock_or_alerts_are_skipped_without_them(tmp_path):
    class Plain(BusReader):
        advance = None
        alerts = None

    runs, _ = run_lp_suite(Plain(tmp_path), only={"LP-10", "LP-17"})
    assert [(r.test.test_id, r.result.result) for r in runs] == [("LP-10", Result.SKIP), ("LP-17", Result.SKIP)]


class ReceiptsInMemoryReader(BusReader):
    """Keeps the receipts of a batch in memory until they are written: a kill between the batch's
    commit and its receipts loses them (TBS-LP-048)."""

    def sync_killed(self, after_batches):
        super().sync_killed(after_batches)
        from tongban.store.schema import FrontdbReceipt

        with self.store.transaction() as s:
            s.query(FrontdbReceipt).filter(FrontdbReceipt.written.is_(False)).delete()


def test_a_reader_that_loses_receipts_when_killed_fails_lp06(tmp_path):
    runs, verdict = run_lp_suite(ReceiptsInMemoryReader(tmp_path), only={"LP-06"})
    assert [(r.test.test_id, r.result.result) for r in runs] == [("LP-06", Result.FAIL)]
    assert "receipts differ" in runs[0].result.reason and "killed after batch 1" in runs[0].result.reason
    assert verdict is Verdict.NOT_CONFORMANT
