"""Efficiency-supervision metrics (政务服务效能监督) computed from the synced data.

Every metric is defined exactly once, in :data:`DEFINITIONS`; the dashboard and the README
section render that table. Where no national formula is published (the indicator names are
national, the formulas are not — see the reference facts §9), the definition is ours and is
labelled **tongban definition**: it is not a national-standard basis.

Scopes. Each record belongs to the region of its ``regionCode`` (ServiceItem: the
implementing body's region; Case: the handling body's region; an Evaluation or CaseEvent: the
region of its Case). Numbers are given

* per region (``scope="region"``),
* rolled up per city (``scope="city"``: the city-shaped code and every region within its
  scope, §6.1) and per province (``scope="province"``),
* per level (``scope="level"``: all regions of one shape — province, city or county, §6.1).

All metrics are evaluated at one instant ``at`` (the overdue count depends on it).
"""
from __future__ import annotations

import json
import math
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any, Iterable, Mapping

from sqlalchemy import select

from tongban.model.clock import CST, parse_stamp
from tongban.model.codes import region_shape
from tongban.model.overdue import overdue_seconds
from tongban.store.schema import CaseEventRecord, CaseRecord, CatalogItemVersion, EvaluationRecord
from tongban.store.store import Store

ONLINE_CHANNELS = frozenset({"2", "3"})   # A.5: 电脑端网上办理, 移动端网上申请
FULLY_ONLINE_DEPTH = 4                   # A.12: Ⅳ级 全程网办
ONLINE_MIN_DEPTH = 2                     # A.12: Ⅱ级 and above: more than a published guide
BAD_REVIEW_BELOW = 3                     # §12: satisfaction < 3 is 差评 (TBS-EVAL-002)

NATIONAL = "national indicator name; formula: tongban definition"
TONGBAN = "tongban definition"


@dataclass(frozen=True)
class MetricDefinition:
    key: str
    name_zh: str
    name_en: str
    formula: str
    basis: str
    requirements: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {"key": self.key, "nameZh": self.name_zh, "nameEn": self.name_en, "formula": self.formula,
                "basis": self.basis, "requirements": list(self.requirements)}


DEFINITIONS: tuple[MetricDefinition, ...] = (
    MetricDefinition(
        "items_active", "在用实施事项数", "active implementation items",
        "Current ServiceItem versions (one per implCode) with status ACTIVE.", TONGBAN, ("TBS-SYNC-010",)),
    MetricDefinition(
        "items_online_rate", "事项上网率", "items online rate",
        "Active items with onlineDepth ≥ 2 (Ⅱ级 or above: more than a guide published online) "
        "÷ active items.", NATIONAL, ("A.12",)),
    MetricDefinition(
        "items_fully_online_rate", "全程网办事项占比", "fully-online item share",
        "Active items with onlineDepth = 4 (Ⅳ级 全程网办) ÷ active items.", NATIONAL, ("A.12", "TBS-CAT-009")),
    MetricDefinition(
        "cases", "办件量", "case volume",
        "Cases (latest version per caseNo) by the region of the handling body; also per item (implCode) "
        "and per +08:00 calendar day of submittedAt.", TONGBAN, ("§9",)),
    MetricDefinition(
        "fully_online_case_rate", "全程网办率", "fully-online handling rate",
        "Concluded cases (a CONCLUDE event is stored) whose item's current version has onlineDepth = 4 and "
        "whose channel is 2 or 3 (submitted online) ÷ concluded cases.", NATIONAL, ("A.5", "A.12", "§10.3")),
    MetricDefinition(
        "overdue_cases", "超期办件数", "overdue cases",
        "Cases overdue at the instant of the report exactly per TBS-EVT-011/012: accepted, deadline D "
        "defined (promisedBy of the latest Case version, or 23:59:59+08:00 of the acceptance day for 即办件), "
        "suspended time added; concluded late, or open and past D′(t). Withdrawn and never-accepted cases "
        "are never overdue.", "TBS-1.0 (normative)", ("TBS-EVT-011", "TBS-EVT-012")),
    MetricDefinition(
        "overdue_rate", "超期率", "overdue rate",
        "Overdue cases ÷ cases for which TBS-EVT-011 defines a deadline (accepted, with D defined, "
        "not withdrawn).", TONGBAN, ("TBS-EVT-011", "TBS-EVT-012")),
    MetricDefinition(
        "satisfaction_avg", "平均满意度", "average satisfaction",
        "Mean of satisfaction over all stored evaluations (first and follow-up), "
        "5 = 非常满意 … 1 = 非常不满意.", TONGBAN, ("§12", "A.8")),
    MetricDefinition(
        "bad_review_rate", "差评率", "bad-review rate",
        "Evaluations with satisfaction < 3 ÷ all stored evaluations (first and follow-up).", NATIONAL,
        ("§12", "TBS-EVAL-002")),
    MetricDefinition(
        "conclusion_hours_p50", "办结用时中位数（小时）", "submission to conclusion, median (h)",
        "Over concluded cases: occurredAt of the CONCLUDE event − submittedAt of the Case, in hours; "
        "nearest-rank 50th percentile (the ⌈0.5·n⌉-th smallest value).", TONGBAN, ("§9", "§10.3")),
    MetricDefinition(
        "conclusion_hours_p90", "办结用时P90（小时）", "submission to conclusion, p90 (h)",
        "As above, nearest-rank 90th percentile (the ⌈0.9·n⌉-th smallest value).", TONGBAN, ("§9", "§10.3")),
)


