"""``tongban gateway``: run the bus's inbound service until SIGTERM or SIGINT."""
from __future__ import annotations

import logging
import signal
import threading

import click

from tongban.console import err, fail, out
from tongban.registry import Registry, RegistryError, Transport, load_registry, registry_path, watch_registry
from tongban.registry_cli import partners_option


@click.command("gateway")
@partners_option
@click.option("--host", default="127.0.0.1", show_default=True, help="address to listen on")
@click.option("--port", type=int, default=8443, show_default=True, help="port of the REST and SOAP endpoints")
@click.option("--tls-cert", type=click.Path(dir_okay=False), help="PEM certificate chain of the gateway (HTTPS)")
@click.option("--tls-key", type=click.Path(dir_okay=False), help="PEM key of --tls-cert")
@click.option("--client-ca", type=click.Path(dir_okay=False),
              help="mutual TLS: ask clients for a certificate of this CA (bound to partners by client_certificates)")
@click.option("--insecure-http", is_flag=True, help="plain HTTP instead of HTTPS, for development only")
@click.option("--public-url", help="the address partners use, written into the served WSDL and OpenAPI")
@click.option("--reuse-port", is_flag=True, help="let several gateway processes serve the same port")
@click.option("--graceful-timeout", type=float, default=30.0, show_default=True,
              help="seconds the requests in flight get to finish on shutdown")
@click.option("--mqtt/--no-mqtt", default=True, show_default=True, help="subscribe for the registry's MQTT senders")
@click.option("--filedrop/--no-filedrop", default=True, show_default=True,
              help="watch the registry's file-drop partners' drop roots")
@click.option("--poll-interval", type=float, default=2.0, show_default=True, help="seconds between file-drop passes")
@click.option("--mqtt-password-env", help="NAME of the environment variable holding the bus's broker password (mqtts)")
@click.option("--mqtt-cert", type=click.Path(dir_okay=False), help="the bus's client certificate for the broker")
@click.option("--mqtt-key", type=click.Path(dir_okay=False), help="the key of --mqtt-cert")
@click.option("--mqtt-ca", type=click.Path(dir_okay=False), help="CA of the broker (default: the partner's ca_file)")
@click.option("--anchor-interval", type=float, default=60.0, show_default=True,
              help="seconds between appends of the ledger head to bus.ledger_anchor_file (when set)")
@click.option("--log-level", type=click.Choice(["debug", "info", "warning", "error"]), default="info",
              show_default=True)
def gateway_command(partners_file: str | None, host: str, port: int, tls_cert: str | None, tls_key: str | None,
                    client_ca: str | None, insecure_http: bool, public_url: str | None, reuse_port: bool,
                    graceful_timeout: float, mqtt: bool, filedrop: bool, poll_interval: float,
                    mqtt_password_env: str | None, mqtt_cert: str | None, mqtt_key: str | None, mqtt_ca: str | None,
                    anchor_interval: float, log_level: str) -> None:
    """Serve pushes to the bus: REST POST, SOAP PushBatch, MQTT and file drop, until SIGTERM."""
    from tongban.conformance.admission import is_admitted
    from tongban.gateway.runtime import Gateway, GatewayConfig, GatewayConfigError
    from tongban.store.cli import open_store

    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)  # /readyz reads the schema revision on every probe
    try:
        registry = load_registry(partners_file)
    except RegistryError as exc:
        fail(str(exc))
    config = GatewayConfig(host=host, port=port, tls_cert=tls_cert, tls_key=tls_key, client_ca=client_ca,
                           insecure_http=insecure_http, public_url=public_url, reuse_port=reuse_port,
                           graceful_timeout=graceful_timeout, mqtt=mqtt, filedrop=filedrop,
                           poll_interval=poll_interval, mqtt_password_env=mqtt_password_env, mqtt_cert=mqtt_cert,
                           mqtt_key=mqtt_key, mqtt_ca=mqtt_ca, anchor_interval=anchor_interval, log_level="warning" if log_level == "info" else log_level)
    try:
        config.tls()  # a missing certificate is reported before the store is opened or migrated
    except GatewayConfigError as exc:
        fail(str(exc))
    stop = threading.Event()
    # Handlers first: a SIGTERM during start-up still ends in a clean stop.
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    gateway = Gateway(open_store(), registry, config,
                      admission=is_admitted if registry.bus.admission == "enforce" else None)
    try:
        gateway.start()
    except GatewayConfigError as exc:
        fail(str(exc))
    except OSError as exc:
        fail(f"cannot listen on {host}:{port}: {exc.strerror or exc}")
    kinds = {t: sum(p.transport is t for p in registry.partners) for t in Transport}
    out.print(f"gateway {registry.bus.system_id} listening on {gateway.url} "
              f"(REST {gateway.url}/tbs/v1/{{dataset}}, SOAP {gateway.url}/tbs/v1/soap); "
              f"MQTT senders {kinds[Transport.MQTT] if mqtt else 'off'}, "
              f"file-drop partners {kinds[Transport.FILEDROP] if filedrop else 'off'}; "
              f"admission {registry.bus.admission}; store {gateway.store.display_url}", soft_wrap=True)
    def rebind(changed: Registry) -> None:  # the partners' client certificates: a rotation needs no restart
        bound = gateway.rebind_client_certificates(changed)
        if bound is not None:
            out.print(f"registry re-read: {bound} client certificate(s) bound")

    def refused(exc: Exception) -> None:
        err.print(f"registry changed but not re-read (the bound client certificates stay): {exc}", soft_wrap=True)

    try:
        watch_registry(registry_path(partners_file), stop, 1.0, rebind, refused)
    finally:
        out.print("gateway stopping: finishing the envelopes in flight")
        gateway.stop()
        out.print("gateway stopped")

