"""A front database for tests: SQLite in a temporary folder, or MariaDB/MySQL when
TONGBAN_TEST_MARIADB_URL is set and a test asks for it (a fresh database per test)."""
from __future__ import annotations

import json
import os
import re
import uuid
from datetime import datetime
from pathlib import Path

import sqlalchemy as sa

from tongban.connectors.frontdb.database import FrontDatabase
from tongban.connectors.frontdb.profile import load_profile, split_sql
from tongban.registry import PartnerConfig
from tongban.sync.export import export_current
from tongban.sync.frontdb import FrontdbSync

DATA = Path(__file__).resolve().parents[1] / "data" / "frontdb"
MARIADB_URL = os.environ.get("TONGBAN_TEST_MARIADB_URL")
PG_URL = os.environ.get("TONGBAN_TEST_PG_URL")
EXPECTED = json.loads((DATA / "expected_records.json").read_text(encoding="utf-8"))
LW = "TB:county:440103:LWZWFW"
JN = "TB:county:370102:LXZWFW"


def beijing(text: str) -> datetime:
    return datetime.fromisoformat(text)


def mariadb_database() -> tuple[str, callable]:
    """A new database on the test server; returns its URL and a dropper."""
    admin = sa.create_engine(MARIADB_URL)
    name = f"tfdb_{uuid.uuid4().hex[:12]}"
    with admin.begin() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {name} CHARACTER SET utf8mb4 COLLATE utf8mb4_bin")
    url = sa.engine.make_url(MARIADB_URL).set(database=name).render_as_string(hide_password=False)

    def drop() -> None:
        with admin.begin() as conn:
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name}")
        admin.dispose()
    return url, drop


def partner(system_id: str, profile: str, roles: list[str], *, dialect: str | None = "HCP-NATIONAL",
            hold: str = "PT24H") -> PartnerConfig:
    return PartnerConfig(id=system_id, transport="frontdb", database_url_env="TONGBAN_TEST_FRONTDB_URL",
                         profile=f"{profile} 1.0", roles=roles, evaluation_dialect=dialect, hold_timeout=hold)


class Front:
    """A front database plus a bus syncing it at a fixed T_read."""

    def __init__(self, url: str, store, system_id: str, profile: str, roles: list[str], *,
                 dialect: str | None = "HCP-NATIONAL", t_read: str = "2026-11-28T10:00:00+08:00",
                 hold: str = "PT24H") -> None:
        self.partner = partner(system_id, profile, roles, dialect=dialect, hold=hold)
        prof = load_profile(profile)
        self.db = FrontDatabase(url, prof, prof.tables_for({r for r in roles}))
        self.db.create_schema()
        self.store = store
        self.now = beijing(t_read)
        self.sync = FrontdbSync(store, None, self.partner, front=self.db, clock=lambda: self.now)

    def execute(self, sql: str) -> None:
        if self.db.dialect == "postgresql":  # §8: compact time literals written as YYYY-MM-DD hh:mm:ss there
            sql = re.sub(r"'(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})'", r"'\1-\2-\3 \4:\5:\6'", sql)
        with self.db.engine.begin() as conn:
            for stmt in split_sql(sql):
                conn.exec_driver_sql(stmt.replace("%", "%%") if self.db.dialect == "mysql" else stmt)

    def run_file(self, name: str) -> None:
        self.execute((DATA / name).read_text(encoding="utf-8"))

    def poll(self):
        return self.sync.poll()

    def export(self, dataset: str) -> list[dict]:
        return [json.loads(line) for line in export_current(self.store, dataset)]

    def receipts(self) -> dict[tuple[str, str], dict]:
        return {(r["table_name"], r["row_guid"]): r for r in self.db.receipts()}


class Writer:
    """Writes row states and commits batches as a FRONTDB writer does (TBS-LP-020)."""

    def __init__(self, front: Front, prefix: str = "B") -> None:
        self.front = front
        self.prefix = prefix
        self.n = 0
        self.pending: list[tuple[str, str]] = []
        self.batch = self._next()

    def _next(self) -> str:
        self.n += 1
        return f"{self.prefix}{self.n:05d}"

    def row(self, table: str, values: dict, *, listed: bool = True, upsert: bool = False) -> None:
        upper = table.isupper()
        batch_col = "CD_BATCH" if upper else "cd_batch"
        values = {batch_col: self.batch, **values}
        guid_col = "ROW_GUID" if upper else "row_guid"
        cols = list(values)
        with self.front.db.engine.begin() as conn:
            if upsert:
                conn.execute(sa.text(f"DELETE FROM {table} WHERE {guid_col} = :g"), {"g": values[guid_col]})
            conn.execute(sa.text(f"INSERT INTO {table} ({', '.join(cols)}) VALUES ("
                                 + ", ".join(f":{c}" for c in cols) + ")"), values)
        if listed:
            self.pending.append((table, values[guid_col]))

    def commit(self, at: str, *, row_count: int | None = None, extra_listed: list[tuple[str, str]] = ()) -> str:
        batch = self.batch
        listed = self.pending + list(extra_listed)
        with self.front.db.engine.begin() as conn:
            for t, g in listed:
                conn.execute(sa.text("INSERT INTO tb_batch_row (cd_batch, table_name, row_guid) VALUES (:b, :t, :g)"),
                             {"b": batch, "t": t, "g": g})
            conn.execute(sa.text("INSERT INTO tb_batch (row_guid, cd_operation, cd_time, cd_batch, row_count) "
                                 "VALUES (:g, 'I', :at, :b, :n)"),
                         {"g": f"M-{batch}", "at": at, "b": batch, "n": len(listed) if row_count is None else row_count})
        self.pending = []
        self.batch = self._next()
        return batch


def postgresql_schema() -> tuple[str, callable]:
    """A new schema on the PostgreSQL test server; returns a URL that uses it and a dropper."""
    admin = sa.create_engine(PG_URL)
    name = f"tfdb_{uuid.uuid4().hex[:12]}"
    with admin.begin() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{name}"')
    url = sa.engine.make_url(PG_URL).update_query_dict({"options": f"-csearch_path={name}"})

    def drop() -> None:
        with admin.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA "{name}" CASCADE')
        admin.dispose()
    return url.render_as_string(hide_password=False), drop
