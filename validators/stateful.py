"""Stage S5 of TBS-1.0 §19.3: the rules that need what the receiver already holds.

The rules read state only through :class:`StateView`, so the same code runs against the
store in production (``tongban.sync.state.StoreState``) and against
:class:`MemoryState` in tests and in the conformance kit. A record reaches S5 only when
S1–S4 gave no ERROR, so its members are present and well-typed here.

Steps (§19.3): 1 key identity, 2 prerequisites and holds, 3 region scope of case-linked
records — each stops at the first ERROR, STALE, DUPLICATE or HOLD; 4 the remaining rules,
evaluated completely.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import Any, Protocol

from tongban.model.canonical import canonical_bytes
from tongban.model.datasets import SPECS
from tongban.model.codes import parse_system_id, within_scope
from tongban.validators.report import Finding, Report, Severity, render_value



class Outcome(str, Enum):
    """TBS-1.0 §13.2."""

    STORED = "STORED"
    DUPLICATE = "DUPLICATE"
    STALE = "STALE"
    HELD = "HELD"
    REJECTED = "REJECTED"


class StateView(Protocol):
    """What S5 reads. Implementations must reflect earlier records of the same envelope
    (TBS-SYNC-003): writes are applied before the next record is evaluated."""

    def catalog_current(self, impl_code: str) -> dict[str, Any] | None: ...
    def case(self, case_no: str) -> dict[str, Any] | None: ...
    def case_events(self, case_no: str) -> list[dict[str, Any]]: ...  # stored, ascending seq
    def case_event(self, case_no: str, seq: int) -> dict[str, Any] | None: ...
    def result(self, case_no: str, cert_no: str) -> dict[str, Any] | None: ...
    def evaluation(self, case_no: str, assess_no: int) -> dict[str, Any] | None: ...
    def held(self, dataset: str, key: tuple[Any, ...]) -> dict[str, Any] | None: ...


@dataclass(frozen=True)
class Hold:
    """Why a record waits (TBS-SYNC-007): the dependency rule that rejects it on timeout."""

    rule_id: str
    location: str
    case_no: str


@dataclass
class StateVerdict:
    outcome: Outcome
    report: Report = field(default_factory=Report)
    hold: Hold | None = None


# -- the case state machine (§10.2–§10.4) ---------------------------------------------------
TRANSITIONS: dict[str, tuple[frozenset[str | None], str]] = {
    "SUBMIT": (frozenset({None}), "SUBMITTED"),
    "REQUEST_SUPPLEMENT": (frozenset({"SUBMITTED"}), "SUPPLEMENT_REQUESTED"),
    "SUPPLEMENT": (frozenset({"SUPPLEMENT_REQUESTED"}), "SUBMITTED"),
    "ACCEPT": (frozenset({"SUBMITTED"}), "ACCEPTED"),
    "REJECT_ACCEPTANCE": (frozenset({"SUBMITTED", "SUPPLEMENT_REQUESTED"}), "NOT_ACCEPTED"),
    "REVIEW_STEP": (frozenset({"ACCEPTED", "IN_REVIEW"}), "IN_REVIEW"),
    "SUSPEND": (frozenset({"ACCEPTED", "IN_REVIEW"}), "SUSPENDED"),
    "RESUME": (frozenset({"SUSPENDED"}), "IN_REVIEW"),
    "CONCLUDE": (frozenset({"ACCEPTED", "IN_REVIEW", "SUSPENDED", "SUPPLEMENT_REQUESTED", "NOT_ACCEPTED"}),
                 "CONCLUDED"),
    "DELIVER": (frozenset({"CONCLUDED"}), "DELIVERED"),
    "WITHDRAW": (frozenset({"SUBMITTED", "SUPPLEMENT_REQUESTED", "ACCEPTED", "IN_REVIEW", "SUSPENDED"}),
                 "WITHDRAWN"),
}
CONCLUSIONS: dict[str, frozenset[str]] = {
    "APPROVED_WITH_CERT": frozenset({"ACCEPTED", "IN_REVIEW"}),
    "NOT_PERMITTED": frozenset({"ACCEPTED", "IN_REVIEW"}),
    "VOIDED": frozenset({"ACCEPTED", "IN_REVIEW", "SUSPENDED"}),
    "TRANSFERRED": frozenset({"ACCEPTED", "IN_REVIEW"}),
    "RETURNED": frozenset({"SUPPLEMENT_REQUESTED", "ACCEPTED", "IN_REVIEW", "SUSPENDED"}),
    "NOT_ACCEPTED": frozenset({"NOT_ACCEPTED"}),
}
DELIVERABLE = frozenset({"APPROVED_WITH_CERT", "NOT_PERMITTED", "NOT_ACCEPTED"})
CLOSED = frozenset({"CONCLUDED", "DELIVERED", "WITHDRAWN"})


@dataclass(frozen=True)
class CaseState:
    state: str | None  # None before SUBMIT
    conclusion: str | None = None


def case_state(events: list[dict[str, Any]]) -> CaseState:
    """The state reached by applying stored events in seq order (§10.3)."""
    state: str | None = None
    conclusion = None
    for ev in events:
        allowed, nxt = TRANSITIONS[ev["type"]]
        if state in allowed:
            state = nxt
            if ev["type"] == "CONCLUDE":
                conclusion = ev.get("conclusionCode")
    return CaseState(state, conclusion)


def transition_allowed(current: CaseState, event: dict[str, Any]) -> tuple[bool, bool]:
    """(type allowed, conclusionCode allowed) for ``event`` applied in ``current`` (TBS-EVT-005)."""
    etype = event["type"]
    allowed, _ = TRANSITIONS[etype]
    if etype == "CONCLUDE":
        if current.state == "NOT_ACCEPTED":
            type_ok = True
            code_ok = event.get("conclusionCode") == "NOT_ACCEPTED"
        else:
            type_ok = current.state in allowed and current.state != "NOT_ACCEPTED"
            code_ok = current.state in CONCLUSIONS.get(event.get("conclusionCode", ""), frozenset())
        return type_ok, (code_ok if type_ok else True)
    if etype == "DELIVER":
        return current.state == "CONCLUDED" and current.conclusion in DELIVERABLE, True
    return current.state in allowed, True


# -- helpers --------------------------------------------------------------------------------
def instant(value: str) -> datetime:
    return datetime.fromisoformat(value)


def same_content(a: Any, b: Any) -> bool:
    """Identical content is byte-equal canonical form (TBS-ENV-012)."""
    return canonical_bytes(a) == canonical_bytes(b)


_MESSAGES: dict[str, tuple[str, str]] = {
    "TBS-SYNC-004": ("版本低于已存储版本，已忽略", "version is lower than the stored version; ignored"),
    "TBS-SYNC-005": ("版本号与已存储版本相同但内容不同", "same version as stored but different content"),
    "TBS-SYNC-006": ("与已存储或暂存记录内容相同（重复）", "identical to the stored or held record (duplicate)"),
    "TBS-SYNC-007": ("前置记录尚未到达，记录暂存", "prerequisite not yet received; record held"),
    "TBS-SYNC-008": ("暂存容量已满", "hold capacity exceeded"),
    "TBS-SYNC-009": ("写入方无权修改该字段", "the writer is not authoritative for this field"),
    "TBS-SYNC-010": ("事项已撤销（终态），后续版本必须仍为撤销", "item was revoked; later versions must stay REVOKED"),
    "TBS-SYNC-011": ("更新时间早于已存储版本", "updatedAt is earlier than the stored version's"),
    "TBS-EVT-005": ("办件当前状态不允许该环节", "event type not allowed in the case's current state"),
    "TBS-EVT-006": ("环节时间早于上一环节", "occurredAt is earlier than the previous event's"),
    "TBS-EVT-007": ("环节序号不连续（前一环节缺失）", "seq gap: the previous event is missing"),
    "TBS-EVT-008": ("同一办件同一序号的环节内容冲突", "conflicting event with the same caseNo and seq"),
    "TBS-EVT-009": ("办件记录不存在", "the Case record is not stored"),
    "TBS-EVT-010": ("申请环节时间与申请时间不一致", "SUBMIT occurredAt differs from the Case's submittedAt"),
    "TBS-RES-004": ("办件未办结或已撤回，不能发布结果", "the case is not concluded (or was withdrawn)"),
    "TBS-RES-005": ("出证结果要求办结结果为准予许可", "a CERTIFICATE needs conclusion APPROVED_WITH_CERT"),
    "TBS-RES-006": ("同一办件同一证照编号的结果内容冲突", "conflicting Result with the same caseNo and certNo"),
    "TBS-RES-007": ("发证时间早于申请时间", "issuedAt is earlier than the Case's submittedAt"),
    "TBS-EVAL-003": ("同一办件同一评价次数的评价内容冲突", "conflicting evaluation for the same case and assessNo"),
    "TBS-EVAL-004": ("追加评价缺少首次评价", "a follow-up evaluation needs the first evaluation"),
    "TBS-EVAL-005": ("追加评价时间须晚于首次评价", "the follow-up must be later than the first evaluation"),
    "TBS-EVAL-006": ("办件记录不存在", "the Case record is not stored"),
    "TBS-EVAL-010": ("评价时间早于申请时间", "assessedAt is earlier than the Case's submittedAt"),
    "TBS-SEC-003": ("记录所属区划不在写入方管辖范围内", "the record's region is outside the writer's scope"),
}


def finding(rule_id: str, severity: Severity, location: str, value: Any = None, *, note: str = "") -> Finding:
    zh, en = _MESSAGES[rule_id]
    return Finding(severity, rule_id, location, zh + (f"（{note}）" if note else ""),
                   en + (f" ({note})" if note else ""), None if value is None else render_value(value))


# -- S5 -------------------------------------------------------------------------------------
class Stop(Exception):
    """Ends steps 1–3 with a verdict."""

    def __init__(self, verdict: StateVerdict) -> None:
        self.verdict = verdict


def evaluate_state(dataset: str, record: dict[str, Any], *, index: int, writer: str,
                   state: StateView) -> StateVerdict:
    """Evaluate S5 for one record that passed S1–S4; ``writer`` is origin or sender."""
    base = f"/records/{index}"
    try:
        step = _STEPS[dataset]
    except KeyError:
        raise ValueError(f"unknown dataset {dataset!r}") from None
    try:
        return step(record, base, writer, state)
    except Stop as stop:
        return stop.verdict


def _reject(rule: str, location: str, value: Any = None) -> Stop:
    return Stop(StateVerdict(Outcome.REJECTED, Report([finding(rule, Severity.ERROR, location, value)])))


def _duplicate(base: str) -> Stop:
    return Stop(StateVerdict(Outcome.DUPLICATE, Report([finding("TBS-SYNC-006", Severity.INFO, base)])))


def _hold(rule: str, location: str, case_no: str) -> Stop:
    zh, en = _MESSAGES[rule]
    item = finding("TBS-SYNC-007", Severity.INFO, location, note=f"{rule}: {en}")
    return Stop(StateVerdict(Outcome.HELD, Report([item]), Hold(rule, location, case_no)))


def _finish(report: Report) -> StateVerdict:
    return StateVerdict(Outcome.REJECTED if report.errors else Outcome.STORED, report)


def _versioned_identity(record: dict[str, Any], stored: dict[str, Any] | None, base: str) -> None:
    if stored is None:
        return
    if record["version"] < stored["version"]:
        raise Stop(StateVerdict(Outcome.STALE, Report([finding("TBS-SYNC-004", Severity.WARNING,
                                                               f"{base}/version", record["version"])])))
    if record["version"] == stored["version"]:
        if same_content(record, stored):
            raise _duplicate(base)
        raise _reject("TBS-SYNC-005", f"{base}/version", record["version"])


def _immutable_identity(record: dict[str, Any], stored: dict[str, Any] | None, base: str, rule: str,
                        location: str, value: Any) -> None:
    if stored is None:
        return
    if same_content(record, stored):
        raise _duplicate(base)
    raise _reject(rule, location, value)


def _scope(case: dict[str, Any], writer: str, base: str) -> None:
    """Step 3: TBS-SEC-003 for case-linked records, against the stored Case's region."""
    parts = parse_system_id(writer)
    if parts is not None and not within_scope(case["regionCode"], parts[1]):
        raise _reject("TBS-SEC-003", f"{base}/caseNo", case["caseNo"])


