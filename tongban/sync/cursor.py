"""The incremental cursor of one (partner, dataset) changes feed, as an object.

Like dlt's ``Incremental``, the decisions live in one place: where the feed starts
(``initial`` — None means the beginning), what was committed last, and when a new position
may be committed — only in the same transaction as the records it covers
(TBS-SYNC-012), so a crash between the two is impossible.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from tongban.store.schema import SyncCursor
from tongban.store.store import utcnow

CURSOR_RE = re.compile(r"^[A-Za-z0-9._~-]{1,512}$")


class CursorError(ValueError):
    pass


@dataclass
class ChangeCursor:
    partner_id: str
    dataset: str
    committed: str | None = None  # the stored position (None = start of feed)
    initial: str | None = None  # an explicit start (``--since``) overriding the stored one
    version: str = "TBS-1.0"  # the version the feed is read in (TBS-1.1 TBS-REST-012)
    position: str | None = field(init=False, default=None)  # where the next read starts
    restarted_for: str | None = None  # the version the stored position was read in, when it was dropped

    def __post_init__(self) -> None:
        if self.initial is not None and not CURSOR_RE.match(self.initial):
            raise CursorError(f"not a TBS cursor (TBS-REST-004): {self.initial!r}")
        self.position = self.initial if self.initial is not None else self.committed

    @classmethod
    def load(cls, session: Session, partner_id: str, dataset: str, *, initial: str | None = None,
             version: str = "TBS-1.0") -> "ChangeCursor":
        """The stored position; one committed while the feed was read in another version is
        dropped: the feed restarts from its beginning (TBS-1.1 TBS-REST-012)."""
        row = session.get(SyncCursor, (partner_id, dataset))
        if row is not None and (row.spec_version or "TBS-1.0") != version:
            return cls(partner_id, dataset, committed=None, initial=initial, version=version,
                       restarted_for=row.spec_version)
        return cls(partner_id, dataset, committed=row.cursor if row else None, initial=initial, version=version)

    def advance(self, session: Session, next_cursor: str, records: int) -> None:
        """Record the new position in ``session``; it is durable when that transaction commits."""
        if not CURSOR_RE.match(next_cursor):
            raise CursorError(f"partner returned a malformed cursor (TBS-REST-004): {next_cursor!r}")
        row = session.get(SyncCursor, (self.partner_id, self.dataset))
        if row is None:
            row = SyncCursor(partner_id=self.partner_id, dataset=self.dataset, records_seen=0)
            session.add(row)
        row.cursor = next_cursor
        row.spec_version = self.version
        row.records_seen = (row.records_seen or 0) + records
        row.updated_at = utcnow()
        self.position = next_cursor

    def reset(self, session: Session) -> None:
        """Forget the position (after 410 CURSOR_EXPIRED the consumer restarts from the beginning)."""
        row = session.get(SyncCursor, (self.partner_id, self.dataset))
        if row is not None:
            session.delete(row)
        self.position = None
        self.committed = None
