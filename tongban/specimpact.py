"""``tongban spec impact``: what a revision of the standard would do to the records partners send.

Every stored record (each catalog version, each case's current version, every event, result
and evaluation) is written in the new version by Annex E and validated statelessly (S1–S3,
no writer) under the new version's rules. Each finding is attributed to a difference of
``tongban spec diff``: a requirement finding to its requirement id when the revision added or
changed it, otherwise to the schema difference at the finding's field path. Counted per
partner (the ``source`` a record was stored from) and difference: records that would be
*rejected* (an ERROR) and records that would only get a WARNING; records whose meaning changes
without a verdict (TBS-1.1 change 14: a SUSPEND with code 1 from the effective date on no longer
stops the overdue clock) are counted under that requirement. For each role and binding of a
partner's current certificates of the older version, the report gives the delta certification
plan (TBS-CONF-010): the tests it reruns or runs new, and those that carry over.
"""
from __future__ import annotations

import json
import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Iterable, Iterator

from sqlalchemy import select

from tongban.model.annex_e import NotRepresentable, convert
from tongban.model.overdue import extension_runs_on
from tongban.specdiff import Difference, diff
from tongban.store import Store
from tongban.store.schema import CaseEventRecord, CaseRecord, CatalogItemVersion, EvaluationRecord, ResultRecord
from tongban.validators import ValidationContext, validate_record

# (dataset, table, business-time column, key columns)
_TABLES = (
    ("catalog", CatalogItemVersion, "updated_at", ("impl_code", "version")),
    ("case", CaseRecord, "submitted_at", ("case_no",)),
    ("case-event", CaseEventRecord, "occurred_at", ("case_no", "seq")),
    ("result", ResultRecord, "issued_at", ("case_no", "cert_no")),
    ("evaluation", EvaluationRecord, "assessed_at", ("case_no", "assess_no")),
)
# TBS-1.1 change 14: SUSPEND code 1 from the effective date no longer stops the clock (TBS-EVT-011).
EXAMPLES = 3


@dataclass
class Count:
    difference: str               # "what location" of the spec diff item, or the requirement id
    rejected: int = 0
    warned: int = 0
    meaning_changed: int = 0
    examples: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {"difference": self.difference, "rejected": self.rejected, "warned": self.warned,
                "meaningChanged": self.meaning_changed, "examples": self.examples}


@dataclass
class PartnerImpact:
    partner: str
    records: int = 0
    rejected: int = 0            # records with at least one ERROR under the new version
    not_representable: int = 0   # records with no form in the new version (Annex E)
    counts: dict[str, Count] = field(default_factory=dict)
    certification: list[dict[str, Any]] = field(default_factory=list)   # delta plans (TBS-CONF-010)

    def count(self, key: str) -> Count:
        if key not in self.counts:
            self.counts[key] = Count(key)
        return self.counts[key]

    def as_json(self) -> dict[str, Any]:
        return {"partner": self.partner, "records": self.records, "rejected": self.rejected,
                "notRepresentable": self.not_representable,
                "changes": [c.as_json() for c in sorted(self.counts.values(), key=lambda c: c.difference)],
                "certification": self.certification}


def field_path(dataset: str, location: str) -> str:
    """/records/0/detailCodes/1 → evaluation.detailCodes[] (the spec diff's field paths)."""
    tokens = location.split("/")[3:]
    path = dataset
    for token in tokens:
        path = f"{path}[]" if token.isdigit() else f"{path}.{token}"
    return path


class _Attribution:
    """Finding → the spec diff item that explains it."""

    def __init__(self, differences: Iterable[Difference]) -> None:
        self.by_requirement = {d.location: d for d in differences if d.source == "requirement text"
                               and d.what in ("requirement-added", "requirement-changed")}
        self.by_path: dict[str, list[Difference]] = defaultdict(list)
        for d in differences:
            if d.source == "spec files":
                self.by_path[d.location].append(d)

    def explain(self, rule_id: str, path: str, value: str | None) -> str:
        if rule_id in self.by_requirement:
            return rule_id
        probe = path
        while True:
            candidates = self.by_path.get(probe, [])
            if candidates:
                # the difference about this very value, when there is one (a removed code)
                exact = [d for d in candidates if value is not None and d.detail == value]
                chosen = (exact or candidates)[0]
                return f"{chosen.what} {chosen.location}" + (f" {chosen.detail}" if exact else "")
            shorter = re.sub(r"(\[\]|\.[^.\[]+)$", "", probe)
            if shorter == probe:
                break
            probe = shorter
        return f"{rule_id} (not a difference of the revision)"


