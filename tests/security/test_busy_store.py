"""A busy store (another process holds the SQLite write lock) never stalls the edge: database
work runs off the event loop, so authentication answers at once, and the push itself gets 503
UNAVAILABLE with Retry-After in the TBS error format and X-TB-Request-Hash (TBS-REST-007/-008)."""
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
    store = Store(f"sqlite:///{db}", busy_timeout_s=2)
    store.upgrade()
    city, lw, yx = province
    receiver = BusReceiver(store, load_registry(path))
    app = create_rest_app(receiver, authenticate=token_table({TOKEN["LW"]: lw.system_id}))
    with ServerThread(app) as server:
        yield Bus(store, receiver, server, server, {"GZ": city, "LW": lw, "YX": yx}, {}), db
    store.dispose()


def test_a_locked_store_answers_503_and_never_delays_authentication(busy_bus):
    bus, db = busy_bus
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(db)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        env = bus.envelope()
        answers: dict[str, httpx.Response] = {}
        push = threading.Thread(target=lambda: answers.setdefault(
            "push", bus.rest_post(canonical_bytes(env), bus.headers(env))))
        push.start()
        time.sleep(0.3)  # the push is now waiting for the lock
        t0 = time.monotonic()
        stranger = bus.rest_post(canonical_bytes(env), bus.headers(env, Authorization="Bearer nobody"))
        auth_seconds = time.monotonic() - t0
        push.join(30)
        assert stranger.status_code == 401 and stranger.json()["ruleId"] == "TBS-SEC-001"
        assert auth_seconds < 1.0, f"authentication waited {auth_seconds:.1f} s for the store"
        busy = answers["push"]
        assert busy.status_code == 503, busy.text
        assert busy.headers["content-type"].startswith("application/json")
        assert busy.json()["code"] == "UNAVAILABLE" and busy.json()["ruleId"] == "TBS-REST-008"
        assert int(busy.headers["retry-after"]) > 0
        assert busy.headers["x-tb-request-hash"] == sha256_hex(canonical_bytes(env))
        assert "INSERT" not in busy.text and "SELECT" not in busy.text  # no SQL echoed
    finally:
        holder.communicate("\n", timeout=10)
    assert bus.snapshot()["case"] == []                # nothing half-stored
    retry = bus.rest_post(canonical_bytes(env), bus.headers(env))   # the sender retries: stored
    assert retry.status_code == 200 and retry.json()["counts"]["stored"] == 1
