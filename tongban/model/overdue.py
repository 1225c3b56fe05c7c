"""When a case is overdue (超期): the normative rule of TBS-EVT-011/012.

The bus's metrics, its case views and the sandbox's ground truth all use this one definition.
TBS-1.1 (change 14) changes the rule without any schema trace: an approval extension (a SUSPEND
with ``specialProcedure.code`` ``1``, 延长审批) no longer stops the clock — the extension is the
Case's later ``promisedBy`` — except for extensions that began before 2028-03-01T00:00+08:00,
which count as TBS-1.0 counts them, whatever version the event arrived in. Which rule a bus
applies follows the versions it supports (:func:`overdue_rule`).
"""
from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any, Iterable

from tongban.model.clock import CST, parse_stamp

__all__ = ["EXTENSION_EFFECTIVE", "OVERDUE_RULES", "extension_runs_on", "overdue_rule", "overdue_seconds"]

OVERDUE_RULES = ("TBS-1.0", "TBS-1.1")
# TBS-1.1 change 14: extensions from this instant on no longer stop the clock (TBS-EVT-011)
EXTENSION_EFFECTIVE = datetime(2028, 3, 1, tzinfo=CST)


def overdue_rule(versions: Iterable[str]) -> str:
    """The overdue rule of a bus supporting ``versions`` (its ``bus.spec_versions``, or the
    partners' versions without one): TBS-1.1's once it supports TBS-1.1, else TBS-1.0's.

    A bus that speaks TBS-1.1 counts overdue cases as TBS-1.1 defines them for every case, since
    the rule depends on the event's time, not on the version the event arrived in (change 14)."""
    return "TBS-1.1" if "TBS-1.1" in set(versions) else "TBS-1.0"


def extension_runs_on(event: dict[str, Any]) -> bool:
    """A SUSPEND that TBS-1.1 no longer counts as suspended time: an extension (code ``1``) begun
    on or after the effective date. A SUSPEND without a readable code or time (rejected at S3
    anyway) is counted as before."""
    procedure = event.get("specialProcedure")
    if event.get("type") != "SUSPEND" or not isinstance(procedure, dict) or procedure.get("code") != "1":
        return False
    try:
        return parse_stamp(event["occurredAt"]) >= EXTENSION_EFFECTIVE
    except (KeyError, TypeError, ValueError):
        return False


def _stops_clock(event: dict[str, Any], rule: str) -> bool:
    """Whether a SUSPEND event's interval counts in the suspended time S(t) under ``rule``."""
    return rule == "TBS-1.0" or not extension_runs_on(event)


def overdue_seconds(case: dict[str, Any], events: Iterable[dict[str, Any]], at: datetime, *,
                    rule: str = "TBS-1.0") -> int | None:
    """Seconds by which a case is overdue at ``at`` (TBS-EVT-011/012), or None.

    ``case`` is the latest Case version; ``events`` its events (any order); ``rule`` the version
    whose TBS-EVT-011 applies (:data:`OVERDUE_RULES`).
    """
    if rule not in OVERDUE_RULES:
        raise ValueError(f"unknown overdue rule {rule!r}: one of {', '.join(OVERDUE_RULES)}")
    evs = sorted(events, key=lambda e: e["seq"])
    types = [e["type"] for e in evs]
    accept = next((e for e in evs if e["type"] == "ACCEPT"), None)
    if accept is None or "WITHDRAW" in types:
        return None
    if "promisedBy" in case:
        due = parse_stamp(case["promisedBy"])
    elif case["caseType"] == "1":
        due = datetime.combine(parse_stamp(accept["occurredAt"]).astimezone(CST).date(), time(23, 59, 59), CST)
    else:
        return None

    def suspended(t: datetime) -> timedelta:
        total = timedelta()
        for i, e in enumerate(evs):
            if e["type"] == "SUSPEND" and _stops_clock(e, rule):
                end = parse_stamp(evs[i + 1]["occurredAt"]) if i + 1 < len(evs) else t
                total += end - parse_stamp(e["occurredAt"])
        return total

    conclude = next((e for e in evs if e["type"] == "CONCLUDE"), None)
    t = parse_stamp(conclude["occurredAt"]) if conclude else at
    excess = t - (due + suspended(t))
    return int(excess.total_seconds()) if excess > timedelta() else None
