"""The sandbox's systems push to the gateway (`tongban sandbox push`): a province hub over REST, a
city over SOAP, a county over file drop and a county over MQTT (the sandbox's embedded broker),
each acknowledged and stored exactly once; a second push stores nothing."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from gateway_support import GatewayProcess, free_port
from tongban.sandbox.generate import generate_province
from tongban.store import Store
from tongban.sync.export import export_current

KEYS = {"catalog": ("implCode",), "case": ("caseNo",), "case-event": ("caseNo", "seq"),
        "result": ("caseNo", "certNo"), "evaluation": ("caseNo", "assessNo")}


def tongban(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tongban.cli", *args], env=env, capture_output=True, text=True,
                          timeout=180)


def test_every_sandbox_binding_pushes_to_the_gateway_and_is_stored_once(tmp_path):
    folder = tmp_path / "sandbox"
    env = {**os.environ, "TONGBAN_HOME": str(tmp_path / "home"), "COLUMNS": "200"}
    up = tongban("sandbox", "up", "--folder", str(folder), "--cities", "1", "--counties", "2", "--seed", "7",
                 "--transports", "rest,soap,filedrop,mqtt", "--admission", "off", "--format", "json", env=env)
    assert up.returncode == 0, up.stderr
    ready = json.loads(up.stdout)
    assert sorted(s["transport"] for s in ready["systems"]) == ["filedrop", "mqtt", "rest", "soap"]
    url = f"sqlite:///{tmp_path / 'bus.db'}"
    Store(url).upgrade()
    tls = (folder / "tls" / "server.pem", folder / "tls" / "server.key", folder / "tls" / "ca.pem")
    secrets = dict(line.split("=", 1) for line in (folder / "secrets.env").read_text().splitlines())
    os.environ.update(secrets)  # the gateway process authenticates the systems with these
    gateway = GatewayProcess(tmp_path, folder / "partners.yaml", url, free_port(), tls=tls).start()
    try:
        first = tongban("sandbox", "push", "--folder", str(folder), "--gateway", gateway.url, "--batch", "50",
                        "--format", "json", env=env)
        second = tongban("sandbox", "push", "--folder", str(folder), "--gateway", gateway.url, "--batch", "50",
                         "--format", "json", env=env)
    finally:
        assert gateway.terminate() == 0
        tongban("sandbox", "down", "--folder", str(folder), env=env)
        for name in secrets:
            os.environ.pop(name, None)
    assert first.returncode == 0, (first.stdout, first.stderr, gateway.output())
    rows = {r["binding"]: r for r in json.loads(first.stdout)}
    assert sorted(rows) == ["FILE", "MQTT", "REST", "SOAP"]
    for binding, row in rows.items():
        assert row["refused"] == [] and set(row["statuses"]) == {"ACCEPTED"}, row
        assert row["counts"]["rejected"] == 0
        if binding != "FILE":  # the file-drop county dropped its records at `up`: the gateway had them
            assert row["counts"]["stored"] + row["counts"]["held"] == row["counts"]["received"], row
    again = json.loads(second.stdout)
    assert second.returncode == 0 and all(r["counts"]["stored"] == 0 for r in again), again
    # the store holds each system's current records, each once
    data = generate_province(7, cities=1, counties_per_city=2)
    store = Store(url)
    for dataset, key in KEYS.items():
        want = {}
        for system in data.systems.values():
            if dataset in system.provides:
                for record in system.records(dataset):
                    want[tuple(record[k] for k in key)] = record
        rows_stored = [json.loads(line) for line in export_current(store, dataset)]
        assert len(rows_stored) == len(want), dataset
        assert {tuple(r[k] for k in key): r for r in rows_stored} == want, dataset
    store.dispose()
