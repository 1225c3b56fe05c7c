"""``tongban gateway`` as a process, stopped mid-stream while a sandbox county pushes: killed
(SIGKILL, nothing finishes) or terminated (SIGTERM, the requests in flight finish), then started
again on the same port. The county resends what was not acknowledged, identically; every record
is stored exactly once and every envelope has exactly one ledger entry."""
from __future__ import annotations

import threading
import time

import pytest

from gateway_support import (COUNTY, GatewayProcess, certify, expected, free_port, ledger_in_entries, new_bus_id,
                             stored, write_registry)
from tongban.registry import load_registry
from tongban.sandbox.push import envelopes_of, open_pusher, push_envelopes
from tongban.store import Store

BUS = new_bus_id()


@pytest.mark.parametrize("binding,how", [("rest", "kill"), ("soap", "terminate")])
def test_a_gateway_stopped_mid_stream_and_restarted_stores_every_record_once(tmp_path, binding, how):
    url = f"sqlite:///{tmp_path / 'bus.db'}"
    store = Store(url)
    store.upgrade()
    certify(store, binding.upper())
    registry = write_registry(tmp_path, BUS, binding)
    gateway = GatewayProcess(tmp_path, registry, url, free_port(), "--no-mqtt", "--no-filedrop").start()
    envelopes = list(envelopes_of(COUNTY, binding, receiver=BUS, datasets=["case", "case-event"], batch=10))
    pusher = open_pusher(load_registry(registry).get(COUNTY.system_id), binding, gateway_url=gateway.url,
                         ack_timeout=20)
    acked: list[str] = []
    five = threading.Event()

    def on_ack(envelope, ack):
        acked.append(envelope["messageId"])
        if len(acked) == 5:
            five.set()

    result = {}
    sender = threading.Thread(target=lambda: result.update(tally=push_envelopes(
        pusher, envelopes, on_ack=on_ack, attempts=300, pause=0.05)))
    sender.start()
    try:
        assert five.wait(60), gateway.output()
        if how == "kill":
            gateway.kill()
        else:
            assert gateway.terminate() == 0
            assert "gateway stopped" in gateway.output()
        stopped_at = len(acked)
        time.sleep(0.3)  # the county keeps trying while nobody listens
        assert len(acked) == stopped_at  # nothing is acknowledged while the gateway is down
        gateway.start()
        sender.join(120)
        assert not sender.is_alive()
    finally:
        pusher.close()
        if gateway.proc and gateway.proc.poll() is None:
            gateway.terminate()
    tally = result["tally"]
    assert tally.refusals == [] and tally.retries >= 1, tally
    assert tally.envelopes == len(envelopes) and tally.statuses == {"ACCEPTED": len(envelopes)}, tally
    assert sorted(acked) == sorted(e["messageId"] for e in envelopes)
    assert tally.counts["stored"] + tally.counts["held"] == len(COUNTY.records("case")) + len(COUNTY.records("case-event"))
    for dataset, key in (("case", ("caseNo",)), ("case-event", ("caseNo", "seq"))):
        rows = stored(store, dataset)
        assert len(rows) == len(expected(dataset, key))
        assert {tuple(r[k] for k in key): r for r in rows} == expected(dataset, key)
    assert ledger_in_entries(store) == len(envelopes)
    store.dispose()
