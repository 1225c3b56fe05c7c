"""Per (source partner, dataset): how many records the bus stores from that partner (current
catalog versions only) and the newest business time among what it stored (``updatedAt``,
``submittedAt``, ``occurredAt``, ``issuedAt``, ``assessedAt``) — what ``tongban status`` shows
per feed, kept in ``source_totals``.

The one write path (:meth:`tongban.store.records.RecordStore.flush`) adds each page's
difference with one upsert per (source, dataset) it touched, so reading the totals costs a
lookup of a few hundred rows however many millions of records are stored, and ingest pays a
few statements per page instead of one more index entry per record (migration 0011 replaced
the per-table (source, timestamp) indexes of migration 0010 by this table). :func:`recount`
rebuilds the table from the record tables (``tongban db recount``; migration 0011 runs it).

Business times are strings with any UTC offset; string order is time order only within one
offset. The newest one is therefore kept as its instant in UTC, written at fixed width
(``2026-12-05T01:02:03.000000Z``), so that the database's string maximum is the latest instant.
The newest time only moves forward: a Case replaced by a later version keeps counting the time
of the version it replaced among what was stored from its source. :func:`recount` can only see
what the tables hold, so after a rebuild that time is the newest of the Case versions kept.
"""
from __future__ import annotations

from datetime import datetime, timezone
from functools import lru_cache
from typing import Any, Iterable

from sqlalchemy import case, func, literal_column, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from tongban.model.datasets import SPECS
from tongban.store.schema import Base, SourceTotal

__all__ = ["TotalsDelta", "recount", "read_totals", "utc_text"]


def utc_text(value: Any) -> str | None:
    """An RFC 3339 date-time as fixed-width UTC text (string order = time order); None when it
    is not one."""
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        return None
    return parsed.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class TotalsDelta:
    """What one flush adds to ``source_totals``: per (source, dataset), the change of the stored
    count and the newest business time stored."""

    def __init__(self) -> None:
        self._count: dict[tuple[str, str], int] = {}
        # per (source, dataset): per offset suffix, the string maximum (an instant's maximum
        # within one offset): converting only these few to instants keeps the per-row cost a
        # comparison of strings
        self._newest: dict[tuple[str, str], dict[str, str]] = {}

    def __bool__(self) -> bool:
        return bool(self._count) or bool(self._newest)

    def count(self, source: str, dataset: str, n: int) -> None:
        key = (source, dataset)
        self._count[key] = self._count.get(key, 0) + n

    def stored(self, source: str, dataset: str, stamps: Iterable[Any]) -> None:
        """Records of ``dataset`` stored from ``source`` with these business times."""
        by_suffix = self._newest.setdefault((source, dataset), {})
        for stamp in stamps:
            if type(stamp) is not str or not stamp:
                continue
            # the offset part of an RFC 3339 date-time: "Z"/"z" or "+hh:mm"/"-hh:mm"
            sfx = stamp[-1] if stamp[-1] in "Zz" else stamp[-6:]
            best = by_suffix.get(sfx)
            if best is None or stamp > best:
                by_suffix[sfx] = stamp

    def rows(self) -> list[dict[str, Any]]:
        """One row per (source, dataset), in key order (so concurrent writers lock alike)."""
        out = []
        for source, dataset in sorted(set(self._count) | set(self._newest)):
            stamps = [t for t in map(utc_text, self._newest.get((source, dataset), {}).values()) if t]
            out.append({"source": source, "dataset": dataset, "stored": self._count.get((source, dataset), 0),
                        "newest_at": max(stamps) if stamps else None})
        return out

    def write(self, conn: Connection) -> None:
        """Add to ``source_totals`` (one upsert per row; SQLite and PostgreSQL)."""
        rows = self.rows()
        if rows:
            conn.execute(_upsert(conn.dialect.name), rows)


@lru_cache(maxsize=None)
def _upsert(dialect: str) -> Any:
    """The upsert adding a delta row, built once per dialect (it runs once per flushed page)."""
    insert = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}.get(dialect)
    if insert is None:
        raise NotImplementedError(f"the store runs on SQLite or PostgreSQL, not {dialect}")
    table = SourceTotal.__table__
    statement = insert(table)
    excluded = statement.excluded
    newest = case((table.c.newest_at.is_(None), excluded.newest_at),
                  (excluded.newest_at > table.c.newest_at, excluded.newest_at), else_=table.c.newest_at)
    return statement.on_conflict_do_update(index_elements=[table.c.source, table.c.dataset],
                                           set_={"stored": table.c.stored + excluded.stored, "newest_at": newest})


def _offset_suffix(column: Any) -> Any:
    # "Z" for a UTC stamp, else its last six characters (+hh:mm); literals, not bind parameters,
    # so that SELECT and GROUP BY render as one expression on PostgreSQL too
    return case((column.like(literal_column("'%Z'")), literal_column("'Z'")),
                else_=func.substr(column, func.length(column) - literal_column("5")))


def recount(conn: Connection) -> int:
    """Rebuild ``source_totals`` from the record tables (one grouped scan per table). Returns
    the number of (source, dataset) rows written."""
    delta = TotalsDelta()
    for dataset, spec in SPECS.items():
        table = Base.metadata.tables[spec.table]
        column = table.c[spec.timestamp_column]
        counted = (func.sum(case((table.c.is_current.is_(True), 1), else_=0)) if spec.keeps_history
                   else func.count())
        for source, n in conn.execute(select(table.c.source, counted).group_by(table.c.source)):
            delta.count(source, dataset, int(n or 0))
        suffix = _offset_suffix(column)
        for source, _sfx, top in conn.execute(select(table.c.source, suffix, func.max(column))
                                              .group_by(table.c.source, suffix)):
            delta.stored(source, dataset, [top])
    conn.execute(SourceTotal.__table__.delete())
    rows = delta.rows()
    if rows:
        conn.execute(SourceTotal.__table__.insert(), rows)
    return len(rows)


def read_totals(conn: Connection) -> dict[tuple[str, str], tuple[int, str | None]]:
    """(source, dataset) → (stored records, newest business time as UTC text or None)."""
    table = SourceTotal.__table__
    return {(s, d): (int(n), t) for s, d, n, t in conn.execute(
        select(table.c.source, table.c.dataset, table.c.stored, table.c.newest_at))}
