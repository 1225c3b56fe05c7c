"""``tongban status`` and the dashboard on a full-scale store, built in a minute.

The province benchmark (province.py) fills its store through the sandbox and the sync cycle,
which takes about an hour at 1,000,000 case events. This one writes synthetic rows straight
into the record tables of a SQLite store (executemany, one transaction per table): 200,000
catalog entries (each its own basic item, names of two to four words from a vocabulary of 3,000
plus a common suffix, 2 % of them one character away from an earlier name), 200,000 cases, five
events each, 100,000 results and 100,000 evaluations, spread over ``--systems`` source systems,
and three sync runs per (system, dataset). Then it times, in this process and as fresh
processes (imports and the schema check included):

* ``partner_statuses`` / ``tongban status --format json`` (no registry: the feeds are the
  systems' sync runs, as many as with one);
* the dashboard snapshot (``collect``: status, metrics, consistency) and its rendering /
  ``tongban report --out``;
* the near-duplicate name check alone over the 200,000 names.

The rows bypass the store's write path, so the per-source totals ``tongban status`` reads are
rebuilt afterwards (:func:`tongban.store.totals.recount`, timed). ``--revision`` builds the store
at an earlier migration instead (for a before/after comparison: the store is then upgraded to
head, which recounts, and the migration timed).

    python benchmarks/status_scale.py [--db store.db] [--events 1000000] [--systems 144]
                                      [--revision head]
"""
from __future__ import annotations

import argparse
import json
import os
import random
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

DATASETS = ("catalog", "case", "case-event", "result", "evaluation")
CST = timezone(timedelta(hours=8))


def stamp(at: datetime) -> str:
    return at.astimezone(CST).isoformat(timespec="seconds")


def build(db: Path, events: int, systems: int, revision: str) -> dict[str, float]:
    from tongban.store import Store

    t0 = time.perf_counter()
    store = Store(f"sqlite:///{db}")
    store.upgrade(revision)
    store.dispose()
    rng = random.Random(3)
    cases = events // 5
    sources = [f"TB:sys{k:03d}:44{k % 100:02d}00:S" for k in range(systems)]
    regions = [f"44{k % 100:02d}00" for k in range(systems)]
    alphabet = [chr(c) for c in range(0x4E00, 0x4E00 + 3000)]
    words = ["".join(rng.choice(alphabet) for _ in range(rng.choice((2, 2, 3, 4)))) for _ in range(3000)]
    suffixes = ["许可", "登记", "核发", "备案", "变更", "注销", "审批", "认定", "申请", "办理"]
    base = datetime(2026, 12, 1, 9, 0, tzinfo=CST)
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=OFF")

    def insert(table: str, rows) -> None:
        rows = iter(rows)
        first = next(rows)
        cols = list(first)
        sql = f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})"
        conn.executemany(sql, (tuple(r[c] for c in cols) for r in [first]))
        conn.executemany(sql, (tuple(r[c] for c in cols) for r in rows))
        conn.commit()

    names: list[str] = []

    def catalog_rows():
        for k in range(cases):
            s = k % systems
            if names and rng.random() < 0.02:
                chars = list(rng.choice(names))
                chars[rng.randrange(len(chars))] = rng.choice(alphabet)
                name = "".join(chars)
            else:
                name = "".join(rng.choice(words) for _ in range(rng.choice((2, 3, 4)))) + rng.choice(suffixes)
            names.append(name)
            impl, item = f"I{k:030d}", f"{k:012d}"
            at = stamp(base - timedelta(minutes=rng.randrange(0, 600 * 24 * 60)))
            depth = rng.choice((1, 2, 3, 4))
            content = {"implCode": impl, "itemCode": item, "name": name, "version": 1, "regionCode": regions[s],
                       "status": "ACTIVE", "level": "3", "onlineDepth": depth, "updatedAt": at}
            yield dict(impl_code=impl, version=1, item_code=item, region_code=regions[s], name=name,
                       status="ACTIVE", online_depth=depth, updated_at=at, is_current=True, source=sources[s],
                       content=json.dumps(content, ensure_ascii=False, separators=(",", ":")), sha256="0" * 64)

    def case_at(k: int) -> datetime:
        return base - timedelta(minutes=(k * 7919) % (365 * 24 * 60))

    def case_rows():
        for k in range(cases):
            s = k % systems
            at = case_at(k)
            content = {"caseNo": f"C{k:011d}", "version": 1, "implCode": f"I{k:030d}", "regionCode": regions[s],
                       "caseType": "1", "channel": "1", "submittedAt": stamp(at),
                       "promisedBy": stamp(at + timedelta(days=20)), "itemName": names[k]}
            yield dict(case_no=f"C{k:011d}", version=1, impl_code=f"I{k:030d}", region_code=regions[s],
                       case_type="1", channel="1", submitted_at=stamp(at), promised_by=stamp(at + timedelta(days=20)),
                       source=sources[s], content=json.dumps(content, ensure_ascii=False, separators=(",", ":")),
                       sha256="0" * 64)

    def event_rows():
        types = ("SUBMIT", "ACCEPT", "PROCESS", "DECIDE", "CONCLUDE")
        for k in range(cases):
            at = case_at(k)
            for seq in range(1, 6):
                yield dict(case_no=f"C{k:011d}", seq=seq, type=types[seq - 1],
                           occurred_at=stamp(at + timedelta(hours=seq)), conclusion_code=None,
                           source=sources[k % systems], content="{}", sha256="0" * 64)

    def result_rows():
        for k in range(0, cases, 2):
            yield dict(case_no=f"C{k:011d}", cert_no=f"N{k}", result_type="LICENSE",
                       issued_at=stamp(case_at(k) + timedelta(hours=6)), document_sha256=None, document_verified=None,
                       source=sources[k % systems], content="{}", sha256="0" * 64)

    def evaluation_rows():
        for k in range(1, cases, 2):
            yield dict(case_no=f"C{k:011d}", assess_no=1, satisfaction=rng.choice((1, 3, 4, 5, 5)), channel="PC",
                       assessed_at=stamp(case_at(k) + timedelta(hours=7)), source=sources[k % systems],
                       content="{}", sha256="0" * 64)

    def run_rows():
        for s in sources:
            for d in DATASETS:
                for n in range(3):
                    at = datetime(2026, 12, 1, 1 + n, 0, tzinfo=timezone.utc).replace(tzinfo=None)
                    yield dict(partner_id=s, dataset=d, trigger="cli", started_at=at, finished_at=at,
                               status="SUCCESS", pages=1, pulled=10, stored=10, duplicate=0, stale=0, held=0,
                               rejected=0, newest_source_at=None)

    for table, rows in (("catalog_item_versions", catalog_rows()), ("cases", case_rows()),
                        ("case_events", event_rows()), ("results", result_rows()),
                        ("evaluations", evaluation_rows()), ("sync_runs", run_rows())):
        insert(table, rows)
    conn.execute("ANALYZE")
    conn.commit()
    conn.close()
    out = {"build_s": time.perf_counter() - t0}
    if revision == "head":
        # rows written past the store's write path: rebuild the per-source totals status reads,
        # as `tongban db recount` does (an upgrade across migration 0011 does it by itself)
        from tongban.store.totals import recount

        t0 = time.perf_counter()
        store = Store(f"sqlite:///{db}")
        with store.engine.begin() as c:
            recount(c)
        store.dispose()
        out["recount_s"] = time.perf_counter() - t0
    else:
        t0 = time.perf_counter()
        store = Store(f"sqlite:///{db}")
        store.upgrade("head")
        store.dispose()
        out["upgrade_s"] = time.perf_counter() - t0
    return out


