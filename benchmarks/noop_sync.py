"""A sync with no changes must not cost more as the catalog grows.

Two stores hold 20 000 and 200 000 current catalog items from one partner, whose feed
(served by the real REST server over HTTPS on loopback) holds the same items, and whose
committed cursor is at the end of that feed. A no-op sync — one changes request that
returns nothing, the hold-timeout sweep, the ledger entry and the run record — is timed 25
times on each; the medians are compared. Last line: ``ratio: noop_200k/noop_20k=X.XX``
(target ≤ 1.2).

    python benchmarks/noop_sync.py [--small 20000] [--large 200000] [--runs 25]
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import yaml

BUS = "TB:province:440000:TONGBAN"
TOKEN = "noop-benchmark-token-0123456789abcdef"
ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"


def items(n: int) -> list[dict]:
    """``n`` distinct catalog items cloned from a generated county item (new implCodes)."""
    from tongban.sandbox.generate import generate_province

    template = generate_province(2).counties[0].records("catalog")[0]
    out = []
    uscc_level, item = template["implCode"][:19], template["itemCode"]
    for i in range(n):
        main = ALPHABET[i // (31 * 31 * 9) % 31] + ALPHABET[i // (31 * 9) % 31] + ALPHABET[i // 9 % 31]
        code = item[:6] + main + f"{i % 9 + 1:03d}"
        out.append({**template, "itemCode": code, "implCode": uscc_level + code, "handlingItems": []})
    for rec in out:
        rec.pop("handlingItems")
    return out


def prepare(folder: Path, n: int, system_id: str):
    from tongban.connectors.rest.server import create_rest_app, token_table
    from tongban.connectors.serving import ServerThread, make_local_ca
    from tongban.registry import load_registry
    from tongban.sandbox.feed import ChangeFeed
    from tongban.store import Store
    from tongban.store.records import RecordStore
    from tongban.sync.cursor import ChangeCursor

    records = items(n)
    feed = ChangeFeed("catalog", records)

    class Partner:
        def meta(self):
            return {"systemId": system_id, "roles": ["CATALOG_PROVIDER"], "datasets": ["catalog"],
                    "specVersions": ["TBS-1.0"]}

        def changes(self, dataset, since, limit):
            return feed.page(since, limit)

        def receive(self, *a, **kw):
            raise NotImplementedError

        def get_ack(self, *a):
            return None

    store = Store(f"sqlite:///{folder / 'store.db'}")
    store.upgrade()
    for i in range(0, n, 5000):  # the items are already synced: write them directly
        with store.transaction() as s:
            staged = RecordStore(s)
            for rec in records[i:i + 5000]:
                staged.store("catalog", rec, source=system_id)
            staged.flush()
    with store.transaction() as s:
        ChangeCursor.load(s, system_id, "catalog").advance(s, feed.end_cursor, n)
    tls = make_local_ca(folder / "tls")
    server = ServerThread(create_rest_app(Partner(), authenticate=token_table({TOKEN: BUS})), tls=tls).start()
    registry_file = folder / "partners.yaml"
    registry_file.write_text(yaml.safe_dump({"bus": {"system_id": BUS}, "partners": [{
        "id": system_id, "parent": BUS, "transport": "rest", "endpoint": server.url, "ca_file": str(tls.ca_file),
        "credentials": {"token_env": "TONGBAN_NOOP_TOKEN"}, "roles": ["CATALOG_PROVIDER"]}]}))
    return store, load_registry(registry_file), server


def time_noop(store, registry, system_id: str, runs: int) -> list[float]:
    from tongban.sync.engine import SyncEngine

    engine = SyncEngine(store, registry, trigger="benchmark")
    engine.sync(system_id, "catalog")  # warm-up: connections, caches
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        report = engine.sync(system_id, "catalog")
        times.append(time.perf_counter() - t0)
        assert report.pulled == 0 and report.counts.stored == 0
    return times


def main() -> None:
    import os

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=20_000)
    parser.add_argument("--large", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=25)
    args = parser.parse_args()
    os.environ["TONGBAN_NOOP_TOKEN"] = TOKEN
    system_id = "TB:county:440103:LWZWFW"
    medians = {}
    with tempfile.TemporaryDirectory() as tmp:
        setups = {}
        for n in (args.small, args.large):
            t = time.perf_counter()
            folder = Path(tmp) / str(n)
            folder.mkdir()
            setups[n] = prepare(folder, n, system_id)
            print(f"{n:>7} items stored and served (set-up {time.perf_counter() - t:.1f}s)")
        try:
            samples = {n: [] for n in setups}
            for _ in range(args.runs // 5):  # interleave, so load changes hit both alike
                for n, (store, registry, _server) in setups.items():
                    samples[n] += time_noop(store, registry, system_id, 5)
        finally:
            for _store, _registry, server in setups.values():
                server.stop()
    for n, ts in samples.items():
        medians[n] = statistics.median(ts)
        print(f"noop sync at {n:>7} items: median {medians[n] * 1000:.1f} ms, p90 "
              f"{sorted(ts)[int(len(ts) * 0.9) - 1] * 1000:.1f} ms over {len(ts)} runs")
    print(f"ratio: noop_200k/noop_20k={medians[args.large] / medians[args.small]:.2f}")


if __name__ == "__main__":
    main()
