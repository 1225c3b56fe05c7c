"""The province cycle at a configurable scale, and where its time and memory go.

A province-scale sandbox (``python -m tongban.sandbox.serve --scale province``: one process
serving every system over HTTPS, REST, SOAP and file drop in turn) feeds the bus, which runs in
its own process (so that its peak memory, ru_maxrss, is its own) on a SQLite store:

1. ``large``: ``--systems`` systems with ``--events`` case events (cases = events / 5, as many
   catalog entries as cases, half as many results and evaluations): full cycle
   (``run_cycle``, ``--workers`` partners at once), one change round (1 % of catalog entries and
   cases), incremental cycle, no-change cycle;
2. ``small``: the same systems with ``--small-events``: the same phases (peak memory at 1/10 the
   volume when run with the defaults);
3. ``few``: ``--few-systems`` systems, tiny volume: full cycle, then the no-change cycle;
4. ``ingest_only``: the records of the large full cycle ingested in process, page by page
   (strict parse, validation, store, ledger entry per page), without network or feeds.

Printed: records/s, per-phase times, peak RSS of the bus and of the sandbox, and last line
``ratios: cycle/ingest_only=X.XX noop_144/noop_14=Y.YY rss_1m/rss_100k=Z.ZZ`` — the full cycle's
records/s against ingest_only's (target ≥ 0.5), the no-change cycle over ``--systems`` against
``--few-systems`` (target ≤ 11), peak bus RSS of ``large`` against ``small`` (target ≤ 1.3). The
names are those of the full scale (144 and 14 systems, 1 M and 100 k events); at another scale
the first lines say which scale was measured.

    python benchmarks/province.py [--systems 144] [--events 1000000] [--small-events 100000]
                                  [--few-systems 14] [--workers 4]
"""
from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing as mp
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PAGE = 200   # the sandbox registry's page_size


