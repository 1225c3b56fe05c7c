"""An in-memory reference receiver: the acknowledgement TBS-1.0 prescribes for an envelope.

The suite uses it as the oracle of the CATALOG_CONSUMER tests (TBS-CONF-004: the SUT's
acknowledgement is compared with the expected one by TBS-RPT-010), and integrators can serve
it as a correct consumer (``SandboxService(..., receiver=ReferenceReceiver(...))``).

It implements :class:`~tongban.connectors.base.SystemService` ``receive``/``get_ack`` with the
stateless validator (S0–S4) plus what only a receiver knows: its own identity (TBS-ENV-023),
the authenticated caller (TBS-SEC-002), the caller's roles (TBS-SEC-004), replay (TBS-SEC-005),
freshness (TBS-SEC-006), required signatures and unknown keys (TBS-SEC-007, TBS-ENV-028), and
S5 against a :class:`~tongban.validators.stateful.MemoryState` (records in array order,
TBS-SYNC-003). Held records are released when their prerequisite is stored (TBS-SYNC-007);
this receiver does not time holds out.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable, Sequence

from tongban.connectors.base import ReceivedBody, ServiceError
from tongban.model.canonical import canonical_sha256
from tongban.model.datasets import RELEASE_ORDER, Dataset
from tongban.validators import REFERENCE_ALLOWLIST, ValidationContext
from tongban.validators.receiving import (MemoryReplay, SenderProfile, receive_envelope, receiver_findings)
from tongban.validators.report import Finding, Report
from tongban.validators.stateful import MemoryState, Outcome, evaluate_state

__all__ = ["ReferenceReceiver", "SenderProfile", "AckDifference", "ack_differences", "record_outcomes",
           "request_hash_of"]


class ReferenceReceiver:
    """See the module docstring. ``clock`` returns T_ref (tests pin it)."""

    def __init__(self, own_id: str, senders: dict[str, SenderProfile], *,
                 allowlist: frozenset[str] | None = None, clock: Callable[[], datetime] | None = None) -> None:
        self.own_id = own_id
        self.senders = senders
        self.allowlist = allowlist if allowlist is not None else REFERENCE_ALLOWLIST
        self.clock = clock or (lambda: datetime.now(timezone.utc))
        self.state = MemoryState()
        self.replay = MemoryReplay()
        self.held_from: dict[tuple[str, tuple[Any, ...]], tuple[str, int]] = {}  # held -> (writer, index)
        self._lock = threading.Lock()

    # -- SystemService ----------------------------------------------------------------------
    def meta(self) -> dict[str, Any]:  # pragma: no cover - served by the wrapping service
        return {"systemId": self.own_id, "roles": ["CATALOG_CONSUMER"], "datasets": ["catalog"],
                "specVersions": ["TBS-1.0"]}

    def changes(self, dataset: str, since: str | None, limit: int) -> dict[str, Any]:
        raise ServiceError(404, "NOT_FOUND", "this receiver serves no changes feed")

    def get_ack(self, message_id: str, caller: str) -> dict[str, Any] | None:
        with self._lock:
            entry = self.replay.recall(message_id)
        return entry.ack if entry is not None and entry.sender == caller else None

    def receive(self, envelope: dict[str, Any], *, binding: str, request_hash: str,
                authenticated_sender: str | None, binding_dataset: str | None = None,
                topic_region: str | None = None, binding_findings: Sequence[Any] = (),
                received: ReceivedBody | None = None) -> dict[str, Any]:
        with self._lock:
            return receive_envelope(
                envelope, own_id=self.own_id, profiles=self.senders, memory=self.replay, state=self,
                t_ref=self.clock(), binding=binding, request_hash=request_hash,
                authenticated_sender=authenticated_sender, binding_dataset=binding_dataset,
                topic_region=topic_region, binding_findings=tuple(binding_findings), allowlist=self.allowlist,
                envelope_rules=self._receiver_rules).ack

    # -- the pipeline's record state (RecordState) ------------------------------------------
    def accept(self, dataset: str, records: list[Any], reports: list[Report], *, sender: str, writer: str,
               sent_at: str, request_hash: str, context: ValidationContext,
               received: ReceivedBody | None = None) -> list[tuple[Outcome, Report]]:
        return [self._decide(dataset, record, index, writer, report)
                for index, (record, report) in enumerate(zip(records, reports))]

    def _receiver_rules(self, env: dict[str, Any], report: Report, **kw: Any) -> list[Finding]:
        """The stateful envelope rules of the pipeline; defects override this."""
        return receiver_findings(env, report, **kw)

    def _decide(self, dataset: str, record: Any, index: int, writer: str,
                report: Report) -> tuple[Outcome, Report]:
        """Outcome and full report of one record whose stateless report is ``report``; applies S5
        and writes the state (TBS-SYNC-003: later records see the effect of earlier ones)."""
        merged = Report(list(report.items))
        if report.errors:
            return Outcome.REJECTED, merged
        verdict = evaluate_state(dataset, record, index=index, writer=writer, state=self.state)
        merged.extend(verdict.report.items)
        if verdict.outcome is Outcome.STORED:
            self.state.store(dataset, record)
            if "caseNo" in record:  # every prerequisite is case-linked (TBS-SYNC-007)
                self._release(record["caseNo"])
        elif verdict.outcome is Outcome.HELD:
            key = tuple(record[m] for m in Dataset(dataset).key_members)
            self.state.hold(dataset, key, record)
            self.held_from[(dataset, key)] = (writer, index)
        return verdict.outcome, merged

    def _release(self, case_no: str) -> None:
        """Re-evaluate the records held for ``case_no`` in business-key order until nothing more
        can be stored (TBS-SYNC-007), as the bus's ingestor does."""
        progress = True
        while progress:
            progress = False
            waiting = sorted((k for k, r in self.state.holds.items() if r.get("caseNo") == case_no),
                             key=lambda k: (RELEASE_ORDER.get(k[0], 9), k[1]))
            for dataset, key in waiting:
                record = self.state.holds[(dataset, key)]
                writer, index = self.held_from.pop((dataset, key))
                self.state.release(dataset, key)
                if self._decide(dataset, record, index, writer, Report())[0] is not Outcome.HELD:
                    progress = True
                    break  # the held set changed; read it again in key order


