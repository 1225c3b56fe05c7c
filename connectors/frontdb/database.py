"""The front database itself (TBS-LP-010 to -058): markers, manifests and rows read in one
snapshot, receipts and dn rows written in transactions of their own. Any SQLAlchemy dialect
works; MySQL/MariaDB (PyMySQL) and PostgreSQL (psycopg) get the session time zone and the
isolation level TBS-LP-053 names, SQLite a plain read transaction.

The bus never writes an up table, ``tb_batch`` or ``tb_batch_row`` and never locks their
rows (no ``SELECT … FOR UPDATE``).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from tongban.connectors.base import ProtocolError, TransportError
from tongban.connectors.frontdb.profile import ConfigurationError, Profile, TableSpec, ddl_statements

RECEIPT_COLUMNS = ("table_name", "row_guid", "row_cd_time", "cd_batch", "outcome", "rule_ids", "message",
                   "findings", "processed_at")
DN_COLUMNS = ("row_guid", "cd_operation", "cd_time", "cd_batch", "data_source", "version", "catalog_code",
              "task_name", "task_type", "task_state", "task_version", "use_level", "by_law")


def dialect_of(engine: Engine) -> str:
    name = engine.dialect.name
    return "mysql" if name in ("mysql", "mariadb") else name


def open_engine(url: str) -> Engine:
    engine = sa.create_engine(url, pool_pre_ping=True)
    dialect = dialect_of(engine)

    @sa.event.listens_for(engine, "connect")
    def _time_zone(dbapi_conn: Any, _record: Any) -> None:  # TBS-LP-053: UTC+08:00 for the session
        statement = {"mysql": "SET time_zone = '+08:00'",
                     "postgresql": "SET TIME ZONE INTERVAL '+08:00' HOUR TO MINUTE"}.get(dialect)
        if statement:
            cur = dbapi_conn.cursor()
            cur.execute(statement)
            cur.close()
            if dialect == "postgresql":
                dbapi_conn.commit()
    return engine


@dataclass
class Marker:
    row_guid: str
    cd_batch: str
    cd_time: Any
    row_count: Any


@dataclass
class BatchRead:
    """What TBS-LP-022 and -030 need of one batch, read in one snapshot."""

    marker: Marker
    manifest: list[tuple[str, str]]  # (table_name, row_guid), all tables
    rows: dict[str, list[dict[str, Any]]]  # table -> rows carrying cd_batch B (raw values)
    listed_elsewhere: dict[tuple[str, str], str | None] = field(default_factory=dict)  # listed row -> its cd_batch
    markers_of: dict[str, tuple[Any, str]] = field(default_factory=dict)  # cd_batch -> (cd_time, row_guid)


class FrontDatabase:
    """One partner's front database under one profile."""

    def __init__(self, url: str, profile: Profile, tables: list[TableSpec], *, engine: Engine | None = None) -> None:
        self.url = url
        self.profile = profile
        self.tables = tables
        self.engine = engine or open_engine(url)
        self.dialect = dialect_of(self.engine)
        self._checked = False

    def close(self) -> None:
        self.engine.dispose()

    # --- schema -----------------------------------------------------------------------
    def create_schema(self) -> None:
        """Create the profile's tables from the normative DDL (for writers, tests, the sandbox)."""
        with self.engine.begin() as conn:
            for stmt in ddl_statements(self.profile, self.dialect):
                conn.exec_driver_sql(stmt)

    def check_configuration(self) -> None:
        """TBS-LP-011: every listed table and column must exist."""
        if self._checked:
            return
        try:
            insp = sa.inspect(self.engine)
            names = {n.lower(): n for n in insp.get_table_names()}
        except sa.exc.OperationalError as exc:
            raise TransportError(f"front database unreachable: {exc.orig}", endpoint=self.safe_url) from exc
        missing = []
        for spec in [*self.tables, _BATCH_SPEC, _MANIFEST_SPEC]:
            actual = names.get(spec.name.lower())
            if actual is None:
                missing.append(spec.name)
                continue
            have = {c["name"].lower() for c in insp.get_columns(actual)}
            missing += [f"{spec.name}.{c}" for c in spec.columns if c.lower() not in have]
        if missing:
            raise ConfigurationError(f"front database lacks {', '.join(missing)} (TBS-LP-011): nothing is read")
        self._checked = True

    @property
    def safe_url(self) -> str:
        return self.engine.url.render_as_string(hide_password=True)

    # --- reading ------------------------------------------------------------------------
    def _reader(self) -> Connection:
        conn = self.engine.connect()
        if self.dialect in ("mysql", "postgresql"):
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
        return conn

    def markers(self, not_before: str | None) -> list[Marker]:
        """Markers whose ``cd_time`` is not earlier than ``not_before`` (cursor minus L)."""
        q = sa.text("SELECT row_guid, cd_batch, cd_time, row_count FROM tb_batch"
                    + (" WHERE cd_time >= :bound" if not_before else "") + " ORDER BY cd_time, row_guid")
        try:
            with self._reader() as conn:
                rows = conn.execute(q, {"bound": not_before} if not_before else {}).all()
        except sa.exc.OperationalError as exc:
            raise TransportError(f"reading tb_batch failed: {exc.orig}", endpoint=self.safe_url) from exc
        return [Marker(*r) for r in rows]

    def batches_before(self, bound: str) -> list[str]:
        """``cd_batch`` of the markers dated before ``bound`` (cursor minus L): those the look-back
        no longer reaches (TBS-LP-026), for the caller to compare with what it processed."""
        q = sa.text("SELECT cd_batch FROM tb_batch WHERE cd_time < :bound")
        try:
            with self._reader() as conn:
                return [str(b) for (b,) in conn.execute(q, {"bound": bound})]
        except sa.exc.OperationalError as exc:
            raise TransportError(f"reading tb_batch failed: {exc.orig}", endpoint=self.safe_url) from exc

    def read_batch(self, marker: Marker) -> BatchRead:
        """TBS-LP-053: the manifest, the rows carrying B and the state of every listed row,
        inside one read-only snapshot."""
        b = marker.cd_batch
        with self._reader() as conn, conn.begin():
            if self.dialect == "postgresql":
                conn.exec_driver_sql("SET TRANSACTION READ ONLY")
            manifest = [(t, g) for t, g in conn.execute(
                sa.text("SELECT table_name, row_guid FROM tb_batch_row WHERE cd_batch = :b"), {"b": b})]
            read = BatchRead(marker, manifest, {})
            for spec in self.tables:
                cols = list(spec.columns)
                batch_col, guid_col = spec.col("cd_batch"), spec.col("row_guid")
                sel = ", ".join(_quote(c) for c in cols)
                read.rows[spec.name] = [dict(zip(cols, r)) for r in conn.execute(sa.text(
                    f"SELECT {sel} FROM {spec.name} WHERE {batch_col} = :b"), {"b": b})]
                listed = [g for t, g in manifest if t == spec.name]
                carried = {str(r[guid_col]) for r in read.rows[spec.name]}
                others = [g for g in listed if g not in carried]
                for chunk in _chunks(others, 500):
                    found = dict(conn.execute(sa.select(sa.column(guid_col), sa.column(batch_col))
                                              .select_from(sa.table(spec.name))
                                              .where(sa.column(guid_col).in_(chunk))).all())
                    for g in chunk:
                        read.listed_elsewhere[(spec.name, g)] = found.get(g)
            batches = sorted({v for v in read.listed_elsewhere.values() if v})
            for chunk in _chunks(batches, 500):
                for cd_batch, cd_time, guid in conn.execute(
                        sa.select(sa.column("cd_batch"), sa.column("cd_time"), sa.column("row_guid"))
                        .select_from(sa.table("tb_batch")).where(sa.column("cd_batch").in_(chunk))):
                    read.markers_of[cd_batch] = (cd_time, guid)
        return read

    def checksums(self) -> dict[str, str]:
        """A digest of every up table and of the marker and manifest tables (LP-02)."""
        import hashlib

        out = {}
        with self._reader() as conn:
            for name in [t.name for t in self.tables] + ["tb_batch", "tb_batch_row"]:
                h = hashlib.sha256()
                for row in conn.exec_driver_sql(f"SELECT * FROM {name}"):
                    h.update(repr(tuple(row)).encode())
                out[name] = h.hexdigest()
        return out

    # --- writing (separate transactions) -------------------------------------------------
    def write_receipts(self, receipts: Iterable[dict[str, Any]]) -> int:
        receipts = list(receipts)
        if not receipts:
            return 0
        key = ("table_name", "row_guid", "row_cd_time", "cd_batch")
        with self.engine.begin() as conn:
            for r in receipts:
                params = {c: r[c] for c in RECEIPT_COLUMNS}
                updated = conn.execute(sa.text(
                    "UPDATE tb_receipt SET outcome = :outcome, rule_ids = :rule_ids, message = :message, "
                    "findings = :findings, processed_at = :processed_at WHERE "
                    + " AND ".join(f"{k} = :{k}" for k in key)), params).rowcount
                if not updated:
                    conn.execute(sa.text(f"INSERT INTO tb_receipt ({', '.join(RECEIPT_COLUMNS)}) VALUES ("
                                         + ", ".join(f":{c}" for c in RECEIPT_COLUMNS) + ")"), params)
        return len(receipts)

    def receipts(self) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(sa.text(
                f"SELECT {', '.join(RECEIPT_COLUMNS)} FROM tb_receipt ORDER BY cd_batch, table_name, row_guid"))]

    def write_dn_rows(self, rows: Iterable[dict[str, Any]]) -> int:
        """TBS-LP-058: one write is one transaction; rows are upserted by ``row_guid``."""
        n = 0
        for row in rows:
            with self.engine.begin() as conn:
                params = {c: row.get(c) for c in DN_COLUMNS}
                sets = ", ".join(f"{c} = :{c}" for c in DN_COLUMNS if c != "row_guid")
                if not conn.execute(sa.text(f"UPDATE dn_task_directory SET {sets} WHERE row_guid = :row_guid"),
                                    params).rowcount:
                    conn.execute(sa.text(f"INSERT INTO dn_task_directory ({', '.join(DN_COLUMNS)}) VALUES ("
                                         + ", ".join(f":{c}" for c in DN_COLUMNS) + ")"), params)
            n += 1
        return n


def _quote(column: str) -> str:
    return column


def _chunks(items: list[Any], n: int) -> Iterable[list[Any]]:
    for i in range(0, len(items), n):
        yield items[i:i + n]


_BATCH_SPEC = TableSpec("tb_batch", 0, (), "cd_batch", "marker",
                        {"row_guid": "VARCHAR(50)", "cd_batch": "VARCHAR(32)", "cd_time": "DATETIME",
                         "row_count": "INT"}, frozenset(), {})
_MANIFEST_SPEC = TableSpec("tb_batch_row", 0, (), "row_guid", "manifest",
                           {"cd_batch": "VARCHAR(32)", "table_name": "VARCHAR(64)", "row_guid": "VARCHAR(50)"},
                           frozenset(), {})

__all__ = ["FrontDatabase", "Marker", "BatchRead", "ConfigurationError", "ProtocolError", "open_engine"]
