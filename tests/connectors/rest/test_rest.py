"""REST binding: the httpx connector against a real uvicorn server on loopback (HTTPS with a
local CA), serving a small in-memory system."""
from __future__ import annotations

import ssl
import threading
import time
import uuid

import httpx
import pytest

from tongban.connectors.base import ProtocolError, ServiceError, TransportError
from tongban.connectors.rest.client import RestConnector
from tongban.connectors.rest.server import create_rest_app, token_table
from tongban.connectors.serving import ServerThread, make_local_ca
from tongban.model.canonical import canonical_bytes, sha256_hex

SYSTEM = "TB:county:440103:LWZWFW"
BUS = "TB:province:440000:TONGBAN"
TOKEN = "test-token-" + "x" * 32


class MemorySystem:
    """A SystemService whose feed is a list; cursors are c-<position>."""

    def __init__(self, n: int = 25) -> None:
        self.feed = [{"caseNo": f"C{i:04d}", "seq": 1} for i in range(n)]
        self.received: list[dict] = []
        self.fail_next = 0
        self.delay = 0.0
        self.lock = threading.Lock()

    def meta(self):
        return {"systemId": SYSTEM, "roles": ["CASE_REPORTER"], "datasets": ["case", "case-event"],
                "specVersions": ["TBS-1.0"]}

    def changes(self, dataset, since, limit):
        with self.lock:
            if self.fail_next:
                self.fail_next -= 1
                raise RuntimeError("simulated crash")  # a real unhandled error → HTTP 500
        time.sleep(self.delay)
        if dataset != "case-event":
            raise ServiceError(404, "NOT_FOUND", f"dataset {dataset} not provided")
        pos = 0
        if since is not None:
            if not since.startswith("c-") or not since[2:].isdigit():
                raise ServiceError(400, "BAD_CURSOR", "uninterpretable cursor", rule_id="TBS-REST-004")
            pos = int(since[2:])
        page = self.feed[pos:pos + limit]
        nxt = min(pos + len(page), len(self.feed)) if page else pos
        return {"records": page, "nextCursor": f"c-{nxt}" if page else (since or "c-0"),
                "hasMore": nxt < len(self.feed)}

    def receive(self, envelope, *, binding, request_hash, authenticated_sender, binding_dataset=None,
                topic_region=None, received=None):
        self.received.append(envelope)
        recs = envelope["records"]
        rejected = [{"index": i, "report": {"result": "FAILURE", "counters": {"errors": 1, "warnings": 0, "infos": 0},
                                            "items": []}} for i, r in enumerate(recs) if r.get("bad")]
        return {"specVersion": "TBS-1.0", "requestMessageId": envelope["messageId"], "requestHash": request_hash,
                "sender": SYSTEM, "receiver": authenticated_sender, "receivedAt": "2026-11-28T10:00:00+08:00",
                "status": "PARTIAL" if rejected else "ACCEPTED", "final": True,
                "envelopeReport": {"result": "SUCCESS", "counters": {"errors": 0, "warnings": 0, "infos": 0},
                                   "items": []},
                "counts": {"received": len(recs), "stored": len(recs) - len(rejected), "duplicate": 0, "stale": 0,
                           "held": 0, "rejected": len(rejected)},
                "accepted": len(recs) - len(rejected), "rejected": rejected, "notes": []}

    def get_ack(self, message_id, caller):
        return None


