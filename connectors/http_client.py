"""What the HTTP client bindings (REST over httpx, SOAP over zeep) share, written once.

- :class:`RetryPolicy` — retry what may succeed on a second try (transport errors, 5xx,
  429/503) with exponential back-off, honouring ``Retry-After`` (TBS-SEC-013); everything
  else is final. Each client maps its library's exceptions and answers onto the
  :mod:`~tongban.connectors.base` error tree; the policy only decides whether and when to
  try again.
- :class:`RetryingClient` — the base of the REST and SOAP client connectors (the policy, its
  attempt count, closing as a context manager).
- :func:`status_error` — the error an HTTP status stands for when the answer carries no
  binding-level error of its own.
- :func:`changes_page` — the checks every changes page passes (TBS-REST-003, TBS-SOAP-002).
- :func:`check_request_hash` — the acknowledgement must echo the hash of what was sent
  (TBS-ENV-031).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable, Self, TypeVar

from .base import (ChangesPage, ConnectorError, ProtocolError, RateLimitedError, RecordTexts, TransportError,
                   json_record_texts)

T = TypeVar("T")


@dataclass
class RetryPolicy:
    """``retries`` further attempts after the first, waiting ``backoff`` seconds, doubled each
    time up to ``max_backoff``; ``attempts`` counts every attempt made (for tests and run records)."""

    retries: int = 3
    backoff: float = 5.0
    max_backoff: float = 900.0
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)
    attempts: int = 0

    def call(self, attempt: Callable[[], T]) -> T:
        """Run ``attempt`` until it returns, raises a final error, or the retries are spent.

        ``attempt`` returns the answer or raises a :class:`ConnectorError`; a retriable one
        (``retriable`` is true) is tried again.
        """
        delay = self.backoff
        for n in range(self.retries + 1):
            self.attempts += 1
            try:
                return attempt()
            except ConnectorError as error:
                if not error.retriable or n == self.retries:
                    raise
                wait = delay
                if isinstance(error, RateLimitedError) and error.retry_after is not None:
                    wait = max(wait, error.retry_after)  # TBS-SEC-013: honour Retry-After
                self.sleep(min(wait, self.max_backoff))
                delay = min(delay * 2, self.max_backoff)
        raise AssertionError("unreachable")


class RetryingClient:
    """What the HTTP client connectors have in common: a :class:`RetryPolicy` (``retry``), its
    attempt count, and use as a context manager that calls the subclass's ``close``."""

    retry: RetryPolicy

    @property
    def attempts(self) -> int:
        """Total HTTP attempts, for tests and run records."""
        return self.retry.attempts

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()  # type: ignore[attr-defined]


def retry_after(value: str | None) -> float | None:
    """``Retry-After`` in seconds (the delta-seconds form TBS-SEC-013 uses); None if absent or not a number."""
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def status_error(status: int, text: str, *, retry_after_s: float | None = None, **kw: Any) -> ConnectorError:
    """429/503 → :class:`RateLimitedError`, other 5xx → :class:`TransportError` (both retried),
    anything else → :class:`ProtocolError`. ``kw`` are the error's endpoint, code and rule id."""
    if status in (429, 503):
        return RateLimitedError(text, retry_after=retry_after_s, status=status, **kw)
    if status >= 500:
        return TransportError(text, status=status, **kw)
    return ProtocolError(text, status=status, **kw)


def received_now() -> str:
    """T_ref of a page: when its answer arrived, as RFC 3339 UTC."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def changes_page(body: Any, *, limit: int, raw: bytes, received_at: str, endpoint: str, what: str,
                 rule_id: str, cut: RecordTexts = json_record_texts) -> ChangesPage:
    """Check one changes answer (``{records, nextCursor, hasMore}``, at most ``limit`` records);
    ``cut`` finds the records' texts in ``raw``."""
    if not isinstance(body, dict):
        raise ProtocolError(f"{what} is not a JSON object ({rule_id})", endpoint=endpoint)
    records, next_cursor, has_more = body.get("records"), body.get("nextCursor"), body.get("hasMore")
    if not isinstance(records, list) or not isinstance(next_cursor, str) or not isinstance(has_more, bool):
        raise ProtocolError(f"{what} needs records (array), nextCursor (string) and hasMore (boolean) ({rule_id})",
                            endpoint=endpoint)
    if len(records) > limit:
        raise ProtocolError(f"{what} holds {len(records)} records, more than limit={limit}", endpoint=endpoint)
    return ChangesPage(records=records, next_cursor=next_cursor, has_more=has_more, raw=raw, received_at=received_at,
                       cut=cut)


def check_request_hash(expected: str, header_hash: str | None, ack: Any, *, endpoint: str) -> None:
    """TBS-ENV-031: ``X-TB-Request-Hash`` and the acknowledgement's ``requestHash`` both equal
    the SHA-256 of the JCS of what was sent."""
    ack_hash = ack.get("requestHash") if isinstance(ack, dict) else None
    if header_hash != expected or (isinstance(ack, dict) and ack_hash != expected):
        raise ProtocolError(f"request hash mismatch: sent {expected}, header {header_hash}, ack {ack_hash} "
                            "(TBS-ENV-031)", endpoint=endpoint)
