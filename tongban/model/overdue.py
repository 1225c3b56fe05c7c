"""When a case is overdue (超期): the normative rule of TBS-EVT-011/012.

The bus's metrics and the sandbox's ground truth both use this one definition.
"""
from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any, Iterable

from tongban.model.clock import CST, parse_stamp

__all__ = ["overdue_seconds"]


def overdue_seconds(case: dict[str, Any], events: Iterable[dict[str, Any]], at: datetime) -> int | None:
    """Seconds by which a case is overdue at ``at`` (TBS-EVT-011/012), or None.

    ``case`` is the latest Case version; ``events`` its events (any order).
    """
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
            if e["type"] == "SUSPEND":
                end = parse_stamp(evs[i + 1]["occurredAt"]) if i + 1 < len(evs) else t
                total += end - parse_stamp(e["occurredAt"])
        return total

    conclude = next((e for e in evs if e["type"] == "CONCLUDE"), None)
    t = parse_stamp(conclude["occurredAt"]) if conclude else at
    excess = t - (due + suspended(t))
    return int(excess.total_seconds()) if excess > timedelta() else None
