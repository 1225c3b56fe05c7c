"""The DAGs on a real Airflow: ``deploy/cluster.sh`` brings up the api-server, scheduler,
dag-processor, triggerer and a Celery worker on PostgreSQL and Redis; ``airflow dags trigger``
runs onboard_partner for every sandbox system, then the four sync DAGs, twice.

Asserted: every task ran on the Celery worker; the store on PostgreSQL holds exactly the
sandbox's data (per dataset, by canonical content); the second round stores nothing; one pool
per registry partner exists. About 3–4 minutes on 2 cores, so it brings the cluster up once.

Each run has databases and a Celery queue of its own (named after the process and a random
suffix, the databases dropped afterwards): another run of this test, or a ``make cluster`` on
the same PostgreSQL and Redis, neither drops its metadata database nor takes its tasks.
"""
from __future__ import annotations

import json
import os
import socket
import subprocess
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

import pytest

pytest.importorskip("airflow.providers.celery", reason="the celery extra is not installed")

ROOT = Path(__file__).resolve().parents[2]
PG_URL = os.environ.get("TONGBAN_TEST_PG_URL")
REDIS = os.environ.get("TONGBAN_TEST_REDIS_URL", "redis://127.0.0.1:6379/8")
SYNC_DAGS = ("catalog_sync", "case_sync", "result_sync", "evaluation_sync")
DATASETS = ("catalog", "case", "case-event", "result", "evaluation")
RUN = f"{os.getpid()}_{uuid.uuid4().hex[:8]}"
AIRFLOW_DB, STORE_DB, QUEUE = f"tongban_it_airflow_{RUN}", f"tongban_it_store_{RUN}", f"tongban_it_{RUN}"


def _answers(url: str, default_port: int) -> bool:
    rest = url.split("://", 1)[1].split("@")[-1].split("/")[0]
    host, _, port = rest.partition(":")
    try:
        socket.create_connection((host or "127.0.0.1", int(port or default_port)), timeout=2).close()
        return True
    except OSError:
        return False


