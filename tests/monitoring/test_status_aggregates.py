"""``tongban status``'s per-source aggregates (newest business time, stored records) read the
record tables through their (source, timestamp) indexes; the numbers must equal a plain COUNT
and a maximum over every stored record, computed here from all rows in Python.

The timestamps are written in several UTC offsets, so that the string maximum of a source is
not always its latest instant, with old records far below the top and, for one source, records
whose offset makes an earlier-looking string the later instant by nearly a day."""
from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import text

from store_support import migrated_store
from tongban.monitoring.runs import feed_statuses

TABLES = {  # dataset → table, timestamp column, the other columns a row needs
    "catalog": ("catalog_item_versions", "updated_at"),
    "case": ("cases", "submitted_at"),
    "case-event": ("case_events", "occurred_at"),
    "result": ("results", "issued_at"),
    "evaluation": ("evaluations", "assessed_at"),
}
OFFSETS = [timedelta(hours=8), timedelta(0), timedelta(hours=-11, minutes=-30), timedelta(hours=14)]
SOURCES = [f"TB:src{i:02d}:440000:S" for i in range(6)]


def stamp(at: datetime, offset: timedelta, z: bool) -> str:
    if offset == timedelta(0) and z:
        return at.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return at.astimezone(timezone(offset)).isoformat(timespec="seconds")


def rows_for(rng: random.Random, source_no: int, n: int) -> list[tuple[str, bool]]:
    """(timestamp, is_current) rows: spread over two years, the last few within hours of each other."""
    base = datetime(2026, 11, 20, 12, 0, tzinfo=timezone.utc)
    out = []
    for k in range(n):
        at = base - timedelta(minutes=rng.randrange(0, 2 * 365 * 24 * 60))
        out.append((stamp(at, rng.choice(OFFSETS), rng.random() < 0.5), rng.random() < 0.7))
    if source_no % 2 == 0:
        # the string maximum is +14:00 local evening; the true latest is a -11:30 stamp that reads a day earlier
        out.append((stamp(base + timedelta(hours=3), timedelta(hours=14), False), True))
        out.append((stamp(base + timedelta(hours=20), timedelta(hours=-11, minutes=-30), False), False))
    return out


def insert(conn, dataset: str, source: str, rows: list[tuple[str, bool]], start: int) -> None:
    table, column = TABLES[dataset]
    common = {"source": source, "content": "{}", "sha256": "0" * 64}
    for k, (at, current) in enumerate(rows, start=start):
        key = f"K{k:08d}"
        if dataset == "catalog":
            values = dict(impl_code=key, version=1, item_code="440120012002", region_code="440000", name="n",
                          status="ACTIVE", online_depth=4, updated_at=at, is_current=current)
        elif dataset == "case":
            values = dict(case_no=key, version=1, impl_code="I", region_code="440000", case_type="1", channel="1",
                          submitted_at=at)
        elif dataset == "case-event":
            values = dict(case_no=key, seq=1, type="ACCEPT", occurred_at=at)
        elif dataset == "result":
            values = dict(case_no=key, cert_no="C", result_type="LICENSE", issued_at=at)
        else:
            values = dict(case_no=key, assess_no=1, satisfaction=5, channel="PC", assessed_at=at)
        values.update(common)
        conn.execute(text(f"INSERT INTO {table} ({', '.join(values)}) VALUES ({', '.join(':' + c for c in values)})"),
                     values)


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_status_counts_and_newest_times_equal_a_full_computation(kind, tmp_path):
    rng = random.Random(7)
    with migrated_store(kind, tmp_path) as store:
        written: dict[tuple[str, str], list[tuple[str, bool]]] = {}
        start = 0
        with store.engine.begin() as conn:
            for i, source in enumerate(SOURCES):
                for dataset in TABLES:
                    if (i + len(dataset)) % 5 == 0:
                        continue   # not every source sends every dataset
                    rows = rows_for(rng, i, rng.randrange(1, 300))
                    insert(conn, dataset, source, rows, start)
                    start += len(rows)
                    written[(source, dataset)] = rows
                    conn.execute(text("INSERT INTO sync_runs (partner_id, dataset, trigger, started_at, status, "
                                      "pages, pulled, stored, duplicate, stale, held, rejected) VALUES "
                                      "(:p, :d, 'test', :t, 'SUCCESS', 0, 0, 0, 0, 0, 0, 0)"),
                                 {"p": source, "d": dataset, "t": datetime(2026, 11, 1, tzinfo=timezone.utc)})
            # a source without runs or registry entry: not a feed status shows
            insert(conn, "case-event", "TB:stranger:440000:S", [("2026-12-01T00:00:00Z", True)], start)
        now = datetime(2026, 12, 1, tzinfo=timezone.utc)
        feeds = {(f.partner_id, f.dataset): f for f in feed_statuses(store, None, now=now)}
        assert set(feeds) == set(written)
        with store.engine.connect() as conn:
            for (source, dataset), rows in written.items():
                table, column = TABLES[dataset]
                where = " AND is_current" if dataset == "catalog" else ""
                count = conn.execute(text(f"SELECT COUNT(*) FROM {table} WHERE source = :s{where}"),
                                     {"s": source}).scalar()
                stamps = [v for (v,) in conn.execute(text(f"SELECT {column} FROM {table} WHERE source = :s"),
                                                     {"s": source})]
                latest = max(datetime.fromisoformat(v.replace("Z", "+00:00")) for v in stamps)
                f = feeds[(source, dataset)]
                assert f.stored_records == count == sum(1 for _at, cur in rows if cur or dataset != "catalog")
                assert datetime.fromisoformat(f.newest_source_at) == latest, (source, dataset)
                assert f.lag_seconds == max(0, int((now - latest).total_seconds()))
        # the planted offsets: for even sources the latest instant is not the string maximum
        planted = feeds[(SOURCES[0], "case-event")] if (SOURCES[0], "case-event") in feeds else \
            feeds[(SOURCES[0], "case")]
        assert datetime.fromisoformat(planted.newest_source_at) == datetime(2026, 11, 21, 8, 0, tzinfo=timezone.utc)