BASIC_FIELDS = ("itemCode", "name", "itemType", "legalBasis")
NOT_AUTHORITY_FIELDS = ("version", "updatedAt", "ext")


def _catalog(record: dict[str, Any], base: str, writer: str, state: StateView) -> StateVerdict:
    stored = state.catalog_current(record["implCode"])
    _versioned_identity(record, stored, base)
    report = Report()
    if stored is not None:  # step 4: a higher version arrives
        parts = parse_system_id(writer)
        if parts is not None:
            level, region, _ = parts
            basic_ok = level == "province" and region[:2] == record["regionCode"][:2]
            impl_ok = region == record["regionCode"]
            members = set(record) | set(stored)
            for member in sorted(members):
                if member in NOT_AUTHORITY_FIELDS:
                    continue
                authoritative = basic_ok if member in BASIC_FIELDS else impl_ok
                if authoritative:
                    continue
                if member not in record or member not in stored or not same_content(record[member], stored[member]):
                    report.add(finding("TBS-SYNC-009", Severity.ERROR, f"{base}/{member}", record.get(member),
                                       note=member))
        if stored["status"] == "REVOKED" and record["status"] != "REVOKED":
            report.add(finding("TBS-SYNC-010", Severity.ERROR, f"{base}/status", record["status"]))
        if instant(record["updatedAt"]) < instant(stored["updatedAt"]):
            report.add(finding("TBS-SYNC-011", Severity.WARNING, f"{base}/updatedAt", record["updatedAt"]))
    return _finish(report)


