"""The gateway's MQTT side: one subscriber per registered MQTT sender, on the broker its registry
entry names (``endpoint``), all handing envelopes to the gateway's service.

The bus connects once per broker with its own identity (client identifier = the bus's
``systemCode``, TBS-SEC-001; a persistent session, TBS-MQTT-001, so what arrives while the
gateway is down waits for it) and subscribes to ``tbs/v1/{region}/{dataset}`` for each MQTT
sender's region and the datasets its roles send; acknowledgements go to the bus's own ack topic
(TBS-MQTT-007). A message is acknowledged to the broker (PUBACK) only after its envelope was
stored and its acknowledgement queued; a message arriving during shutdown is left
unacknowledged, and the broker delivers it again to the next gateway.

Only one gateway process subscribes at a time (a broker keeps one connection per client
identifier): the others wait for the store lock ``gateway/mqtt`` and take over when its holder
ends, however it ends.
"""
from __future__ import annotations

import logging
import os
import threading
from collections import defaultdict
from typing import Any

import paho.mqtt.client as paho

from tongban.connectors.mqtt.connection import MqttConnection, MqttSettings
from tongban.connectors.mqtt.subscriber import MqttSubscriber
from tongban.registry import Registry, Transport
from tongban.store.locks import AlreadyRunning, feed_lock
from tongban.store.store import Store

from .service import GatewayService

log = logging.getLogger(__name__)

LOCK_NAME = ("gateway", "mqtt")
STANDBY_RETRY_S = 2.0


class DrainingSubscriber(MqttSubscriber):
    """A subscriber that, once draining, takes no new message (left for redelivery) and lets
    :meth:`wait_idle` wait for the one in progress."""

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.draining = threading.Event()
        self._busy = threading.Lock()

    def handle_message(self, message: paho.MQTTMessage) -> bool:
        with self._busy:
            if self.draining.is_set():
                return False  # not PUBACKed: the broker delivers it again
            return super().handle_message(message)

    def wait_idle(self) -> None:
        self.draining.set()
        with self._busy:
            pass


class GatewayMqtt:
    def __init__(self, store: Store, registry: Registry, service: GatewayService, config: Any) -> None:
        self.store = store
        self.registry = registry
        self.service = service
        self.config = config
        self.connections: list[MqttConnection] = []
        self.subscribers: list[DrainingSubscriber] = []
        self.active = threading.Event()
        self._standby = threading.Event()  # another process holds the MQTT lock
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="tongban-gateway-mqtt", daemon=True)
        # broker endpoint -> region -> datasets its registered senders send
        self.plan: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
        self.ca_files: dict[str, str | None] = {}
        for p in registry.partners:
            if p.transport is Transport.MQTT:
                self.plan[p.endpoint][p.system_region].update(p.datasets)
                self.ca_files.setdefault(p.endpoint, p.ca_file)

    def start(self) -> "GatewayMqtt":
        self._thread.start()
        return self

    def _settings(self, url: str) -> MqttSettings:
        cfg = self.config
        password = os.environ.get(cfg.mqtt_password_env) if cfg.mqtt_password_env else None
        if cfg.mqtt_password_env and password is None:
            log.warning("%s is not set: connecting to %s without a password", cfg.mqtt_password_env, url)
        return MqttSettings(url, self.registry.bus.system_id, ca_file=cfg.mqtt_ca or self.ca_files.get(url),
                            cert_file=cfg.mqtt_cert, key_file=cfg.mqtt_key, password=password)

    def _run(self) -> None:
        # Standby until this process holds the lock; then subscribe until stopped.
        while not self._stop.is_set():
            try:
                with feed_lock(self.store, *LOCK_NAME):
                    self._subscribe()
                    self._stop.wait()
                    self._drain()
                return
            except AlreadyRunning:
                self._standby.set()
                self._stop.wait(STANDBY_RETRY_S)
            except Exception:  # noqa: BLE001 - the store is away: retry, stay out of the brokers meanwhile
                log.exception("MQTT side of the gateway failed; retrying")
                self._drain()
                self._stop.wait(STANDBY_RETRY_S)

    def _subscribe(self) -> None:
        for url, regions in self.plan.items():
            connection = MqttConnection(self._settings(url))
            self.connections.append(connection)
            for region, datasets in sorted(regions.items()):
                subscriber = DrainingSubscriber(connection, self.service, datasets=sorted(datasets), regions=(region,))
                self.subscribers.append(subscriber)
                subscriber.start()
            log.info("MQTT: subscribed on %s for %s", connection.endpoint, ", ".join(sorted(regions)))
        self.active.set()

    def _drain(self) -> None:
        self.active.clear()
        for subscriber in self.subscribers:
            subscriber.wait_idle()
        for connection in self.connections:
            try:
                connection.close()
            except Exception:  # noqa: BLE001
                log.exception("closing %s failed", connection.endpoint)
        self.subscribers.clear()
        self.connections.clear()

    def wait_subscribed(self, timeout: float) -> bool:
        """True once this process subscribes and every broker granted the subscriptions."""
        import time

        deadline = time.monotonic() + timeout
        if not self.active.wait(timeout):
            return False
        return all(c.wait_subscribed(max(0.0, deadline - time.monotonic())) for c in list(self.connections))

    def problems(self) -> dict[str, str]:
        if not self.active.is_set() and not self._standby.is_set():
            return {"mqtt": "not subscribed yet"}
        if not self.active.is_set():
            return {}  # standby: another process subscribes; HTTP is served here all the same
        problems = {}
        for c in list(self.connections):
            if not c.is_connected:
                problems[f"mqtt {c.endpoint}"] = c.refusal or "not connected"
            elif not c.wait_subscribed(0):
                problems[f"mqtt {c.endpoint}"] = "subscriptions not granted yet"
        return problems

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)
