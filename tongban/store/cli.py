"""``tongban db upgrade|current``."""
from __future__ import annotations

import click

from tongban.console import fail, out
from tongban.store.store import Store, StoreError


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