def _case(record: dict[str, Any], base: str, writer: str, state: StateView) -> StateVerdict:
    _versioned_identity(record, state.case(record["caseNo"]), base)
    return _finish(Report())


def _linked_case(dataset: str, record: dict[str, Any], key: tuple[Any, ...], stored: dict[str, Any] | None,
                 base: str, state: StateView, identity_rule: str, member: str, case_rule: str) -> dict[str, Any]:
    """Steps 1–2 of a case-linked record under its business ``key``: its identity against the
    stored or held record with that key, then its Case (held until the Case is stored)."""
    stored = stored or state.held(dataset, key)
    if stored is not None:   # the location is written only for a verdict
        _immutable_identity(record, stored, base, identity_rule, f"{base}/{member}", record[member])
    case = state.case(key[0])
    if case is None:
        raise _hold(case_rule, f"{base}/caseNo", key[0])
    return case


def _case_event(record: dict[str, Any], base: str, writer: str, state: StateView) -> StateVerdict:
    case_no, seq = record["caseNo"], record["seq"]
    case = _linked_case("case-event", record, (case_no, seq), state.case_event(case_no, seq), base, state,
                        "TBS-EVT-008", "seq", "TBS-EVT-009")
    previous = state.case_event(case_no, seq - 1) if seq > 1 else None
    if seq > 1 and previous is None:
        raise _hold("TBS-EVT-007", f"{base}/seq", case_no)
    _scope(case, writer, base)
    report = Report()
    # The state before this event. A StateView may offer ``state_memo`` (a dict it clears when
    # its contents change other than through STORED verdicts) to skip replaying the history.
    memo = getattr(state, "state_memo", None)
    before = memo.get((case_no, seq - 1)) if memo is not None else None
    if before is None:
        before = case_state([e for e in state.case_events(case_no) if e["seq"] < seq])
    type_ok, code_ok = transition_allowed(before, record)
    if not type_ok:
        report.add(finding("TBS-EVT-005", Severity.ERROR, f"{base}/type", record["type"]))
    elif not code_ok:
        report.add(finding("TBS-EVT-005", Severity.ERROR, f"{base}/conclusionCode", record.get("conclusionCode")))
    if previous is not None and instant(record["occurredAt"]) < instant(previous["occurredAt"]):
        report.add(finding("TBS-EVT-006", Severity.ERROR, f"{base}/occurredAt", record["occurredAt"]))
    if record["type"] == "SUBMIT" and instant(record["occurredAt"]) != instant(case["submittedAt"]):
        report.add(finding("TBS-EVT-010", Severity.WARNING, f"{base}/occurredAt", record["occurredAt"]))
    verdict = _finish(report)
    if memo is not None and verdict.outcome is Outcome.STORED:
        nxt = TRANSITIONS[record["type"]][1]
        memo[(case_no, seq)] = CaseState(nxt, record.get("conclusionCode") if record["type"] == "CONCLUDE"
                                         else before.conclusion)
    return verdict