def nearest_rank(values: list[float], percent: float) -> float | None:
    """Nearest-rank percentile: the ⌈p/100·n⌉-th smallest value (None for no values)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(percent / 100 * len(ordered)))
    return ordered[rank - 1]


def _ratio(num: int, den: int) -> float | None:
    return num / den if den else None


# ---------------------------------------------------------------------------------- input
@dataclass
class MetricsInput:
    """What the metrics read: current catalog versions, latest cases, events, evaluations.

    Built from the store (:meth:`from_store`) or from plain TBS records (:meth:`from_records`),
    so the same computation serves the bus and any feed or fixture.
    """

    catalog: list[dict[str, Any]]
    cases: list[dict[str, Any]]
    events: dict[str, list[dict[str, Any]]]
    evaluations: list[dict[str, Any]]

    @classmethod
    def from_records(cls, catalog: Iterable[dict[str, Any]], cases: Iterable[dict[str, Any]],
                     events: Iterable[dict[str, Any]], evaluations: Iterable[dict[str, Any]]) -> "MetricsInput":
        """Keeps the highest version per implCode / caseNo (TBS-SYNC-002)."""
        current: dict[str, dict[str, Any]] = {}
        for item in catalog:
            if item["implCode"] not in current or item["version"] > current[item["implCode"]]["version"]:
                current[item["implCode"]] = item
        latest: dict[str, dict[str, Any]] = {}
        for c in cases:
            if c["caseNo"] not in latest or c["version"] > latest[c["caseNo"]]["version"]:
                latest[c["caseNo"]] = c
        by_case: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for e in events:
            by_case[e["caseNo"]].append(e)
        return cls(list(current.values()), list(latest.values()), dict(by_case), list(evaluations))

    @classmethod
    def from_store(cls, store: Store) -> "MetricsInput":
        with store.reading() as s:
            catalog = [json.loads(c) for c in s.execute(
                select(CatalogItemVersion.content).where(CatalogItemVersion.is_current.is_(True))).scalars()]
            cases = [json.loads(c) for c in s.execute(select(CaseRecord.content)).scalars()]
            events: dict[str, list[dict[str, Any]]] = defaultdict(list)
            # the lifted columns are all the metrics need: no JSON parsing for the largest table
            for case_no, seq, type_, occurred_at in s.execute(select(
                    CaseEventRecord.case_no, CaseEventRecord.seq, CaseEventRecord.type, CaseEventRecord.occurred_at)):
                events[case_no].append({"caseNo": case_no, "seq": seq, "type": type_, "occurredAt": occurred_at})
            evaluations = [{"caseNo": c, "assessNo": n, "satisfaction": v, "assessedAt": t} for c, n, v, t in s.execute(
                select(EvaluationRecord.case_no, EvaluationRecord.assess_no, EvaluationRecord.satisfaction,
                       EvaluationRecord.assessed_at))]
        return cls(catalog, cases, dict(events), evaluations)


# --------------------------------------------------------------------------------- output
@dataclass
class ScopeMetrics:
    """The metrics of one scope (a region, a city or province roll-up, or a level)."""

    scope: str          # region | city | province | level
    key: str            # region code, or the level name for scope "level"
    level: str          # shape of the region (§6.1); the level itself for scope "level"
    items_active: int = 0
    items_online: int = 0
    items_fully_online: int = 0
    cases: int = 0
    cases_concluded: int = 0
    cases_fully_online: int = 0
    deadline_cases: int = 0
    overdue_cases: int = 0
    evaluations: int = 0
    satisfaction_sum: int = 0
    bad_reviews: int = 0
    conclusion_hours: list[float] = field(default_factory=list, repr=False)
    cases_by_day: Counter = field(default_factory=Counter, repr=False)

    @property
    def items_online_rate(self) -> float | None:
        return _ratio(self.items_online, self.items_active)

    @property
    def items_fully_online_rate(self) -> float | None:
        return _ratio(self.items_fully_online, self.items_active)

    @property
    def fully_online_case_rate(self) -> float | None:
        return _ratio(self.cases_fully_online, self.cases_concluded)

    @property
    def overdue_rate(self) -> float | None:
        return _ratio(self.overdue_cases, self.deadline_cases)

    @property
    def satisfaction_avg(self) -> float | None:
        return self.satisfaction_sum / self.evaluations if self.evaluations else None

    @property
    def bad_review_rate(self) -> float | None:
        return _ratio(self.bad_reviews, self.evaluations)

    @property
    def conclusion_hours_p50(self) -> float | None:
        return nearest_rank(self.conclusion_hours, 50)

    @property
    def conclusion_hours_p90(self) -> float | None:
        return nearest_rank(self.conclusion_hours, 90)

    def as_dict(self) -> dict[str, Any]:
        d = {k: v for k, v in asdict(self).items() if k not in ("conclusion_hours", "cases_by_day")}
        for name in ("items_online_rate", "items_fully_online_rate", "fully_online_case_rate", "overdue_rate",
                     "satisfaction_avg", "bad_review_rate", "conclusion_hours_p50", "conclusion_hours_p90"):
            d[name] = getattr(self, name)
        d["cases_by_day"] = dict(sorted(self.cases_by_day.items()))
        return d


@dataclass
class ItemVolume:
    impl_code: str
    item_code: str
    region_code: str
    name: str
    cases: int


@dataclass
class OverdueCase:
    case_no: str
    region_code: str
    impl_code: str
    overdue_seconds: int
    concluded: bool


@dataclass
class MetricsReport:
    at: str
    rows: list[ScopeMetrics]
    by_item: list[ItemVolume]
    overdue: list[OverdueCase]
    satisfaction_histogram: dict[int, int]
    unmatched_cases: int   # cases whose implCode has no stored catalog item

    def row(self, scope: str, key: str) -> ScopeMetrics | None:
        return next((r for r in self.rows if r.scope == scope and r.key == key), None)

    def scope(self, scope: str) -> list[ScopeMetrics]:
        return [r for r in self.rows if r.scope == scope]

    def as_dict(self) -> dict[str, Any]:
        return {"at": self.at, "definitions": [d.as_dict() for d in DEFINITIONS],
                "rows": [r.as_dict() for r in self.rows],   # row members are the definition keys
                "byItem": [{"implCode": i.impl_code, "itemCode": i.item_code, "regionCode": i.region_code,
                            "name": i.name, "cases": i.cases} for i in self.by_item],
                "overdue": [{"caseNo": o.case_no, "regionCode": o.region_code, "implCode": o.impl_code,
                             "overdueSeconds": o.overdue_seconds, "concluded": o.concluded} for o in self.overdue],
                "satisfactionHistogram": {str(k): v for k, v in self.satisfaction_histogram.items()},
                "unmatchedCases": self.unmatched_cases}


# ----------------------------------------------------------------------------- computation
def _buckets(region: str) -> list[tuple[str, str]]:
    """Every scope a record of ``region`` counts in."""
    shape = region_shape(region)
    out = [("region", region), ("province", region[:2] + "0000"), ("level", shape)]
    if shape != "province":
        out.append(("city", region[:4] + "00"))
    return out


_SCOPE_ORDER = {"province": 0, "level": 1, "city": 2, "region": 3}
_LEVEL_ORDER = {"province": 0, "city": 1, "county": 2}


def compute_metrics(data: MetricsInput, at: datetime | None = None, *, overdue_rule: str = "TBS-1.0") -> MetricsReport:
    """All metrics of :data:`DEFINITIONS` at instant ``at`` (default: now); overdue cases under
    the TBS-EVT-011 of ``overdue_rule`` (:func:`tongban.model.overdue.overdue_rule`)."""
    at = at or datetime.now(timezone.utc)
    if at.tzinfo is None:
        raise ValueError("the instant of a metrics report must carry an offset")
    rows: dict[tuple[str, str], ScopeMetrics] = {}

    def rows_for(region: str) -> list[ScopeMetrics]:
        found = []
        for scope, key in _buckets(region):
            if (scope, key) not in rows:
                rows[(scope, key)] = ScopeMetrics(scope, key, key if scope == "level" else region_shape(key))
            found.append(rows[(scope, key)])
        return found

    items = {item["implCode"]: item for item in data.catalog}
    for item in data.catalog:
        buckets = rows_for(item["regionCode"])
        if item["status"] != "ACTIVE":
            continue
        for m in buckets:
            m.items_active += 1
            m.items_online += item["onlineDepth"] >= ONLINE_MIN_DEPTH
            m.items_fully_online += item["onlineDepth"] == FULLY_ONLINE_DEPTH

    case_region: dict[str, str] = {}
    volume: Counter = Counter()
    overdue: list[OverdueCase] = []
    unmatched = 0
    for case in data.cases:
        region = case["regionCode"]
        case_region[case["caseNo"]] = region
        events = sorted(data.events.get(case["caseNo"], ()), key=lambda e: e["seq"])
        types = {e["type"] for e in events}
        conclude = next((e for e in events if e["type"] == "CONCLUDE"), None)
        item = items.get(case["implCode"])
        unmatched += item is None
        fully_online = (conclude is not None and item is not None and item["onlineDepth"] == FULLY_ONLINE_DEPTH
                        and case["channel"] in ONLINE_CHANNELS)
        has_deadline = ("ACCEPT" in types and "WITHDRAW" not in types
                        and ("promisedBy" in case or case["caseType"] == "1"))
        late = overdue_seconds(case, events, at, rule=overdue_rule)
        if late is not None:
            overdue.append(OverdueCase(case["caseNo"], region, case["implCode"], late, conclude is not None))
        day = parse_stamp(case["submittedAt"]).astimezone(CST).date().isoformat()
        hours = ((parse_stamp(conclude["occurredAt"]) - parse_stamp(case["submittedAt"])).total_seconds() / 3600
                 if conclude is not None else None)
        volume[case["implCode"]] += 1
        for m in rows_for(region):
            m.cases += 1
            m.cases_by_day[day] += 1
            m.deadline_cases += has_deadline
            m.overdue_cases += late is not None
            if conclude is not None:
                m.cases_concluded += 1
                m.cases_fully_online += fully_online
                m.conclusion_hours.append(hours)

    histogram = {s: 0 for s in range(1, 6)}
    for ev in data.evaluations:
        region = case_region.get(ev["caseNo"])
        if region is None:
            continue   # TBS-EVAL-006 keeps such records held, not stored; nothing to attribute
        histogram[ev["satisfaction"]] = histogram.get(ev["satisfaction"], 0) + 1
        for m in rows_for(region):
            m.evaluations += 1
            m.satisfaction_sum += ev["satisfaction"]
            m.bad_reviews += ev["satisfaction"] < BAD_REVIEW_BELOW

    names = {c["implCode"]: c.get("itemName", "") for c in data.cases}
    by_item = []
    for impl, n in volume.items():
        item = items.get(impl)
        by_item.append(ItemVolume(impl, impl[19:31], item["regionCode"] if item else "",
                                  item["name"] if item else names.get(impl, ""), n))
    by_item.sort(key=lambda v: (-v.cases, v.impl_code))
    ordered = sorted(rows.values(), key=lambda r: (_SCOPE_ORDER[r.scope], _LEVEL_ORDER.get(r.key, 9), r.key))
    return MetricsReport(at.isoformat(), ordered, by_item, sorted(overdue, key=lambda o: (-o.overdue_seconds, o.case_no)),
                         histogram, unmatched)


def registry_overdue_rule(registry: Any | None) -> str:
    """The overdue rule of a loaded registry (TBS-1.1 change 14), TBS-1.0's without one."""
    rule = getattr(registry, "overdue_rule", None)
    return rule() if callable(rule) else "TBS-1.0"


def metrics_from_store(store: Store, at: datetime | None = None, *, overdue_rule: str = "TBS-1.0") -> MetricsReport:
    return compute_metrics(MetricsInput.from_store(store), at, overdue_rule=overdue_rule)


def definitions_markdown(definitions: Iterable[MetricDefinition] = DEFINITIONS) -> str:
    """The definitions as a Markdown table (the README section is generated from this)."""
    lines = ["| Metric | 指标 | Definition | Basis | TBS |", "|---|---|---|---|---|"]
    for d in definitions:
        lines.append(f"| `{d.key}` {d.name_en} | {d.name_zh} | {d.formula} | {d.basis} | "
                     f"{', '.join(d.requirements)} |")
    return "\n".join(lines) + "\n"


def region_names(registry: Any | None) -> Mapping[str, str]:
    """Readable names for region codes: the registry's partner names, where it has them."""
    out: dict[str, str] = {}
    if registry is None:
        return out
    for p in registry.partners:
        if p.name and p.system_level != "department":
            out.setdefault(p.system_region, p.name.replace("一体化政务服务平台", ""))
    return out
