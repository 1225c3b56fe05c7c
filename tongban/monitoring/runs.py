"""Sync run records for data teams: per partner × dataset, where each feed stands.

For every (partner, dataset) pair the registry declares — plus any pair that has run records
without being in the registry any more — this module reports:

* the last successful run and the last run of any status;
* the **lag**: ``now`` minus the newest source timestamp the bus holds from that partner. The
  newest source timestamp is the later of ``sync_runs.newest_source_at`` (recorded by the
  engine per run) and the newest business timestamp among the records stored from that
  partner (``updatedAt``, ``submittedAt``, ``occurredAt``, ``issuedAt``, ``assessedAt`` — the
  members TBS-ENV-011 bounds), compared as instants (TBS-ENV-007);
* failed runs in the last 24 hours with their TBS error code and hop (connector, validation,
  store);
* open quarantine entries (rejected records waiting to be released or dismissed) and held
  records (TBS-SYNC-007);
* totals over all runs (pulled, stored, duplicate, stale, held, rejected; TBS-1.0 §13.2 outcomes).
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import func, select

from tongban.model.datasets import DATASETS
from tongban.store.schema import HeldRecord, QuarantineEntry, SyncRun
from tongban.store.store import Store
from tongban.store.totals import read_totals

FAILURE_WINDOW = timedelta(hours=24)
OUTCOME_COLUMNS = ("pulled", "stored", "duplicate", "stale", "held", "rejected")

def aware(value: datetime | None) -> datetime | None:
    """Store datetimes are UTC; SQLite returns them naive."""
    if value is None:
        return None
    return value if value.tzinfo is not None else value.replace(tzinfo=timezone.utc)


def parse_instant(value: str | None) -> datetime | None:
    """An RFC 3339 ``date-time`` (TBS-ENV-007) as an aware datetime; None when absent or unreadable."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


@dataclass
class Failure:
    """One failed run (inside the failure window)."""

    run_id: int
    started_at: str
    error_code: str | None
    error_hop: str | None
    error: str | None


@dataclass
class FeedStatus:
    """Where one (partner, dataset) feed stands."""

    partner_id: str
    dataset: str
    in_registry: bool = True
    runs: int = 0
    last_run_at: str | None = None
    last_run_status: str | None = None
    skipped_reason: str | None = None  # the last run was SKIPPED by the admission gate (TBS-CONF-008): why
    last_success_at: str | None = None
    newest_source_at: str | None = None
    lag_seconds: int | None = None
    failures_24h: list[Failure] = field(default_factory=list)
    quarantine_open: int = 0
    held: int = 0
    stored_records: int = 0
    totals: dict[str, int] = field(default_factory=lambda: {c: 0 for c in OUTCOME_COLUMNS})

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["failures_24h"] = [asdict(f) for f in self.failures_24h]
        return d


@dataclass
class PartnerStatus:
    """One partner: identity, certification per role and its feeds."""

    partner_id: str
    name: str
    level: str
    region_code: str
    transport: str | None
    certification: dict[str, str] | None  # None: certification state unavailable ("—")
    feeds: list[FeedStatus]

    @property
    def quarantine_open(self) -> int:
        return sum(f.quarantine_open for f in self.feeds)

    @property
    def held(self) -> int:
        return sum(f.held for f in self.feeds)

    @property
    def failures_24h(self) -> int:
        return sum(len(f.failures_24h) for f in self.feeds)

    def as_dict(self) -> dict[str, Any]:
        return {"partnerId": self.partner_id, "name": self.name, "level": self.level, "regionCode": self.region_code,
                "transport": self.transport, "certification": self.certification,
                "quarantineOpen": self.quarantine_open, "held": self.held, "failures24h": self.failures_24h,
                "feeds": [_camel(f.as_dict()) for f in self.feeds]}


def _camel(d: dict[str, Any]) -> dict[str, Any]:
    def name(k: str) -> str:
        head, *rest = k.split("_")
        return head + "".join(p.capitalize() if not p[0].isdigit() else p for p in rest)

    return {name(k): [_camel(x) if isinstance(x, dict) else x for x in v] if isinstance(v, list)
            else (_camel(v) if isinstance(v, dict) and k != "totals" else v) for k, v in d.items()}


def certification_states(registry: Any, store: Store | None = None) -> dict[str, dict[str, str]] | None:
    """Certification verdict per partner and role from the conformance part, or None when that
    part (or its store) is unavailable — shown as "—", like ``tongban partners list``."""
    try:
        from tongban.conformance.admission import certification_states as states  # type: ignore[import-not-found]
    except ImportError:
        return None
    try:
        return states(registry, store) if store is not None else states(registry)
    except Exception:  # status must work without the conformance store
        return None


