"""Run a project DAG in-process with ``dag.test()`` against a local SQLite metadata DB.

The Airflow environment (AIRFLOW_HOME, the metadata DB URL, the dags folder) must be set
before Airflow is first imported; :func:`tongban.demo.airflow_environment` does that.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any


def ensure_metadata_db() -> None:
    """Create the SQLite metadata DB on first use (about 1 s); later runs reuse it."""
    from airflow.utils import db

    url = os.environ.get("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "")
    path = Path(url.removeprefix("sqlite:///")) if url.startswith("sqlite:///") else None
    if path is not None and path.exists() and path.stat().st_size > 0:
        db.upgradedb()  # cheap when current, migrates an older file
        return
    db.initdb()


def run_dag(dag_id: str, run_conf: dict[str, Any] | None = None):
    """Parse the dags folder, run ``dag_id`` once in-process and return the DagRun."""
    from airflow.dag_processing.dagbag import DagBag

    ensure_metadata_db()
    bag = DagBag(dag_folder=os.environ["AIRFLOW__CORE__DAGS_FOLDER"])
    if bag.import_errors:
        details = "; ".join(f"{f}: {e.strip().splitlines()[-1]}" for f, e in bag.import_errors.items())
        raise RuntimeError(f"DAG import errors: {details}")
    return bag.dags[dag_id].test(run_conf=run_conf)
