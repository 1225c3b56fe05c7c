"""The sync engine: incremental pull of one (partner, dataset) changes feed.

Per page: fetch (outside any transaction, so network time never holds a database lock),
then in ONE transaction ingest the records, advance the cursor and append the ledger
entry (TBS-SYNC-012). A crash at any point leaves either the whole page or none of it;
at-least-once delivery plus idempotent upserts on business keys gives the exactly-once
effect (§13.1).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable

from sqlalchemy import update
from sqlalchemy.exc import DBAPIError

from tongban.connectors.base import ConnectorError, CursorExpiredError, Feed, Inbox
from tongban.model.canonical import sha256_hex
from tongban.registry import PartnerConfig, Registry, Transport, role_for
from tongban.store.schema import SyncRun
from tongban.store.store import Store, StoreError, utcnow
from tongban.sync import ledger
from tongban.sync.adapters import adapt
from tongban.sync.connect import open_source
from tongban.sync.cursor import ChangeCursor
from tongban.sync.ingest import Ingestor
from tongban.sync.outbox import announcement_versions
from tongban.sync.outcome import OutcomeCounts
from tongban.sync.errors import safe_error_text, store_error_retriable
from tongban.sync.progress import FeedProgress
from tongban.sync.versions import exchange_version
from tongban.store.locks import AlreadyRunning, feed_lock
from tongban.validators import ValidationContext


@dataclass
class SyncReport:
    partner_id: str
    dataset: str
    status: str = "RUNNING"
    pages: int = 0
    pulled: int = 0
    counts: OutcomeCounts = field(default_factory=OutcomeCounts)
    cursor_before: str | None = None
    cursor_after: str | None = None
    started_at: datetime = field(default_factory=utcnow)
    duration_s: float = 0.0
    error: str | None = None
    error_code: str | None = None
    error_hop: str | None = None
    retriable: bool = False
    run_id: int | None = None
    stopped_by: str | None = None  # the registry bound that ended a run early (the feed goes on next run)
    documents: Any = None  # DocumentCheck after a result sync with a documents folder

    def as_dict(self) -> dict[str, Any]:
        return {
            "partner": self.partner_id, "dataset": self.dataset, "status": self.status, "pages": self.pages,
            "pulled": self.pulled, **self.counts.as_dict(), "cursorBefore": self.cursor_before,
            "cursorAfter": self.cursor_after, "durationSeconds": round(self.duration_s, 3), "error": self.error,
            "errorCode": self.error_code, "errorHop": self.error_hop, "stoppedBy": self.stopped_by,
            "documents": None if self.documents is None else {
                "verified": self.documents.verified, "mismatched": self.documents.mismatched,
                "missing": self.documents.missing},
        }


class SyncFailed(Exception):
    """A sync run failed; ``report`` says where (hop) and whether a retry may help."""

    def __init__(self, report: SyncReport) -> None:
        super().__init__(f"{report.partner_id} {report.dataset}: {report.error_hop} failed: {report.error}")
        self.report = report
        self.retriable = report.retriable


NOT_ADMITTED = "NOT_ADMITTED"
"""error_code of a SKIPPED sync run: the admission gate refused the partner (TBS-CONF-008)."""


class NotAdmitted(Exception):
    """TBS-CONF-008: the partner holds no current CONFORMANT certificate for the role."""


class NoCommonVersion(NotAdmitted):
    """TBS-ENV-034: the bus and the partner support no version in common (after the TBS-1.0
    sunset, a TBS-1.0-only partner): nothing is exchanged, the run is recorded as SKIPPED."""


Admission = Callable[[Store, str, str, str, str], bool]
"""(store, system id, role, spec version, transport) → admitted?"""


class SyncEngine:
    def __init__(self, store: Store, registry: Registry, *, trigger: str = "cli",
                 connector_factory: Callable[[PartnerConfig, str], Feed | Inbox] = open_source,
                 admission: Admission | None = None, receiver: Any = None) -> None:
        self.store = store
        self.registry = registry
        store.ledger_key = registry.bus.ledger_key() or store.ledger_key
        self.trigger = trigger
        self._connect = connector_factory
        self._admission = admission
        # what an inbox's envelopes are handed to (a SystemService); default the bus receiver.
        # The gateway passes its own, which counts them in its metrics.
        self._receiver = receiver

    def check_admission(self, partner: PartnerConfig, dataset: str) -> None:
        """Raise :class:`NotAdmitted` unless the registry's gate lets ``partner`` send ``dataset``
        over the transport its registry entry uses (TBS-CONF-008: per role and binding)."""
        if self.registry.bus.admission != "enforce" or self._admission is None:
            return
        role = role_for(dataset).value
        transport = getattr(partner.transport, "value", partner.transport)
        if not self._admission(self.store, partner.id, role, partner.spec_version, transport):
            raise NotAdmitted(f"{partner.id} holds no current CONFORMANT certificate for {role} over "
                              f"{transport} at {partner.spec_version} (TBS-CONF-008). Certify and record it: "
                              f"tongban conformance run --partner {partner.id} --role {role} --record")

    @property
    def bus_id(self) -> str:
        return self.registry.bus.system_id

    def negotiated(self, partner: PartnerConfig) -> PartnerConfig:
        """``partner`` with ``spec_version`` the version the bus reads it in: the highest version
        both the bus (``bus.spec_versions``) and the partner's profile support (TBS-ENV-034).
        Without configured bus versions, the partner's entry as it is."""
        own = self.registry.bus.spec_versions
        if not own:
            return partner
        version = exchange_version(own, partner.versions)
        if version is None:
            raise NoCommonVersion(f"{partner.id} supports {', '.join(partner.versions)}, the bus "
                                  f"{', '.join(own)}: no version in common, nothing is exchanged (TBS-ENV-034)")
        return partner if version == partner.spec_version else partner.model_copy(update={"spec_version": version})

    def sync(self, partner_id: str, dataset: str, *, since: str | None = None, max_pages: int | None = None,
             on_page: Callable[[SyncReport], None] | None = None) -> SyncReport:
        partner = self.registry.get(partner_id)
        try:
            partner = self.negotiated(partner)
        except NoCommonVersion as exc:
            self._record_skip(partner, dataset, str(exc), code="NO_COMMON_VERSION")
            raise
        if dataset not in partner.datasets:
            raise ValueError(f"{partner.id} does not provide {dataset!r}; its roles give "
                             f"{', '.join(partner.datasets) or 'no dataset'}")
        relay = self.registry.relay_of(partner)
        if not self.registry.pulls(partner, dataset) and relay is not None:
            raise ValueError(f"{partner.id} is not synced directly (direct: false): its {dataset} records "
                             f"reach the bus through {relay.id}; sync that partner")
        try:
            self.check_admission(partner, dataset)
        except NotAdmitted as exc:
            self._record_skip(partner, dataset, str(exc))
            raise
        try:
            with feed_lock(self.store, partner.id, dataset):
                return self._sync_locked(partner, dataset, since=since, max_pages=max_pages, on_page=on_page)
        except (AlreadyRunning, SyncFailed):
            raise
        except Exception as exc:  # the store refused before a run could be recorded (read-only, down)
            if not isinstance(exc, (DBAPIError, StoreError, OSError)):
                raise
            report = SyncReport(partner.id, dataset, status="FAILED", error=safe_error_text(exc), error_hop="store",
                                error_code=type(getattr(exc, "orig", None) or exc).__name__,
                                retriable=store_error_retriable(exc))
            raise SyncFailed(report) from None

    def _record_skip(self, partner: PartnerConfig, dataset: str, reason: str, code: str = NOT_ADMITTED) -> None:
        """A run the admission gate refused is recorded as SKIPPED, so that status and the
        dashboard show who is waiting for a certificate rather than a feed that is merely quiet."""
        now = utcnow()
        try:
            with self.store.transaction() as s:
                s.add(SyncRun(partner_id=partner.id, dataset=dataset, trigger=self.trigger, started_at=now,
                              finished_at=now, status="SKIPPED", error=reason, error_code=code,
                              error_hop="admission"))
        except (DBAPIError, StoreError, OSError):
            pass  # the refusal itself still reaches the caller; only its record is lost

    def _sync_locked(self, partner: PartnerConfig, dataset: str, *, since: str | None, max_pages: int | None,
                     on_page: Callable[[SyncReport], None] | None) -> SyncReport:
        report = SyncReport(partner.id, dataset)
        t0 = time.monotonic()
        with self.store.transaction() as s:
            mark_stale_runs(s, partner.id, dataset)  # we hold the lock: no other run of this feed is alive
            cursor = ChangeCursor.load(s, partner.id, dataset, initial=since, version=partner.spec_version)
            run = SyncRun(partner_id=partner.id, dataset=dataset, trigger=self.trigger, started_at=report.started_at,
                          status="RUNNING", cursor_before=cursor.position)
            s.add(run)
            s.flush()
            report.run_id = run.id
        report.cursor_before = report.cursor_after = cursor.position
        if partner.transport is Transport.FRONTDB:
            return self._poll_frontdb(partner, report, t0)
        try:
            source = self._connect(partner, self.bus_id)
        except Exception as exc:
            return self._fail(report, run_id=report.run_id, hop="connector", exc=exc, t0=t0)
        if isinstance(source, Inbox):
            return self._collect(source, partner, dataset, report, t0)
        return self._pull(source, partner, dataset, cursor, report, t0, max_pages, on_page)

    def _pull(self, connector: Feed, partner: PartnerConfig, dataset: str, cursor: ChangeCursor,
              report: SyncReport, t0: float, max_pages: int | None,
              on_page: Callable[[SyncReport], None] | None) -> SyncReport:
        """Read the changes feed page by page from the stored cursor (TBS-SYNC-012)."""
        newest: str | None = None
        restarted = False
        progress = FeedProgress(cursor.position, endpoint=partner.endpoint,
                                max_pages=min(max_pages or partner.max_pages_per_run, partner.max_pages_per_run),
                                max_seconds=partner.max_run_seconds)
        try:
            while True:
                hop = "connector"
                try:
                    page = connector.fetch_changes(dataset, cursor.position, partner.page_size)
                except CursorExpiredError:
                    if restarted or cursor.position is None:
                        raise  # the start of the feed cannot expire: a broken partner, not a retry
                    with self.store.transaction() as s:
                        cursor.reset(s)  # TBS-REST-004: restart from the beginning, once
                    restarted = True
                    progress.restart()
                    report.cursor_after = None
                    continue
                progress.check(cursor.position, page)
                hop = "store"
                page_sha256 = sha256_hex(page.raw)
                received_at = datetime.fromisoformat(page.received_at) if page.received_at else utcnow()
                # TBS-1.1 TBS-ENV-029: records are validated under the version of the response
                context = ValidationContext(spec=page.spec_version or partner.spec_version, received_at=received_at,
                                            allowlist=frozenset(self.registry.bus.uscc_allowlist))
                with self.store.transaction() as s:
                    ingest = Ingestor(s, partner_id=partner.id, writer=partner.id,
                                      hold_timeout_s=partner.hold_timeout_seconds, context=context,
                                      envelope_sha256=page_sha256, announce_as=self.bus_id,
                                      announce_versions=announcement_versions(self.registry))
                    result = ingest.ingest(dataset, adapt(partner, dataset, page.records), received=page.received)
                    if page.records or page.next_cursor != cursor.position:
                        cursor.advance(s, page.next_cursor, len(page.records))
                    ledger.append(s, direction="IN", sender=partner.id, receiver=self.bus_id, dataset=dataset,
                                  binding=connector.binding, envelope_sha256=page_sha256,
                                  record_count=len(page.records), verdict=result.counts.verdict,
                                  counts=result.counts.as_dict())
                progress.passed(page)
                report.pages += 1
                report.pulled += len(page.records)
                report.counts.merge(result.counts)
                report.cursor_after = cursor.position
                if result.newest_source_at and (newest is None or result.newest_source_at > newest):
                    newest = result.newest_source_at
                if on_page:
                    on_page(report)
                if not page.has_more:
                    break
                if not page.records:
                    raise ConnectorError("feed says hasMore but returned no records and no progress "
                                         "(TBS-REST-004)", endpoint=partner.endpoint)
                report.stopped_by = progress.bound_reached(report.pages)
                if report.stopped_by:
                    break
        except Exception as exc:
            return self._fail(report, run_id=report.run_id, hop=hop, exc=exc, t0=t0, newest=newest)
        finally:
            connector.close()
        return self._succeed(report, partner, dataset, t0=t0, newest=newest)

    def expire_holds(self, partner: PartnerConfig) -> int:
        """Reject ``partner``'s held records whose hold timed out (TBS-SYNC-007)."""
        with self.store.transaction() as s:
            return Ingestor(s, partner_id=partner.id, writer=partner.id, hold_timeout_s=partner.hold_timeout_seconds,
                            context=ValidationContext(spec=partner.spec_version)).expire_holds()

    def _check_documents(self, partner: PartnerConfig, dataset: str, report: SyncReport) -> None:
        """After a result sync: verify the documents the partner dropped (TBS-RES-003)."""
        if dataset != "result" or not partner.documents_dir:
            return
        from tongban.sync.documents import verify_documents

        check = verify_documents(self.store, partner.id, partner.documents_dir)
        report.documents = check
        if check.mismatched:
            report.error_code, report.error_hop = "TBS-RES-003", "store"
            report.error = (f"{check.mismatched} result document(s) do not match their sha256/size: "
                            + ", ".join(check.mismatches[:5]))

    def _poll_frontdb(self, partner: PartnerConfig, report: SyncReport, t0: float) -> SyncReport:
        """A FRONTDB partner: one poll of its front database processes whole batches for all the
        datasets of its roles at once (TBS-LP-030); counts are row outcomes of the receipts."""
        from tongban.sync.frontdb import FrontdbSync

        try:
            with feed_lock(self.store, partner.id, "frontdb"):
                poll = FrontdbSync(self.store, self.registry, partner).poll()
        except AlreadyRunning:
            raise
        except Exception as exc:
            return self._fail(report, run_id=report.run_id, hop="connector", exc=exc, t0=t0)
        report.pages = poll.batches
        report.pulled = poll.rows
        for outcome, n in poll.outcomes.items():
            setattr(report.counts, outcome.lower(), getattr(report.counts, outcome.lower()) + n)
        report.counts.expired = poll.expired
        report.status = "SUCCESS"
        report.duration_s = time.monotonic() - t0
        self._finish(report, None)
        return report

    def _collect(self, inbox: Inbox, partner: PartnerConfig, dataset: str, report: SyncReport,
                 t0: float) -> SyncReport:
        """A partner that pushes into an inbox: process what it left there (TBS-FILE-009)."""
        from tongban.sync.drops import CountingReceiver
        from tongban.sync.receiver import BusReceiver

        counting = CountingReceiver(self._receiver or BusReceiver(self.store, self.registry, lock_wait_s=None))  # batch work waits
        try:
            inbox.collect(dataset, counting)
        except Exception as exc:
            return self._fail(report, run_id=report.run_id, hop="connector", exc=exc, t0=t0)
        finally:
            inbox.close()
        report.pages = counting.envelopes
        report.pulled = counting.received
        report.counts = counting.counts
        return self._succeed(report, partner, dataset, t0=t0, newest=None)

    def _succeed(self, report: SyncReport, partner: PartnerConfig, dataset: str, *, t0: float,
                 newest: str | None) -> SyncReport:
        """A run that read everything: expire the partner's timed-out holds, check documents, finish."""
        report.counts.expired = self.expire_holds(partner)
        report.counts.rejected += report.counts.expired
        report.status = "SUCCESS"
        self._check_documents(partner, dataset, report)
        report.duration_s = time.monotonic() - t0
        self._finish(report, newest)
        return report

    def _fail(self, report: SyncReport, *, run_id: int | None, hop: str, exc: Exception, t0: float,
              newest: str | None = None) -> SyncReport:
        report.status = "FAILED"
        report.error = safe_error_text(exc)  # stored and printed: never record values (TBS-SEC-012)
        is_store = isinstance(exc, (StoreError, DBAPIError))
        report.error_hop = "store" if is_store else hop
        orig = getattr(exc, "orig", None) if isinstance(exc, DBAPIError) else None
        report.error_code = type(orig).__name__ if orig is not None else (getattr(exc, "code", None)
                                                                           or type(exc).__name__)
        report.retriable = bool(getattr(exc, "retriable", False)) or store_error_retriable(exc)
        report.duration_s = time.monotonic() - t0
        try:
            self._finish(report, newest)
        except Exception:  # the store is gone too: the run row stays RUNNING, marked stale by the next run
            pass
        raise SyncFailed(report) from None

    def _anchor(self) -> None:
        """Append the chain head to the registry's anchor file after every run (when set)."""
        if self.registry.bus.ledger_anchor_file:
            ledger.anchor(self.store, self.registry.bus.ledger_anchor_file)

    def _finish(self, report: SyncReport, newest: str | None) -> None:
        with self.store.transaction() as s:
            run = s.get(SyncRun, report.run_id)
            run.finished_at = utcnow()
            run.status = report.status
            run.pages, run.pulled = report.pages, report.pulled
            c = report.counts
            run.stored, run.duplicate, run.stale = c.stored + c.released, c.duplicate, c.stale
            run.held, run.rejected = c.held, c.rejected
            run.cursor_after = report.cursor_after
            run.newest_source_at = newest
            run.error, run.error_code, run.error_hop = report.error, report.error_code, report.error_hop
        self._anchor()


STALE_RUN = "STALE_RUN"


def mark_stale_runs(session, partner_id: str, dataset: str) -> int:
    """Runs of this feed still RUNNING while we hold its lock died without finishing (SIGKILL,
    power loss): they are marked FAILED with ``STALE_RUN``. Their committed pages stand."""
    result = session.execute(update(SyncRun).where(SyncRun.partner_id == partner_id, SyncRun.dataset == dataset,
                                                   SyncRun.status == "RUNNING")
                             .values(status="FAILED", finished_at=utcnow(), error_code=STALE_RUN, error_hop="engine",
                                     error="the process running this sync ended without finishing it (killed or "
                                           "crashed); what it committed stands"))
    return result.rowcount or 0


