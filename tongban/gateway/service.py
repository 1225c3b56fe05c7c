"""What every gateway binding hands an envelope to: admission, then the one receiving pipeline.

Admission (TBS-CONF-008) is the gate ``tongban sync`` applies before a pull, applied to a push:
the sender must hold a current CONFORMANT certificate for the role that sends the dataset, at
its spec version, over the binding the envelope arrives on (a certificate over REST admits no
SOAP, file-drop or MQTT traffic). A push that fails it is refused before any content is
processed — 403 ``FORBIDDEN`` over REST and SOAP (a ``soap:Client`` fault), a REJECTED
acknowledgement over MQTT, each with rule id TBS-SEC-004 (a role the partner profile grants only
once it is admitted; TBS-CONF-* ids are outside the ruleId pattern of error bodies and reports,
TBS-REST-009, §19.1) and a message naming TBS-CONF-008 and the missing certificate — and is neither stored nor
remembered, so the same envelope is processed once the partner is certified. Everything else is
the bus receiver's (:class:`~tongban.sync.receiver.BusReceiver`): validation, S5, store, ledger
and acknowledgement in one transaction. Every call runs in a worker thread, never on the event
loop (the REST and SOAP servers, the MQTT network thread and the file-drop watcher call it so).
"""
from __future__ import annotations

import logging
from typing import Any, Callable, Sequence

from tongban.connectors.base import ReceivedBody, ServiceError
from tongban.model.datasets import SENDING_ROLE
from tongban.registry import Registry
from tongban.store.store import Store
from tongban.sync.receiver import BusReceiver, InFrontOfReceiver

from .metrics import GatewayMetrics

log = logging.getLogger(__name__)

Admission = Callable[[Store, str, str, str, str], bool]
"""(store, system id, role, spec version, binding) → admitted? (``tongban.conformance.admission.is_admitted``)"""

UNKNOWN_PARTNER = "unknown"


class NotAdmitted(ServiceError):
    """TBS-CONF-008 refused a push: 403 ``FORBIDDEN`` with rule id TBS-SEC-004 (see the module
    docstring), counted as ``NOT_ADMITTED``."""

    def __init__(self, message: str) -> None:
        super().__init__(403, "FORBIDDEN", message, rule_id="TBS-SEC-004")


class GatewayService(InFrontOfReceiver):
    """A :class:`~tongban.connectors.base.SystemService` for the gateway's bindings."""

    def __init__(self, receiver: BusReceiver, *, admission: Admission | None,
                 metrics: GatewayMetrics | None = None) -> None:
        super().__init__(receiver)
        self.registry: Registry = receiver.registry
        self.store: Store = receiver.store
        self.admission = admission
        self.metrics = metrics or GatewayMetrics()

    @property
    def system_id(self) -> str:
        return self.receiver.system_id

    def check_admission(self, sender: Any, dataset: Any, binding: str, spec_version: Any = None) -> None:
        """Raise :class:`NotAdmitted` unless ``sender`` may send ``dataset`` over ``binding`` in
        the version the envelope names (``spec_version``, when both sides support it; otherwise the
        version exchanged with the sender, TBS-ENV-034), TBS-CONF-008. A sender or dataset the
        registry does not know is left to the pipeline (TBS-SEC-004)."""
        if self.admission is None or self.registry.bus.admission != "enforce":
            return
        if not isinstance(sender, str) or not isinstance(dataset, str) or dataset not in SENDING_ROLE:
            return
        try:
            partner = self.registry.get(sender)
        except KeyError:
            return
        role = SENDING_ROLE[dataset]
        if role not in {getattr(r, "value", r) for r in partner.roles}:
            return  # TBS-SEC-004 refuses it in the pipeline, with its own rule
        own = self.registry.bus.spec_versions
        version = partner.spec_version
        if own:
            from tongban.sync.versions import exchange_version

            version = spec_version if spec_version in own and spec_version in partner.versions else \
                exchange_version(own, partner.versions) or version
        if not self.admission(self.store, partner.id, role, version, binding):
            from tongban.conformance.admission import binding_of

            how = (f"tongban conformance run --partner {partner.id} --role {role} --record"
                   if binding_of(partner.transport) == binding else
                   f"tongban conformance run over {binding} for {partner.id}, role {role}, with --record")
            raise NotAdmitted(f"not admitted (TBS-CONF-008): {partner.id} holds no current CONFORMANT certificate for "
                              f"{role} over {binding} at {version}; the push is refused, nothing is stored. "
                              f"Certify and record it: {how}")

    def partner_label(self, sender: Any) -> str:
        """The metrics label of a sender: a registered partner's id, else ``unknown`` (a label
        per forged sender name would let anyone grow the metrics without bound)."""
        if isinstance(sender, str):
            try:
                return self.registry.get(sender).id
            except KeyError:
                pass
        return UNKNOWN_PARTNER

    def receive(self, envelope: dict[str, Any], *, binding: str, request_hash: str,
                authenticated_sender: str | None, binding_dataset: str | None = None,
                topic_region: str | None = None, binding_findings: Sequence[Any] = (),
                received: ReceivedBody | None = None) -> dict[str, Any]:
        env = envelope if isinstance(envelope, dict) else {}
        sender = authenticated_sender or env.get("sender")
        dataset = env.get("dataset") if isinstance(env.get("dataset"), str) else binding_dataset
        partner = self.partner_label(sender)
        try:
            self.check_admission(sender, dataset, binding, env.get("specVersion"))
            ack = self.receiver.receive(envelope, binding=binding, request_hash=request_hash,
                                        authenticated_sender=authenticated_sender, binding_dataset=binding_dataset,
                                        topic_region=topic_region, binding_findings=binding_findings,
                                        received=received)
        except ServiceError as err:
            self.metrics.refused(partner, binding, "NOT_ADMITTED" if isinstance(err, NotAdmitted) else err.code)
            if isinstance(err, NotAdmitted):
                log.warning("%s push refused: %s", binding, err.message)
            raise
        except Exception:
            self.metrics.refused(partner, binding, "INTERNAL_ERROR")
            raise
        self.metrics.acknowledged(partner, binding, str(dataset or "?"), ack)
        return ack
