"""Two gateway processes on one PostgreSQL store, each pushed the same envelopes at the same time
by its own copy of the county: every envelope is processed once (one ledger entry, the other copy
answered from the replay memory), every record stored once, and the ledger chain stays whole."""
from __future__ import annotations

import threading
import uuid

import pytest
from sqlalchemy import create_engine, text

from gateway_support import (COUNTY, PG_URL, GatewayProcess, certify, expected, free_port, ledger_in_entries,
                             new_bus_id, stored, write_registry)
from tongban.registry import load_registry
from tongban.sandbox.push import envelopes_of, open_pusher, push_envelopes
from tongban.store import Store
from tongban.sync import ledger

pytestmark = [pytest.mark.postgres,
              pytest.mark.skipif(not PG_URL, reason="TONGBAN_TEST_PG_URL is not set: PostgreSQL tests run in CI (.ci/run)")]

BUS = new_bus_id()


@pytest.fixture
def pg_store():
    schema = f"gw_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = f"{PG_URL}{'&' if '?' in PG_URL else '?'}options=-csearch_path%3D{schema}"
    store = Store(url)
    store.upgrade()
    try:
        yield store, url
    finally:
        store.dispose()
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def test_two_gateway_processes_on_postgresql_store_each_envelope_once(tmp_path, pg_store):
    store, url = pg_store
    certify(store, "REST")
    registry = write_registry(tmp_path, BUS, "rest")
    gateways = [GatewayProcess(tmp_path, registry, url, free_port(), "--no-mqtt", "--no-filedrop").start()
                for _ in range(2)]
    envelopes = list(envelopes_of(COUNTY, "rest", receiver=BUS, datasets=["case", "case-event"], batch=10))
    partner = load_registry(registry).get(COUNTY.system_id)
    tallies = [None, None]

    def push(i: int) -> None:
        pusher = open_pusher(partner, "rest", gateway_url=gateways[i].url, ack_timeout=30)
        try:
            tallies[i] = push_envelopes(pusher, envelopes, attempts=20, pause=0.2)
        finally:
            pusher.close()

    threads = [threading.Thread(target=push, args=(i,)) for i in range(2)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
    finally:
        for g in gateways:
            g.terminate()
    for tally in tallies:
        assert tally.refusals == [] and tally.statuses == {"ACCEPTED": len(envelopes)}, (tally, gateways[0].output())
        # the processes take turns under the store's write lock: no push failed on a concurrent write
        assert tally.retries == 0, tally
    # each envelope is stored by whichever process got it first; the other answers it from the replay memory
    assert tallies[0].counts == tallies[1].counts
    assert ledger_in_entries(store) == len(envelopes)
    for dataset, key in (("case", ("caseNo",)), ("case-event", ("caseNo", "seq"))):
        rows = stored(store, dataset)
        assert {tuple(r[k] for k in key): r for r in rows} == expected(dataset, key)
    assert ledger.verify(store).ok


def test_several_processes_serve_one_port_with_reuse_port(tmp_path, pg_store):
    store, url = pg_store
    registry = write_registry(tmp_path, BUS, "rest")
    port = free_port()
    gateways = [GatewayProcess(tmp_path, registry, url, port, "--no-mqtt", "--no-filedrop", "--reuse-port").start()
                for _ in range(2)]
    try:
        assert all(g.proc.poll() is None for g in gateways)  # both listen on the same port
    finally:
        codes = [g.terminate() for g in gateways]
    assert codes == [0, 0]
