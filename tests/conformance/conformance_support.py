"""Helpers of the conformance-suite tests: serving sandbox systems (correct or defective) over
REST or SOAP on loopback HTTPS, and the session configuration the suite is given."""
from __future__ import annotations

import contextlib
import dataclasses
import threading
import time
from pathlib import Path
from typing import Any, Iterator

from tongban.conformance.defects import KIT
from tongban.conformance.reference_receiver import ReferenceReceiver, SenderProfile
from tongban.conformance.session import SessionConfig
from tongban.connectors.serving import ServerThread
from tongban.sandbox.feed import SandboxService
from tongban.sandbox.systems import SandboxSystem

TOKEN = "conformance-test-token-0123456789abcdef"
ATTESTATIONS = {"ER-04": {"result": "PASS", "statement": "the SUT emits no system default evaluation",
                          "evidence": "sandbox generator: evaluations come only from citizen moods"}}


def without_follow_ups(system: SandboxSystem) -> SandboxSystem:
    """A copy of ``system`` whose evaluation feed lacks every follow-up (assessNo 2): ER-03 then
    has no evidence and is SKIP (the generator gives every system one)."""
    entries = {ds: list(es) for ds, es in system._entries.items()}
    entries["evaluation"] = [e for e in entries["evaluation"] if e[1]["assessNo"] != 2]
    return dataclasses.replace(system, children=list(system.children), _entries=entries)


def reference_service(system: SandboxSystem, binding: str) -> SandboxService:
    receiver = ReferenceReceiver(system.system_id, {KIT: SenderProfile()}) if system.accepts else None
    return SandboxService(system, bindings=(binding,), receiver=receiver)


def make_app(service: Any, binding: str, authenticate: Any = None) -> Any:
    from tongban.connectors.rest.server import create_rest_app, token_table
    from tongban.connectors.soap.server import create_soap_app

    authenticate = authenticate or token_table({TOKEN: KIT})
    factory = create_soap_app if binding == "SOAP" else create_rest_app
    return factory(service, authenticate=authenticate)


@contextlib.contextmanager
def serving(app: Any, tls: Any) -> Iterator[str]:
    with ServerThread(app, tls=tls) as server:
        yield server.url


def config(system: SandboxSystem, url: str, binding: str, tls: Any, documents: Path,
           roles: tuple[str, ...] | None = None, **kw: Any) -> SessionConfig:
    return SessionConfig(system_id=system.system_id, roles=roles or tuple(system.roles), binding=binding,
                         endpoint=url, token=TOKEN, ca_file=str(tls.ca_file), documents_dir=documents,
                         attestations=dict(ATTESTATIONS), **kw)


FILE_KEY_ID = "SANDBOX-K1"
FILE_KEY = b"conformance-file-drop-key-0123456789abcdef"
FILE_ATTESTATIONS = {**ATTESTATIONS, "COM-01": {"result": "PASS", "statement": "one SFTP account per sender"}}


def run_file_push(system: SandboxSystem, root: Path, documents: Path, defect=None, *, wait: float = 40.0):
    """The suite collecting a sandbox system's file-drop pushes (optionally a defect's)."""
    from tongban.conformance.sandbox_sut import FilePushingSystem
    from tongban.conformance.session import Session
    from tongban.conformance.suite import run_suite

    root.mkdir(parents=True, exist_ok=True)
    if defect is None:
        sut = FilePushingSystem(system, root, receiver_id=KIT, key_id=FILE_KEY_ID, key=FILE_KEY)
    else:
        sut = defect.pusher(system, root, receiver_id=KIT, key_id=FILE_KEY_ID, key=FILE_KEY)
    roles = defect.roles if defect is not None else tuple(system.roles)
    cfg = SessionConfig(system_id=system.system_id, roles=roles, binding="FILE", endpoint=str(root),
                        documents_dir=documents, attestations=dict(FILE_ATTESTATIONS),
                        sut_keys={FILE_KEY_ID: FILE_KEY}, wait_seconds=wait, idle_seconds=1.5)
    session = Session(cfg)
    sut.start()
    try:
        run = run_suite(session)
    finally:
        session.close()
        sut.join(30)
    assert sut.error is None, sut.error
    return run, sut


