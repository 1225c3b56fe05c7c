"""The bus's receiving side: the :class:`SystemService` every inbound server (REST POST, SOAP
PushBatch, file drop, MQTT) hands envelopes to.

One envelope, one transaction: stateless S0–S4 (the validators), the stateful envelope rules
(TBS-ENV-023, TBS-SEC-002, -004, -005, -006), S5 per record through the ingestor, the
acknowledgement (§7.2), the replay memory and the ledger entry are committed together, and
the acknowledgement is returned only after that commit (TBS-SYNC-012).
"""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any, Sequence

from sqlalchemy.orm import Session

from tongban.connectors.base import ServiceError
from tongban.model.codes import parse_system_id
from tongban.registry import ROLE_DATASETS, PartnerConfig, Registry
from tongban.store.schema import SeenMessage
from tongban.store.store import Store, dumps, utcnow
from tongban.sync import ledger
from tongban.sync.ingest import Ingestor, IngestResult
from tongban.validators import ValidationContext, validate_envelope
from tongban.validators.report import Finding, Report, Severity
from tongban.validators.stateful import Outcome

CST = timezone(timedelta(hours=8))
SKEW = timedelta(seconds=300)
LATE = {"REST": SKEW, "SOAP": SKEW, "FILE": timedelta(hours=24), "MQTT": timedelta(hours=24)}

_ENV_MESSAGES = {
    "TBS-ENV-023": ("接收方标识错误", "receiver is not this system, or sender equals receiver"),
    "TBS-SEC-002": ("认证身份与发送方不一致", "the authenticated identity is not the envelope's sender"),
    "TBS-SEC-004": ("发送方未获授权提交该数据集", "the sender's roles do not permit this dataset"),
    "TBS-SEC-006": ("发送时间超出允许范围", "sentAt is outside the freshness window"),
}


def _finding(rule: str, location: str, value: Any = None) -> Finding:
    zh, en = _ENV_MESSAGES[rule]
    return Finding(Severity.ERROR, rule, location, zh, en, None if value is None else str(value)[:200])


def _stamp(t: datetime) -> str:
    return t.astimezone(CST).isoformat(timespec="seconds")


