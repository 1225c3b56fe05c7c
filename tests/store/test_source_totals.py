"""The per-source totals ``tongban status`` reads (stored records, newest business time) are
kept by the store's write path (``RecordStore.flush`` → ``source_totals``); after every page
they must equal a plain COUNT over the record tables and the latest instant among the stored
timestamps, computed here from all rows in Python — and :func:`recount` must rebuild the same.

The timestamps are written in several UTC offsets, so that the string maximum of a source is
not always its latest instant; one source's latest record reads a day earlier as a string. New
catalog and Case versions come from another source than the version they replace, within a page
and across pages, so counts move between sources."""
from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import text

from store_support import migrated_store
from tongban.monitoring.runs import feed_statuses
from tongban.store.records import RecordStore
from tongban.store.totals import read_totals, recount

TABLES = {  # dataset → table, timestamp column
    "catalog": ("catalog_item_versions", "updated_at"),
    "case": ("cases", "submitted_at"),
    "case-event": ("case_events", "occurred_at"),
    "result": ("results", "issued_at"),
    "evaluation": ("evaluations", "assessed_at"),
}
OFFSETS = [timedelta(hours=8), timedelta(0), timedelta(hours=-11, minutes=-30), timedelta(hours=14)]
SOURCES = [f"TB:src{i:02d}:440000:S" for i in range(6)]
BASE = datetime(2026, 11, 20, 12, 0, tzinfo=timezone.utc)


def stamp(at: datetime, offset: timedelta, z: bool) -> str:
    if offset == timedelta(0) and z:
        return at.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return at.astimezone(timezone(offset)).isoformat(timespec="seconds")


def record(dataset: str, key: str, at: str, version: int = 1) -> dict:
    """A record with the members the store lifts into columns (the store does not validate)."""
    if dataset == "catalog":
        return dict(implCode=key, version=version, itemCode="440120012002", regionCode="440000", name="n",
                    status="ACTIVE", onlineDepth=4, updatedAt=at)
    if dataset == "case":
        return dict(caseNo=key, version=version, implCode="I", regionCode="440000", caseType="1", channel="1",
                    submittedAt=at)
    if dataset == "case-event":
        return dict(caseNo=key, seq=1, type="ACCEPT", occurredAt=at)
    if dataset == "result":
        return dict(caseNo=key, certNo="C", resultType="LICENSE", issuedAt=at)
    return dict(caseNo=key, assessNo=1, satisfaction=5, channel="PC", assessedAt=at)


def pages(rng: random.Random) -> list[list[tuple[str, str, dict]]]:
    """Pages of (source, dataset, record): keys shared between sources for the versioned datasets."""
    out: list[list[tuple[str, str, dict]]] = []
    versions: dict[tuple[str, str], int] = {}
    n = 0
    for _page in range(12):
        page = []
        for _ in range(rng.randrange(20, 120)):
            i = rng.randrange(len(SOURCES))
            dataset = rng.choice([d for d in TABLES if (i + len(d)) % 5])   # not every source sends every dataset
            if dataset in ("catalog", "case") and versions and rng.random() < 0.4:
                # a newer version of a stored (or same-page) key, often from another source
                key = rng.choice([k for d, k in versions if d == dataset] or [f"K{n:06d}"])
            else:
                key, n = f"K{n:06d}", n + 1
            version = versions[(dataset, key)] = versions.get((dataset, key), 0) + 1
            at = BASE - timedelta(minutes=rng.randrange(0, 2 * 365 * 24 * 60))
            page.append((SOURCES[i], dataset, record(dataset, key, stamp(at, rng.choice(OFFSETS), rng.random() < 0.5),
                                                     version)))
        out.append(page)
    # the string maximum of source 0 is a +14:00 evening; its latest instant a -11:30 stamp a day "earlier"
    out[-1].append((SOURCES[0], "case-event", record("case-event", "PLANTED-1", stamp(
        BASE + timedelta(hours=3), timedelta(hours=14), False))))
    out[-1].append((SOURCES[0], "case-event", record("case-event", "PLANTED-2", stamp(
        BASE + timedelta(hours=20), timedelta(hours=-11, minutes=-30), False))))
    return out