def run_mqtt_push(system: SandboxSystem, broker_url: str, documents: Path, defect=None, *, wait: float = 40.0):
    """The suite subscribing at ``broker_url`` and collecting a sandbox system's MQTT pushes."""
    from tongban.conformance.push import collect
    from tongban.conformance.sandbox_sut import MqttPushingSystem
    from tongban.conformance.session import Session
    from tongban.conformance.suite import run_suite

    if defect is None:
        sut = MqttPushingSystem(system, broker_url, receiver_id=KIT, key_id=FILE_KEY_ID, key=FILE_KEY)
    else:
        sut = defect.mqtt_pusher(system, broker_url, receiver_id=KIT, key_id=FILE_KEY_ID, key=FILE_KEY)
    roles = defect.roles if defect is not None else tuple(system.roles)
    cfg = SessionConfig(system_id=system.system_id, roles=roles, binding="MQTT", endpoint=broker_url,
                        documents_dir=documents, attestations=dict(MQTT_ATTESTATIONS),
                        sut_keys={FILE_KEY_ID: FILE_KEY}, wait_seconds=wait, idle_seconds=1.5)
    session = Session(cfg)
    collecting = threading.Thread(target=collect, args=(session,), daemon=True)
    collecting.start()   # the suite subscribes before the SUT starts publishing (no retained messages)
    time.sleep(0.5)
    sut.start()
    try:
        collecting.join(wait + 10)
        run = run_suite(session)
    finally:
        session.close()
        sut.join(30)
    assert sut.error is None, sut.error
    return run, sut


MQTT_ATTESTATIONS = {**ATTESTATIONS, "COM-01": {"result": "PASS", "statement": "TLS and broker authentication, "
                                                "client identifier = systemCode (broker configuration)"}}


KIT_KEY_ID, KIT_KEY = "KIT-K1", b"conformance-kit-signing-key-0123456789abcd"


@contextlib.contextmanager
def consumer_over(binding: str, system: SandboxSystem, place: Any, receiver: Any = None) -> Iterator[str]:
    """A CATALOG_CONSUMER SUT over MQTT (``place``: a broker URL) or FILE (``place``: its drop
    root): the binding's own consumer in front of a reference receiver that trusts the kit's key."""
    receiver = receiver or ReferenceReceiver(system.system_id, {KIT: SenderProfile(
        ("CATALOG_PROVIDER",), {KIT_KEY_ID: ("HMAC-SHA256", KIT_KEY)}, True)})
    if binding == "MQTT":
        from tongban.connectors.mqtt import MqttConnection, MqttSettings, MqttSubscriber

        connection = MqttConnection(MqttSettings(place, system.system_id, persistent_session=False))
        MqttSubscriber(connection, receiver, datasets=("catalog",)).start()
        assert connection.wait_subscribed(10)
        try:
            yield place
        finally:
            connection.close()
        return
    from tongban.connectors.filedrop import FileDropReceiver

    drops = FileDropReceiver(place, receiver, own_id=system.system_id, owner=KIT, datasets=("catalog",))
    drops.provision()
    stop = threading.Event()

    def scan() -> None:
        while not stop.is_set():
            drops.scan_once()
            stop.wait(0.1)

    scanner = threading.Thread(target=scan, daemon=True)
    scanner.start()
    try:
        yield str(place)
    finally:
        stop.set()
        scanner.join(5)


def run_consumer(system: SandboxSystem, binding: str, endpoint: str, documents: Path):
    from tongban.conformance.session import Session
    from tongban.conformance.suite import run_suite

    cfg = SessionConfig(system_id=system.system_id, roles=("CATALOG_CONSUMER",), binding=binding, endpoint=endpoint,
                        documents_dir=documents, attestations=dict(MQTT_ATTESTATIONS), kit_key=(KIT_KEY_ID, KIT_KEY),
                        wait_seconds=10, idle_seconds=1.0)
    session = Session(cfg)
    try:
        return run_suite(session)
    finally:
        session.close()
