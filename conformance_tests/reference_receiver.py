"""An in-memory reference receiver: the acknowledgement TBS-1.0 prescribes for an envelope.

The suite uses it as the oracle of the CATALOG_CONSUMER tests (TBS-CONF-004: the SUT's
acknowledgement is compared with the expected one by TBS-RPT-010), and integrators can serve
it as a correct consumer (``SandboxService(..., receiver=ReferenceReceiver(...))``).

It implements :class:`~tongban.connectors.base.SystemService` ``receive``/``get_ack`` with the
stateless validator (S0–S4) plus what only a receiver knows: its own identity (TBS-ENV-023),
the authenticated caller (TBS-SEC-002), the caller's roles (TBS-SEC-004), replay (TBS-SEC-005),
freshness (TBS-SEC-006), required signatures and unknown keys (TBS-SEC-007, TBS-ENV-028), and
S5 against a :class:`~tongban.validators.stateful.MemoryState` (records in array order,
TBS-SYNC-003). Held records stay held (``final`` false); this receiver does not time holds out.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable, Sequence

from tongban.connectors.base import ServiceError
from tongban.model.canonical import canonical_sha256
from tongban.model.datasets import Dataset
from tongban.validators import REFERENCE_ALLOWLIST, ValidationContext, validate_envelope
from tongban.model.datasets import SENDING_ROLE
from tongban.validators.receiving import RecordOutcome, build_ack, receiver_findings
from tongban.validators.report import Finding, Report
from tongban.validators.stateful import MemoryState, Outcome, evaluate_state



@dataclass
class SenderProfile:
    """What the receiver's partner profile says about one sender."""

    roles: tuple[str, ...] = ("CATALOG_PROVIDER",)
    keys: dict[str, tuple[str, bytes]] = field(default_factory=dict)  # keyId -> (alg, key)
    require_signature: bool = False


def _is_uuid(value: Any) -> bool:
    import re

    return isinstance(value, str) and re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
                                                   value) is not None


