"""Ingest throughput: 100 000 case events through the receiver pipeline against raw SQLite.

Both sides write the same rows into the same ``case_events`` table of a migrated store
(SQLite file, WAL), in transactions of 1 000 rows:

* ``ingest``: pages of 1 000 events as JSON bytes (a changes response) → strict parse
  (TBS-ENV-001) → stateless validation S1–S4 → stage S5 (key identity, holds, the case state
  machine, time order) → idempotent store → one hash-chained ledger entry per page;
* ``raw_sqlite``: ``executemany`` of the finished rows (content, sha256 and all) with the
  stdlib ``sqlite3`` module, nothing else.

The events are realistic: every case history of a generated province (all paths of the
state machine), cloned under fresh structured case numbers until there are 100 000. Their
Cases are stored before timing starts. Each side runs in its own process so that its peak
memory (ru_maxrss) is its own. Then the line ``ratio: ingest/raw_sqlite=X.XX`` (target ≥ 0.4).

When ``TONGBAN_TEST_PG_URL`` names a PostgreSQL database (``postgresql+psycopg://…``), the same
comparison runs there, each side in a schema of its own (dropped afterwards): ``ingest`` on a
PostgreSQL store against ``raw_pg``, psycopg's ``executemany`` of the same finished rows in
transactions of 1 000; its line is ``ratio (PostgreSQL): ingest/raw_pg=X.XX``.

    python benchmarks/ingest.py [--events 100000]
"""
from __future__ import annotations

import argparse
import gc
import multiprocessing as mp
import os
import resource
import sqlite3
import tempfile
import time
import uuid
from pathlib import Path

PAGE = 1000
WRITER = "TB:province:440000:GDZWFW"  # a province writer: every Guangdong region is in its scope


def build(n_events: int) -> tuple[list[dict], list[dict]]:
    """Cases and events: the generated histories, cloned under new case numbers."""
    from tongban.sandbox.generate import generate_province

    data = generate_province(1, cities=4, counties_per_city=3, cases_per_county=40)
    cases = {c["caseNo"]: c for s in data.systems.values() for c in s.records("case")}  # latest version
    by_case: dict[str, list[dict]] = {}
    for s in data.systems.values():
        for e in s.records("case-event"):
            by_case.setdefault(e["caseNo"], []).append(e)
    out_cases, out_events, used = [], [], {}
    while len(out_events) < n_events:
        for case_no, events in by_case.items():
            prefix = case_no[:39]  # same implCode and date, a fresh daily sequence number
            used[prefix] = used.get(prefix, 0) + 1
            if used[prefix] > 9999:
                raise SystemExit(f"more clones than daily sequence numbers for {prefix}")
            new_no = prefix + f"{used[prefix]:04d}"
            out_cases.append({**cases[case_no], "caseNo": new_no})
            out_events += [{**e, "caseNo": new_no} for e in events]
    events = out_events[:n_events]
    wanted = {e["caseNo"] for e in events}
    return [c for c in out_cases if c["caseNo"] in wanted], events


def store_for(path: Path | str):
    """A migrated store: a SQLite file, or ``pg:SCHEMA`` (that schema of TONGBAN_TEST_PG_URL)."""
    from tongban.store import Store

    if isinstance(path, str) and path.startswith("pg:"):
        from sqlalchemy import create_engine

        url = os.environ["TONGBAN_TEST_PG_URL"]
        store = Store(url, engine=create_engine(url, connect_args={"options": f"-csearch_path={path[3:]}"}))
    else:
        store = Store(f"sqlite:///{path}")
    store.upgrade()
    return store


def run_raw_pg(schema: str, rows: list[tuple], q) -> None:
    import psycopg
    from sqlalchemy.engine import make_url

    store_for(f"pg:{schema}").dispose()  # the same migrated schema, then plain psycopg
    url = make_url(os.environ["TONGBAN_TEST_PG_URL"]).set(drivername="postgresql")
    con = psycopg.connect(url.render_as_string(hide_password=False), options=f"-csearch_path={schema}")
    sql = ("INSERT INTO case_events (case_no, seq, type, occurred_at, conclusion_code, source, content, sha256) "
           "VALUES (%s, %s, %s, %s, %s, %s, %s, %s)")
    t0 = time.perf_counter()
    for i in range(0, len(rows), PAGE):
        with con.transaction(), con.cursor() as cur:
            cur.executemany(sql, rows[i:i + PAGE])
    elapsed = time.perf_counter() - t0
    stored = con.execute("SELECT count(*) FROM case_events").fetchone()[0]
    con.close()
    q.put((elapsed, stored, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss))


def run_ingest(path: str, cases: list[dict], pages: list[bytes], q) -> None:
    from tongban.model.canonical import sha256_hex
    from tongban.sync import ledger
    from tongban.sync.ingest import Ingestor
    from tongban.validators import ValidationContext, parse_json_strict

    store = store_for(path if path.startswith("pg:") else Path(path))
    context = ValidationContext()
    for i in range(0, len(cases), PAGE):  # prerequisites, not timed
        with store.transaction() as s:
            Ingestor(s, partner_id=WRITER, writer=WRITER, hold_timeout_s=86400, context=context).ingest(
                "case", cases[i:i + PAGE])
    t0 = time.perf_counter()
    stored = 0
    for raw in pages:
        page = parse_json_strict(raw)
        with store.transaction() as s:
            result = Ingestor(s, partner_id=WRITER, writer=WRITER, hold_timeout_s=86400, context=context,
                              envelope_sha256=sha256_hex(raw)).ingest("case-event", page["records"])
            ledger.append(s, direction="IN", sender=WRITER, receiver="TB:province:440000:TONGBAN",
                          dataset="case-event", binding="REST", envelope_sha256=sha256_hex(raw),
                          record_count=len(page["records"]), verdict="ACCEPTED", counts=result.counts.as_dict())
        stored += result.counts.stored + result.counts.released
    q.put((time.perf_counter() - t0, stored, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss))


