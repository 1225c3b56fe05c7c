"""One sync at a time per (partner, dataset): a lock the operating system or the database
releases by itself when the holder dies, so a killed run never blocks the next one.

PostgreSQL: a session-level advisory lock (``pg_try_advisory_lock``) on a connection held for
the whole run. SQLite: ``flock`` on a lock file beside the database file. Both are released
when the process ends, however it ends (SIGKILL included), which is also how a run left
RUNNING is recognised as stale: whoever holds the lock knows no other run is alive.
"""
from __future__ import annotations

import fcntl
import hashlib
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from sqlalchemy import text


class AlreadyRunning(Exception):
    """Another sync of the same (partner, dataset) is running now."""


def _key(partner_id: str, dataset: str) -> int:
    digest = hashlib.sha256(f"tongban-sync\0{partner_id}\0{dataset}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


@contextmanager
def feed_lock(store, partner_id: str, dataset: str) -> Iterator[None]:
    """Hold the (partner, dataset) sync lock, or raise :class:`AlreadyRunning` at once."""
    busy = AlreadyRunning(f"a sync of {partner_id} {dataset} is already running; try again when it has finished")
    engine = store.engine
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            # advisory locks are database-wide: the schema names the store within it
            key = _key(f"{conn.execute(text('SELECT current_schema()')).scalar()}\0{partner_id}", dataset)
            if not conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar():
                conn.rollback()
                raise busy
            conn.commit()
            try:
                yield
            finally:
                try:
                    conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
                    conn.commit()
                except Exception:  # the server went away: the lock went with the session
                    conn.invalidate()
        return
    database = engine.url.database if engine.dialect.name == "sqlite" else None
    if not database or database == ":memory:":
        yield  # a private in-memory store: nobody else can sync into it
        return
    if database.startswith("file:"):  # a URI filename (…?mode=ro&uri=true)
        database = database[len("file:"):].split("?", 1)[0]
    lock_path = Path(f"{database}-sync-{_key(partner_id, dataset) & 0xFFFFFFFFFFFF:012x}.lock")
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise busy from None
        yield
    finally:
        os.close(fd)  # releases the flock


def serialize_writes(session) -> None:
    """Hold the store's write lock until ``session``'s transaction ends (PostgreSQL).

    The ledger is one hash chain and a messageId is processed once, so two processes writing
    the same store (several gateway workers, a gateway beside a sync) must take turns from the
    replay lookup to the ledger entry; otherwise both read the same chain head and one of them
    fails on the unique ``prev_hash`` after doing all its work. A transaction-level advisory lock
    (two-key form, a space of its own beside the sync locks) is released by COMMIT or ROLLBACK,
    and by the server when the connection dies. SQLite needs nothing: every writer begins with
    ``BEGIN IMMEDIATE``.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(hashtext('tongban-writes'), hashtext(current_schema()))"))