def instant(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def full_computation(conn, written: list[tuple[str, str, dict]]) -> dict[tuple[str, str], tuple[int, datetime]]:
    """Per (source, dataset): COUNT of the stored rows (current catalog versions), and the latest
    instant among every record stored from the source — for a Case also the versions a later one
    replaced (the table keeps the latest version only), which the totals keep counting."""
    out = {}
    for dataset, (table, column) in TABLES.items():
        current = "is_current" if dataset == "catalog" else "1=1"
        rows = conn.execute(text(f"SELECT source, {column}, CASE WHEN {current} THEN 1 ELSE 0 END FROM {table}")).all()
        member = {"catalog": "updatedAt", "case": "submittedAt", "case-event": "occurredAt", "result": "issuedAt",
                  "evaluation": "assessedAt"}[dataset]
        for source in {r[0] for r in rows} | {src for src, d, _ in written if d == dataset}:
            mine = [r for r in rows if r[0] == source]
            latest = max(instant(rec[member]) for src, d, rec in written if d == dataset and src == source)
            if dataset != "case":   # nothing replaced: the table's own maximum is the same instant
                assert latest == max(instant(r[1]) for r in mine)
            out[(source, dataset)] = (sum(r[2] for r in mine), latest)
    return out


def as_read(conn) -> dict[tuple[str, str], tuple[int, datetime]]:
    return {k: (n, instant(t)) for k, (n, t) in read_totals(conn).items()}


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_totals_kept_by_the_write_path_equal_a_full_computation(kind, tmp_path):
    rng = random.Random(7)
    with migrated_store(kind, tmp_path) as store:
        written: list[tuple[str, str, dict]] = []
        for page in pages(rng):
            with store.transaction() as s:
                records = RecordStore(s)
                for source, dataset, rec in page:
                    records.store(dataset, rec, source=source)
                records.flush()
            written += page
            with store.engine.connect() as conn:
                assert as_read(conn) == full_computation(conn, written)
        with store.engine.connect() as conn:
            sources_of_versions = conn.execute(text(
                "SELECT COUNT(DISTINCT source) FROM catalog_item_versions GROUP BY impl_code "
                "ORDER BY 1 DESC LIMIT 1")).scalar()
            assert sources_of_versions > 1   # the data did move keys between sources
            kept = read_totals(conn)
        with store.engine.begin() as conn:
            conn.execute(text("DELETE FROM source_totals"))
            assert recount(conn) == len(kept)
        with store.engine.connect() as conn:
            rebuilt = read_totals(conn)
            case_rows = conn.execute(text("SELECT source, submitted_at FROM cases")).all()
        assert {k: v for k, v in rebuilt.items() if k[1] != "case"} == {k: v for k, v in kept.items() if k[1] != "case"}
        # a Case version replaced since is not in the table: the rebuilt newest time is the table's
        for (source, dataset), (n, newest) in rebuilt.items():
            if dataset == "case":
                assert n == kept[(source, dataset)][0]
                assert instant(newest) == max(instant(t) for src, t in case_rows if src == source) \
                    <= instant(kept[(source, dataset)][1])


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_status_shows_the_totals_of_the_feeds_it_shows(kind, tmp_path):
    rng = random.Random(11)
    with migrated_store(kind, tmp_path) as store:
        written = [w for page in pages(rng) for w in page]
        written.append(("TB:stranger:440000:S", "case-event", record("case-event", "STRANGER", "2026-12-01T00:00:00Z")))
        with store.transaction() as s:
            records = RecordStore(s)
            for source, dataset, rec in written:
                records.store(dataset, rec, source=source)
            records.flush()
        with store.engine.begin() as conn:
            expected = full_computation(conn, written)
            for source, dataset in expected:
                if source.startswith("TB:src"):
                    conn.execute(text("INSERT INTO sync_runs (partner_id, dataset, trigger, started_at, status, "
                                      "pages, pulled, stored, duplicate, stale, held, rejected) VALUES "
                                      "(:p, :d, 'test', :t, 'SUCCESS', 0, 0, 0, 0, 0, 0, 0)"),
                                 {"p": source, "d": dataset, "t": datetime(2026, 11, 1, tzinfo=timezone.utc)})
        now = datetime(2026, 12, 1, tzinfo=timezone.utc)
        feeds = {(f.partner_id, f.dataset): f for f in feed_statuses(store, None, now=now)}
        # a source without runs or registry entry is not a feed status shows
        assert set(feeds) == {k for k in expected if k[0].startswith("TB:src")}
        for key, f in feeds.items():
            count, latest = expected[key]
            assert f.stored_records == count
            assert datetime.fromisoformat(f.newest_source_at) == latest, key
            assert f.lag_seconds == max(0, int((now - latest).total_seconds()))
        planted = feeds[(SOURCES[0], "case-event")]
        assert datetime.fromisoformat(planted.newest_source_at) == datetime(2026, 11, 21, 8, 0, tzinfo=timezone.utc)


def test_db_recount_rebuilds_totals_of_rows_written_past_the_write_path(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from tongban.cli import main

    url = f"sqlite:///{tmp_path / 'store.db'}"
    monkeypatch.setenv("TONGBAN_DATABASE_URL", url)
    monkeypatch.delenv("TONGBAN_PARTNERS", raising=False)
    with migrated_store("sqlite", tmp_path) as store:
        with store.engine.begin() as conn:   # a restore, say: rows the write path never saw
            for n, at in enumerate(["2026-11-30T23:00:00-02:00", "2026-12-01T08:30:00+08:00"]):
                conn.execute(text("INSERT INTO case_events (case_no, seq, type, occurred_at, source, content, sha256) "
                                  "VALUES (:c, 1, 'ACCEPT', :t, 'TB:restored:440000:S', '{}', :h)"),
                             {"c": f"R{n}", "t": at, "h": "0" * 64})
            assert read_totals(conn) == {}
        result = CliRunner().invoke(main, ["db", "recount"], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        assert "1 (source, dataset) rows" in result.output
        with store.engine.connect() as conn:
            # 23:00 at -02:00 is 01:00 UTC on 1 December, later than 08:30 at +08:00 (00:30 UTC)
            assert read_totals(conn) == {("TB:restored:440000:S", "case-event"): (2, "2026-12-01T01:00:00.000000Z")}
