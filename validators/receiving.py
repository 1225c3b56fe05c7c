"""The receiving pipeline of TBS-1.0: decide → validate → state → acknowledge (§7.2).

Stateful mode (TBS-RPT-009) adds to the stateless envelope checks the rules that need the
receiver's memory, identity, clock and partner profile: TBS-SEC-005 (replay), TBS-SEC-002
(authenticated sender), TBS-SEC-004 (dataset authorization), TBS-ENV-023 (am I the receiver?),
TBS-SEC-006 (freshness), TBS-SEC-007 and TBS-ENV-028 (signatures). :func:`receive_envelope`
runs them all and asks a :class:`RecordState` for the outcome of each record (S5 and its
effect) and a :class:`ReplayMemory` for processed messageIds. The bus
(``tongban.sync.receiver``) passes the store, the conformance kit's reference receiver passes
memory; the rest is this one function, so both answer the same envelope with the same
acknowledgement (TBS-RPT-010).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Callable, Iterable, Mapping, Protocol, Sequence

from tongban.connectors.base import ReceivedBody, ServiceError
from tongban.model.codes import system_id_ok
from tongban.model.clock import CST
from tongban.model.datasets import SENDING_ROLE, Dataset
from tongban.validators.checks import parse_date_time
from tongban.validators.context import REFERENCE_ALLOWLIST, ValidationContext
from tongban.validators.engine import validate_envelope
from tongban.validators.report import Finding, Report, Severity, render_value
from tongban.validators.rules import make_finding
from tongban.validators.stateful import Outcome

SKEW = timedelta(seconds=300)
LONG_SKEW = timedelta(hours=24)  # FILE and MQTT may arrive a day late (TBS-SEC-006)
MAX_RECORDS = 1000  # TBS-SEC-009: counts never exceed it
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def is_uuid(value: Any) -> bool:
    return isinstance(value, str) and _UUID.fullmatch(value) is not None


@dataclass
class SenderProfile:
    """What the receiver's partner profile says about one sender."""

    roles: tuple[str, ...] = ("CATALOG_PROVIDER",)
    keys: dict[str, tuple[str, bytes]] = field(default_factory=dict)  # keyId -> (alg, key)
    require_signature: bool = False
    spec_version: str = "TBS-1.0"
    # the versions the receiver accepts from this sender (TBS-1.1 TBS-ENV-021/-029): each envelope is
    # validated under the version it names when that is one of them; empty: spec_version alone
    spec_versions: tuple[str, ...] = ()
    # the systems this sender may name as ``origin`` (TBS-SEC-011 read with the relay
    # relations of the partner profiles); None when the receiver knows no relay relations
    relays_for: frozenset[str] | None = None


@dataclass(frozen=True)
class Remembered:
    """A processed messageId (TBS-SEC-005)."""

    sender: str
    request_hash: str
    ack: dict[str, Any]


class ReplayMemory(Protocol):
    """Processed messageIds: the store's ``seen_messages`` in the bus, a dict in the kit."""

    def recall(self, message_id: str) -> Remembered | None: ...
    def remember(self, message_id: str, entry: Remembered, t_ref: datetime) -> None: ...


class RecordState(Protocol):
    """S5 and its effect: the outcome and full report of each record of an accepted envelope,
    in array order, each record seeing the effect of the earlier ones (TBS-SYNC-003).
    ``reports`` are the records' stateless S1–S4 reports; ``received`` the body the records
    were parsed from (the bus quarantines a rejected record's text as received)."""

    def accept(self, dataset: str, records: list[Any], reports: list[Report], *, sender: str, writer: str,
               sent_at: str, request_hash: str, context: ValidationContext,
               received: ReceivedBody | None = None) -> list[tuple[Outcome, Report]]: ...


@dataclass
class MemoryReplay:
    """A :class:`ReplayMemory` in a dict (no expiry: the kit's sessions are short)."""

    entries: dict[str, Remembered] = field(default_factory=dict)

    def recall(self, message_id: str) -> Remembered | None:
        return self.entries.get(message_id)

    def remember(self, message_id: str, entry: Remembered, t_ref: datetime) -> None:
        self.entries[message_id] = entry


@dataclass(frozen=True)
class Reception:
    """What :func:`receive_envelope` did: the acknowledgement, and whether it is a stored one."""

    ack: dict[str, Any]
    replayed: bool
    received: int


EnvelopeRules = Callable[..., list[Finding]]