def volumes(events: int) -> dict[str, int]:
    cases = max(events // 5, 1)
    return {"catalog": cases, "cases": cases, "events_per_case": 5, "results": cases // 2,
            "evaluations": cases // 2}


def start_sandbox(folder: Path, systems: int, events: int) -> tuple[subprocess.Popen, dict]:
    v = volumes(events)
    cmd = [sys.executable, "-m", "tongban.sandbox.serve", "--folder", str(folder), "--scale", "province",
           "--systems", str(systems), "--seed", "3", "--admission", "off", "--transports", "rest,soap,filedrop",
           "--catalog", str(v["catalog"]), "--cases", str(v["cases"]), "--events-per-case", "5",
           "--results", str(v["results"]), "--evaluations", str(v["evaluations"])]
    folder.mkdir(parents=True, exist_ok=True)
    log = open(folder / "sandbox.log", "ab")
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    ready_file = folder / "ready.json"
    while not ready_file.exists():
        if proc.poll() is not None:
            raise SystemExit(f"sandbox exited: {(folder / 'sandbox.log').read_text()[-2000:]}")
        time.sleep(0.1)
    ready = json.loads(ready_file.read_text())
    for line in Path(ready["secrets"]).read_text().splitlines():
        name, _, value = line.partition("=")
        os.environ[name] = value
    return proc, ready


def stop_sandbox(proc: subprocess.Popen) -> int:
    """Stop it; returns its peak RSS in KiB (VmHWM)."""
    try:
        peak = int(next(line.split()[1] for line in Path(f"/proc/{proc.pid}/status").read_text().splitlines()
                        if line.startswith("VmHWM")))
    except (OSError, StopIteration):
        peak = 0
    proc.terminate()
    proc.wait(timeout=30)
    return peak


def run_bus(db: str, registry: str, folder: str, ready: dict, workers: int, phases: list[str], q) -> None:
    os.environ["TONGBAN_DATABASE_URL"] = f"sqlite:///{db}"
    from tongban.registry import load_registry
    from tongban.sandbox.scale_serve import advance_round
    from tongban.store.store import Store
    from tongban.sync.cycle import run_cycle

    store = Store()
    store.ensure_schema()
    reg = load_registry(registry)
    out: dict = {}
    for phase in phases:
        if phase == "change":
            out["changed"] = advance_round(Path(folder), ready)[1]
            continue
        t0 = time.perf_counter()
        report = run_cycle(store, reg, workers=workers)
        totals = report.totals()
        if totals["failed"] or totals["rejected"] or totals["held"]:
            raise SystemExit(f"{phase}: {totals}")
        out[phase] = {"seconds": time.perf_counter() - t0, "stored": totals["stored"], "pulled": totals["pulled"]}
        print(f"  {Path(db).stem} {phase}: {totals['stored']} stored in {out[phase]['seconds']:.1f}s", flush=True)
    out["rss_kib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    from tongban.monitoring.runs import partner_statuses

    t0 = time.perf_counter()
    partner_statuses(store, reg)
    out["status_query_s"] = time.perf_counter() - t0
    q.put(out)


def run_ingest_only(db: str, ready: dict, q) -> None:
    from tongban.model.canonical import canonical_bytes, sha256_hex
    from tongban.model.datasets import DATASETS
    from tongban.sandbox.scale_serve import province_from_ready
    from tongban.store.store import Store
    from tongban.sync import ledger
    from tongban.sync.ingest import Ingestor
    from tongban.validators import ValidationContext, parse_json_strict

    store = Store(f"sqlite:///{db}")
    store.ensure_schema()
    province = province_from_ready(ready)
    elapsed, stored = 0.0, 0
    for system in province.systems:
        for dataset in DATASETS:   # one system's pages built before its timing starts
            n = system.counts[dataset]
            pages = [canonical_bytes({"records": list(system.feed(dataset, i, i + PAGE, 0)),
                                      "nextCursor": f"c-{min(i + PAGE, n):016d}", "hasMore": i + PAGE < n})
                     for i in range(0, n, PAGE)]
            t0 = time.perf_counter()
            for raw in pages:
                page = parse_json_strict(raw)
                with store.transaction() as s:
                    result = Ingestor(s, partner_id=system.system_id, writer=system.system_id, hold_timeout_s=86400,
                                      context=ValidationContext(), envelope_sha256=sha256_hex(raw),
                                      announce_as="TB:province:440000:TONGBAN").ingest(dataset, page["records"])
                    ledger.append(s, direction="IN", sender=system.system_id, receiver="TB:province:440000:TONGBAN",
                                  dataset=dataset, binding="REST", envelope_sha256=sha256_hex(raw),
                                  record_count=len(page["records"]), verdict=result.counts.verdict,
                                  counts=result.counts.as_dict())
                stored += result.counts.stored + result.counts.released
            elapsed += time.perf_counter() - t0
    print(f"  ingest_only: {stored} stored in {elapsed:.1f}s", flush=True)
    q.put({"seconds": elapsed, "stored": stored, "rss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss})


def timed_cli(db: str, registry: str, *args: str) -> float:
    """Seconds of one ``tongban`` command against the store ``db`` (a fresh process, imports included)."""
    env = {**os.environ, "TONGBAN_DATABASE_URL": f"sqlite:///{db}", "TONGBAN_PARTNERS": registry}
    cmd = [sys.executable, "-c", "from tongban.cli import main; main()", *args]
    t0 = time.perf_counter()
    subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t0


def in_child(target, *args):
    ctx = mp.get_context("spawn")   # a fresh interpreter: peak memory is the run's own
    q = ctx.Queue()
    p = ctx.Process(target=target, args=(*args, q))
    p.start()
    result = q.get()
    p.join()
    if p.exitcode:
        raise SystemExit(f"{target.__name__} failed")
    return result


def scenario(tmp: Path, name: str, systems: int, events: int, workers: int, phases: list[str]) -> dict:
    t0 = time.perf_counter()
    proc, ready = start_sandbox(tmp / name, systems, events)
    started = time.perf_counter() - t0
    try:
        out = in_child(run_bus, str(tmp / f"{name}.db"), ready["registry"], str(tmp / name), ready, workers, phases)
    finally:
        out_rss = stop_sandbox(proc)
    out.update(sandbox_start_s=started, sandbox_rss_kib=out_rss, ready=ready)
    db = str(tmp / f"{name}.db")
    out["status_s"] = timed_cli(db, ready["registry"], "status", "--format", "json")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--systems", type=int, default=144)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--small-events", type=int, default=100_000)
    parser.add_argument("--few-systems", type=int, default=14)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--keep", metavar="DIR", default=None,
                        help="work in DIR and keep its stores and sandboxes (default: a temporary folder)")
    args = parser.parse_args()
    print(f"scale: {args.systems} systems × {args.events} events (small: {args.small_events} events; "
          f"few: {args.few_systems} systems), {args.workers} workers, {os.cpu_count()} CPUs")
    cycle = ["full", "change", "incremental", "noop"]
    if args.keep:
        Path(args.keep).mkdir(parents=True, exist_ok=True)
    with (contextlib.nullcontext(args.keep) if args.keep else tempfile.TemporaryDirectory()) as tmp_name:
        tmp = Path(tmp_name)
        large = scenario(tmp, "large", args.systems, args.events, args.workers, cycle)
        small = scenario(tmp, "small", args.systems, args.small_events, args.workers, cycle)
        few = scenario(tmp, "few", args.few_systems, max(args.few_systems * 5, 50), args.workers, ["full", "noop"])
        ingest = in_child(run_ingest_only, str(tmp / "ingest.db"), large["ready"])
    for name, r in (("large", large), ("small", small)):
        full, inc, noop = r["full"], r["incremental"], r["noop"]
        print(f"{name}: sandbox up {r['sandbox_start_s']:.1f}s; full {full['stored']} records in "
              f"{full['seconds']:.1f}s ({full['stored'] / full['seconds']:.0f} records/s); change round "
              f"{r['changed']} records; incremental {inc['stored']} in {inc['seconds']:.1f}s; no-change "
              f"{noop['stored']} stored in {noop['seconds']:.1f}s; peak RSS bus {r['rss_kib'] / 1024:.0f} MiB, "
              f"sandbox {r['sandbox_rss_kib'] / 1024:.0f} MiB")
        # The dashboard (tongban report) is not timed: its near-duplicate name check compares every
        # catalog name with every other, which does not finish at 200,000 entries.
        print(f"{name}: status queries {r['status_query_s']:.2f}s (in process); tongban status {r['status_s']:.2f}s "
              f"(fresh process, start-up and schema check included)")
    print(f"few ({args.few_systems} systems): full {few['full']['stored']} records in {few['full']['seconds']:.1f}s; "
          f"no-change {few['noop']['seconds']:.2f}s")
    print(f"ingest_only: {ingest['stored']} records in {ingest['seconds']:.1f}s "
          f"({ingest['stored'] / ingest['seconds']:.0f} records/s), peak RSS {ingest['rss_kib'] / 1024:.0f} MiB")
    if ingest["stored"] != large["full"]["stored"]:
        raise SystemExit(f"ingest_only stored {ingest['stored']}, the cycle {large['full']['stored']}")
    cycle_rate = large["full"]["stored"] / large["full"]["seconds"]
    ingest_rate = ingest["stored"] / ingest["seconds"]
    print(f"ratios: cycle/ingest_only={cycle_rate / ingest_rate:.2f} "
          f"noop_144/noop_14={large['noop']['seconds'] / few['noop']['seconds']:.2f} "
          f"rss_1m/rss_100k={large['rss_kib'] / small['rss_kib']:.2f}")


if __name__ == "__main__":
    main()