def _rows(store: Store, since: str | None, partners: set[str] | None) -> Iterator[tuple[str, str, str, dict[str, Any]]]:
    """Stored records whose business time is at or after ``since`` (an RFC 3339 instant, compared as instants)."""
    with store.reading() as session:
        for dataset, table, time_column, keys in _TABLES:
            for row in session.execute(select(table)).scalars():
                if partners is not None and row.source not in partners:
                    continue
                if since is not None and not _not_before(getattr(row, time_column), since):
                    continue
                key = "/".join(str(getattr(row, k)) for k in keys)
                yield row.source, dataset, key, json.loads(row.content)


def impact(store: Store, target: str = "TBS-1.1", base: str = "TBS-1.0", *, since: str | None = None,
           partners: Iterable[str] | None = None, on: date | None = None) -> list[PartnerImpact]:
    """Per partner: what ``target`` would reject or re-interpret among the records stored under ``base``."""
    attribution = _Attribution(diff(base, target))
    context = ValidationContext(spec=target)
    wanted = set(partners) if partners is not None else None
    result: dict[str, PartnerImpact] = {}
    for partner, dataset, key, record in _rows(store, since, wanted):
        entry = result.setdefault(partner, PartnerImpact(partner))
        entry.records += 1
        example = f"{dataset} {key}"
        try:
            form = convert(dataset, record, base, target)
        except NotRepresentable as exc:
            entry.not_representable += 1
            c = entry.count(f"not representable: {exc.member}")
            c.rejected += 1
            if len(c.examples) < EXAMPLES:
                c.examples.append(example)
            continue
        report = validate_record(dataset, form, index=0, writer=None, context=context)
        seen: set[str] = set()
        for finding in report.items:
            if finding.severity.value == "INFO":
                continue
            reason = attribution.explain(finding.rule_id, field_path(dataset, finding.location), finding.value)
            if reason in seen:
                continue
            seen.add(reason)
            c = entry.count(reason)
            if finding.severity.value == "ERROR":
                c.rejected += 1
            else:
                c.warned += 1
            if len(c.examples) < EXAMPLES:
                c.examples.append(example)
        if report.errors:
            entry.rejected += 1
        if dataset == "case-event" and extension_runs_on(record):
            c = entry.count("TBS-EVT-011")
            c.meaning_changed += 1
            if len(c.examples) < EXAMPLES:
                c.examples.append(example)
    for entry in result.values():
        entry.certification = _certification(store, entry.partner, base, target, on or date.today())
    return sorted(result.values(), key=lambda p: p.partner)


def _certification(store: Store, partner: str, base: str, target: str, on: date) -> list[dict[str, Any]]:
    """Per role and binding of the partner's current ``base`` certificates: what carries over
    and what it reruns for ``target`` (TBS-CONF-010: a CONFORMANT role, issued at most 24
    months before ``on``; otherwise the role is certified in full)."""
    from tongban.conformance.admission import current_certificates
    from tongban.conformance.delta import delta_plan

    try:
        rows = current_certificates(store, partner)
    except LookupError:
        return []
    plans = []
    for (_, role, spec, binding), row in sorted(rows.items()):
        if spec != base:
            continue
        issued = date.fromisoformat(row.issued_on)
        months = (on.year - issued.year) * 12 + on.month - issued.month - (on.day < issued.day)
        verdict = row.verdict if months <= 24 else f"{row.verdict}, issued over 24 months ago"
        plan = delta_plan(role, binding, verdict=verdict, certificate_id=row.certificate_id, spec=target)
        plans.append(plan.as_json())
    return plans


def _not_before(instant: str, limit: str) -> bool:
    from tongban.validators.checks import parse_date_time

    a, b = parse_date_time(instant), parse_date_time(limit)
    return a is not None and b is not None and a >= b
