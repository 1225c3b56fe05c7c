"""A busy store (another process holds the SQLite write lock) never stalls the edge: database
work runs off the event loop, so authentication answers at once, and the push itself gets 503
UNAVAILABLE with Retry-After in the TBS error format and X-TB-Request-Hash (TBS-REST-007/-008),
a SOAP push the same as a ``Server`` fault. The store is opened with its defaults (a 30 s busy
timeout for batch work): the push is answered while the lock is still held, not after it."""
from __future__ import annotations

import subprocess
import sys
import threading
import time

import httpx
import pytest
import yaml

from tongban.connectors.rest.server import create_rest_app, token_table
from tongban.connectors.serving import ServerThread
from tongban.connectors.soap import mapping
from tongban.connectors.soap.server import create_soap_app
from tongban.model.canonical import canonical_bytes, sha256_hex
from tongban.registry import load_registry
from tongban.store import Store
from tongban.sync.receiver import BusReceiver

from security_support import HMAC, TOKEN, Bus, registry_doc
from security_support import bus, province  # noqa: F401 - pytest fixtures

HOLD_LOCK = """
import sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
sys.stdin.readline()
conn.execute("ROLLBACK")
"""


@pytest.fixture
def busy_bus(tmp_path, province, monkeypatch):
    for who, key in HMAC.items():
        monkeypatch.setenv(f"TONGBAN_SEC_{who}_HMAC", key)
    path = tmp_path / "partners.yaml"
    path.write_text(yaml.safe_dump(registry_doc(province, tmp_path / "drop")))
    db = tmp_path / "bus.db"
    store = Store(f"sqlite:///{db}")   # the defaults: batch work would wait 30 s for the lock
    store.upgrade()
    city, lw, yx = province
    receiver = BusReceiver(store, load_registry(path))
    authenticate = token_table({TOKEN["LW"]: lw.system_id})
    with ServerThread(create_rest_app(receiver, authenticate=authenticate)) as rest, \
            ServerThread(create_soap_app(receiver, authenticate=authenticate)) as soap:
        yield Bus(store, receiver, rest, soap, {"GZ": city, "LW": lw, "YX": yx}, {}), db
    store.dispose()


def _push(bus: Bus, binding: str, env: dict, **headers: str) -> httpx.Response:
    if binding == "rest":
        return bus.rest_post(canonical_bytes(env), bus.headers(env, **headers))
    return bus.soap_post(mapping.envelope_to_push_batch(env), bus.soap_headers(env, **headers))


@pytest.mark.parametrize("binding", ["rest", "soap"])
def test_a_locked_store_answers_503_and_never_delays_authentication(busy_bus, binding):
    bus, db = busy_bus
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(db)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        env = bus.envelope()
        answers: dict[str, httpx.Response] = {}
        push = threading.Thread(target=lambda: answers.setdefault("push", _push(bus, binding, env)))
        push.start()
        time.sleep(0.3)  # the push is now waiting for the lock
        t0 = time.monotonic()
        stranger = _push(bus, binding, env, Authorization="Bearer nobody")
        auth_seconds = time.monotonic() - t0
        # Answered while the other writer still holds the lock (released only in `finally`),
        # well before the store's own 30 s busy timeout would have run out.
        push.join(20)
        assert "push" in answers, "the push waited for the store instead of answering 503"
        assert holder.poll() is None, "the lock holder is still holding the lock"
        assert auth_seconds < 1.0, f"authentication waited {auth_seconds:.1f} s for the store"
        busy = answers["push"]
        assert "INSERT" not in busy.text and "SELECT" not in busy.text  # no SQL echoed
        assert int(busy.headers["retry-after"]) > 0
        if binding == "rest":
            assert stranger.status_code == 401 and stranger.json()["ruleId"] == "TBS-SEC-001"
            assert busy.status_code == 503, busy.text
            assert busy.headers["content-type"].startswith("application/json")
            assert busy.json()["code"] == "UNAVAILABLE" and busy.json()["ruleId"] == "TBS-REST-008"
            assert busy.headers["x-tb-request-hash"] == sha256_hex(canonical_bytes(env))
        else:
            refused = mapping.xml_to_fault(stranger.content)
            assert (refused.faultcode, refused.code, refused.rule_id) == ("Client", "UNAUTHENTICATED", "TBS-SEC-001")
            assert busy.status_code == 500 and busy.headers["content-type"].startswith("text/xml"), busy.text
            fault = mapping.xml_to_fault(busy.content)
            assert (fault.faultcode, fault.code, fault.rule_id) == ("Server", "UNAVAILABLE", "TBS-REST-008"), fault
            assert busy.headers["x-tb-request-hash"] == sha256_hex(canonical_bytes(env))
    finally:
        holder.communicate("\n", timeout=10)
    assert bus.snapshot()["case"] == []                # nothing half-stored
    retry = _push(bus, binding, env)                   # the sender retries: stored
    assert retry.status_code == 200
    ack = retry.json() if binding == "rest" else mapping.xml_to_ack(retry.content)
    assert ack["counts"]["stored"] == 1, ack
