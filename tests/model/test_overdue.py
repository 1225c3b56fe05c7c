"""The overdue rule (TBS-EVT-011/012) against cases worked out by hand."""
from __future__ import annotations

from datetime import datetime

import pytest

from tongban.model.overdue import overdue_seconds

CASE = {"caseNo": "C1", "caseType": "2", "promisedBy": "2026-01-10T17:30:00+08:00"}


def ev(seq, type_, at, **members):
    return {"caseNo": "C1", "seq": seq, "type": type_, "occurredAt": f"2026-01-{at}+08:00", **members}


HISTORY = [ev(1, "SUBMIT", "05T09:00:00"), ev(2, "ACCEPT", "05T10:00:00"),
           ev(3, "SUSPEND", "07T10:00:00"), ev(4, "RESUME", "08T10:00:00")]   # 24 h suspended


def at(text):
    return datetime.fromisoformat(f"2026-01-{text}+08:00")


@pytest.mark.parametrize("events, instant, expected", [
    # due 01-10 17:30 + 24 h suspension = 01-11 17:30; concluded 18:30: one hour late
    (HISTORY + [ev(5, "CONCLUDE", "11T18:30:00", conclusionCode="APPROVED_WITH_CERT")], "31T00:00:00", 3600),
    # concluded 17:00, within the extended deadline
    (HISTORY + [ev(5, "CONCLUDE", "11T17:00:00", conclusionCode="APPROVED_WITH_CERT")], "31T00:00:00", None),
    # open: one day past the extended deadline at 01-12 17:30
    (HISTORY, "12T17:30:00", 86400),
    # still suspended: the clock stops while suspended
    (HISTORY[:3], "31T00:00:00", None),
    # withdrawn cases are never overdue
    (HISTORY + [ev(5, "WITHDRAW", "09T10:00:00")], "31T00:00:00", None),
    # not accepted yet: no deadline runs
    (HISTORY[:1], "31T00:00:00", None),
])
def test_promised_case(events, instant, expected):
    assert overdue_seconds(CASE, list(reversed(events)), at(instant)) == expected


def test_instant_case_is_due_at_the_end_of_the_acceptance_day():
    case = {"caseNo": "C1", "caseType": "1"}
    events = [ev(1, "SUBMIT", "05T09:00:00"), ev(2, "ACCEPT", "05T10:00:00")]
    assert overdue_seconds(case, events, at("05T23:59:59")) is None
    assert overdue_seconds(case, events, at("06T00:00:09")) == 10     # 23:59:59 + 10 s


def test_ordinary_case_without_promise_is_never_overdue():
    assert overdue_seconds({"caseNo": "C1", "caseType": "2"}, HISTORY[:2], at("31T00:00:00")) is None
