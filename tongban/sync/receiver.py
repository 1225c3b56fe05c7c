"""The bus's receiving side: the :class:`SystemService` every inbound server (REST POST, SOAP
PushBatch, file drop, MQTT) hands envelopes to.

One envelope, one transaction: stateless S0–S4 (the validators), the stateful envelope rules
(TBS-ENV-023, TBS-SEC-002, -004, -005, -006), S5 per record through the ingestor, the
acknowledgement (§7.2), the replay memory and the ledger entry are committed together, and
the acknowledgement is returned only after that commit (TBS-SYNC-012).
"""
from __future__ import annotations

import json
from typing import Any, Sequence

from tongban.connectors.base import ServiceError
from tongban.model.datasets import ROLE_SENDS, SENDING_ROLE
from tongban.registry import PartnerConfig, Registry
from tongban.store.schema import SeenMessage
from tongban.store.store import Store, dumps, utcnow
from tongban.sync import ledger
from tongban.sync.ingest import Ingestor
from tongban.validators import ValidationContext, validate_envelope
from tongban.validators.receiving import RecordOutcome, build_ack, receiver_findings
from tongban.validators.report import Finding, Report, Severity, render_value

STORE_BUSY_RETRY_AFTER_S = 5


class BusReceiver:
    """Receives envelopes addressed to the bus (``registry.bus.system_id``)."""

    def __init__(self, store: Store, registry: Registry, *, clock=utcnow) -> None:
        self.store = store
        self.registry = registry
        self.clock = clock
        store.ledger_key = registry.bus.ledger_key() or store.ledger_key

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
        raise ServiceError(404, "NOT_FOUND", "the bus serves no changes feed", rule_id="TBS-REST-003")

    def get_ack(self, message_id: str, caller: str) -> dict[str, Any] | None:
        with self.store.reading() as s:
            row = s.get(SeenMessage, message_id)
            return json.loads(row.ack) if row is not None and row.sender == caller else None

    def receive(self, envelope: dict[str, Any], *, binding: str, request_hash: str,
                authenticated_sender: str | None, binding_dataset: str | None = None,
                topic_region: str | None = None, binding_findings: Sequence[Finding] = ()) -> dict[str, Any]:
        from sqlalchemy.exc import OperationalError

        try:
            return self._receive(envelope, binding=binding, request_hash=request_hash,
                                 authenticated_sender=authenticated_sender, binding_dataset=binding_dataset,
                                 topic_region=topic_region, binding_findings=binding_findings)
        except OperationalError as exc:
            # A busy (locked) or unreachable store: nothing was committed; the sender retries
            # (503 with Retry-After, TBS-REST-008, TBS-SEC-013). The SQL is not echoed (TBS-SEC-012).
            raise ServiceError(503, "UNAVAILABLE", f"the store is busy or unreachable ({type(exc.orig).__name__}); "
                               "retry later", rule_id="TBS-REST-008", retry_after=STORE_BUSY_RETRY_AFTER_S) from None

    def _receive(self, envelope: dict[str, Any], *, binding: str, request_hash: str,
                 authenticated_sender: str | None, binding_dataset: str | None,
                 topic_region: str | None, binding_findings: Sequence[Finding]) -> dict[str, Any]:
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
            self._authorize(envelope, partner, authenticated_sender)
            context = ValidationContext(
                spec=partner.spec_version if partner else "TBS-1.0", keys=self._keys(partner), binding=binding,
                binding_dataset=binding_dataset, topic_region=topic_region,
                allowlist=frozenset(self.registry.bus.uscc_allowlist),
                require_signature=binding in ("FILE", "MQTT"))
            verdict = validate_envelope(envelope, context=context, binding_findings=binding_findings)
            env_report = Report(list(verdict.envelope_report.items))
            if verdict.envelope is not None:
                env_report.extend(receiver_findings(verdict.envelope, env_report, own_id=self.system_id,
                                                    binding=binding, t_ref=t_ref,
                                                    sender_has_keys=bool(context.keys)))
                env_report.extend(self._origin_findings(verdict.envelope, env_report))
            records = envelope.get("records") if isinstance(envelope, dict) else None
            received = min(len(records), 1000) if isinstance(records, list) else 0
            outcomes = None
            if not env_report.errors and partner is not None:
                ingest = Ingestor(s, partner_id=partner.id, writer=envelope.get("origin") or sender,
                                  hold_timeout_s=partner.hold_timeout_seconds, context=context,
                                  envelope_sha256=request_hash, announce_as=self.system_id)
                result = ingest.ingest(envelope["dataset"], records, reports=verdict.record_reports,
                                       sent_at=envelope["sentAt"])
                outcomes = [RecordOutcome(r.index, r.outcome, r.report, r.key) for r in result.results]
            ack = build_ack(envelope, own_id=self.system_id, request_hash=request_hash, t_ref=t_ref,
                            envelope_report=env_report, received=received, outcomes=outcomes)
            ledger.append(s, direction="IN", sender=sender if isinstance(sender, str) else "?",
                          receiver=self.system_id, binding=binding,
                          dataset=str(envelope.get("dataset", "?"))[:16] if isinstance(envelope, dict) else "?",
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

    def _origin_findings(self, env: dict[str, Any], report: Report) -> list[Finding]:
        """TBS-SEC-011 read with the registry: ``origin`` may only name a system the registry
        says the sender relays for (:meth:`Registry.relays_for`); an unknown ``origin`` is
        refused. Without this a county could claim a province ``origin`` and write outside its
        region (TBS-SEC-003) or fields it does not own (TBS-SYNC-009)."""
        origin, sender = env.get("origin"), env.get("sender")
        if not isinstance(origin, str) or not isinstance(sender, str):
            return []
        if any(f.rule_id == "TBS-SEC-011" and f.severity is Severity.ERROR for f in report.items):
            return []  # already refused statelessly (origin equals sender, other branch)
        if self.registry.relays_for(sender, origin):
            return []
        known = any(p.id == origin for p in self.registry.partners)
        why = (f"the registry has no relay relation: {sender} does not relay for {origin}" if known
               else f"{origin} is not a registered system")
        return [Finding(Severity.ERROR, "TBS-SEC-011", "/origin", f"origin 不是发送方可代为转发的系统：{why}",
                        f"origin is not a system the sender relays for: {why}", render_value(origin))]

    def _authorize(self, env: Any, partner: PartnerConfig | None, authenticated: str | None) -> None:
        """TBS-SEC-002 and -004: REST and SOAP answer 403 before any content is processed."""
        sender = env.get("sender") if isinstance(env, dict) else None
        if not isinstance(sender, str):
            return  # no sender to judge: the envelope's own findings reject it
        if partner is None or (authenticated is not None and authenticated != sender):
            raise ServiceError(403, "FORBIDDEN", f"{sender!r} is not a registered partner authenticated as itself",
                               rule_id="TBS-SEC-002")
        dataset = env.get("dataset")
        if dataset in SENDING_ROLE and not any(dataset in ROLE_SENDS.get(r.value, ()) for r in partner.roles):
            raise ServiceError(403, "FORBIDDEN", f"no role of {sender} permits dataset {dataset}",
                               rule_id="TBS-SEC-004")
