"""Real brokers for the MQTT tests: the embedded amqtt broker always, Mosquitto when
TONGBAN_TEST_MQTT_URL is set (every test runs against both), and a Mosquitto with TLS,
passwords, client certificates and an ACL when TONGBAN_TEST_MQTTS_URL is set (.ci/run
starts it from tests/data/mqtts/systems.txt)."""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Callable, Iterator
from urllib.parse import urlsplit

import pytest

from tongban.connectors.mqtt import EmbeddedBroker

from mqtt_support import Pair, TcpRelay, make_pair

MOSQUITTO_URL = os.environ.get("TONGBAN_TEST_MQTT_URL")
MQTTS_URL = os.environ.get("TONGBAN_TEST_MQTTS_URL")
MQTTS_SKIP = pytest.mark.skipif(not MQTTS_URL, reason="TONGBAN_TEST_MQTTS_URL is not set: the TLS Mosquitto "
                                                      "tests run in CI (.ci/run starts that broker)")


@dataclass
class BrokerUnderTest:
    kind: str
    url: str
    take_down: Callable[[], None]
    bring_up: Callable[[], None]

    @property
    def host(self) -> str:
        return urlsplit(self.url).hostname or "127.0.0.1"

    @property
    def port(self) -> int:
        return urlsplit(self.url).port or 1883


def _nothing() -> None:
    raise RuntimeError("this broker cannot be taken down; use the stoppable_broker fixture")


BROKERS = [
    "amqtt",
    pytest.param("mosquitto", marks=[pytest.mark.mqtt, pytest.mark.skipif(
        not MOSQUITTO_URL, reason="TONGBAN_TEST_MQTT_URL is not set: Mosquitto tests skipped")]),
]


@pytest.fixture(scope="session")
def tls_broker():
    """The TLS Mosquitto of .ci/run (skips with the reason when it is not configured)."""
    if not MQTTS_URL:
        pytest.skip("TONGBAN_TEST_MQTTS_URL is not set: the TLS Mosquitto tests run in CI (.ci/run starts it)")
    from tls_broker import TlsBroker

    return TlsBroker.from_environment()


@pytest.fixture(scope="module")
def _embedded_broker() -> Iterator[EmbeddedBroker]:
    with EmbeddedBroker() as broker:
        yield broker


@pytest.fixture(params=BROKERS)
def broker(request) -> BrokerUnderTest:
    if request.param == "amqtt":
        embedded = request.getfixturevalue("_embedded_broker")
        return BrokerUnderTest("amqtt", embedded.url, _nothing, _nothing)
    return BrokerUnderTest("mosquitto", MOSQUITTO_URL, _nothing, _nothing)


@pytest.fixture
def mosquitto_broker() -> BrokerUnderTest:
    """Mosquitto alone: for what the embedded broker cannot do (MQTT 5)."""
    if not MOSQUITTO_URL:
        pytest.skip("TONGBAN_TEST_MQTT_URL is not set: Mosquitto tests run in CI (.ci/run)")
    return BrokerUnderTest("mosquitto", MOSQUITTO_URL, _nothing, _nothing)


@pytest.fixture(params=BROKERS)
def stoppable_broker(request) -> Iterator[BrokerUnderTest]:
    """A broker the test may take down and bring up again on the same address: a private
    embedded broker, or a loopback relay in front of Mosquitto."""
    if request.param == "amqtt":
        embedded = EmbeddedBroker().start()
        yield BrokerUnderTest("amqtt", embedded.url, embedded.stop, embedded.start)
        embedded.stop()
    else:
        target = urlsplit(MOSQUITTO_URL)
        relay = TcpRelay(target.hostname or "127.0.0.1", target.port or 1883).start()
        yield BrokerUnderTest("mosquitto", f"mqtt://127.0.0.1:{relay.port}", relay.stop, relay.start)
        relay.stop()


@pytest.fixture
def pair(broker) -> Iterator[Pair]:
    made, close = make_pair(broker)
    yield made
    close()
