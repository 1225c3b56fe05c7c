"""Partner registry entry → connector. Choosing a connector is data, not an if-chain."""
from __future__ import annotations

import importlib
from typing import Any, Callable

from tongban.connectors.base import Connector
from tongban.registry import PartnerConfig, Transport


def _rest(partner: PartnerConfig, bus_id: str, **kw: Any) -> Connector:
    from tongban.connectors.rest.client import RestConnector

    kw.setdefault("retries", partner.retries)
    return RestConnector(partner.endpoint, sender=bus_id, token=partner.credentials.token(),
                         spec_version=partner.spec_version, verify=partner.ca_file or True, **kw)


def _soap(partner: PartnerConfig, bus_id: str, **kw: Any) -> Connector:
    module = importlib.import_module("tongban.connectors.soap.client")
    kw.setdefault("retries", partner.retries)
    return module.SoapConnector(partner.endpoint, sender=bus_id, token=partner.credentials.token(),
                                verify=partner.ca_file or True, **kw)


FACTORIES: dict[Transport, Callable[..., Connector]] = {
    Transport.REST: _rest,
    Transport.SOAP: _soap,
}


def open_connector(partner: PartnerConfig, bus_id: str, **kw: Any) -> Connector:
    try:
        factory = FACTORIES[partner.transport]
    except KeyError:
        raise ValueError(f"{partner.id}: transport {partner.transport.value!r} has no changes feed to pull; "
                         "its records arrive by push (file drop, MQTT)") from None
    return factory(partner, bus_id, **kw)
