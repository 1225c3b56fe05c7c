"""Airflow pools from the partner registry: one pool ``partner_<slug>`` per partner.

The scheduler never queues a task whose pool does not exist; it only logs a warning and the
task stays ``scheduled`` for ever. So pools are created from the registry at deploy time
(:func:`sync_pools`, ``tongban airflow sync-pools``), and every sync DAG run first checks that
its pools exist (:func:`check_pools`), failing with the missing names instead of waiting.

Task code in Airflow 3 has no metadata-DB access, so the run-time check asks the API server
(``GET /api/v2/pools``), the same server the worker already talks to for its Execution API.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

from tongban.registry import Registry

#: the Airflow connection that may carry the API server's URL and a user allowed to read pools
API_CONN_ID = "tongban_airflow_api"


@dataclass(frozen=True)
class PoolSpec:
    name: str
    slots: int
    description: str


def pool_name(partner_slug: str) -> str:
    return f"partner_{partner_slug}"


def pools_for(registry: Registry) -> list[PoolSpec]:
    """The pools the DAGs use: one per registry partner, sized by its ``pool_slots``."""
    return [PoolSpec(pool_name(p.slug), p.pool_slots, f"tongban: tasks talking to {p.id}"[:500])
            for p in registry.partners]


def sync_pools(registry: Registry, *, prune: bool = False) -> dict[str, list[str]]:
    """Create or resize the registry's pools in Airflow's metadata DB (as ``airflow pools set``
    does); with ``prune`` also delete ``partner_*`` pools no registry partner uses any more.
    Returns the pool names per outcome: created, updated, unchanged, deleted."""
    from airflow.models.pool import Pool
    from airflow.utils.session import create_session

    outcome: dict[str, list[str]] = {"created": [], "updated": [], "unchanged": [], "deleted": []}
    wanted = pools_for(registry)
    with create_session() as session:
        existing = {p.pool: p for p in Pool.get_pools(session=session)}
        for spec in wanted:
            pool = existing.get(spec.name)
            if pool is not None and pool.slots == spec.slots and pool.description == spec.description:
                outcome["unchanged"].append(spec.name)
                continue
            Pool.create_or_update_pool(spec.name, spec.slots, spec.description, include_deferred=False,
                                       session=session)
            outcome["created" if pool is None else "updated"].append(spec.name)
        if prune:
            names = {s.name for s in wanted}
            for name in sorted(existing):
                if name.startswith("partner_") and name not in names:
                    Pool.delete_pool(name, session=session)
                    outcome["deleted"].append(name)
    return outcome


class PoolCheckError(RuntimeError):
    """The pools could not be read from the API server (unreachable, refused, bad answer)."""


def api_base_url() -> tuple[str, Any]:
    """The API server's base URL and the connection carrying credentials (or None).

    The connection :data:`API_CONN_ID` wins; without it the URL is the Execution API URL every
    worker is configured with (``[core] execution_api_server_url``), minus its ``/execution/``."""
    from airflow.sdk import BaseHook

    try:
        conn = BaseHook.get_connection(API_CONN_ID)
    except Exception:  # not defined (AirflowNotFoundException and kin): the derived URL is used
        conn = None
    if conn is not None and conn.host:
        host = conn.host if "://" in conn.host else f"{conn.schema or 'http'}://{conn.host}"
        if conn.port and host.count(":") < 2:
            host = f"{host}:{conn.port}"
        return host.rstrip("/"), conn
    from airflow.configuration import conf

    url = conf.get("core", "execution_api_server_url", fallback="") or "http://localhost:8080/execution/"
    return url.rstrip("/").removesuffix("/execution"), conn


def existing_pools(base_url: str, conn: Any = None, *, timeout: float = 10.0) -> set[str]:
    """Names of every pool the API server knows (``GET /api/v2/pools``, paged)."""
    import httpx

    headers = {}
    try:
        with httpx.Client(base_url=base_url, timeout=timeout) as client:
            if conn is not None and conn.login:
                r = client.post("/auth/token", json={"username": conn.login, "password": conn.password or ""})
                if r.status_code >= 300:
                    raise PoolCheckError(f"{base_url}/auth/token refused user {conn.login!r} "
                                         f"(HTTP {r.status_code}) — connection {API_CONN_ID}")
                headers["Authorization"] = f"Bearer {r.json()['access_token']}"
            names: set[str] = set()
            while True:
                r = client.get("/api/v2/pools", params={"limit": 100, "offset": len(names)}, headers=headers)
                if r.status_code >= 300:
                    raise PoolCheckError(f"{base_url}/api/v2/pools answered HTTP {r.status_code}: {r.text[:200]} "
                                         f"(set the connection {API_CONN_ID} with a user allowed to read pools)")
                body = r.json()
                page = [p["name"] for p in body.get("pools", [])]
                names.update(page)
                if not page or len(names) >= body.get("total_entries", 0):
                    return names
    except httpx.HTTPError as exc:
        raise PoolCheckError(f"cannot read the pools from the API server {base_url}: {exc}") from exc


def missing_pools(wanted: Iterable[str], existing: set[str]) -> list[str]:
    return sorted(set(wanted) - existing)


def in_process_test_run() -> bool:
    """True under ``dag.test()``: tasks run in-process and pools are not used at all."""
    from airflow.sdk.execution_time import task_runner

    return type(getattr(task_runner, "SUPERVISOR_COMMS", None)).__name__ == "InProcessSupervisorComms"


def check_pools(wanted: Iterable[str]) -> dict[str, Any]:
    """Task body: fail (never retried) naming every pool of ``wanted`` Airflow does not have."""
    from airflow.sdk.exceptions import AirflowFailException

    wanted = sorted(set(wanted))
    if in_process_test_run():
        return {"checked": False, "reason": "dag.test() runs tasks in-process without pools", "pools": wanted}
    base_url, conn = api_base_url()
    missing = missing_pools(wanted, existing_pools(base_url, conn))
    if missing:
        raise AirflowFailException(
            f"{len(missing)} pool(s) used by this DAG do not exist, so their tasks would wait for ever: "
            f"{', '.join(missing)}. Create them from the registry: tongban airflow sync-pools")
    return {"checked": True, "pools": wanted}