# -- TBS-RPT-010 ------------------------------------------------------------------------------
def record_outcomes(ack: dict[str, Any]) -> dict[int, tuple[str, Report]]:
    """Outcome and report of each record index of an acknowledgement (absent = STORED, no items)."""
    out: dict[int, tuple[str, Report]] = {}
    for entry in ack.get("rejected") or []:
        if isinstance(entry, dict) and isinstance(entry.get("index"), int):
            out[entry["index"]] = ("REJECTED", _report(entry.get("report")))
    for entry in ack.get("notes") or []:
        if isinstance(entry, dict) and isinstance(entry.get("index"), int):
            out[entry["index"]] = (str(entry.get("outcome")), _report(entry.get("report")))
    return out


def _report(obj: Any) -> Report:
    try:
        return Report.from_json(obj) if isinstance(obj, dict) else Report()
    except (KeyError, TypeError, ValueError):
        return Report()


def _identities(report: Report) -> list[tuple[str, str, str]]:
    return sorted(f.identity for f in report.items)


@dataclass(frozen=True)
class AckDifference:
    """One way an acknowledgement differs from the expected one, with the rules concerned."""

    rule_ids: tuple[str, ...]
    message: str


def _rules(*reports: Report) -> tuple[str, ...]:
    return tuple(sorted({f.rule_id for r in reports for f in r.items}))


def ack_differences(expected: dict[str, Any], actual: Any) -> list[AckDifference]:
    """Why two acknowledgements are not equivalent under TBS-RPT-010 (empty when they are).

    ``rule_ids`` of a difference are those of the findings on either side that disagree, so a
    receiver that did not enforce a rule is reported under that rule.
    """
    if not isinstance(actual, dict):
        return [AckDifference(("TBS-ENV-030",), "the acknowledgement is not a JSON object")]
    out = []
    exp_env, act_env = _report(expected.get("envelopeReport")), _report(actual.get("envelopeReport"))
    act_result = (actual.get("envelopeReport") or {}).get("result") if isinstance(actual.get("envelopeReport"),
                                                                                 dict) else None
    if act_result != exp_env.result.value or _identities(exp_env) != _identities(act_env):
        diff = Report([f for f in exp_env.items if f.identity not in _identities(act_env)]
                      + [f for f in act_env.items if f.identity not in _identities(exp_env)])
        out.append(AckDifference(_rules(diff) or ("TBS-RPT-010",),
                                 f"envelopeReport {act_result} {_identities(act_env)}, expected "
                                 f"{exp_env.result.value} {_identities(exp_env)}"))
    exp_rec, act_rec = record_outcomes(expected), record_outcomes(actual)
    received = expected.get("counts", {}).get("received", 0) if exp_env.errors == 0 else 0
    for index in range(received):
        e_out, e_rep = exp_rec.get(index, ("STORED", Report()))
        a_out, a_rep = act_rec.get(index, ("STORED", Report()))
        if e_out == a_out and e_rep.result == a_rep.result and _identities(e_rep) == _identities(a_rep):
            continue
        diff = Report([f for f in e_rep.items if f.identity not in _identities(a_rep)]
                      + [f for f in a_rep.items if f.identity not in _identities(e_rep)])
        what = f"outcome {a_out}, expected {e_out}" if e_out != a_out else "report differs"
        out.append(AckDifference(_rules(diff) or ("TBS-RPT-010",),
                                 f"record {index}: {what}; findings {_identities(a_rep)}, expected "
                                 f"{_identities(e_rep)}"))
    if actual.get("status") != expected.get("status"):
        out.append(AckDifference(("TBS-ENV-032",), f"status {actual.get('status')!r}, expected "
                                                   f"{expected.get('status')!r}"))
    if actual.get("counts") != expected.get("counts"):
        out.append(AckDifference(("TBS-ENV-030",), f"counts {actual.get('counts')}, expected {expected.get('counts')}"))
    return out


def request_hash_of(envelope: Any) -> str:
    """TBS-ENV-031 for an envelope as parsed."""
    return canonical_sha256(envelope)
