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


# TBS-1.1 change 14: an extension (specialProcedure.code 1) begun from 2028-03-01T00:00+08:00 on
# no longer stops the clock; earlier extensions and every other special procedure still do.
CASE_2028 = {"caseNo": "C2", "caseType": "2", "promisedBy": "2028-03-10T17:30:00+08:00"}


def ev28(seq, type_, stamp, **members):
    return {"caseNo": "C2", "seq": seq, "type": type_, "occurredAt": f"2028-{stamp}+08:00", **members}


def suspended_history(code, start):
    """Accepted 03-01 10:00 (or 02-28 for an early suspension), one 24 h SUSPEND of ``code``."""
    return [ev28(1, "SUBMIT", "02-20T09:00:00"), ev28(2, "ACCEPT", "02-20T10:00:00"),
            ev28(3, "SUSPEND", start, specialProcedure={"code": code, "reason": "r"}),
            ev28(4, "RESUME", start.replace("T", "T", 1)[:3] + f"{int(start[3:5]) + 1:02d}" + start[5:])]


def at28(text):
    return datetime.fromisoformat(f"2028-{text}+08:00")


@pytest.mark.parametrize("code, start, rule, expected", [
    # TBS-1.0: every SUSPEND stops the clock: due 03-10 17:30 + 24 h; at 03-12 17:30 one day late
    ("1", "03-05T10:00:00", "TBS-1.0", 86400),
    # TBS-1.1: an extension from 03-01 on runs on: due 03-10 17:30; at 03-12 17:30 two days late
    ("1", "03-05T10:00:00", "TBS-1.1", 2 * 86400),
    # TBS-1.1: a hearing (code 2) still stops the clock
    ("2", "03-05T10:00:00", "TBS-1.1", 86400),
    # TBS-1.1: an extension begun before 2028-03-01 (02-28 10:00 to 02-29 10:00) counts as in TBS-1.0
    ("1", "02-28T10:00:00", "TBS-1.1", 86400),
])
def test_extension_rule_of_tbs_1_1(code, start, rule, expected):
    events = suspended_history(code, start)
    assert events[3]["occurredAt"][:10] == f"2028-{start[:3]}{int(start[3:5]) + 1:02d}"   # a 24 h suspension
    assert overdue_seconds(CASE_2028, events, at28("03-12T17:30:00"), rule=rule) == expected


def test_unknown_overdue_rule_is_refused():
    with pytest.raises(ValueError, match="unknown overdue rule 'TBS-2.0'"):
        overdue_seconds(CASE, HISTORY, at("12T17:30:00"), rule="TBS-2.0")


def test_bus_rule_follows_its_versions():
    from tongban.model.overdue import overdue_rule

    assert overdue_rule(["TBS-1.0"]) == "TBS-1.0"
    assert overdue_rule(["TBS-1.0", "TBS-1.1"]) == "TBS-1.1"
    assert overdue_rule(()) == "TBS-1.0"


@pytest.mark.parametrize("event, runs_on", [
    (ev28(3, "SUSPEND", "03-01T00:00:00", specialProcedure={"code": "1", "reason": "r"}), True),
    (ev28(3, "SUSPEND", "02-29T23:59:59", specialProcedure={"code": "1", "reason": "r"}), False),
    # the same instant written in UTC: 2028-02-29T16:00:00Z is 2028-03-01T00:00:00+08:00
    ({"type": "SUSPEND", "occurredAt": "2028-02-29T16:00:00Z", "specialProcedure": {"code": "1"}}, True),
    (ev28(3, "SUSPEND", "03-05T10:00:00", specialProcedure={"code": "2", "reason": "r"}), False),
    (ev28(3, "RESUME", "03-05T10:00:00"), False),
    ({"type": "SUSPEND", "occurredAt": "not a time", "specialProcedure": {"code": "1"}}, False),
])
def test_which_suspensions_tbs_1_1_no_longer_counts(event, runs_on):
    from tongban.model.overdue import extension_runs_on

    assert extension_runs_on(event) is runs_on
