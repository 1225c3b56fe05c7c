"""Expected metric values computed straight from the generated sandbox data, without the
monitoring code (and without the sandbox's own overdue function): the test oracle.

Written from the definitions (README / DEFINITIONS) and TBS-EVT-011/012 as a second,
deliberately plain implementation.
"""
from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta, timezone

from tongban.sandbox.systems import SandboxData

CST = timezone(timedelta(hours=8))


def latest(records: list[dict], key: str) -> dict[str, dict]:
    out: dict[str, dict] = {}
    for r in records:
        if r[key] not in out or r["version"] > out[r[key]]["version"]:
            out[r[key]] = r
    return out


def deadline_and_overdue(case: dict, events: list[dict], t: datetime) -> tuple[bool, int | None]:
    """(deadline defined?, overdue seconds or None) per TBS-EVT-011/012, written out longhand."""
    events = sorted(events, key=lambda e: e["seq"])
    kinds = [e["type"] for e in events]
    if "ACCEPT" not in kinds or "WITHDRAW" in kinds:
        return False, None
    if case.get("promisedBy"):
        d = datetime.fromisoformat(case["promisedBy"])
    elif case["caseType"] == "1":
        accepted = datetime.fromisoformat(events[kinds.index("ACCEPT")]["occurredAt"]).astimezone(CST)
        d = accepted.replace(hour=23, minute=59, second=59, microsecond=0)
    else:
        return False, None
    concluded = [e for e in events if e["type"] == "CONCLUDE"]
    until = datetime.fromisoformat(concluded[0]["occurredAt"]) if concluded else t
    stopped = 0.0
    for k, e in enumerate(events):
        if e["type"] != "SUSPEND":
            continue
        end = datetime.fromisoformat(events[k + 1]["occurredAt"]) if k + 1 < len(events) else until
        stopped += (end - datetime.fromisoformat(e["occurredAt"])).total_seconds()
    excess = (until - d).total_seconds() - stopped
    return True, (int(excess) if excess > 0 else None)


def shape(region: str) -> str:
    return "province" if region[2:] == "0000" else "city" if region[4:] == "00" else "county"


def scopes_of(region: str) -> list[tuple[str, str]]:
    out = [("region", region), ("province", region[:2] + "0000"), ("level", shape(region))]
    if shape(region) != "province":
        out.append(("city", region[:4] + "00"))
    return out


def rank(values: list[float], p: int) -> float | None:
    if not values:
        return None
    values = sorted(values)
    k = -(-p * len(values) // 100)   # ceil(p·n/100)
    return values[max(k, 1) - 1]


def expected_metrics(data: SandboxData, at: datetime) -> dict[tuple[str, str], dict]:
    items = latest(data.province_view("catalog"), "implCode")
    cases = latest(data.province_view("case"), "caseNo")
    events: dict[str, list[dict]] = defaultdict(list)
    for e in data.province_view("case-event"):
        events[e["caseNo"]].append(e)
    acc: dict[tuple[str, str], dict] = defaultdict(lambda: defaultdict(int))
    hours: dict[tuple[str, str], list[float]] = defaultdict(list)
    for item in items.values():
        for s in scopes_of(item["regionCode"]):
            acc[s]  # every region with an item has a row, even without active items
            if item["status"] == "ACTIVE":
                acc[s]["items_active"] += 1
                acc[s]["items_online"] += item["onlineDepth"] >= 2
                acc[s]["items_fully_online"] += item["onlineDepth"] == 4
    for case in cases.values():
        evs = events[case["caseNo"]]
        conclude = next((e for e in evs if e["type"] == "CONCLUDE"), None)
        has_d, late = deadline_and_overdue(case, evs, at)
        item = items.get(case["implCode"])
        online = conclude is not None and item is not None and item["onlineDepth"] == 4 and case["channel"] in "23"
        for s in scopes_of(case["regionCode"]):
            a = acc[s]
            a["cases"] += 1
            a["deadline_cases"] += has_d
            a["overdue_cases"] += late is not None
            if conclude is not None:
                a["cases_concluded"] += 1
                a["cases_fully_online"] += online
                hours[s].append((datetime.fromisoformat(conclude["occurredAt"])
                                 - datetime.fromisoformat(case["submittedAt"])).total_seconds() / 3600)
    for ev in data.province_view("evaluation"):
        for s in scopes_of(cases[ev["caseNo"]]["regionCode"]):
            acc[s]["evaluations"] += 1
            acc[s]["satisfaction_sum"] += ev["satisfaction"]
            acc[s]["bad_reviews"] += ev["satisfaction"] <= 2
    out = {}
    for s, a in acc.items():
        def div(n, d):
            return a[n] / a[d] if a[d] else None
        out[s] = {
            "items_active": a["items_active"], "items_online_rate": div("items_online", "items_active"),
            "items_fully_online_rate": div("items_fully_online", "items_active"), "cases": a["cases"],
            "cases_concluded": a["cases_concluded"], "fully_online_case_rate": div("cases_fully_online", "cases_concluded"),
            "overdue_cases": a["overdue_cases"], "overdue_rate": div("overdue_cases", "deadline_cases"),
            "evaluations": a["evaluations"], "satisfaction_avg": div("satisfaction_sum", "evaluations"),
            "bad_review_rate": div("bad_reviews", "evaluations"),
            "conclusion_hours_p50": rank(hours[s], 50), "conclusion_hours_p90": rank(hours[s], 90),
        }
    return out


def expected_overdue(data: SandboxData, at: datetime) -> dict[str, int]:
    cases = latest(data.province_view("case"), "caseNo")
    events: dict[str, list[dict]] = defaultdict(list)
    for e in data.province_view("case-event"):
        events[e["caseNo"]].append(e)
    out = {}
    for no, case in cases.items():
        _has, late = deadline_and_overdue(case, events[no], at)
        if late is not None:
            out[no] = late
    return out