@pytest.fixture(scope="module")
def tls(tmp_path_factory):
    return make_local_ca(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def system():
    return MemorySystem()


@pytest.fixture
def server(system, tls):
    app = create_rest_app(system, authenticate=token_table({TOKEN: BUS}), max_body_bytes=64 * 1024)
    with ServerThread(app, tls=tls) as srv:
        yield srv


def connector(server, tls, **kw):
    kw.setdefault("backoff", 0.01)
    return RestConnector(server.url, sender=BUS, token=TOKEN, verify=str(tls.ca_file), **kw)


def test_meta_over_https(server, tls):
    with connector(server, tls) as c:
        assert c.meta()["systemId"] == SYSTEM
    assert server.url.startswith("https://")


def test_full_pull_page_by_page_and_resume_from_saved_cursor(server, tls, system):
    seen, cursor = [], None
    with connector(server, tls) as c:
        while True:
            page = c.fetch_changes("case-event", cursor, limit=10)
            seen += page.records
            cursor = page.next_cursor
            if not page.has_more:
                break
        assert seen == system.feed and cursor == "c-25"
        system.feed.append({"caseNo": "C9999", "seq": 1})
        page = c.fetch_changes("case-event", cursor, limit=10)  # resume from the saved cursor
        assert page.records == [{"caseNo": "C9999", "seq": 1}] and not page.has_more
        end = c.fetch_changes("case-event", page.next_cursor, limit=10)
        assert end.records == [] and end.next_cursor == page.next_cursor and end.has_more is False


def test_server_error_then_recovery_is_retried(server, tls, system):
    system.fail_next = 2
    with connector(server, tls, retries=3) as c:
        page = c.fetch_changes("case-event", None, limit=5)
        assert len(page.records) == 5 and c.attempts == 3


def test_a_crash_in_the_service_is_a_tbs_500_on_a_connection_kept_alive(server, tls, system):
    # Let through to the server, the crash would cost the connection as well: uvicorn closes it
    # after the 500, and a client reusing it from its pool sees a dropped request.
    system.fail_next = 1
    peers = set()

    def remember_peer(response):
        peers.add(response.extensions["network_stream"].get_extra_info("client_addr"))

    headers = {"Authorization": f"Bearer {TOKEN}", "X-TB-Sender": BUS, "X-TB-Spec-Version": "TBS-1.0"}
    with httpx.Client(verify=ssl.create_default_context(cafile=str(tls.ca_file)), event_hooks={"response": [remember_peer]}) as client:
        crashed = client.get(f"{server.url}/tbs/v1/case-event/changes", headers=headers)
        after = client.get(f"{server.url}/tbs/v1/case-event/changes", headers=headers)
    assert crashed.status_code == 500 and crashed.json()["code"] == "INTERNAL_ERROR"
    assert crashed.headers.get("connection", "").lower() != "close"
    assert after.status_code == 200 and len(peers) == 1  # the second request rode the same connection


def test_server_error_beyond_retries_is_a_transport_error(server, tls, system):
    system.fail_next = 5
    with connector(server, tls, retries=1) as c:
        with pytest.raises(TransportError) as info:
            c.fetch_changes("case-event", None, limit=5)
    assert info.value.retriable and info.value.status == 500


def test_timeout_is_a_retriable_transport_error(server, tls, system):
    system.delay = 1.5
    with connector(server, tls, retries=0, read_timeout=0.3) as c:
        with pytest.raises(TransportError) as info:
            c.fetch_changes("case-event", None, limit=5)
    assert info.value.code == "TIMEOUT"


def test_unreachable_partner_names_the_endpoint():
    with RestConnector("https://127.0.0.1:9", sender=BUS, token=TOKEN, retries=0) as c:
        with pytest.raises(TransportError) as info:
            c.meta()
    assert "127.0.0.1:9" in str(info.value) and info.value.code == "UNREACHABLE"


def test_bad_cursor_and_unknown_dataset_are_final(server, tls):
    with connector(server, tls) as c:
        with pytest.raises(ProtocolError) as bad:
            c.fetch_changes("case-event", "zzz", limit=5)
        with pytest.raises(ProtocolError) as unknown:
            c.fetch_changes("catalog", None, limit=5)
    assert (bad.value.status, bad.value.code) == (400, "BAD_CURSOR")
    assert (unknown.value.status, unknown.value.code) == (404, "NOT_FOUND")
    assert c.attempts == 2  # no retries on 4xx


def _envelope(records):
    return {"specVersion": "TBS-1.0", "messageId": str(uuid.uuid4()), "sender": BUS, "receiver": SYSTEM,
            "dataset": "case-event", "sentAt": "2026-11-28T10:00:00+08:00", "records": records,
            "integrity": {"recordsSha256": sha256_hex(canonical_bytes(records))}}


def test_push_returns_ack_with_rejected_records_and_checks_request_hash(server, tls, system):
    env = _envelope([{"caseNo": "A", "seq": 1}, {"caseNo": "B", "seq": 1, "bad": True}])
    with connector(server, tls) as c:
        result = c.push(env)
    assert result.ack["status"] == "PARTIAL" and [r["index"] for r in result.ack["rejected"]] == [1]
    assert result.request_hash == sha256_hex(canonical_bytes(env)) == result.ack["requestHash"]
    assert system.received == [env]


def _raw_post(server, tls, body: bytes, headers: dict):
    base = {"Authorization": f"Bearer {TOKEN}", "X-TB-Sender": BUS, "X-TB-Spec-Version": "TBS-1.0",
            "Content-Type": "application/json"}
    base.update(headers)
    return httpx.post(server.url + "/tbs/v1/case-event", content=body, headers={k: v for k, v in base.items() if v},
                      verify=ssl.create_default_context(cafile=str(tls.ca_file)))


@pytest.mark.parametrize("headers, body, status, code", [
    ({"Authorization": None}, b"{}", 401, "UNAUTHENTICATED"),
    ({"Authorization": "Bearer wrong"}, b"{}", 401, "UNAUTHENTICATED"),
    ({"X-TB-Sender": "TB:county:440104:YXZWFW"}, b"{}", 403, "FORBIDDEN"),
    ({"X-TB-Spec-Version": "TBS-0.9"}, b"{}", 400, "BAD_HEADER"),
    ({"Content-Type": "text/plain"}, b"{}", 415, "UNSUPPORTED_MEDIA_TYPE"),
    ({}, b'{"a": 1, "a": 2}', 400, "MALFORMED_JSON"),
    ({}, b"{" * 20, 400, "MALFORMED_JSON"),
    ({}, b"x" * (64 * 1024 + 1), 413, "PAYLOAD_TOO_LARGE"),
])
def test_edge_refusals(server, tls, system, headers, body, status, code):
    resp = _raw_post(server, tls, body, {"X-TB-Message-Id": str(uuid.uuid4()), **headers})
    assert resp.status_code == status and resp.json()["code"] == code
    assert resp.headers["X-TB-Spec-Version"] == "TBS-1.0"
    assert system.received == []
    if status not in (401, 413):
        assert resp.headers["X-TB-Request-Hash"] == sha256_hex(body)  # TBS-REST-007 on error responses too


def test_message_id_header_must_match_envelope(server, tls, system):
    env = _envelope([{"caseNo": "A", "seq": 1}])
    resp = _raw_post(server, tls, canonical_bytes(env), {"X-TB-Message-Id": str(uuid.uuid4())})
    assert resp.status_code == 400 and resp.json()["code"] == "BAD_HEADER"
    assert system.received == []
