"""One MQTT connection per system, shared by its publisher and its subscriber.

TBS-SEC-001 makes the client identifier the ``systemCode``, and a broker disconnects the
older of two clients with the same identifier. A system that both publishes envelopes
and consumes them (and publishes acknowledgements) must therefore use one connection;
:class:`MqttConnection` is that connection. It wraps a paho-mqtt 2.x client
(``CallbackAPIVersion.VERSION2``) running its network loop in a background thread, keeps
reconnecting while the broker is away, re-subscribes after every connect (a restarted
broker may have lost the session) and turns paho failures into the connector error tree.

Incoming messages are acknowledged to the broker (PUBACK) only after their handler has
returned ``True`` (``manual_ack``): a consumer that crashes mid-envelope gets the message
again (TBS-SYNC-012 applied to MQTT).
"""
from __future__ import annotations

import logging
import ssl
import threading
from dataclasses import dataclass
from typing import Callable
from urllib.parse import unquote, urlsplit

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from tongban.connectors.base import ProtocolError, TransportError

from .topics import system_code_of

__all__ = ["MqttConnection", "MqttSettings", "MessageHandler"]

log = logging.getLogger(__name__)

MessageHandler = Callable[[paho.MQTTMessage], bool]
"""Handles one message; returns True when it may be acknowledged to the broker."""

SESSION_EXPIRY_SECONDS = 24 * 3600 + 300  # TBS-MQTT-001: at least 24 h (plus the skew window)


@dataclass(frozen=True)
class MqttSettings:
    """Where and how to connect. ``url`` is ``mqtt://host[:1883]`` or ``mqtts://host[:8883]``.

    Broker authentication (TBS-SEC-001) is a ``password`` (the user name is the
    ``systemCode``, as the broker's password file has it) or a client certificate
    (``cert_file``/``key_file``, whose CN the broker takes as the user name). A user name
    in the URL must be the ``systemCode``; a password never belongs in the URL (it is
    configuration, handed over from the environment).
    """

    url: str
    system_id: str
    protocol: str = "3.1.1"             # or "5"
    persistent_session: bool = True     # TBS-MQTT-001: clean session 0 / session expiry ≥ 24 h
    keepalive: int = 30
    connect_timeout: float = 5.0        # how long publish waits for a (re)connection
    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    password: str | None = None


