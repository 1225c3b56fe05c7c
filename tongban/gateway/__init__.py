"""``tongban gateway``: the bus's inbound service (REST POST, SOAP PushBatch, MQTT, file drop).

Every binding hands envelopes to one :class:`~tongban.gateway.service.GatewayService`: the
admission gate (TBS-CONF-008, per role and binding), then the bus receiver's one receiving
pipeline (validate → state → store → acknowledge, with the ledger), counted per partner and
outcome. :mod:`tongban.gateway.runtime` runs the servers, :mod:`tongban.gateway.cli` the command.
"""