def feed_statuses(store: Store, registry: Any | None = None, *, now: datetime | None = None,
                  failure_window: timedelta = FAILURE_WINDOW) -> list[FeedStatus]:
    """Status of every (partner, dataset) feed, in registry order, then any unregistered pairs."""
    now = now or datetime.now(timezone.utc)
    since = now - failure_window
    pairs: list[tuple[str, str]] = []
    if registry is not None:
        for p in registry.partners:
            pairs += [(p.id, d) for d in DATASETS if d in p.datasets]
    registered = set(pairs)
    statuses: dict[tuple[str, str], FeedStatus] = {pair: FeedStatus(*pair) for pair in pairs}

    with store.reading() as s:
        totals = s.execute(select(SyncRun.partner_id, SyncRun.dataset, func.count(),
                                  *(func.coalesce(func.sum(getattr(SyncRun, c)), 0) for c in OUTCOME_COLUMNS))
                           .group_by(SyncRun.partner_id, SyncRun.dataset)).all()
        for partner_id, dataset, runs, *sums in totals:
            st = statuses.setdefault((partner_id, dataset), FeedStatus(partner_id, dataset, in_registry=False))
            st.runs = runs
            st.totals = {c: int(v) for c, v in zip(OUTCOME_COLUMNS, sums)}

        last_run = {}
        for run in s.execute(select(SyncRun).order_by(SyncRun.started_at, SyncRun.id)).scalars():
            last_run[(run.partner_id, run.dataset)] = run
            st = statuses[(run.partner_id, run.dataset)]
            if run.status == "SUCCESS":
                st.last_success_at = iso(aware(run.finished_at or run.started_at))
            newest = parse_instant(run.newest_source_at)
            if newest is not None and (st.newest_source_at is None or newest > parse_instant(st.newest_source_at)):
                st.newest_source_at = newest.isoformat()
            started = aware(run.started_at)
            if run.status == "FAILED" and started is not None and started >= since:
                st.failures_24h.append(Failure(run.id, iso(started) or "", run.error_code, run.error_hop,
                                               (run.error or "")[:500] or None))
        for key, run in last_run.items():
            statuses[key].last_run_at = iso(aware(run.started_at))
            statuses[key].last_run_status = run.status
            statuses[key].skipped_reason = run.error if run.status == "SKIPPED" else None

        # per-source totals kept by the store's write path (tongban.store.totals), for the feeds
        # shown only: a source with records but neither a registry entry nor runs is not one
        for key, (n, newest_at) in read_totals(s.connection()).items():
            st = statuses.get(key)
            if st is None:
                continue
            st.stored_records = n
            t = parse_instant(newest_at)
            if t is not None and (st.newest_source_at is None or t > parse_instant(st.newest_source_at)):
                st.newest_source_at = t.isoformat()

        for partner_id, dataset, n in s.execute(
                select(QuarantineEntry.partner_id, QuarantineEntry.dataset, func.count())
                .where(QuarantineEntry.status == "OPEN").group_by(QuarantineEntry.partner_id, QuarantineEntry.dataset)):
            statuses.setdefault((partner_id, dataset), FeedStatus(partner_id, dataset, in_registry=False)) \
                .quarantine_open = n
        for partner_id, dataset, n in s.execute(
                select(HeldRecord.partner_id, HeldRecord.dataset, func.count())
                .group_by(HeldRecord.partner_id, HeldRecord.dataset)):
            statuses.setdefault((partner_id, dataset), FeedStatus(partner_id, dataset, in_registry=False)).held = n

    for st in statuses.values():
        newest = parse_instant(st.newest_source_at)
        st.lag_seconds = max(0, int((now - newest).total_seconds())) if newest is not None else None
        st.in_registry = (st.partner_id, st.dataset) in registered
    order = {pair: i for i, pair in enumerate(pairs)}
    return sorted(statuses.values(),
                  key=lambda f: (order.get((f.partner_id, f.dataset), len(order)), f.partner_id,
                                 DATASETS.index(f.dataset) if f.dataset in DATASETS else 99))


def partner_statuses(store: Store, registry: Any, *, now: datetime | None = None,
                     certifications: dict[str, dict[str, str]] | None = None,
                     with_certification: bool = True) -> list[PartnerStatus]:
    """Per partner of the registry (and any partner with records but no registry entry)."""
    from tongban.model.codes import parse_system_id

    feeds = feed_statuses(store, registry, now=now)
    if certifications is None and with_certification:
        certifications = certification_states(registry, store)
    by_partner: dict[str, list[FeedStatus]] = defaultdict(list)
    for f in feeds:
        by_partner[f.partner_id].append(f)
    out: list[PartnerStatus] = []
    known = {p.id: p for p in registry.partners} if registry is not None else {}
    for partner_id in [*known, *(pid for pid in by_partner if pid not in known)]:
        p = known.get(partner_id)
        parsed = parse_system_id(partner_id) or ("?", "?", "?")
        cert = None if certifications is None else certifications.get(partner_id, {})
        out.append(PartnerStatus(partner_id, p.name if p else "", parsed[0], parsed[1],
                                 p.transport.value if p else None, cert, by_partner.get(partner_id, [])))
    return out