def _result(record: dict[str, Any], base: str, writer: str, state: StateView) -> StateVerdict:
    case_no = record["caseNo"]
    case = _linked_case("result", record, (case_no, record["certNo"]), state.result(case_no, record["certNo"]),
                        base, state, "TBS-RES-006", "certNo", "TBS-RES-004")
    current = case_state(state.case_events(case_no))
    if current.state == "WITHDRAWN":
        raise _reject("TBS-RES-004", f"{base}/caseNo", case_no)
    if current.state not in ("CONCLUDED", "DELIVERED"):
        raise _hold("TBS-RES-004", f"{base}/caseNo", case_no)
    _scope(case, writer, base)
    report = Report()
    if record["resultType"] == "CERTIFICATE" and current.conclusion != "APPROVED_WITH_CERT":
        report.add(finding("TBS-RES-005", Severity.ERROR, f"{base}/resultType", record["resultType"]))
    if instant(record["issuedAt"]) < instant(case["submittedAt"]):
        report.add(finding("TBS-RES-007", Severity.ERROR, f"{base}/issuedAt", record["issuedAt"]))
    return _finish(report)


def _evaluation(record: dict[str, Any], base: str, writer: str, state: StateView) -> StateVerdict:
    case_no, assess_no = record["caseNo"], record["assessNo"]
    case = _linked_case("evaluation", record, (case_no, assess_no), state.evaluation(case_no, assess_no), base,
                        state, "TBS-EVAL-003", "assessNo", "TBS-EVAL-006")
    first = state.evaluation(case_no, 1) if assess_no == 2 else None
    if assess_no == 2 and first is None:
        raise _hold("TBS-EVAL-004", f"{base}/assessNo", case_no)
    _scope(case, writer, base)
    report = Report()
    if first is not None and instant(record["assessedAt"]) <= instant(first["assessedAt"]):
        report.add(finding("TBS-EVAL-005", Severity.ERROR, f"{base}/assessedAt", record["assessedAt"]))
    if instant(record["assessedAt"]) < instant(case["submittedAt"]):
        report.add(finding("TBS-EVAL-010", Severity.ERROR, f"{base}/assessedAt", record["assessedAt"]))
    return _finish(report)


