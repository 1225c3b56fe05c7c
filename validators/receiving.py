"""What only a receiver can check, and the acknowledgement it answers with (TBS-1.0 §7.2).

Stateful mode (TBS-RPT-009) adds to the stateless envelope checks the rules that need the
receiver's identity, clock and partner profile: TBS-ENV-023 (am I the receiver?), TBS-SEC-006
(freshness) and TBS-ENV-028 for a signature whose key the profile does not hold. The bus's
receiver (``tongban.sync.receiver``) and the conformance kit's reference receiver share these
and :func:`build_ack`, so both answer the same envelope with equivalent acknowledgements
(TBS-RPT-010).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Iterable

from tongban.model.clock import CST
from tongban.validators.checks import parse_date_time
from tongban.validators.report import Finding, Report
from tongban.validators.rules import make_finding
from tongban.validators.stateful import Outcome

SKEW = timedelta(seconds=300)
LONG_SKEW = timedelta(hours=24)  # FILE and MQTT may arrive a day late (TBS-SEC-006)


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
              received: int, outcomes: Iterable[RecordOutcome] | None) -> dict[str, Any]:
    """The acknowledgement of §7.2. ``outcomes`` is None when the envelope was rejected whole."""
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
    ack: dict[str, Any] = {"specVersion": "TBS-1.0"}
    if isinstance(env, dict) and _is_uuid(env.get("messageId")):
        ack["requestMessageId"] = env["messageId"]
    ack["requestHash"] = request_hash
    ack["sender"] = own_id
    if isinstance(env, dict) and isinstance(env.get("sender"), str):
        from tongban.model.codes import system_id_ok

        if system_id_ok(env["sender"]):
            ack["receiver"] = env["sender"]
    ack.update({"receivedAt": t_ref.astimezone(CST).isoformat(timespec="seconds"), "status": status,
                "final": counts["held"] == 0, "envelopeReport": envelope_report.to_json(), "counts": counts,
                "accepted": counts["stored"] + counts["duplicate"] + counts["stale"] + counts["held"],
                "rejected": rejected, "notes": notes})
    return ack


def _is_uuid(value: Any) -> bool:
    import re

    return isinstance(value, str) and re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
                                                   value) is not None
