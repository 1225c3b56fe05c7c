"""Each binding carries only the capabilities it can honour (pull a feed, push, receive pushes)."""
from __future__ import annotations

import inspect

import pytest

from tongban.connectors.base import Connector, Feed, Inbox, Pusher
from tongban.connectors.filedrop.connector import FileDropConnector
from tongban.connectors.filedrop.inbox import FileDropInbox
from tongban.connectors.mqtt.connector import MqttConnector
from tongban.connectors.rest.client import RestConnector
from tongban.connectors.soap.client import SoapConnector

# capability → the binding classes that must have it (and no other class may)
EXPECTED = {
    Feed: {RestConnector, SoapConnector},
    Pusher: {RestConnector, SoapConnector, FileDropConnector, MqttConnector},
    Inbox: {FileDropInbox},
}
CLASSES = (RestConnector, SoapConnector, FileDropConnector, MqttConnector, FileDropInbox)


def _has(cls: type, protocol: type) -> bool:
    members = {"meta", "fetch_changes"} if protocol is Feed else {"push"} if protocol is Pusher else {"collect"}
    return all(callable(getattr(cls, m, None)) for m in members)


@pytest.mark.parametrize("protocol", list(EXPECTED), ids=lambda p: p.__name__)
def test_capabilities_per_binding(protocol):
    assert {cls for cls in CLASSES if _has(cls, protocol)} == EXPECTED[protocol]


def test_connector_is_pull_and_push():
    assert {Feed, Pusher} <= set(Connector.__mro__)


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_no_method_only_raises(cls):
    """A transport never carries a method whose whole body is ``raise`` (\"not supported\")."""
    for name, member in vars(cls).items():
        if not inspect.isfunction(member):
            continue
        body = [line.strip() for line in inspect.getsource(member).splitlines()[1:]]
        body = [line for line in body if line and not line.startswith(("#", '"""'))]
        assert not (body and body[0].startswith("raise ") and len(body) <= 2), f"{cls.__name__}.{name} only raises"
