"""``TongbanHook``: owns where the store and the partner registry are.

The Airflow connection ``tongban_default`` (conn_type ``tongban``) may carry
``extra: {"database_url": ..., "partners": ...}``; without it the hook uses the same
environment variables as the CLI (``TONGBAN_DATABASE_URL``, ``TONGBAN_PARTNERS``), so DAG
tasks, the CLI and tests open exactly the same things.
"""
from __future__ import annotations

import os
from typing import Any

from airflow.sdk import BaseHook

from tongban.registry import Registry, load_registry
from tongban.store.store import Store


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

    def get_conn(self) -> tuple[Store, Registry]:
        extra = self._extra()
        store = Store(extra.get("database_url") or os.environ.get("TONGBAN_DATABASE_URL") or None)
        store.ensure_schema()
        return store, load_registry(extra.get("partners"))

    def sync_engine(self, trigger: str = "airflow"):
        from tongban.conformance.admission import is_admitted
        from tongban.sync.engine import SyncEngine

        store, registry = self.get_conn()
        return SyncEngine(store, registry, trigger=trigger, admission=is_admitted)
