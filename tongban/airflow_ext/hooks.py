"""``TongbanHook``: owns where the store and the partner registry are, for every task.

The Airflow connection ``tongban_default`` (conn_type ``tongban``, registered by this
package's provider entry point) may carry ``extra: {"database_url": ..., "partners": ...,
"artifacts": ...}``; each missing key falls back to the environment variable the CLI uses
(``TONGBAN_DATABASE_URL``, ``TONGBAN_PARTNERS``, ``TONGBAN_ARTIFACTS``), so DAG tasks, the CLI
and tests open exactly the same things. Sync, onboarding and metrics tasks all go through it.

Outside ``dag.test()`` tasks run in processes of their own, on any worker: a store that is
only the default SQLite file under the working directory, or a relative SQLite path, would
silently be a different, empty store per worker. It is refused with :class:`StoreConfigError`.
"""
from __future__ import annotations

import os
from typing import Any

from airflow.sdk import BaseHook

from tongban.registry import Registry, RegistryError, load_registry
from tongban.store.config import ENV_URL
from tongban.store.store import Store

ENV_REGISTRY = "TONGBAN_PARTNERS"


class StoreConfigError(RuntimeError):
    """The store a task would open is not one every worker shares."""


class RegistryUnavailable(RuntimeError):
    """This worker cannot load the partner registry."""


def sqlite_path_problem(url: str) -> str | None:
    """Why ``url`` is a SQLite store workers cannot share (None: not SQLite, or absolute)."""
    if not url.startswith("sqlite"):
        return None
    rest = url.split("://", 1)[1] if "://" in url else ""
    path = rest[1:] if rest.startswith("/") else rest  # sqlite:///relative or sqlite:////absolute
    if not path or path.startswith(":memory:") or path.startswith("file::memory:"):
        return "an in-memory SQLite store lives and dies with one task process"
    if not path.startswith("/"):
        return f"the relative SQLite path {path!r} resolves against each worker's working directory"
    return None


class TongbanHook(BaseHook):
    conn_name_attr = "tongban_conn_id"
    default_conn_name = "tongban_default"
    conn_type = "tongban"
    hook_name = "tongban store and partner registry"

    def __init__(self, tongban_conn_id: str = default_conn_name) -> None:
        super().__init__()
        self.tongban_conn_id = tongban_conn_id

    def _extra(self) -> dict[str, Any]:
        try:
            return dict(self.get_connection(self.tongban_conn_id).extra_dejson)
        except Exception:  # no such connection: fall back to the environment, like the CLI
            return {}

    def store_url(self) -> str | None:
        """The store's URL (connection, then TONGBAN_DATABASE_URL); None: the local default.

        Refuses, outside ``dag.test()``, the default store and relative or in-memory SQLite."""
        url = self._extra().get("database_url") or os.environ.get(ENV_URL) or None
        if _in_process_test_run():
            return url
        executor = _executor_name()
        if url is None:
            raise StoreConfigError(
                f"no tongban store is configured for this worker (executor {executor}): set "
                f"{ENV_URL} on every worker, or database_url in the extra of the Airflow connection "
                f"{self.tongban_conn_id!r}, to the shared store (PostgreSQL: postgresql+psycopg://…). "
                f"The local default would be a separate SQLite file per worker")
        problem = sqlite_path_problem(url)
        if problem:
            raise StoreConfigError(f"the tongban store {url!r} cannot be shared by the workers of executor "
                                   f"{executor}: {problem}. Use PostgreSQL (postgresql+psycopg://…) or an "
                                   f"absolute path on a shared disk")
        return url

    def registry_path(self) -> str | None:
        return self._extra().get("partners") or os.environ.get(ENV_REGISTRY) or None

    def registry(self) -> Registry:
        try:
            return load_registry(self.registry_path())
        except RegistryError as exc:
            raise RegistryUnavailable(f"this worker cannot load the partner registry (set {ENV_REGISTRY} or "
                                      f"partners in the connection {self.tongban_conn_id!r}, on the dag-processor "
                                      f"and every worker): {exc}") from None

    def artifacts_location(self) -> str | None:
        """Where reports and certificates go (a folder or an ObjectStoragePath URL)."""
        return self._extra().get("artifacts") or os.environ.get("TONGBAN_ARTIFACTS") or None

    def get_store(self) -> Store:
        store = Store(self.store_url())
        store.ensure_schema()
        return store

    def get_conn(self) -> tuple[Store, Registry]:
        registry = self.registry()
        return self.get_store(), registry

    def sync_engine(self, trigger: str = "airflow"):
        from tongban.conformance.admission import is_admitted
        from tongban.sync.engine import SyncEngine

        store, registry = self.get_conn()
        return SyncEngine(store, registry, trigger=trigger, admission=is_admitted)


def _executor_name() -> str:
    from airflow.configuration import conf

    return conf.get("core", "executor", fallback="") or "LocalExecutor"


def _in_process_test_run() -> bool:
    from tongban.airflow_ext.pools import in_process_test_run

    return in_process_test_run()