pytestmark = [
    pytest.mark.skipif(not PG_URL, reason="TONGBAN_TEST_PG_URL is not set: the Airflow cluster test runs in CI "
                                          "(.ci/run)"),
    pytest.mark.skipif(bool(PG_URL) and not _answers(PG_URL or "", 5432), reason=f"PostgreSQL does not answer "
                                                                                 f"at {PG_URL}"),
    pytest.mark.skipif(not _answers(REDIS, 6379), reason=f"Redis does not answer at {REDIS}: the Celery broker"),
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _databases(base: str, *names: str, create: bool) -> None:
    """Drop the databases ``names`` (this run's own), then create them when ``create``."""
    import psycopg

    with psycopg.connect(base.replace("postgresql+psycopg://", "postgresql://") + "/postgres",
                         autocommit=True) as c:
        for name in names:
            c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            if create:
                c.execute(f'CREATE DATABASE "{name}"')


class Cluster:
    def __init__(self, env: dict[str, str], port: int, folder: Path) -> None:
        self.env, self.port, self.folder = env, port, folder

    def airflow(self, *args: str) -> str:
        out = subprocess.run([str(ROOT / ".venv" / "bin" / "airflow"), *args], env=self.env, capture_output=True,
                             text=True, timeout=180)
        assert out.returncode == 0, f"airflow {' '.join(args)}: {out.stderr[-2000:]}"
        return out.stdout

    def api(self, path: str) -> dict:
        import httpx

        r = httpx.get(f"http://127.0.0.1:{self.port}/api/v2{path}", timeout=30)
        r.raise_for_status()
        return r.json()

    def trigger(self, dag_id: str, conf: dict | None = None) -> str:
        out = self.airflow("dags", "trigger", dag_id, "-o", "json", *(["-c", json.dumps(conf)] if conf else []))
        line = next(x for x in reversed(out.splitlines()) if x.startswith("[{"))  # log lines come first
        return json.loads(line)[0]["dag_run_id"]

    def wait(self, runs: dict[str, str], timeout: float = 300) -> dict[str, str]:
        """Wait for every (run id → dag id) to finish; returns run id → state."""
        deadline, states = time.monotonic() + timeout, {}
        while time.monotonic() < deadline:
            states = {run: self.api(f"/dags/{dag}/dagRuns/{run}")["state"] for run, dag in runs.items()}
            if all(s in ("success", "failed") for s in states.values()):
                return states
            time.sleep(2)
        raise AssertionError(f"runs not finished after {timeout} s: {states}")

    def task_instances(self, dag_id: str, run_id: str) -> list[dict]:
        return self.api(f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances")["task_instances"]

    def why(self, runs: dict[str, str], states: dict[str, str]) -> str:
        """The failed tasks of the runs that did not succeed, with the end of their logs."""
        lines = []
        for run, dag_id in runs.items():
            if states.get(run) == "success":
                continue
            for t in self.task_instances(dag_id, run):
                if t["state"] not in ("success", "skipped"):
                    try:
                        log = json.dumps(self.api(f"/dags/{dag_id}/dagRuns/{run}/taskInstances/{t['task_id']}"
                                                  f"/logs/{max(t['try_number'], 1)}?full_content=true"))[-1500:]
                    except Exception as e:  # noqa: BLE001 - an explanation, not the assertion
                        log = f"(log not readable: {e})"
                    lines.append(f"{dag_id} {run} {t['task_id']} {t['state']}: {log}")
        return "\n".join(lines)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    from tongban.sandbox.runtime import Sandbox

    base = PG_URL.rsplit("/", 1)[0]
    _databases(base, AIRFLOW_DB, STORE_DB, create=True)
    folder = tmp_path_factory.mktemp("cluster")
    port = _free_port()
    with Sandbox(folder / "sandbox", seed=31, cities=1, counties=1, transports=("rest", "soap")) as sandbox:
        env = {**os.environ, "TONGBAN_CLUSTER_DIR": str(folder / "airflow-cluster"), "TONGBAN_PG": base,
               "TONGBAN_REDIS": REDIS, "TONGBAN_CLUSTER_PORT": str(port), "TONGBAN_AIRFLOW_DB": AIRFLOW_DB,
               "TONGBAN_STORE_DB": STORE_DB, "TONGBAN_CELERY_QUEUE": QUEUE, "TONGBAN_SYNC_SCHEDULE": "none",
               "TONGBAN_PARTNERS": str(sandbox.registry_file)}
        for name in [k for k in env if k.startswith(("AIRFLOW__", "AIRFLOW_CONN_", "AIRFLOW_VAR_"))
                     or k in ("AIRFLOW_HOME", "TONGBAN_DATABASE_URL", "TONGBAN_HOME", "TONGBAN_ARTIFACTS")]:
            del env[name]  # the test session's own Airflow and store settings are not the cluster's
        up = subprocess.run(["bash", str(ROOT / "deploy" / "cluster.sh"), "up"], env=env, capture_output=True,
                            text=True, timeout=600)
        try:
            assert up.returncode == 0, up.stderr[-3000:]
            cluster_env = dict(env)
            for line in (folder / "airflow-cluster" / "cluster.env").read_text().splitlines() + \
                    (folder / "airflow-cluster" / "secrets.env").read_text().splitlines():
                if "=" in line and not line.startswith("#"):
                    k, v = line.split("=", 1)
                    cluster_env[k] = v
            yield Cluster(cluster_env, port, folder / "airflow-cluster"), sandbox
        finally:
            subprocess.run(["bash", str(ROOT / "deploy" / "cluster.sh"), "down"], env=env, capture_output=True,
                           text=True, timeout=120)
            _databases(base, AIRFLOW_DB, STORE_DB, create=False)


def _expected_current(sandbox, dataset: str) -> list[str]:
    """What the province should hold: every served record, the highest version per key."""
    from tongban.model.canonical import canonical_bytes
    from tongban.model.datasets import Dataset

    ds = Dataset(dataset)
    current: dict[tuple, dict] = {}
    for r in sandbox.running:
        if dataset not in r.system.provides:
            continue
        for rec in r.system.records(dataset):
            key = tuple(rec[m] for m in ds.key_members)
            if not ds.versioned or key not in current or rec["version"] > current[key]["version"]:
                current[key] = rec
    return sorted(canonical_bytes(v).decode() for v in current.values())


# bringing the cluster up is part of the test's time: 3–4 minutes alone on 2 cores, more than
# twice that when other jobs share the cores, so the suite's 300 s per test is too short here
@pytest.mark.timeout(900)
def test_onboarding_and_two_sync_rounds_on_a_celery_cluster(cluster):
    from sqlalchemy import select

    from tongban.registry import load_registry
    from tongban.store import Store
    from tongban.store.schema import SyncRun
    from tongban.sync.export import export_current

    c, sandbox = cluster
    registry = load_registry(sandbox.registry_file)
    pools = {p["name"] for p in c.api("/pools?limit=100")["pools"]}
    assert {f"partner_{p.slug}" for p in registry.partners} <= pools

    attest = {"ER-04": {"result": "PASS", "statement": "sandbox systems emit only citizen evaluations"}}
    onboard = {c.trigger("onboard_partner", {"system_id": p.id, "attestations": attest}): "onboard_partner"
               for p in registry.partners}
    states = c.wait(onboard)
    assert set(states.values()) == {"success"}, c.why(onboard, states)

    rounds = []
    for _ in range(2):
        started = datetime.now(timezone.utc)
        runs = {c.trigger(d): d for d in SYNC_DAGS}
        states = c.wait(runs)
        assert states == {run: "success" for run in runs}, c.why(runs, states)
        rounds.append((started, runs))

    # every task instance ran on the Celery worker: its id is in the worker's "Workload finished"
    # lines (the last one may be written just after the run is marked done: look again briefly)
    tis = {}
    for _, runs in rounds:
        for run, dag_id in {**runs, **onboard}.items():
            done = [t for t in c.task_instances(dag_id, run) if t["state"] == "success"]
            assert done, (dag_id, run)
            assert {t["queue"] for t in done} == {QUEUE}, (dag_id, run)   # this run's own queue
            tis.update({t["id"]: f"{dag_id}.{t['task_id']}" for t in done})
    deadline = time.monotonic() + 30
    while True:
        worker_log = (c.folder / "logs" / "worker.log").read_text(errors="replace")
        missing = sorted(name for ti, name in tis.items() if f"workload_id={ti}" not in worker_log)
        if not missing or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert not missing, f"not run by the Celery worker: {missing}"

    store = Store(c.env["TONGBAN_DATABASE_URL"])
    for dataset in DATASETS:
        assert sorted(export_current(store, dataset)) == _expected_current(sandbox, dataset), dataset
    with store.reading() as s:
        second = s.execute(select(SyncRun).where(SyncRun.started_at >= rounds[1][0])).scalars().all()
    assert second and {r.status for r in second} == {"SUCCESS"}
    assert sum(r.stored for r in second) == 0   # the second round stored nothing