def receive_envelope(envelope: Any, *, own_id: str, profiles: Mapping[str, SenderProfile], memory: ReplayMemory,
                     state: RecordState, t_ref: datetime, binding: str, request_hash: str,
                     authenticated_sender: str | None, binding_dataset: str | None = None,
                     topic_region: str | None = None, binding_findings: Sequence[Finding] = (),
                     allowlist: frozenset[str] = REFERENCE_ALLOWLIST,
                     envelope_rules: EnvelopeRules | None = None,
                     received: ReceivedBody | None = None) -> Reception:
    """One envelope through the pipeline. Refusals before any content is processed raise
    :class:`ServiceError` (TBS-SEC-002, -004: 403; TBS-SEC-005: 409); everything else is
    answered with an acknowledgement. The acknowledgement of an envelope not refused at envelope
    level is remembered under its messageId: a refused one (a forged signature, a wrong binding)
    must not squat the messageId of the real envelope."""
    env = envelope if isinstance(envelope, dict) else {}
    message_id, sender = env.get("messageId"), env.get("sender")
    # decide: replay, then the identity and the roles of the sender
    if is_uuid(message_id):
        seen = memory.recall(message_id)
        if seen is not None:
            if seen.request_hash == request_hash:
                return Reception(seen.ack, True, seen.ack.get("counts", {}).get("received", 0))
            raise ServiceError(409, "MESSAGE_ID_CONFLICT", "messageId already used for another request",
                               rule_id="TBS-SEC-005")
    profile = profiles.get(sender) if isinstance(sender, str) else None
    authorize(env, profile, authenticated_sender)
    # validate: S0–S4 and the receiver's own envelope rules
    keys = {(sender, k): v for k, v in profile.keys.items()} if profile is not None else {}
    context = ValidationContext(spec=profile.spec_version if profile else "TBS-1.0",
                                spec_versions=profile.spec_versions if profile else (), allowlist=allowlist,
                                keys=keys, binding=binding, binding_dataset=binding_dataset,
                                topic_region=topic_region,
                                require_signature=bool(profile and profile.require_signature)
                                or binding in ("FILE", "MQTT"))
    verdict = validate_envelope(envelope, context=context, binding_findings=binding_findings)
    if verdict.spec_version and verdict.spec_version != context.spec:   # TBS-ENV-029: the envelope's version
        context = replace(context, spec=verdict.spec_version)
    env_report = Report(list(verdict.envelope_report.items))
    if isinstance(envelope, dict):
        env_report.extend((envelope_rules or receiver_findings)(
            envelope, env_report, own_id=own_id, binding=binding, t_ref=t_ref,
            sender_has_keys=bool(profile and profile.keys)))
        env_report.extend(origin_findings(envelope, env_report, profile))
    records = env.get("records")
    count = min(len(records), MAX_RECORDS) if isinstance(records, list) else 0
    # state: S5 per record, only for an envelope accepted whole from a known sender
    outcomes = None
    if not env_report.errors and profile is not None:
        dataset = env["dataset"]
        decided = state.accept(dataset, records, verdict.record_reports, sender=sender, writer=env.get("origin") or sender,
                               sent_at=env["sentAt"], request_hash=request_hash, context=context,
                               received=received)
        outcomes = [RecordOutcome(i, outcome, report, valid_key(dataset, records[i], i, report))
                    for i, (outcome, report) in enumerate(decided)]
    # acknowledge, and remember it (TBS-SEC-005: processed = not refused at envelope level)
    ack = build_ack(env, own_id=own_id, request_hash=request_hash, t_ref=t_ref, envelope_report=env_report,
                    received=count, outcomes=outcomes, spec_version=context.spec)
    if is_uuid(message_id) and not env_report.errors:
        memory.remember(message_id, Remembered(sender if isinstance(sender, str) else "", request_hash, ack), t_ref)
    return Reception(ack, False, count)


def authorize(env: dict[str, Any], profile: SenderProfile | None, authenticated: str | None) -> None:
    """TBS-SEC-002 and -004, refused before any content is processed (REST and SOAP: 403).

    TBS-SEC-002 compares the authenticated identity with ``sender`` and needs a binding that
    authenticated someone; a sender without a partner profile has no role, which is TBS-SEC-004.
    """
    sender = env.get("sender")
    if not isinstance(sender, str):
        return  # no sender to judge: the envelope's own findings reject it
    if authenticated is not None and authenticated != sender:
        raise ServiceError(403, "FORBIDDEN", "the envelope sender is not the authenticated system",
                           rule_id="TBS-SEC-002")
    dataset = env.get("dataset")
    if isinstance(dataset, str) and dataset in SENDING_ROLE and (
            profile is None or SENDING_ROLE[dataset] not in profile.roles):
        raise ServiceError(403, "FORBIDDEN", f"no role of {sender} permits dataset {dataset}",
                           rule_id="TBS-SEC-004")


def origin_findings(env: dict[str, Any], report: Report, profile: SenderProfile | None) -> list[Finding]:
    """TBS-SEC-011 read with the relay relations: ``origin`` may only name a system the sender
    relays for; an unknown ``origin`` is refused. Without this a county could claim a province
    ``origin`` and write outside its region (TBS-SEC-003) or fields it does not own (TBS-SYNC-009)."""
    origin, sender = env.get("origin"), env.get("sender")
    if not isinstance(origin, str) or not isinstance(sender, str) or profile is None or profile.relays_for is None:
        return []
    if any(f.rule_id == "TBS-SEC-011" and f.severity is Severity.ERROR for f in report.items):
        return []  # already refused statelessly (origin equals sender, other branch)
    if origin in profile.relays_for:
        return []
    why = f"the partner profiles have no relay relation: {sender} does not relay for {origin}"
    return [Finding(Severity.ERROR, "TBS-SEC-011", "/origin", f"origin 不是发送方可代为转发的系统：{why}",
                    f"origin is not a system the sender relays for: {why}", render_value(origin))]