class BusReceiver:
    """Receives envelopes addressed to the bus (``registry.bus.system_id``)."""

    def __init__(self, store: Store, registry: Registry, *, clock=utcnow) -> None:
        self.store = store
        self.registry = registry
        self.clock = clock

    @property
    def system_id(self) -> str:
        return self.registry.bus.system_id

    # -- SystemService ----------------------------------------------------------------------
    def meta(self) -> dict[str, Any]:
        return {"systemId": self.system_id, "roles": ["CATALOG_CONSUMER"],
                "datasets": ["case", "case-event", "catalog", "evaluation", "result"],
                "specVersions": ["TBS-1.0"], "bindings": ["REST", "SOAP", "FILE", "MQTT"],
                "limits": {"maxRecords": 1000, "maxBodyBytes": 16 * 1024 * 1024}}

    def changes(self, dataset: str, since: str | None, limit: int) -> dict[str, Any]:
        raise ServiceError(404, "NOT_FOUND", "the bus serves no changes feed")

    def get_ack(self, message_id: str, caller: str) -> dict[str, Any] | None:
        with self.store.reading() as s:
            row = s.get(SeenMessage, message_id)
            return json.loads(row.ack) if row is not None and row.sender == caller else None

    def receive(self, envelope: dict[str, Any], *, binding: str, request_hash: str,
                authenticated_sender: str | None, binding_dataset: str | None = None,
                topic_region: str | None = None, binding_findings: Sequence[Finding] = ()) -> dict[str, Any]:
        t_ref = self.clock()
        sender = envelope.get("sender") if isinstance(envelope, dict) else None
        partner = self._partner(sender)
        message_id = envelope.get("messageId") if isinstance(envelope, dict) else None
        with self.store.transaction() as s:
            if isinstance(message_id, str):
                seen = s.get(SeenMessage, message_id)
                if seen is not None:  # TBS-SEC-005: replay
                    if seen.request_hash == request_hash:
                        return json.loads(seen.ack)
                    raise ServiceError(409, "MESSAGE_ID_CONFLICT", "messageId already used for another request",
                                       rule_id="TBS-SEC-005")
            context = ValidationContext(
                spec=partner.spec_version if partner else "TBS-1.0", keys=self._keys(partner), binding=binding,
                binding_dataset=binding_dataset, topic_region=topic_region,
                allowlist=frozenset(self.registry.bus.uscc_allowlist),
                require_signature=binding in ("FILE", "MQTT"))
            verdict = validate_envelope(envelope, context=context, binding_findings=binding_findings)
            env_report = Report(list(verdict.envelope_report.items))
            if verdict.envelope is not None:
                env_report.extend(self._stateful_envelope(verdict.envelope, partner, authenticated_sender,
                                                          binding, t_ref))
            records = envelope.get("records") if isinstance(envelope, dict) else None
            received = len(records) if isinstance(records, list) else 0
            if env_report.errors or partner is None:
                ack = self._ack(envelope, request_hash, t_ref, env_report, received, None)
            else:
                dataset = envelope["dataset"]
                writer = envelope.get("origin") or sender
                ingest = Ingestor(s, partner_id=partner.id, writer=writer,
                                  hold_timeout_s=partner.hold_timeout_seconds, context=context,
                                  envelope_sha256=request_hash, announce_as=self.system_id)
                result = ingest.ingest(dataset, records, reports=verdict.record_reports, sent_at=envelope["sentAt"])
                ack = self._ack(envelope, request_hash, t_ref, env_report, received, result)
            ledger.append(s, direction="IN", sender=sender if isinstance(sender, str) else "?",
                          receiver=self.system_id, dataset=str(envelope.get("dataset", "?"))[:16], binding=binding,
                          envelope_sha256=request_hash, record_count=received, verdict=ack["status"],
                          counts=ack["counts"], message_id=message_id if isinstance(message_id, str) else None)
            if isinstance(message_id, str) and isinstance(sender, str) and not env_report.errors:
                s.add(SeenMessage(message_id=message_id, sender=sender, request_hash=request_hash, ack=dumps(ack),
                                  received_at=t_ref))
        return ack

    # -- helpers ----------------------------------------------------------------------------
    def _partner(self, sender: Any) -> PartnerConfig | None:
        if not isinstance(sender, str):
            return None
        try:
            return self.registry.get(sender)
        except KeyError:
            return None

    @staticmethod
    def _keys(partner: PartnerConfig | None) -> dict[tuple[str, str], tuple[str, bytes]]:
        if partner is None or not partner.credentials.key_id:
            return {}
        key = partner.credentials.hmac_key()
        return {(partner.id, partner.credentials.key_id): ("HMAC-SHA256", key)} if key else {}

    def _stateful_envelope(self, env: dict[str, Any], partner: PartnerConfig | None, authenticated: str | None,
                           binding: str, t_ref: datetime) -> list[Finding]:
        found: list[Finding] = []
        receiver, sender = env.get("receiver"), env.get("sender")
        if (receiver != self.system_id and not (binding == "MQTT" and receiver == "*")) or receiver == sender:
            found.append(_finding("TBS-ENV-023", "/receiver", receiver))
        if partner is None or (authenticated is not None and authenticated != sender):
            found.append(_finding("TBS-SEC-002", "/sender", sender))
        elif not any(env.get("dataset") in ROLE_DATASETS[r] for r in partner.roles):
            found.append(_finding("TBS-SEC-004", "/dataset", env.get("dataset")))
        try:
            sent = datetime.fromisoformat(env["sentAt"])
            if sent > t_ref + SKEW or sent < t_ref - LATE.get(binding, SKEW):
                found.append(_finding("TBS-SEC-006", "/sentAt", env["sentAt"]))
        except (KeyError, TypeError, ValueError):
            pass  # an invalid sentAt is already an S0 finding
        return found

    def _ack(self, env: Any, request_hash: str, t_ref: datetime, env_report: Report, received: int,
             result: IngestResult | None) -> dict[str, Any]:
        counts = {"received": received, "stored": 0, "duplicate": 0, "stale": 0, "held": 0, "rejected": received}
        rejected: list[dict[str, Any]] = []
        notes: list[dict[str, Any]] = []
        if result is not None and not env_report.errors:
            c = result.counts
            counts = {"received": received, "stored": c.stored, "duplicate": c.duplicate, "stale": c.stale,
                      "held": c.held, "rejected": received - c.stored - c.duplicate - c.stale - c.held}
            for rr in result.results:
                entry: dict[str, Any] = {"index": rr.index}
                if rr.key:
                    entry["key"] = rr.key
                entry["report"] = rr.report.to_json()
                if rr.outcome is Outcome.REJECTED:
                    rejected.append(entry)
                elif rr.report.items:
                    notes.append({**entry, "outcome": rr.outcome.value})
        status = ("REJECTED" if env_report.errors or (received and counts["rejected"] == received)
                  else "PARTIAL" if counts["rejected"] else "ACCEPTED")
        ack: dict[str, Any] = {"specVersion": "TBS-1.0"}
        if isinstance(env, dict) and isinstance(env.get("messageId"), str):
            ack["requestMessageId"] = env["messageId"]
        ack["requestHash"] = request_hash
        ack["sender"] = self.system_id
        if isinstance(env, dict) and isinstance(env.get("sender"), str) and parse_system_id(env["sender"]):
            ack["receiver"] = env["sender"]
        ack.update({"receivedAt": _stamp(t_ref), "status": status, "final": counts["held"] == 0,
                    "envelopeReport": env_report.to_json(), "counts": counts,
                    "accepted": received - counts["rejected"], "rejected": rejected, "notes": notes})
        return ack
