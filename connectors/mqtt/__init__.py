"""The MQTT binding of TBS-1.0 §18: envelopes on ``tbs/v1/{regionCode}/{dataset}``, QoS 1.

``MqttConnection`` is the one connection of a system (client id = ``systemCode``);
``MqttPublisher`` and ``OutboxDrainer`` send, ``MqttConnector`` pushes and waits for the ack, ``MqttSubscriber`` consumes and acknowledges,
``EmbeddedBroker`` is the in-process broker of the demo and the tests.
"""
from .broker import EmbeddedBroker
from .connection import MqttConnection, MqttSettings
from .connector import MqttConnector
from .publisher import DrainResult, EnvelopePublisher, InMemoryOutbox, MqttPublisher, OutboxDrainer, OutboxSource
from .subscriber import InMemorySeenMessages, MqttSubscriber, SeenMessage, SeenMessages, SubscriberStats

__all__ = ["EmbeddedBroker", "MqttConnection", "MqttSettings", "MqttConnector", "MqttPublisher", "EnvelopePublisher",
           "OutboxSource", "InMemoryOutbox", "OutboxDrainer", "DrainResult", "MqttSubscriber",
           "SeenMessages", "SeenMessage", "InMemorySeenMessages", "SubscriberStats"]
