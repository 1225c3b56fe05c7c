"""The one store API: engine and sessions, migrations, and the typed reads/writes the sync
engine, the CLI and the monitoring views share.

SQLite (a file under ``.tongban/``) is the embedded default; ``TONGBAN_DATABASE_URL`` selects
PostgreSQL in production. Writers on SQLite take the write lock at BEGIN (``BEGIN IMMEDIATE``)
so read-then-write sequences such as the ledger's hash chain cannot interleave.
"""
from __future__ import annotations

import json
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

from sqlalchemy import Engine, create_engine, event, inspect
from sqlalchemy.orm import Session, sessionmaker

from tongban.store.config import database_url
from tongban.store.schema import Base, SyncCursor

MIGRATIONS = Path(__file__).resolve().parent / "migrations"

# How long the transaction being opened in this context may wait for a lock (milliseconds);
# None: the store's default. Read when SQLite's BEGIN IMMEDIATE is issued (see transaction()).
_lock_wait_ms: ContextVar[int | None] = ContextVar("tongban_store_lock_wait_ms", default=None)


class StoreError(Exception):
    """The store could not be opened or migrated; the message says which URL and why."""


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def _redact(url: str) -> str:
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # an unparsable URL is reported as given
        return url


class Store:
    def __init__(self, url: str | None = None, *, engine: Engine | None = None,
                 busy_timeout_s: float = 30.0) -> None:
        self.url = url or database_url()
        try:
            self.engine = engine or create_engine(self.url, pool_pre_ping=True)
        except Exception as exc:  # bad URL, missing driver
            raise StoreError(f"cannot open store {_redact(self.url)}: {exc}") from exc
        if self.engine.dialect.name == "sqlite":
            _configure_sqlite(self.engine, busy_timeout_s)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        # The bus's ledger key (from the environment variable the registry names): the ledger
        # authenticates its chain head with it. None: the head is written without an HMAC.
        self.ledger_key: bytes | None = None

    @property
    def display_url(self) -> str:
        return _redact(self.url)

    # -- schema ---------------------------------------------------------------------------
    def alembic_config(self):
        from alembic.config import Config

        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        cfg.set_main_option("sqlalchemy.url", self.url.replace("%", "%%"))
        return cfg

    def upgrade(self, revision: str = "head") -> str:
        """Apply the Alembic migrations; returns the revision the store is at."""
        from alembic import command
        from alembic.runtime.migration import MigrationContext

        cfg = self.alembic_config()
        try:
            with self.engine.begin() as conn:
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, revision)
            with self.engine.connect() as conn:
                return MigrationContext.configure(conn).get_current_revision() or "base"
        except Exception as exc:
            raise StoreError(f"cannot migrate store {self.display_url}: {exc}") from exc

    def ensure_schema(self) -> None:
        """Upgrade when the store is new or behind; cheap when it is current."""
        from alembic.runtime.migration import MigrationContext
        from alembic.script import ScriptDirectory

        head = ScriptDirectory.from_config(self.alembic_config()).get_current_head()
        with self.engine.connect() as conn:
            current = MigrationContext.configure(conn).get_current_revision()
        if current != head:
            self.upgrade()

    def table_names(self) -> set[str]:
        return set(inspect(self.engine).get_table_names())

    def drop_all(self) -> None:
        """Drop every tongban table (tests only)."""
        Base.metadata.drop_all(self.engine)
        with self.engine.begin() as conn:
            conn.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")

    # -- sessions -------------------------------------------------------------------------
    @contextmanager
    def transaction(self, *, lock_wait_s: float | None = None) -> Iterator[Session]:
        """One unit of work: committed on success, rolled back on any exception.

        ``lock_wait_s`` bounds how long it waits for a lock another writer holds (SQLite's write
        lock, a PostgreSQL row or advisory lock) before failing with an ``OperationalError``;
        by default it waits as long as the store's ``busy_timeout_s``. Work done for a waiting
        client (a push) waits briefly and lets the client retry; batch work waits long."""
        wait_ms = None if lock_wait_s is None else max(1, int(lock_wait_s * 1000))
        token = _lock_wait_ms.set(wait_ms)
        try:
            with self._sessions.begin() as session:
                session.info["tongban.ledger.key"] = self.ledger_key
                if wait_ms is not None and self.engine.dialect.name == "postgresql":
                    session.connection().exec_driver_sql(f"SET LOCAL lock_timeout = {wait_ms}")
                yield session
        finally:
            _lock_wait_ms.reset(token)

    @contextmanager
    def reading(self) -> Iterator[Session]:
        with self._sessions() as session:
            yield session

    # -- cursors --------------------------------------------------------------------------
    def cursor(self, partner_id: str, dataset: str) -> str | None:
        with self.reading() as s:
            row = s.get(SyncCursor, (partner_id, dataset))
            return row.cursor if row else None

    def dispose(self) -> None:
        self.engine.dispose()


def _configure_sqlite(engine: Engine, busy_timeout_s: float = 30.0) -> None:
    # pysqlite's own transaction handling defers BEGIN; take control so that every
    # transaction starts with BEGIN IMMEDIATE (documented SQLAlchemy recipe).
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record) -> None:
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute(f"PRAGMA busy_timeout={int(busy_timeout_s * 1000)}")
        cur.execute("PRAGMA cache_size=-65536")  # 64 MiB page cache: the ingest's key lookups stay in memory
        cur.close()

    default_ms = int(busy_timeout_s * 1000)

    @event.listens_for(engine, "begin")
    def _on_begin(conn) -> None:
        # Set on every BEGIN: a pooled connection must not keep a shorter wait from an earlier use.
        wait_ms = _lock_wait_ms.get()
        conn.exec_driver_sql(f"PRAGMA busy_timeout={default_ms if wait_ms is None else wait_ms}")
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def dumps(value: Any) -> str:
    """Canonical JSON text for storage (RFC 8785 for TBS payloads)."""
    from tongban.model.canonical import canonical_bytes

    return canonical_bytes(value).decode("utf-8")


def loads(text: str) -> Any:
    return json.loads(text)
