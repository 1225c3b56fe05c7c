"""Test configuration shared by every test.

Airflow reads its configuration at import time, so its environment is set here, before
anything can import it: a throw-away AIRFLOW_HOME with a SQLite metadata DB, the project's
dags/ folder, no examples. tongban's own state goes to a per-session temporary folder.
"""
from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

import pytest

from store_support import migrated_store

ROOT = Path(__file__).resolve().parents[1]
_HOME = tempfile.mkdtemp(prefix="tongban-test-")
atexit.register(shutil.rmtree, _HOME, ignore_errors=True)
os.environ["AIRFLOW_HOME"] = os.path.join(_HOME, "airflow")
os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = f"sqlite:///{_HOME}/airflow/airflow.db"
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(ROOT / "dags")
os.environ["TONGBAN_HOME"] = os.path.join(_HOME, "state")
os.environ.pop("TONGBAN_DATABASE_URL", None)
os.environ.setdefault("TONGBAN_PARTNERS", os.path.join(_HOME, "partners.yaml"))
os.makedirs(os.environ["AIRFLOW_HOME"], exist_ok=True)

MQTT_URL = os.environ.get("TONGBAN_TEST_MQTT_URL")


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request, tmp_path):
    """A migrated, empty store on SQLite and, where TONGBAN_TEST_PG_URL is set, PostgreSQL."""
    with migrated_store(request.param, tmp_path) as s:
        yield s
