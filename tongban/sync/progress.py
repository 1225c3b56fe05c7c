"""Progress of one sync run through a changes feed: a feed that stops moving fails the run.

TBS-REST-004 makes cursors monotonic: a ``nextCursor`` never designates an earlier position
than the cursor it came from. Cursors are opaque, so "earlier" is observable only as a
position this run has already read from; a cursor coming back to one (a cycle, or a jump
back) is a feed making no progress, and so is a page carrying exactly the records of the
page before it under a fresh cursor. Either fails the run at the connector hop before the
offending page is stored, instead of reading forever. The run's bounds (pages and seconds,
from the registry) end a healthy but endless feed cleanly.
"""
from __future__ import annotations

import hashlib
import json
import time
from typing import Any

from tongban.connectors.base import ChangesPage, ConnectorError


class NoProgress(ConnectorError):
    """The feed repeats itself (TBS-REST-004); retrying reads the same loop."""

    retriable = False


def _records_digest(records: list[Any]) -> str:
    text = json.dumps(records, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class FeedProgress:
    def __init__(self, start: str | None, *, max_pages: int, max_seconds: float, endpoint: str = "") -> None:
        self.visited: set[str | None] = {start}
        self.previous_digest: str | None = None
        self.max_pages = max_pages
        self.deadline = time.monotonic() + max_seconds
        self.endpoint = endpoint

    def restart(self) -> None:
        """After 410 CURSOR_EXPIRED the feed is read again from its start (TBS-REST-004)."""
        self.visited = {None}
        self.previous_digest = None

    def check(self, since: str | None, page: ChangesPage) -> None:
        """Raise :class:`NoProgress` when ``page`` (read from ``since``) does not move the feed on."""
        if not page.has_more:
            return  # the end of the feed: nextCursor may equal since (TBS-REST-004)
        if page.next_cursor in self.visited:
            raise NoProgress(f"no progress: the feed answered {_short(since)} with nextCursor "
                             f"{_short(page.next_cursor)} already read in this run and hasMore true (cursors are "
                             "monotonic, TBS-REST-004)", code="TBS-REST-004", endpoint=self.endpoint,
                             rule_id="TBS-REST-004")
        digest = _records_digest(page.records) if page.records else None
        if digest is not None and digest == self.previous_digest:
            raise NoProgress(f"no progress: the page read from {_short(since)} holds exactly the records of "
                             "the page before it, identical to the page before (TBS-REST-004)", code="TBS-REST-004",
                             endpoint=self.endpoint, rule_id="TBS-REST-004")

    def passed(self, page: ChangesPage) -> None:
        """``page`` was stored: remember where it led."""
        self.visited.add(page.next_cursor)
        self.previous_digest = _records_digest(page.records) if page.records else None

    def bound_reached(self, pages: int) -> str | None:
        """Which bound ends the run now, if any."""
        if pages >= self.max_pages:
            return "max_pages_per_run"
        if time.monotonic() >= self.deadline:
            return "max_run_seconds"
        return None


def _short(cursor: str | None) -> str:
    if cursor is None:
        return "the start of the feed"
    return cursor if len(cursor) <= 40 else cursor[:37] + "…"