def timed_cli(db: Path, *args: str) -> float:
    env = {**os.environ, "TONGBAN_DATABASE_URL": f"sqlite:///{db}"}
    env.pop("TONGBAN_PARTNERS", None)
    cmd = [sys.executable, "-c", "from tongban.cli import main; main()", *args]
    t0 = time.perf_counter()
    subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", type=Path, help="the store file (built when absent)")
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--systems", type=int, default=144)
    ap.add_argument("--revision", default="head", help="build at this migration, then upgrade (timed)")
    args = ap.parse_args()
    tmp = tempfile.TemporaryDirectory(prefix="tongban-status-scale-")
    db = args.db or Path(tmp.name) / "store.db"
    if not db.exists():
        figures = build(db, args.events, args.systems, args.revision)
        print(f"built {args.events:,} case events over {args.systems} systems in {figures['build_s']:.1f}s"
              + (f"; upgrade from {args.revision} to head {figures['upgrade_s']:.1f}s" if "upgrade_s" in figures
                 else f"; source totals recounted in {figures['recount_s']:.1f}s"), flush=True)

    from tongban.monitoring.consistency import near_duplicates, store_sources
    from tongban.monitoring.dashboard import collect, render_html
    from tongban.monitoring.runs import partner_statuses
    from tongban.store import Store

    store = Store(f"sqlite:///{db}")
    t0 = time.perf_counter()
    partners = partner_statuses(store, None)
    status_s = time.perf_counter() - t0
    feeds = sum(len(p.feeds) for p in partners)
    t0 = time.perf_counter()
    sources = store_sources(store)
    near = near_duplicates(sources)
    near_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    snapshot = collect(store, None)
    collect_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    render_html(snapshot)
    render_s = time.perf_counter() - t0
    print(f"in process: status {status_s:.2f}s ({len(partners)} partners, {feeds} feeds); near-duplicate check "
          f"{near_s:.1f}s ({sum(len(v) for v in sources.values()):,} names, {len(near)} pairs, catalog read included); "
          f"dashboard snapshot {collect_s:.1f}s, rendering {render_s:.1f}s", flush=True)
    status_cli = timed_cli(db, "status", "--format", "json")
    report_cli = timed_cli(db, "report", "--out", str(Path(tmp.name) / "report"))
    print(f"fresh processes: tongban status --format json {status_cli:.2f}s; tongban report {report_cli:.1f}s")
    store.dispose()


if __name__ == "__main__":
    main()
