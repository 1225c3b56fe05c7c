"""A migrated, empty store for tests, importable by name from any test module.

It lives outside conftest.py because several folders have a conftest of their own: a test module
that wrote ``from conftest import ...`` got whichever conftest pytest had imported first."""
from __future__ import annotations

import contextlib
import os
import uuid

import pytest

PG_URL = os.environ.get("TONGBAN_TEST_PG_URL")


@contextlib.contextmanager
def migrated_store(kind: str, tmp_path, revision: str = "head"):
    """A migrated (to ``revision``), empty store of ``kind`` ("sqlite" or "postgresql", skipped
    without TONGBAN_TEST_PG_URL), dropped afterwards."""
    from sqlalchemy import create_engine, text

    from tongban.store import Store

    if kind == "sqlite":
        s = Store(f"sqlite:///{tmp_path / 'store.db'}")
        s.upgrade(revision)
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
    s.upgrade(revision)
    try:
        yield s
    finally:
        s.dispose()
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
