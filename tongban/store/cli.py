"""``tongban db upgrade|recount``."""
from __future__ import annotations

import click
from sqlalchemy.exc import DBAPIError

from tongban.console import fail, out
from tongban.store.store import Store, StoreError


def _registry_ledger_key() -> bytes | None:
    """The bus's ledger key when the registry names one (entries the CLI appends stay authenticated)."""
    from tongban.registry import load_registry

    try:
        return load_registry().bus.ledger_key()
    except Exception:  # no registry here: the commands that need one say so themselves
        return None


def open_store() -> Store:
    """The configured store, migrated; a clear message and exit 2 when it cannot be opened."""
    try:
        store = Store()
        store.ensure_schema()
        store.ledger_key = _registry_ledger_key()
        return store
    except StoreError as exc:
        fail(str(exc))
    except DBAPIError as exc:  # the database refused or is unreachable: one line, no traceback
        from tongban.sync.errors import safe_error_text

        fail(f"cannot open store: {safe_error_text(exc)}")


@click.group()
def db() -> None:
    """The tongban store (SQLite under .tongban/ by default, TONGBAN_DATABASE_URL for PostgreSQL)."""


@db.command()
def upgrade() -> None:
    """Apply the Alembic migrations."""
    try:
        store = Store()
        rev = store.upgrade()
    except StoreError as exc:
        fail(str(exc))
    out.print(f"store {store.display_url} at revision {rev}")


@db.command()
def recount() -> None:
    """Rebuild the per-source totals `tongban status` reads (stored records and newest business
    time per source and dataset) from the record tables: after rows were written or restored
    past tongban's own write path. Ingest keeps them by itself."""
    from tongban.store.totals import recount as rebuild

    store = open_store()
    with store.engine.begin() as conn:
        rows = rebuild(conn)
    out.print(f"source totals rebuilt: {rows} (source, dataset) rows")