def valid_key(dataset: str, record: Any, index: int, report: Report) -> dict[str, Any]:
    """The record's business-key members, when every one is present and has no ERROR (§7.2)."""
    if not isinstance(record, dict):
        return {}
    members = Dataset(dataset).key_members
    bad = {f.location for f in report.items if f.severity.value == "ERROR"}
    if all(m in record and f"/records/{index}/{m}" not in bad for m in members):
        return {m: record[m] for m in members}
    return {}


@dataclass(frozen=True)
class RecordOutcome:
    """One record's outcome (§13.2) with its full report and valid business key."""

    index: int
    outcome: Outcome
    report: Report
    key: dict[str, Any] | None = None


def receiver_findings(env: dict[str, Any], report: Report, *, own_id: str, binding: str, t_ref: datetime,
                      sender_has_keys: bool) -> list[Finding]:
    """The stateful envelope rules, each skipped when the member it reads already has an ERROR."""
    bad = {f.location for f in report.items if f.severity.value == "ERROR"}
    out: list[Finding] = []
    receiver = env.get("receiver")
    if "/receiver" not in bad and isinstance(receiver, str) and (
            receiver == env.get("sender") or (receiver != own_id and not (receiver == "*" and binding == "MQTT"))):
        out.append(make_finding("TBS-ENV-023", "/receiver", f"this is {own_id}", f"本系统为 {own_id}", receiver))
    sent_at = env.get("sentAt")
    if "/sentAt" not in bad and isinstance(sent_at, str):
        instant = parse_date_time(sent_at)
        back = LONG_SKEW if binding in ("FILE", "MQTT") else SKEW
        if instant is not None and (instant > t_ref + SKEW or instant < t_ref - back):
            out.append(make_finding("TBS-SEC-006", "/sentAt", "outside the accepted window", "超出允许的时间窗口",
                                    sent_at))
    integrity = env.get("integrity")
    signature = integrity.get("signature") if isinstance(integrity, dict) else None
    key_id = signature.get("keyId") if isinstance(signature, dict) else None
    if isinstance(key_id, str) and not sender_has_keys and not any(loc.startswith("/integrity/signature")
                                                                   for loc in bad):
        out.append(make_finding("TBS-ENV-028", "/integrity/signature/keyId", "no key is bound to this sender",
                                "未为该发送方配置密钥", key_id))
    return out


def build_ack(env: Any, *, own_id: str, request_hash: str, t_ref: datetime, envelope_report: Report,
              received: int, outcomes: Iterable[RecordOutcome] | None,
              spec_version: str = "TBS-1.0") -> dict[str, Any]:
    """The acknowledgement of §7.2, written in ``spec_version`` (TBS-1.1 TBS-ENV-029: the version
    the envelope was validated under). ``outcomes`` is None when the envelope was rejected whole."""
    counts = {"received": received, "stored": 0, "duplicate": 0, "stale": 0, "held": 0, "rejected": 0}
    rejected: list[dict[str, Any]] = []
    notes: list[dict[str, Any]] = []
    if outcomes is None or envelope_report.errors:
        counts["rejected"] = received  # TBS-ENV-030: rejected = received, the array stays empty
    else:
        for o in outcomes:
            entry: dict[str, Any] = {"index": o.index}
            if o.key:
                entry["key"] = o.key
            if o.outcome is Outcome.REJECTED:
                counts["rejected"] += 1
                rejected.append({**entry, "report": o.report.to_json()})
            else:
                counts[o.outcome.value.lower()] += 1
                if o.report.items:
                    notes.append({**entry, "outcome": o.outcome.value, "report": o.report.to_json()})
    status = ("REJECTED" if envelope_report.errors or (received and counts["rejected"] == received)
              else "PARTIAL" if counts["rejected"] else "ACCEPTED")  # TBS-ENV-032
    ack: dict[str, Any] = {"specVersion": spec_version}
    if isinstance(env, dict) and is_uuid(env.get("messageId")):
        ack["requestMessageId"] = env["messageId"]
    ack["requestHash"] = request_hash
    ack["sender"] = own_id
    if isinstance(env, dict) and isinstance(env.get("sender"), str) and system_id_ok(env["sender"]):
        ack["receiver"] = env["sender"]
    ack.update({"receivedAt": t_ref.astimezone(CST).isoformat(timespec="seconds"), "status": status,
                "final": counts["held"] == 0, "envelopeReport": envelope_report.to_json(), "counts": counts,
                "accepted": counts["stored"] + counts["duplicate"] + counts["stale"] + counts["held"],
                "rejected": rejected, "notes": notes})
    return ack

