"""Alembic migrations of the tongban store (``tongban db upgrade``)."""
