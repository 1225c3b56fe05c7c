"""Partner registry entry → connector. Choosing a connector is data, not an if-chain.

``open_source`` gives what the sync engine reads a partner's records from: a
:class:`~tongban.connectors.base.Feed` to pull (REST, SOAP) or an
:class:`~tongban.connectors.base.Inbox` to collect (file drop). ``open_connector`` gives a
client that also pushes (publication to a REST or SOAP partner, health probes).
"""
from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any, Callable

from tongban.connectors.base import Connector, Feed, Inbox
from tongban.registry import PartnerConfig, Transport


def _rest(partner: PartnerConfig, bus_id: str, **kw: Any) -> Connector:
    from tongban.connectors.rest.client import RestConnector

    kw.setdefault("retries", partner.retries)
    return RestConnector(partner.endpoint, sender=bus_id, token=partner.credentials.token(),
                         spec_version=partner.spec_version, verify=partner.ca_file or True,
                         cert=_client_cert(partner), **kw)


def _client_cert(partner: PartnerConfig) -> tuple[str, str] | None:
    """The bus's client certificate for this partner (mutual TLS, TBS-SEC-001), if configured."""
    if partner.client_cert_file and partner.client_key_file:
        return partner.client_cert_file, partner.client_key_file
    return None


def _soap(partner: PartnerConfig, bus_id: str, **kw: Any) -> Connector:
    module = importlib.import_module("tongban.connectors.soap.client")
    kw.setdefault("retries", partner.retries)
    return module.SoapConnector(partner.endpoint, sender=bus_id, token=partner.credentials.token(),
                                spec_version=partner.spec_version, verify=partner.ca_file or True,
                                cert=_client_cert(partner), **kw)


def _filedrop(partner: PartnerConfig, bus_id: str, **kw: Any) -> Inbox:
    from tongban.connectors.filedrop.inbox import FileDropInbox

    return FileDropInbox(Path(partner.endpoint), own_id=bus_id, owner=partner.id)


FACTORIES: dict[Transport, Callable[..., Connector]] = {
    Transport.REST: _rest,
    Transport.SOAP: _soap,
}

SOURCES: dict[Transport, Callable[..., Feed | Inbox]] = {**FACTORIES, Transport.FILEDROP: _filedrop}


def _open(table: dict[Transport, Callable[..., Any]], partner: PartnerConfig, bus_id: str, why_not: str,
          **kw: Any) -> Any:
    try:
        factory = table[partner.transport]
    except KeyError:
        raise ValueError(f"{partner.id}: transport {partner.transport.value!r} has {why_not}") from None
    return factory(partner, bus_id, **kw)


def open_connector(partner: PartnerConfig, bus_id: str, **kw: Any) -> Connector:
    return _open(FACTORIES, partner, bus_id, "no changes feed to pull; its records arrive by push (file drop, MQTT)",
                 **kw)


def open_source(partner: PartnerConfig, bus_id: str, **kw: Any) -> Feed | Inbox:
    return _open(SOURCES, partner, bus_id, "neither a changes feed to pull nor an inbox to collect; its records "
                 "arrive on the bus's subscriber", **kw)
