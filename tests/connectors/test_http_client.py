"""The shared HTTP client layer: retry decisions, status mapping and page checks."""
from __future__ import annotations

import pytest

from tongban.connectors.base import (CursorExpiredError, ProtocolError, RateLimitedError, TransportError)
from tongban.connectors.http_client import RetryPolicy, changes_page, check_request_hash, retry_after, status_error


def _policy(retries: int = 3) -> tuple[RetryPolicy, list[float]]:
    slept: list[float] = []
    return RetryPolicy(retries=retries, backoff=2.0, max_backoff=5.0, sleep=slept.append), slept


def test_backoff_doubles_up_to_the_cap_and_retry_after_wins_when_longer():
    policy, slept = _policy(retries=4)
    errors = [TransportError("down"), RateLimitedError("busy", retry_after=30.0), TransportError("down"),
              RateLimitedError("busy", retry_after=1.0)]

    def attempt() -> str:
        if errors:
            raise errors.pop(0)
        return "ok"

    assert policy.call(attempt) == "ok"
    # 2, then max(4, 30) capped at 5, then 5 (8 capped), then max(5, 1) = 5
    assert slept == [2.0, 5.0, 5.0, 5.0]
    assert policy.attempts == 5


def test_final_errors_are_not_retried_and_the_last_retriable_one_is_raised():
    policy, slept = _policy(retries=3)
    with pytest.raises(CursorExpiredError):
        policy.call(lambda: (_ for _ in ()).throw(CursorExpiredError("gone")))
    assert policy.attempts == 1 and slept == []
    policy, slept = _policy(retries=1)
    with pytest.raises(TransportError, match="still down"):
        policy.call(lambda: (_ for _ in ()).throw(TransportError("still down")))
    assert policy.attempts == 2 and slept == [2.0]


@pytest.mark.parametrize("status, kind, retriable", [
    (429, RateLimitedError, True), (503, RateLimitedError, True), (500, TransportError, True),
    (504, TransportError, True), (400, ProtocolError, False), (404, ProtocolError, False)])
def test_status_error(status, kind, retriable):
    error = status_error(status, "text", retry_after_s=7.0, endpoint="e")
    assert type(error) is kind and error.retriable is retriable and error.status == status
    if kind is RateLimitedError:
        assert error.retry_after == 7.0


@pytest.mark.parametrize("value, seconds", [(None, None), ("120", 120.0), ("-3", 0.0),
                                            ("Wed, 21 Oct 2015 07:28:00 GMT", None)])
def test_retry_after(value, seconds):
    assert retry_after(value) == seconds


@pytest.mark.parametrize("body", [[], {"records": [], "nextCursor": 5, "hasMore": False},
                                  {"records": {}, "nextCursor": "c", "hasMore": False},
                                  {"records": [], "nextCursor": "c", "hasMore": "no"},
                                  {"records": [1, 2, 3], "nextCursor": "c", "hasMore": True}])
def test_changes_page_refuses_malformed_or_oversized_pages(body):
    with pytest.raises(ProtocolError, match="TBS-REST-003|more than limit=2"):
        changes_page(body, limit=2, raw=b"", received_at="", endpoint="e", what="page", rule_id="TBS-REST-003")


def test_changes_page_keeps_the_records_as_received():
    page = changes_page({"records": [{"a": 1}], "nextCursor": "c2", "hasMore": True}, limit=1, raw=b"{}",
                        received_at="2026-01-01T00:00:00+00:00", endpoint="e", what="page", rule_id="R")
    assert (page.records, page.next_cursor, page.has_more, page.raw) == ([{"a": 1}], "c2", True, b"{}")


def test_request_hash_must_match_in_header_and_ack():
    check_request_hash("h", "h", {"requestHash": "h"}, endpoint="e")
    for header, ack in (("x", {"requestHash": "h"}), ("h", {"requestHash": "x"}), (None, {"requestHash": "h"})):
        with pytest.raises(ProtocolError, match="TBS-ENV-031"):
            check_request_hash("h", header, ack, endpoint="e")