class ReferenceReceiver:
    """See the module docstring. ``clock`` returns T_ref (tests pin it)."""

    def __init__(self, own_id: str, senders: dict[str, SenderProfile], *,
                 allowlist: frozenset[str] | None = None, clock: Callable[[], datetime] | None = None) -> None:
        self.own_id = own_id
        self.senders = senders
        self.allowlist = allowlist if allowlist is not None else REFERENCE_ALLOWLIST
        self.clock = clock or (lambda: datetime.now(timezone.utc))
        self.state = MemoryState()
        self.acks: dict[str, tuple[str, str, dict[str, Any]]] = {}  # messageId -> (requestHash, sender, ack)
        self._lock = threading.Lock()

    # -- SystemService ----------------------------------------------------------------------
    def meta(self) -> dict[str, Any]:  # pragma: no cover - served by the wrapping service
        return {"systemId": self.own_id, "roles": ["CATALOG_CONSUMER"], "datasets": ["catalog"],
                "specVersions": ["TBS-1.0"]}

    def changes(self, dataset: str, since: str | None, limit: int) -> dict[str, Any]:
        raise ServiceError(404, "NOT_FOUND", "this receiver serves no changes feed")

    def get_ack(self, message_id: str, caller: str) -> dict[str, Any] | None:
        with self._lock:
            entry = self.acks.get(message_id)
        return entry[2] if entry is not None and entry[1] == caller else None

    def receive(self, envelope: dict[str, Any], *, binding: str, request_hash: str,
                authenticated_sender: str | None, binding_dataset: str | None = None,
                topic_region: str | None = None, binding_findings: Sequence[Any] = ()) -> dict[str, Any]:
        with self._lock:
            return self._receive(envelope, binding, request_hash, authenticated_sender, binding_dataset,
                                 topic_region, tuple(binding_findings))

    # -- the work ---------------------------------------------------------------------------
    def _receive(self, envelope: Any, binding: str, request_hash: str, caller: str | None,
                 binding_dataset: str | None, topic_region: str | None,
                 binding_findings: tuple[Finding, ...]) -> dict[str, Any]:
        t_ref = self.clock()
        env = envelope if isinstance(envelope, dict) else {}
        message_id, sender = env.get("messageId"), env.get("sender")
        if _is_uuid(message_id) and message_id in self.acks:            # TBS-SEC-005
            stored_hash, stored_sender, ack = self.acks[message_id]
            if stored_hash == request_hash and stored_sender == sender:
                return ack
            raise ServiceError(409, "MESSAGE_ID_CONFLICT", "messageId already used with another request hash",
                               rule_id="TBS-SEC-005")
        if caller is not None and isinstance(sender, str) and caller != sender:  # TBS-SEC-002
            raise ServiceError(403, "FORBIDDEN", "the envelope sender is not the authenticated system",
                               rule_id="TBS-SEC-002")
        profile = self.senders.get(sender) if isinstance(sender, str) else None
        dataset = env.get("dataset")
        if isinstance(dataset, str) and dataset in SENDING_ROLE and (
                profile is None or SENDING_ROLE[dataset] not in profile.roles):    # TBS-SEC-004
            raise ServiceError(403, "FORBIDDEN", f"no role of {sender} permits dataset {dataset}",
                               rule_id="TBS-SEC-004")
        keys = {(sender, k): v for k, v in profile.keys.items()} if profile is not None else {}
        signature_required = bool(profile and profile.require_signature) or binding in ("FILE", "MQTT")
        context = ValidationContext(allowlist=self.allowlist, keys=keys, binding=binding,
                                    binding_dataset=binding_dataset, topic_region=topic_region,
                                    require_signature=signature_required)
        verdict = validate_envelope(envelope, context=context, binding_findings=binding_findings)
        env_report = Report(list(verdict.envelope_report.items))
        if isinstance(envelope, dict):
            env_report.extend(self._receiver_rules(envelope, env_report, t_ref, binding, profile))
        records = env.get("records") if isinstance(env.get("records"), list) else []
        if env_report.errors:
            ack = build_ack(env, own_id=self.own_id, request_hash=request_hash, t_ref=t_ref,
                            envelope_report=env_report, received=min(len(records), 1000), outcomes=None)
        else:
            ack = self._records(env, verdict.record_reports, request_hash, t_ref, env_report)
        if _is_uuid(message_id):
            self.acks[message_id] = (request_hash, sender if isinstance(sender, str) else "", ack)
        return ack

    def _receiver_rules(self, env: dict[str, Any], report: Report, t_ref: datetime, binding: str,
                        profile: SenderProfile | None) -> list[Finding]:
        """The stateful envelope rules (shared with the bus's receiver); defects override this."""
        return receiver_findings(env, report, own_id=self.own_id, binding=binding, t_ref=t_ref,
                                 sender_has_keys=bool(profile and profile.keys))

    def _records(self, env: dict[str, Any], reports: list[Report], request_hash: str, t_ref: datetime,
                 env_report: Report) -> dict[str, Any]:
        dataset = env["dataset"]
        writer = env.get("origin", env["sender"])
        outcomes = []
        for index, (record, report) in enumerate(zip(env["records"], reports)):
            outcome, merged = self._decide(dataset, record, index, writer, report)
            outcomes.append(RecordOutcome(index, outcome, merged, _valid_key(dataset, record, index, merged)))
        return build_ack(env, own_id=self.own_id, request_hash=request_hash, t_ref=t_ref, envelope_report=env_report,
                         received=len(env["records"]), outcomes=outcomes)

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
        elif verdict.outcome is Outcome.HELD:
            self.state.hold(dataset, tuple(record[m] for m in Dataset(dataset).key_members), record)
        return verdict.outcome, merged


def _valid_key(dataset: str, record: Any, index: int, report: Report) -> dict[str, Any]:
    if not isinstance(record, dict):
        return {}
    members = Dataset(dataset).key_members
    bad = {f.location for f in report.items if f.severity.value == "ERROR"}
    if all(m in record and f"/records/{index}/{m}" not in bad for m in members):
        return {m: record[m] for m in members}
    return {}


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
