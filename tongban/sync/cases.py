"""What ``tongban case list|show`` read: a case with its events, results and evaluations, its
state and whether it is overdue at an instant (TBS-EVT-011/012, the same definition the
supervision metrics use)."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tongban.store.schema import CaseEventRecord, CaseRecord, EvaluationRecord, ResultRecord


@dataclass
class CaseView:
    case: dict[str, Any] | None
    events: list[dict[str, Any]]
    results: list[dict[str, Any]] = field(default_factory=list)
    evaluations: list[dict[str, Any]] = field(default_factory=list)
    state: str | None = None
    conclusion: str | None = None
    overdue_seconds: int | None = None   # None: not overdue (or no deadline) at the instant

    @property
    def is_open(self) -> bool:
        return self.state not in ("CONCLUDED", "DELIVERED", "WITHDRAWN", "NOT_ACCEPTED") and \
            not any(e["type"] in ("CONCLUDE", "WITHDRAW") for e in self.events)

    def as_dict(self) -> dict[str, Any]:
        return {"case": self.case, "state": self.state, "conclusion": self.conclusion, "open": self.is_open,
                "overdue": self.overdue_seconds is not None, "overdueSeconds": self.overdue_seconds,
                "events": self.events, "results": self.results, "evaluations": self.evaluations}


def _overdue(case: dict[str, Any] | None, events: list[dict[str, Any]], at: datetime, rule: str) -> int | None:
    from tongban.model.overdue import overdue_seconds

    if case is None:
        return None
    return overdue_seconds(case, events, at, rule=rule)


def case_view(session: Session, case_no: str, at: datetime, *, overdue_rule: str = "TBS-1.0") -> CaseView | None:
    from tongban.validators.stateful import case_state

    row = session.get(CaseRecord, case_no)
    events = [json.loads(c) for c in session.execute(select(CaseEventRecord.content).where(
        CaseEventRecord.case_no == case_no).order_by(CaseEventRecord.seq)).scalars()]
    if row is None and not events:
        return None
    case = json.loads(row.content) if row else None
    results = [json.loads(c) for c in session.execute(select(ResultRecord.content).where(
        ResultRecord.case_no == case_no).order_by(ResultRecord.issued_at)).scalars()]
    evaluations = [json.loads(c) for c in session.execute(select(EvaluationRecord.content).where(
        EvaluationRecord.case_no == case_no).order_by(EvaluationRecord.assess_no)).scalars()]
    state = case_state(events)
    return CaseView(case, events, results, evaluations, state.state, state.conclusion,
                    _overdue(case, events, at, overdue_rule))


def case_views(session: Session, at: datetime, *, source: str | None = None, region: str | None = None,
               limit: int | None = None, overdue_rule: str = "TBS-1.0") -> list[CaseView]:
    """Cases (latest version) in case-number order, with their events, state and overdue time."""
    from tongban.validators.stateful import case_state

    query = select(CaseRecord.case_no, CaseRecord.content).order_by(CaseRecord.case_no)
    if source:
        query = query.where(CaseRecord.source == source)
    if region:
        query = query.where(CaseRecord.region_code.startswith(region.rstrip("0") or region))
    rows = session.execute(query).all()
    numbers = [n for n, _ in rows]
    events: dict[str, list[dict[str, Any]]] = {n: [] for n in numbers}
    for i in range(0, len(numbers), 500):
        chunk = numbers[i:i + 500]
        for case_no, content in session.execute(select(CaseEventRecord.case_no, CaseEventRecord.content).where(
                CaseEventRecord.case_no.in_(chunk)).order_by(CaseEventRecord.case_no, CaseEventRecord.seq)):
            events[case_no].append(json.loads(content))
    views = []
    for case_no, content in rows:
        case = json.loads(content)
        state = case_state(events[case_no])
        views.append(CaseView(case, events[case_no], state=state.state, conclusion=state.conclusion,
                              overdue_seconds=_overdue(case, events[case_no], at, overdue_rule)))
        if limit is not None and len(views) >= limit:
            break
    return views
