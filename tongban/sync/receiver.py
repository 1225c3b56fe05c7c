"""The bus's receiving side: the :class:`SystemService` every inbound server (REST POST, SOAP
PushBatch, file drop, MQTT) hands envelopes to.

The receiving pipeline is the one the conformance kit's reference receiver runs
(:func:`tongban.validators.receiving.receive_envelope`); this module only adapts the store to
its small interfaces: the registry as sender profiles, ``seen_messages`` as the replay memory,
the ingestor as the record state. One envelope, one transaction: S5 per record, the
acknowledgement (§7.2), the replay memory and the ledger entry are committed together, and the
acknowledgement is returned only after that commit (TBS-SYNC-012).
"""
from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Iterator, Mapping, Sequence

from sqlalchemy.orm import Session

from tongban.connectors.base import ReceivedBody, ServiceError
from tongban.model.datasets import CONSUMER_ROLE, DATASETS
from tongban.registry import PartnerConfig, Registry
from tongban.store.locks import serialize_writes
from tongban.store.schema import SeenMessage
from tongban.store.store import Store, dumps, utcnow
from tongban.sync import ledger
from tongban.sync.ingest import Ingestor
from tongban.sync.outbox import announcement_versions
from tongban.sync.versions import exchange_version
from tongban.validators import ValidationContext
from tongban.validators.receiving import Remembered, SenderProfile, receive_envelope
from tongban.validators.report import Finding, Report
from tongban.validators.stateful import Outcome

STORE_BUSY_RETRY_AFTER_S = 5
# A push waits at most this long for a store another writer holds, then answers 503 with
# Retry-After (TBS-REST-008): well inside the 30 s TBS-REST-011 gives a server to answer.
PUSH_LOCK_WAIT_S = 5.0


class BusReceiver:
    """Receives envelopes addressed to the bus (``registry.bus.system_id``)."""

    def __init__(self, store: Store, registry: Registry, *, clock=utcnow,
                 lock_wait_s: float | None = PUSH_LOCK_WAIT_S) -> None:
        """``lock_wait_s``: how long one envelope waits for a busy store before it is refused
        as UNAVAILABLE (None: as long as the store's own busy timeout, for batch work)."""
        self.store = store
        self.registry = registry
        self.clock = clock
        self.lock_wait_s = lock_wait_s
        store.ledger_key = registry.bus.ledger_key() or store.ledger_key
        self.profiles = RegistryProfiles(registry)

    @property
    def system_id(self) -> str:
        return self.registry.bus.system_id

    @property
    def spec_versions(self) -> tuple[str, ...]:
        """The versions the bus accepts and answers in (TBS-1.1 TBS-REST-002): ``bus.spec_versions``."""
        return tuple(self.registry.bus.spec_versions) or ("TBS-1.0",)

    # -- SystemService ----------------------------------------------------------------------
    def meta(self) -> dict[str, Any]:
        return {"systemId": self.system_id, "roles": [CONSUMER_ROLE], "datasets": sorted(DATASETS),
                "specVersions": list(self.registry.bus.spec_versions or ("TBS-1.0",)), "bindings": ["REST", "SOAP", "FILE", "MQTT"],
                "limits": {"maxRecords": 1000, "maxBodyBytes": 16 * 1024 * 1024}}

    def changes(self, dataset: str, since: str | None, limit: int, version: str | None = None) -> dict[str, Any]:
        raise ServiceError(404, "NOT_FOUND", "the bus serves no changes feed", rule_id="TBS-REST-003")

    def get_ack(self, message_id: str, caller: str) -> dict[str, Any] | None:
        with self.store.reading() as s:
            row = s.get(SeenMessage, message_id)
            return json.loads(row.ack) if row is not None and row.sender == caller else None

    def receive(self, envelope: dict[str, Any], *, binding: str, request_hash: str,
                authenticated_sender: str | None, binding_dataset: str | None = None,
                topic_region: str | None = None, binding_findings: Sequence[Finding] = (),
                received: ReceivedBody | None = None) -> dict[str, Any]:
        from sqlalchemy.exc import IntegrityError, OperationalError

        try:
            return self._receive(envelope, binding=binding, request_hash=request_hash,
                                 authenticated_sender=authenticated_sender, binding_dataset=binding_dataset,
                                 topic_region=topic_region, binding_findings=binding_findings, received=received)
        except (OperationalError, IntegrityError) as exc:
            # IntegrityError: a writer that does not take the write lock raced this one
            # (nothing of this envelope was committed; the retry is answered from the store).
            # A busy (locked) or unreachable store: nothing was committed; the sender retries
            # (503 with Retry-After, TBS-REST-008, TBS-SEC-013). The SQL is not echoed (TBS-SEC-012).
            raise ServiceError(503, "UNAVAILABLE", f"the store is busy or unreachable ({type(exc.orig).__name__}); "
                               "retry later", rule_id="TBS-REST-008", retry_after=STORE_BUSY_RETRY_AFTER_S) from None

    def _receive(self, envelope: dict[str, Any], *, binding: str, request_hash: str,
                 authenticated_sender: str | None, binding_dataset: str | None,
                 topic_region: str | None, binding_findings: Sequence[Finding],
                 received: ReceivedBody | None) -> dict[str, Any]:
        t_ref = self.clock()
        with self.store.transaction(lock_wait_s=self.lock_wait_s) as s:
            # Several gateway processes on one PostgreSQL store take turns per envelope: the
            # replay lookup, the records and the ledger entry see every envelope committed before.
            serialize_writes(s)
            reception = receive_envelope(
                envelope, own_id=self.system_id, profiles=self.profiles, memory=StoreReplay(s),
                state=StoreRecords(s, self.registry, announce_as=self.system_id), t_ref=t_ref, binding=binding,
                request_hash=request_hash, authenticated_sender=authenticated_sender,
                binding_dataset=binding_dataset, topic_region=topic_region, binding_findings=binding_findings,
                allowlist=frozenset(self.registry.bus.uscc_allowlist), received=received)
            if not reception.replayed:
                env = envelope if isinstance(envelope, dict) else {}
                sender, message_id = env.get("sender"), env.get("messageId")
                ack = reception.ack
                ledger.append(s, direction="IN", sender=sender if isinstance(sender, str) else "?",
                              receiver=self.system_id, dataset=str(env.get("dataset", "?"))[:16], binding=binding,
                              envelope_sha256=request_hash, record_count=reception.received, verdict=ack["status"],
                              counts=ack["counts"], message_id=message_id if isinstance(message_id, str) else None)
        return reception.ack