def run_raw(path: str, rows: list[tuple], q) -> None:
    store_for(Path(path)).dispose()  # the same migrated schema, then plain sqlite3
    con = sqlite3.connect(path, isolation_level=None)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=NORMAL")
    sql = ("INSERT INTO case_events (case_no, seq, type, occurred_at, conclusion_code, source, content, sha256) "
           "VALUES (?, ?, ?, ?, ?, ?, ?, ?)")
    t0 = time.perf_counter()
    for i in range(0, len(rows), PAGE):
        con.execute("BEGIN")
        con.executemany(sql, rows[i:i + PAGE])
        con.execute("COMMIT")
    elapsed = time.perf_counter() - t0
    stored = con.execute("SELECT count(*) FROM case_events").fetchone()[0]
    q.put((elapsed, stored, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss))


def _frozen(target, *args) -> None:
    # The harness's own 100 000 records were built before the fork, and the code is loaded:
    # keep both out of the cyclic GC's way, as in a sync process (which has imported its code
    # before it syncs and holds one page at a time).
    import tongban.store  # noqa: F401
    import tongban.sync.ingest  # noqa: F401
    import tongban.sync.ledger  # noqa: F401
    import tongban.validators  # noqa: F401

    gc.freeze()
    target(*args)


def measure(target, *args) -> tuple[float, int, int]:
    q = mp.get_context("fork").Queue()
    p = mp.get_context("fork").Process(target=_frozen, args=(target, *args, q))
    p.start()
    result = q.get()
    p.join()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    args = parser.parse_args()

    from tongban.model.canonical import canonical_bytes, sha256_hex

    t = time.perf_counter()
    cases, events = build(args.events)
    pages = [canonical_bytes({"records": events[i:i + PAGE], "nextCursor": f"c-{i + PAGE:016d}",
                              "hasMore": i + PAGE < len(events)}) for i in range(0, len(events), PAGE)]
    rows = []
    for e in events:
        content = canonical_bytes(e)
        rows.append((e["caseNo"], e["seq"], e["type"], e["occurredAt"], e.get("conclusionCode"), WRITER,
                     content.decode(), sha256_hex(content)))
    print(f"{len(events)} case events of {len(cases)} cases, {len(pages)} pages of {PAGE} "
          f"(built in {time.perf_counter() - t:.1f}s)")
    with tempfile.TemporaryDirectory() as tmp:
        raw_s, raw_n, raw_mem = measure(run_raw, str(Path(tmp) / "raw.db"), rows)
        ing_s, ing_n, ing_mem = measure(run_ingest, str(Path(tmp) / "ingest.db"), cases, pages)
    assert raw_n == ing_n == len(events), (raw_n, ing_n, len(events))
    raw_rate, ing_rate = len(events) / raw_s, len(events) / ing_s
    print(f"raw_sqlite: {raw_rate:10.0f} rows/s    ({raw_s:.2f}s, peak RSS {raw_mem / 1024:.0f} MiB)")
    print(f"ingest:     {ing_rate:10.0f} events/s  ({ing_s:.2f}s, peak RSS {ing_mem / 1024:.0f} MiB)")
    print(f"ratio: ingest/raw_sqlite={ing_rate / raw_rate:.2f}")
    if os.environ.get("TONGBAN_TEST_PG_URL"):
        postgresql(cases, pages, rows)


def postgresql(cases: list[dict], pages: list[bytes], rows: list[tuple]) -> None:
    from sqlalchemy import create_engine, text

    admin = create_engine(os.environ["TONGBAN_TEST_PG_URL"])
    schemas = [f"bench_{kind}_{uuid.uuid4().hex[:8]}" for kind in ("raw", "ingest")]
    with admin.begin() as conn:
        for schema in schemas:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        raw_s, raw_n, raw_mem = measure(run_raw_pg, schemas[0], rows)
        ing_s, ing_n, ing_mem = measure(run_ingest, f"pg:{schemas[1]}", cases, pages)
    finally:
        with admin.begin() as conn:
            for schema in schemas:
                conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()
    assert raw_n == ing_n == len(rows), (raw_n, ing_n, len(rows))
    raw_rate, ing_rate = len(rows) / raw_s, len(rows) / ing_s
    print(f"raw_pg:     {raw_rate:10.0f} rows/s    ({raw_s:.2f}s, peak RSS {raw_mem / 1024:.0f} MiB)")
    print(f"ingest_pg:  {ing_rate:10.0f} events/s  ({ing_s:.2f}s, peak RSS {ing_mem / 1024:.0f} MiB)")
    print(f"ratio (PostgreSQL): ingest/raw_pg={ing_rate / raw_rate:.2f}")


if __name__ == "__main__":
    main()
