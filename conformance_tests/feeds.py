"""Reading a SUT's changes feeds as a client (TBS-REST-003/-004, TBS-SOAP-002).

:func:`read_feed` pages through one dataset from the start and records every page; it never
loops forever on a defective feed: a ``nextCursor`` that does not match the cursor syntax,
a page larger than ``limit``, a page that repeats records already served before it (the
cursor went backwards) and a page budget are all noted as findings and, where reading cannot
go on, end the read.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from tongban.connectors.base import ConnectorError, Connector
from tongban.model.canonical import canonical_bytes
from tongban.model.datasets import business_key

from .results import KitFinding

CURSOR_RE = re.compile(r"[A-Za-z0-9._~-]{1,512}")  # TBS-REST-004, matched whole
MAX_RECORDS = 200_000  # a read budget: far above any test fixture, far below "forever"


@dataclass
class Page:
    """One changes response as the suite saw it."""

    since: str | None
    limit: int
    records: list[Any]
    next_cursor: str
    has_more: bool
    received_at: datetime

    def excerpt(self) -> dict[str, Any]:
        return {"request": {"since": self.since, "limit": self.limit},
                "response": {"records": len(self.records), "nextCursor": self.next_cursor,
                             "hasMore": self.has_more}}


@dataclass
class FedRecord:
    """A record of a full read with where it was served: page number and index in that page
    (its TBS-RPT-004 location is ``/records/{index}`` of that changes response)."""

    dataset: str
    record: Any
    page: int
    index: int
    received_at: datetime
    writer: str | None = None     # pushed records: the envelope's origin or sender
    sent_at: str | None = None    # pushed records: the envelope's sentAt (TBS-ENV-011)

    @property
    def location(self) -> str:
        return f"/records/{self.index}"

    def where(self) -> dict[str, Any]:
        out: dict[str, Any] = {"dataset": self.dataset, "page": self.page, "index": self.index}
        if isinstance(self.record, dict):
            out["key"] = business_key(self.dataset, self.record)
        return out


@dataclass
class FeedRead:
    dataset: str
    pages: list[Page] = field(default_factory=list)
    records: list[FedRecord] = field(default_factory=list)   # in feed order, repeats removed
    repeats: int = 0                                          # records served again by a regressing cursor
    problems: list[KitFinding] = field(default_factory=list)  # TBS-REST-003/-004 violations seen
    error: str | None = None                                  # the read could not be completed

    @property
    def end_cursor(self) -> str | None:
        return self.pages[-1].next_cursor if self.pages else None


def _problem(rule: str, en: str, zh: str, **where: Any) -> KitFinding:
    return KitFinding(rule, en, zh, where=where)


def fetch_page(connector: Connector, dataset: str, since: str | None, limit: int) -> Page:
    page = connector.fetch_changes(dataset, since, limit)
    try:
        received = datetime.fromisoformat(page.received_at) if page.received_at else datetime.now(timezone.utc)
    except ValueError:
        received = datetime.now(timezone.utc)
    return Page(since, limit, list(page.records), page.next_cursor, page.has_more, received)


def read_feed(connector: Connector, dataset: str, *, limit: int = 50, since: str | None = None) -> FeedRead:
    """Read ``dataset`` from ``since`` (default: the start) to the end of the feed."""
    read = FeedRead(dataset)
    cursor = since
    served: set[bytes] = set()
    total = 0
    while True:
        try:
            page = fetch_page(connector, dataset, cursor, limit)
        except ConnectorError as exc:
            read.error = f"{type(exc).__name__}: {exc}"
            return read
        number = len(read.pages)
        read.pages.append(page)
        if not CURSOR_RE.fullmatch(page.next_cursor):
            read.problems.append(_problem("TBS-REST-004", f"nextCursor {page.next_cursor[:80]!r} does not match the "
                                          "cursor syntax", "nextCursor 不符合游标语法", dataset=dataset, page=number))
            read.error = "unusable nextCursor"
            return read
        if len(page.records) > limit:
            read.problems.append(_problem("TBS-REST-003", f"{len(page.records)} records for limit={limit}",
                                          f"limit={limit} 时返回 {len(page.records)} 条记录", dataset=dataset,
                                          page=number))
        repeated = 0
        for index, record in enumerate(page.records):
            digest = canonical_bytes(record)
            if digest in served:
                repeated += 1
                continue
            served.add(digest)
            read.records.append(FedRecord(dataset, record, number, index, page.received_at))
        if repeated:
            read.repeats += repeated
            read.problems.append(_problem(
                "TBS-REST-004", f"page {number} (since={cursor!r}) served {repeated} record(s) already served "
                f"earlier in this read: the cursor designated an earlier feed position",
                f"第 {number} 页重复返回了 {repeated} 条已读记录：游标回退", dataset=dataset, page=number))
        total += len(page.records)
        if not page.has_more:
            return read
        if page.next_cursor == cursor:
            read.problems.append(_problem("TBS-REST-004", "hasMore is true but the cursor did not advance",
                                          "hasMore 为 true 但游标未前进", dataset=dataset, page=number))
            read.error = "cursor does not advance"
            return read
        if total > MAX_RECORDS or len(read.pages) > MAX_RECORDS // max(limit, 1) + 100:
            read.error = f"more than {MAX_RECORDS} records served; read stopped"
            return read
        cursor = page.next_cursor
