"""Pools from the registry: ``tongban airflow sync-pools`` writes one pool per partner into
Airflow's metadata DB, and the ``check_pools`` task body reads them back from Airflow's real
API server (its FastAPI app served by uvicorn on loopback) and fails naming the missing ones."""
from __future__ import annotations

import json
import socket
import threading
import time
from pathlib import Path

import pytest

pytest.importorskip("airflow")

from click.testing import CliRunner  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "tongban" / "templates" / "partners.example.yaml"


@pytest.fixture(scope="module")
def airflow_db():
    from tongban.airflow_ext.local import ensure_metadata_db

    ensure_metadata_db()


def _pool_rows() -> dict[str, int]:
    from airflow.models.pool import Pool

    return {p.pool: p.slots for p in Pool.get_pools() if p.pool.startswith("partner_")}


def _drop_partner_pools() -> None:
    from airflow.models.pool import Pool

    for name in _pool_rows():
        Pool.delete_pool(name)


def test_sync_pools_creates_one_pool_per_partner_then_changes_nothing(airflow_db, tmp_path):
    from tongban.cli import main
    from tongban.registry import load_registry

    _drop_partner_pools()
    registry = load_registry(EXAMPLE)
    first = CliRunner().invoke(main, ["airflow", "sync-pools", "--partners", str(EXAMPLE), "--format", "json"])
    assert first.exit_code == 0, first.output
    created = json.loads(first.output)["created"]
    assert sorted(created) == sorted(f"partner_{p.slug}" for p in registry.partners)
    assert _pool_rows() == {f"partner_{p.slug}": p.pool_slots for p in registry.partners}
    again = CliRunner().invoke(main, ["airflow", "sync-pools", "--partners", str(EXAMPLE), "--format", "json"])
    assert json.loads(again.output) == {"created": [], "updated": [], "unchanged": sorted(created), "deleted": []}

    # one partner resized, one gone from the registry: updated and (with --prune) deleted
    text = EXAMPLE.read_text(encoding="utf-8")
    first_partner, gone = registry.partners[0], registry.partners[-1]
    edited = tmp_path / "partners.yaml"
    assert first_partner.pool_slots == 2  # the default
    import yaml

    doc = yaml.safe_load(text)
    doc["partners"][0]["pool_slots"] = 5
    doc["partners"] = [p for p in doc["partners"] if p["id"] != gone.id]
    edited.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    third = CliRunner().invoke(main, ["airflow", "sync-pools", "--partners", str(edited), "--prune",
                                      "--format", "json"])
    assert third.exit_code == 0, third.output
    outcome = json.loads(third.output)
    assert outcome["updated"] == [f"partner_{first_partner.slug}"]
    assert outcome["deleted"] == [f"partner_{gone.slug}"]
    assert _pool_rows()[f"partner_{first_partner.slug}"] == 5


def _set_conf(monkeypatch, section: str, key: str, value: str) -> None:
    """Set an Airflow option for one test and put the old value back afterwards."""
    from airflow.configuration import conf

    old = conf.get(section, key, fallback=None)
    conf.set(section, key, value)
    request_restore.append((section, key, old))


request_restore: list[tuple[str, str, str | None]] = []


@pytest.fixture(autouse=True)
def _restore_conf():
    yield
    from airflow.configuration import conf

    while request_restore:
        section, key, old = request_restore.pop()
        if old is None:
            conf.remove_option(section, key)
        else:
            conf.set(section, key, old)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def api_server(airflow_db, monkeypatch):
    """Airflow's own API server app (public REST API, simple auth manager, every user admin)."""
    import uvicorn
    from airflow.configuration import conf

    _set_conf(monkeypatch, "core", "simple_auth_manager_all_admins", "True")
    from airflow.api_fastapi.app import create_app

    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(create_app("core"), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started, "the API server did not start"
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


def test_check_pools_names_the_missing_pools_and_passes_once_they_exist(api_server, monkeypatch):
    from airflow.sdk.exceptions import AirflowFailException

    from tongban.airflow_ext import pools
    from tongban.registry import load_registry

    monkeypatch.setattr(pools, "in_process_test_run", lambda: False)  # as on a worker
    _set_conf(monkeypatch, "core", "execution_api_server_url", f"{api_server}/execution/")
    registry = load_registry(EXAMPLE)
    wanted = [s.name for s in pools.pools_for(registry)]
    _drop_partner_pools()
    with pytest.raises(AirflowFailException) as failed:
        pools.check_pools(wanted)
    message = str(failed.value)
    assert all(name in message for name in wanted) and "tongban airflow sync-pools" in message
    pools.sync_pools(registry)
    assert pools.check_pools(wanted) == {"checked": True, "pools": sorted(wanted)}


def test_check_pools_reports_an_unreachable_api_server(monkeypatch):
    from tongban.airflow_ext import pools

    monkeypatch.setattr(pools, "in_process_test_run", lambda: False)
    port = _free_port()  # nothing listens there
    _set_conf(monkeypatch, "core", "execution_api_server_url", f"http://127.0.0.1:{port}/execution/")
    with pytest.raises(pools.PoolCheckError, match=f"127.0.0.1:{port}"):
        pools.check_pools(["partner_x"])


def test_every_sync_dag_checks_its_pools_before_any_partner_task(monkeypatch):
    from airflow.dag_processing.dagbag import DagBag

    monkeypatch.setenv("TONGBAN_PARTNERS", str(EXAMPLE))
    bag = DagBag(dag_folder=str(ROOT / "dags"))
    for dag_id in ("catalog_sync", "case_sync", "result_sync", "evaluation_sync"):
        dag = bag.dags[dag_id]
        check = dag.get_task("check_pools")
        assert check.pool == "default_pool"
        pooled = {t.task_id for t in dag.tasks if t.pool.startswith("partner_")}
        assert pooled and all(check.task_id in dag.get_task(t).get_flat_relative_ids(upstream=True)
                              for t in pooled), dag_id
