"""The connector protocols, one per thing a TBS-1.0 binding can do.

A connector moves bytes and maps transport faults; it never validates, stores or decides
retries on content (that is the sync engine's job). The bindings do not all do the same
things, so each capability is its own protocol and a transport implements only those it
can honour:

- :class:`Feed` — pull: describe the remote system (``meta``) and read its changes feed
  from a cursor (``fetch_changes``). REST and SOAP.
- :class:`Pusher` — push an envelope and read its acknowledgement (``push``). REST, SOAP,
  file drop and MQTT.
- :class:`Inbox` — receive pushes: hand the envelopes a partner pushed and the bus has not
  yet processed to a :class:`SystemService` (``collect``). File drop.

:class:`Connector` is a client of a binding that does both pull and push (REST, SOAP). The
sync engine chooses by capability: a :class:`Feed` is pulled, an :class:`Inbox` collected.

Error tree (each error carries the hop, the endpoint and, where there is one, the TBS error
code of TBS-REST-009)::

    ConnectorError
    ├── TransportError          retriable: connect/read timeouts, resets, 5xx, broker down
    │   └── RateLimitedError    429 / Server.RateLimited with Retry-After
    └── ProtocolError           fatal: 4xx, malformed response, SOAP Client fault
        └── CursorExpiredError  410 CURSOR_EXPIRED: restart from the beginning
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Protocol, Sequence, runtime_checkable


class ConnectorError(Exception):
    """Root of connector failures. ``retriable`` says whether trying again may help."""

    retriable = False

    def __init__(self, message: str, *, endpoint: str = "", code: str | None = None,
                 status: int | None = None, rule_id: str | None = None) -> None:
        super().__init__(message)
        self.endpoint = endpoint
        self.code = code
        self.status = status
        self.rule_id = rule_id

    def __str__(self) -> str:  # message first, then where
        where = f" [{self.endpoint}]" if self.endpoint else ""
        code = f" {self.code}" if self.code else ""
        return f"{super().__str__()}{code}{where}"


class TransportError(ConnectorError):
    retriable = True


class RateLimitedError(TransportError):
    def __init__(self, message: str, *, retry_after: float | None = None, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.retry_after = retry_after


class ProtocolError(ConnectorError):
    retriable = False


class CursorExpiredError(ProtocolError):
    pass


RecordTexts = Callable[[bytes], "list[str] | None"]


def json_record_texts(data: bytes) -> list[str] | None:
    """The text of each member of the ``records`` array of a JSON body (an envelope or a
    changes page), as received."""
    from tongban.validators.parsing import array_member_texts

    return array_member_texts(data, "records")


@dataclass(frozen=True)
class ReceivedBody:
    """The bytes a binding received, and the binding's way of cutting each record's own text out
    of them, so that a rejected record is quarantined exactly as it arrived: the ``records``
    members of a JSON body (REST, MQTT, changes pages), the lines of a file drop's data file,
    the ``records/item`` elements of a SOAP body."""

    data: bytes
    cut: RecordTexts = json_record_texts

    def record_texts(self) -> list[str] | None:
        """One text per record in array order; None when the body cannot be cut."""
        return self.cut(self.data)


@dataclass(frozen=True)
class ChangesPage:
    """One page of a changes feed (TBS-REST-003): the raw records exactly as received."""

    records: list[Any]
    next_cursor: str
    has_more: bool
    raw: bytes = b""           # response body, for the ledger's sha256
    received_at: str = ""      # T_ref as RFC 3339
    cut: RecordTexts = json_record_texts  # the records' texts in ``raw``
    spec_version: str | None = None  # the version the response is written in, when the binding says (SOAP namespace)

    @property
    def received(self) -> ReceivedBody:
        return ReceivedBody(self.raw, self.cut)


@dataclass(frozen=True)
class PushResult:
    """The acknowledgement of a pushed envelope (TBS-ENV-030) plus transport facts."""

    ack: dict[str, Any]
    request_hash: str | None = None       # X-TB-Request-Hash or the ack's requestHash
    status_code: int | None = None
    extras: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class Feed(Protocol):
    """Pull: a remote system's meta document and changes feeds (REST §15, SOAP §16)."""

    binding: str  # "REST" | "SOAP"

    def meta(self) -> dict[str, Any]: ...

    def fetch_changes(self, dataset: str, since: str | None, limit: int = 100) -> ChangesPage: ...

    def close(self) -> None: ...


@runtime_checkable
class Pusher(Protocol):
    """Push one envelope and return its acknowledgement (TBS-ENV-030)."""

    binding: str  # "REST" | "SOAP" | "FILE" | "MQTT"

    def push(self, envelope: dict[str, Any]) -> PushResult: ...

    def close(self) -> None: ...


@runtime_checkable
class Connector(Feed, Pusher, Protocol):
    """A client of a binding that both serves a feed and takes pushes (REST, SOAP)."""


@runtime_checkable
class Inbox(Protocol):
    """Receive pushes: envelopes a partner left for the bus, collected on demand (file drop §17).

    ``collect`` hands every complete envelope waiting for ``dataset`` to ``service`` (which
    validates, stores and acknowledges) and returns the binding's account of the pass.
    """

    binding: str  # "FILE"

    def collect(self, dataset: str, service: "SystemService") -> Any: ...

    def close(self) -> None: ...


class ServiceError(Exception):
    """An error a serving system answers with (TBS-REST-008/-009, TBS-SOAP-005).

    ``code`` is the REST error code (``BAD_CURSOR``, ``NOT_FOUND``, ``FORBIDDEN`` …) and
    ``status`` its HTTP status; a SOAP server maps 4xx to ``soap:Client`` and 5xx to
    ``soap:Server``.
    """

    def __init__(self, status: int, code: str, message: str, *, rule_id: str | None = None,
                 retry_after: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.rule_id = rule_id
        self.retry_after = retry_after

    def body(self, request_message_id: str | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.rule_id:
            out["ruleId"] = self.rule_id
        if request_message_id:
            out["requestMessageId"] = request_message_id
        return out


@runtime_checkable
class SystemService(Protocol):
    """The local side of a binding: what an inbound server (REST, SOAP, file drop, MQTT)
    hands requests to. Servers own transport, authentication and size limits; the service
    owns content. Connectors never import the store: the service is given to them.
    """

    def meta(self) -> dict[str, Any]: ...

    def changes(self, dataset: str, since: str | None, limit: int) -> dict[str, Any]:
        """``{records, nextCursor, hasMore}``; raises :class:`ServiceError` (BAD_CURSOR …)."""
        ...

    def receive(self, envelope: dict[str, Any], *, binding: str, request_hash: str,
                authenticated_sender: str | None, binding_dataset: str | None = None,
                topic_region: str | None = None, binding_findings: Sequence[Any] = (),
                received: ReceivedBody | None = None) -> dict[str, Any]:
        """Process one parsed envelope; return the acknowledgement (TBS-ENV-030).

        ``binding_dataset`` is the dataset the binding implies (REST path, drop folder, MQTT
        topic) and ``topic_region`` the MQTT topic's region, for TBS-ENV-024 / TBS-MQTT-002.
        ``binding_findings`` are the :class:`~tongban.validators.report.Finding` s a binding
        made while mapping its wire form to the JSON envelope (SOAP: TBS-SOAP-003 (h), e.g. a
        repeated element or an attribute, which the JSON form cannot show); the service adds
        them to its verdict. SOAP passes it only when there are findings. ``received`` is the
        body the envelope was parsed from, so that a rejected record is kept as it arrived.
        """
        ...

    def get_ack(self, message_id: str, caller: str) -> dict[str, Any] | None: ...