_STEPS = {
    "catalog": _catalog,
    "case": _case,
    "case-event": _case_event,
    "result": _result,
    "evaluation": _evaluation,
}


def expired_hold_finding(hold: Hold) -> Finding:
    """The ERROR a held record gets when its hold times out (TBS-SYNC-007)."""
    return finding(hold.rule_id, Severity.ERROR, hold.location)


class MemoryState:
    """An in-memory :class:`StateView` with the write operations a receiver performs."""

    def __init__(self) -> None:
        # per dataset: first business-key member → the rest of the key → record
        self.records: dict[str, dict[Any, dict[tuple[Any, ...], dict[str, Any]]]] = {d: {} for d in SPECS}
        self.holds: dict[tuple[str, tuple[Any, ...]], dict[str, Any]] = {}

    def _get(self, dataset: str, *key: Any) -> dict[str, Any] | None:
        return self.records[dataset].get(key[0], {}).get(key[1:])

    # reads
    def catalog_current(self, impl_code: str) -> dict[str, Any] | None:
        return self._get("catalog", impl_code)

    def case(self, case_no: str) -> dict[str, Any] | None:
        return self._get("case", case_no)

    def case_events(self, case_no: str) -> list[dict[str, Any]]:
        events = self.records["case-event"].get(case_no, {})
        return [events[k] for k in sorted(events)]

    def case_event(self, case_no: str, seq: int) -> dict[str, Any] | None:
        return self._get("case-event", case_no, seq)

    def result(self, case_no: str, cert_no: str) -> dict[str, Any] | None:
        return self._get("result", case_no, cert_no)

    def evaluation(self, case_no: str, assess_no: int) -> dict[str, Any] | None:
        return self._get("evaluation", case_no, assess_no)

    def held(self, dataset: str, key: tuple[Any, ...]) -> dict[str, Any] | None:
        return self.holds.get((dataset, key))

    # writes
    def store(self, dataset: str, record: dict[str, Any]) -> None:
        if dataset not in SPECS:
            raise ValueError(dataset)
        key = SPECS[dataset].key_of(record)
        self.records[dataset].setdefault(key[0], {})[key[1:]] = record

    def hold(self, dataset: str, key: tuple[Any, ...], record: dict[str, Any]) -> None:
        self.holds[(dataset, key)] = record

    def release(self, dataset: str, key: tuple[Any, ...]) -> None:
        self.holds.pop((dataset, key), None)
