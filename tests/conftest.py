"""Test configuration shared by every test.

Airflow reads its configuration at import time, so its environment is set here, before
anything can import it: a throw-away AIRFLOW_HOME with a SQLite metadata DB, the project's
dags/ folder, no examples. tongban's own state goes to a per-session temporary folder.
"""
from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import tempfile
import uuid
from pathlib import Path

import pytest

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

PG_URL = os.environ.get("TONGBAN_TEST_PG_URL")
MQTT_URL = os.environ.get("TONGBAN_TEST_MQTT_URL")


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request, tmp_path):
    """A migrated, empty store on SQLite and, where TONGBAN_TEST_PG_URL is set, PostgreSQL."""
    with migrated_store(request.param, tmp_path) as s:
        yield s


@contextlib.contextmanager
def migrated_store(kind: str, tmp_path):
    """A migrated, empty store of ``kind`` ("sqlite" or "postgresql", skipped without
    TONGBAN_TEST_PG_URL), dropped afterwards."""
    from sqlalchemy import create_engine, text

    from tongban.store import Store

    if kind == "sqlite":
        s = Store(f"sqlite:///{tmp_path / 'store.db'}")
        s.upgrade()
        yield s
        s.dispose()
        return
    if not PG_URL:
        pytest.skip("TONGBAN_TEST_PG_URL is not set: PostgreSQL store tests run in CI (.ci/run)")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine = create_engine(PG_URL, connect_args={"options": f"-csearch_path={schema}"})
    s = Store(PG_URL, engine=engine)
    s.upgrade()
    try:
        yield s
    finally:
        s.dispose()
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
