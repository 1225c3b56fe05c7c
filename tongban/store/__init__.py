"""The tongban store: SQLAlchemy 2 tables, Alembic migrations and one store API."""
from tongban.store.store import Store, StoreError

__all__ = ["Store", "StoreError"]