class MqttConnection:
    """``with MqttConnection(MqttSettings(url, system_id)) as conn: conn.publish(...)``."""

    def __init__(self, settings: MqttSettings) -> None:
        self.settings = settings
        self.system_id = settings.system_id
        self.client_id = system_code_of(settings.system_id)
        parts = urlsplit(settings.url)
        if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
            raise ValueError(f"not an MQTT url: {settings.url!r}")
        self.host = parts.hostname
        self.port = parts.port or (8883 if parts.scheme == "mqtts" else 1883)
        self.endpoint = f"{parts.scheme}://{self.host}:{self.port}"
        self.mqtt5 = settings.protocol == "5"

        kwargs = {"protocol": paho.MQTTv5} if self.mqtt5 else {
            "protocol": paho.MQTTv311, "clean_session": not settings.persistent_session}
        self._client = paho.Client(CallbackAPIVersion.VERSION2, client_id=self.client_id,
                                   manual_ack=True, **kwargs)
        if parts.password:
            raise ValueError("the broker password belongs in MqttSettings.password, not in the URL")
        if parts.username and unquote(parts.username) != self.client_id:
            raise ValueError(f"the broker user name must be the systemCode {self.client_id!r} (TBS-SEC-001), "
                             f"not {unquote(parts.username)!r}")
        if settings.password is not None:
            self._client.username_pw_set(self.client_id, settings.password)
        elif parts.username:
            self._client.username_pw_set(self.client_id)
        if settings.password is not None and parts.scheme != "mqtts":
            raise ValueError("a broker password is sent only over TLS (mqtts://, TBS-SEC-001)")
        if parts.scheme == "mqtts":
            self._client.tls_set(ca_certs=settings.ca_file, certfile=settings.cert_file,
                                 keyfile=settings.key_file, tls_version=ssl.PROTOCOL_TLS_CLIENT)
        self._client.reconnect_delay_set(min_delay=1, max_delay=5)
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._client.on_connect_fail = self._on_connect_fail
        self._client.on_subscribe = self._on_subscribe
        self._client.on_message = self._on_unrouted

        self._connected = threading.Event()
        self._subscribed = threading.Event()
        self._subscriptions: dict[str, int] = {}     # filter -> QoS
        self._pending_subacks: set[int] = set()
        self._lock = threading.Lock()
        self._started = False
        self.refusal: str | None = None   # why the last connection attempt failed, if it did

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> "MqttConnection":
        """Connect in the background; the loop keeps retrying while the broker is down."""
        if self._started:
            return self
        self._started = True
        if self.mqtt5:
            props = None
            if self.settings.persistent_session:
                props = Properties(PacketTypes.CONNECT)
                props.SessionExpiryInterval = SESSION_EXPIRY_SECONDS
            self._client.connect_async(self.host, self.port, self.settings.keepalive,
                                       clean_start=not self.settings.persistent_session, properties=props)
        else:
            self._client.connect_async(self.host, self.port, self.settings.keepalive)
        self._client.loop_start()
        return self

    def close(self) -> None:
        if not self._started:
            return
        self._started = False
        try:
            self._client.disconnect()
        finally:
            self._client.loop_stop()
            self._connected.clear()

    def __enter__(self) -> "MqttConnection":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def is_connected(self) -> bool:
        return self._connected.is_set()

    def wait_connected(self, timeout: float) -> bool:
        return self._connected.wait(timeout)

    def wait_subscribed(self, timeout: float) -> bool:
        """True once every registered subscription is granted on the current connection."""
        return self._subscribed.wait(timeout)

    # -- paho callbacks (network thread) --------------------------------------------------

    def _on_connect(self, client: paho.Client, userdata: object, flags: paho.ConnectFlags,
                    reason_code: paho.ReasonCode, properties: Properties | None) -> None:
        if reason_code.is_failure:
            self.refusal = str(reason_code)
            log.warning("MQTT connect to %s refused: %s", self.endpoint, reason_code)
            return
        self.refusal = None
        log.info("MQTT connected to %s as %s (session present: %s)", self.endpoint, self.client_id,
                 flags.session_present)
        self._resubscribe()
        self._connected.set()

    def _on_connect_fail(self, client: paho.Client, userdata: object) -> None:
        # TCP or TLS failed (an untrusted broker certificate, a refused client certificate).
        self.refusal = "connection or TLS handshake failed"
        log.warning("MQTT connection to %s failed (TCP or TLS)", self.endpoint)

    def _on_disconnect(self, client: paho.Client, userdata: object, flags: paho.DisconnectFlags,
                       reason_code: paho.ReasonCode, properties: Properties | None) -> None:
        if not self._connected.is_set() and self.refusal is None:
            # Closed before a CONNACK: under TLS 1.3 a refused client certificate shows here.
            self.refusal = f"connection closed during TLS or CONNECT ({reason_code})"
        self._connected.clear()
        self._subscribed.clear()
        log.info("MQTT disconnected from %s: %s", self.endpoint, reason_code)

    def _on_subscribe(self, client: paho.Client, userdata: object, mid: int,
                      reason_codes: list[paho.ReasonCode], properties: Properties | None) -> None:
        if any(rc.is_failure for rc in reason_codes):
            log.error("MQTT subscription refused by %s: %s", self.endpoint, reason_codes)
            return
        with self._lock:
            self._pending_subacks.discard(mid)
            if not self._pending_subacks:
                self._subscribed.set()

    def _on_unrouted(self, client: paho.Client, userdata: object, message: paho.MQTTMessage) -> None:
        client.ack(message.mid, message.qos)  # no handler: nothing to redeliver it for

    def _resubscribe(self) -> None:
        with self._lock:
            self._pending_subacks.clear()
            if not self._subscriptions:
                self._subscribed.set()
                return
            self._subscribed.clear()
            result, mid = self._client.subscribe(list(self._subscriptions.items()))
            if result == paho.MQTT_ERR_SUCCESS and mid is not None:
                self._pending_subacks.add(mid)

    # -- subscribing ----------------------------------------------------------------------

    def subscribe(self, topic_filter: str, handler: MessageHandler, qos: int = 1) -> None:
        """Route messages matching ``topic_filter`` to ``handler``; subscribed on every connect."""
        def route(client: paho.Client, userdata: object, message: paho.MQTTMessage) -> None:
            try:
                acknowledge = handler(message)
            except Exception:  # noqa: BLE001 – never kill the network thread
                log.exception("handler for %s failed; message left unacknowledged", message.topic)
                return
            if acknowledge:
                client.ack(message.mid, message.qos)

        self._client.message_callback_add(topic_filter, route)
        with self._lock:
            self._subscriptions[topic_filter] = qos
        if self.is_connected:
            self._resubscribe()

    # -- publishing -----------------------------------------------------------------------

    def _publish_properties(self, content_type: str | None) -> Properties | None:
        if not (self.mqtt5 and content_type):
            return None
        props = Properties(PacketTypes.PUBLISH)
        props.ContentType = content_type  # TBS-MQTT-004 under MQTT 5
        return props

    def publish(self, topic: str, payload: bytes, *, timeout: float = 10.0,
                content_type: str | None = "application/json") -> None:
        """Publish with QoS 1, RETAIN 0 (TBS-MQTT-003) and wait for the PUBACK.

        Raises :class:`TransportError` when there is no connection within
        ``connect_timeout`` or no PUBACK within ``timeout``. A message that timed out may
        still be delivered later: delivery is at least once, and consumers deduplicate on
        ``messageId`` (TBS-MQTT-005).
        """
        if not self._started:
            raise ProtocolError("connection not started", endpoint=self.endpoint)
        if not self._connected.wait(self.settings.connect_timeout):
            raise TransportError("MQTT broker unreachable", endpoint=self.endpoint)
        info = self._client.publish(topic, payload, qos=1, retain=False,
                                    properties=self._publish_properties(content_type))
        try:
            info.wait_for_publish(timeout)
            published = info.is_published()
        except (RuntimeError, ValueError) as exc:
            raise TransportError(f"MQTT publish failed: {exc}", endpoint=self.endpoint) from exc
        if not published:
            raise TransportError(f"no PUBACK within {timeout} s", endpoint=self.endpoint)

    def publish_nowait(self, topic: str, payload: bytes, *, content_type: str | None = "application/json") -> None:
        """Queue a QoS 1 publish without waiting: for use from inside a message handler,
        where waiting would block the very thread that receives the PUBACK."""
        self._client.publish(topic, payload, qos=1, retain=False, properties=self._publish_properties(content_type))