class InFrontOfReceiver:
    """A :class:`SystemService` that stands in front of the bus receiver: meta, changes and
    acknowledgements are the receiver's; a subclass adds its own step to ``receive``."""

    def __init__(self, receiver: BusReceiver) -> None:
        self.receiver = receiver

    @property
    def spec_versions(self) -> tuple[str, ...]:
        return self.receiver.spec_versions

    def meta(self) -> dict[str, Any]:
        return self.receiver.meta()

    def changes(self, dataset: str, since: str | None, limit: int, version: str | None = None) -> dict[str, Any]:
        return self.receiver.changes(dataset, since, limit, version)

    def get_ack(self, message_id: str, caller: str) -> dict[str, Any] | None:
        return self.receiver.get_ack(message_id, caller)


# -- the store behind the receiving pipeline's small interfaces --------------------------------
class RegistryProfiles(Mapping[str, SenderProfile]):
    """The registry's partners as the pipeline's sender profiles."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry

    def __getitem__(self, sender: str) -> SenderProfile:
        try:
            return profile_of(self.registry.get(sender), self.registry)
        except KeyError:
            raise KeyError(sender) from None

    def __iter__(self) -> Iterator[str]:
        return iter(p.id for p in self.registry.partners)

    def __len__(self) -> int:
        return len(self.registry.partners)


def profile_of(partner: PartnerConfig, registry: Registry) -> SenderProfile:
    """A partner's profile; it relays for the systems whose relay chain reaches it
    (:meth:`Registry.relays_for`, TBS-SEC-011)."""
    key = partner.credentials.hmac_key() if partner.credentials.key_id else None
    keys = {partner.credentials.key_id: ("HMAC-SHA256", key)} if key else {}
    relays_for = frozenset(p.id for p in registry.partners if registry.relays_for(partner.id, p.id))
    own = registry.bus.spec_versions
    common = tuple(v for v in own if v in partner.versions)   # TBS-1.1 TBS-ENV-021: what both support
    return SenderProfile(tuple(getattr(r, "value", r) for r in partner.roles), keys,
                         spec_version=exchange_version(own, partner.versions) or own[-1] if own else partner.spec_version,
                         spec_versions=common or (own[-1:] if own else ()), relays_for=relays_for)


class StoreReplay:
    """The pipeline's replay memory in ``seen_messages`` (TBS-SEC-005)."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def recall(self, message_id: str) -> Remembered | None:
        row = self.session.get(SeenMessage, message_id)
        return Remembered(row.sender, row.request_hash, json.loads(row.ack)) if row is not None else None

    def remember(self, message_id: str, entry: Remembered, t_ref: datetime) -> None:
        self.session.add(SeenMessage(message_id=message_id, sender=entry.sender[:64],
                                     request_hash=entry.request_hash, ack=dumps(entry.ack), received_at=t_ref))


class StoreRecords:
    """The pipeline's record state: the ingestor (S5, holds, quarantine, announcements)."""

    def __init__(self, session: Session, registry: Registry, *, announce_as: str) -> None:
        self.session = session
        self.registry = registry
        self.announce_as = announce_as

    def accept(self, dataset: str, records: list[Any], reports: list[Report], *, sender: str, writer: str,
               sent_at: str, request_hash: str, context: ValidationContext,
               received: ReceivedBody | None = None) -> list[tuple[Outcome, Report]]:
        partner = self.registry.get(sender)
        ingest = Ingestor(self.session, partner_id=partner.id, writer=writer,
                          hold_timeout_s=partner.hold_timeout_seconds, context=context,
                          envelope_sha256=request_hash, announce_as=self.announce_as,
                          announce_versions=announcement_versions(self.registry))
        result = ingest.ingest(dataset, records, reports=reports, sent_at=sent_at, received=received)
        return [(r.outcome, r.report) for r in result.results]
