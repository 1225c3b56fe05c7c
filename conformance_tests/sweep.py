"""Stateless and stateful verdicts of everything a SUT served or sent (§19.3 S1–S5).

The suite replays the SUT's records into an in-memory receiver state
(:class:`~tongban.validators.stateful.MemoryState`) the way a receiver processes them:
datasets in dependency order (catalog; case; case-event; result; evaluation), each in feed
order, held records released in business-key order as soon as their prerequisite is stored
(TBS-SYNC-007). What is still held at the end is judged as if the hold had expired, and marked
with whether its prerequisite ever appeared in the SUT's data: a hold on a record that was
served but rejected is a consequence of that rejection, not a second defect.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable

from tongban.model.datasets import DATASETS, Dataset, business_key
from tongban.validators import ValidationContext, validate_record
from tongban.validators.report import Finding, Report
from tongban.validators.stateful import Hold, MemoryState, Outcome, evaluate_state, expired_hold_finding

from .feeds import FedRecord



@dataclass
class RecordVerdict:
    fed: FedRecord
    stateless: Report
    outcome: Outcome | None = None
    state_report: Report = field(default_factory=Report)
    hold: Hold | None = None
    was_held: bool = False
    prerequisite_seen: bool | None = None  # for records still held at the end

    @property
    def dataset(self) -> str:
        return self.fed.dataset

    @property
    def record(self) -> Any:
        return self.fed.record

    @property
    def case_no(self) -> str | None:
        rec = self.fed.record
        value = rec.get("caseNo") if isinstance(rec, dict) else None
        return value if isinstance(value, str) else None

    def findings(self) -> list[Finding]:
        return list(self.stateless.items) + list(self.state_report.items)


@dataclass
class Sweep:
    verdicts: dict[str, list[RecordVerdict]]
    unresolved: list[RecordVerdict]
    state: MemoryState

    def all(self, *datasets: str) -> list[RecordVerdict]:
        return [v for ds in (datasets or DATASETS) for v in self.verdicts.get(ds, [])]

    def by_case(self) -> dict[str, list[RecordVerdict]]:
        out: dict[str, list[RecordVerdict]] = {}
        for ds in DATASETS[1:]:   # case-linked state after the catalog
            for v in self.verdicts.get(ds, []):
                if v.case_no is not None:
                    out.setdefault(v.case_no, []).append(v)
        return out


def _key(dataset: str, record: dict[str, Any]) -> tuple[Any, ...]:
    ds = Dataset(dataset)
    return tuple(record[m] for m in ds.key_members)


def _order(v: RecordVerdict) -> tuple:
    key = _key(v.dataset, v.record)
    return (DATASETS.index(v.dataset), *[str(k).zfill(8) if isinstance(k, int) else k for k in key])


class _Replay:
    def __init__(self, writer: str, context: ValidationContext) -> None:
        self.writer = writer
        self.context = context
        self.state = MemoryState()
        self.held: list[RecordVerdict] = []

    def stateless(self, fed: FedRecord) -> Report:
        context = self.context
        if fed.sent_at is None:
            context = ValidationContext(spec=context.spec, allowlist=context.allowlist, received_at=fed.received_at)
        return validate_record(fed.dataset, fed.record, index=fed.index, writer=fed.writer or self.writer,
                               context=context, sent_at=fed.sent_at)

    def process(self, v: RecordVerdict) -> None:
        if v.stateless.errors:
            v.outcome = Outcome.REJECTED
            return
        self._evaluate(v)
        if v.outcome is Outcome.STORED:
            self._release()

    def _evaluate(self, v: RecordVerdict) -> None:
        verdict = evaluate_state(v.dataset, v.record, index=v.fed.index, writer=v.fed.writer or self.writer,
                                 state=self.state)
        v.outcome, v.state_report, v.hold = verdict.outcome, verdict.report, verdict.hold
        if verdict.outcome is Outcome.STORED:
            self.state.store(v.dataset, v.record)
        elif verdict.outcome is Outcome.HELD:
            v.was_held = True
            self.state.hold(v.dataset, _key(v.dataset, v.record), v.record)
            self.held.append(v)

    def _release(self) -> None:
        progress = True
        while progress and self.held:
            progress = False
            for v in sorted(self.held, key=_order):
                self.held.remove(v)
                self.state.release(v.dataset, _key(v.dataset, v.record))
                self._evaluate(v)
                if v.outcome is not Outcome.HELD:
                    progress = True
                    break  # a store may free others: start over in key order


def _prerequisite_seen(v: RecordVerdict, served: dict[str, list[dict[str, Any]]]) -> bool:
    """Whether what ``v`` waits for was served or sent by the SUT (even if rejected), or cannot be
    observed because the SUT serves no feed of that dataset to the suite."""
    assert v.hold is not None
    case_no, rule = v.hold.case_no, v.hold.rule_id

    def has(dataset: str, **members: Any) -> bool:
        if dataset not in served:  # not observable: the SUT serves no such feed to the suite
            return True
        return any(all(r.get(k) == x for k, x in members.items()) for r in served.get(dataset, []))

    if rule == "TBS-EVT-007":
        seq = v.record.get("seq")
        return isinstance(seq, int) and has("case-event", caseNo=case_no, seq=seq - 1)
    if rule == "TBS-EVAL-004":
        return has("evaluation", caseNo=case_no, assessNo=1)
    if rule == "TBS-RES-004":
        return has("case", caseNo=case_no) and has("case-event", caseNo=case_no, type="CONCLUDE")
    return has("case", caseNo=case_no)  # TBS-EVT-009, TBS-EVAL-006


def sweep(records: dict[str, Iterable[FedRecord]], *, writer: str,
          context: ValidationContext = ValidationContext()) -> Sweep:
    """Validate every record statelessly, then replay them through S5 (see the module doc)."""
    replay = _Replay(writer, context)
    verdicts: dict[str, list[RecordVerdict]] = {}
    served: dict[str, list[dict[str, Any]]] = {}
    for ds in DATASETS:
        feds = list(records.get(ds, []))
        if ds in records:
            served[ds] = [f.record for f in feds if isinstance(f.record, dict)]
        verdicts[ds] = [RecordVerdict(f, replay.stateless(f)) for f in feds]
    for ds in DATASETS:
        for v in verdicts[ds]:
            replay.process(v)
    unresolved = sorted(replay.held, key=_order)
    for v in unresolved:
        assert v.hold is not None
        v.prerequisite_seen = _prerequisite_seen(v, served)
        v.state_report = Report([expired_hold_finding(v.hold)])
    return Sweep(verdicts, unresolved, replay.state)


def case_classes(events: Iterable[dict[str, Any]]) -> set[str]:
    """The scripted paths a case's served events show (§20.2 CR-01…CR-03).

    ``approval``: concluded APPROVED_WITH_CERT; ``delivered-approval``: that, then DELIVER;
    ``not-permitted``: concluded NOT_PERMITTED; ``not-accepted``: REJECT_ACCEPTANCE;
    ``supplement``: REQUEST_SUPPLEMENT then SUPPLEMENT; ``suspend``: SUSPEND then RESUME.
    """
    evs = sorted((e for e in events if isinstance(e, dict) and isinstance(e.get("seq"), int)),
                 key=lambda e: e["seq"])
    types = [e.get("type") for e in evs]
    conclusions = {e.get("conclusionCode") for e in evs if e.get("type") == "CONCLUDE"}
    out: set[str] = set()
    if "APPROVED_WITH_CERT" in conclusions:
        out.add("approval")
        if "DELIVER" in types:
            out.add("delivered-approval")
    if "NOT_PERMITTED" in conclusions:
        out.add("not-permitted")
    if "REJECT_ACCEPTANCE" in types:
        out.add("not-accepted")
    if "REQUEST_SUPPLEMENT" in types:
        out.add("supplement-requested")
        if "SUPPLEMENT" in types[types.index("REQUEST_SUPPLEMENT"):]:
            out.add("supplement")
    if "SUSPEND" in types:
        out.add("suspended")
        if "RESUME" in types[types.index("SUSPEND"):]:
            out.add("suspend")
    return out


__all__ = ["RecordVerdict", "Sweep", "case_classes", "sweep", "business_key"]
