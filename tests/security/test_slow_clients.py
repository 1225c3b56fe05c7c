"""Slow clients cannot hold the edge: a request head trickled byte by byte is cut off at the
head deadline, a request body trickled after a complete head is cut off at the body deadline
(REST and SOAP servers alike), and many such connections at once do not stop a valid push
(finding: 200 slow connections were held for 45 s)."""
from __future__ import annotations

import socket
import time

import httpx
import pytest

from tongban.connectors.rest.server import create_rest_app, token_table
from tongban.connectors.serving import ServerThread
from tongban.connectors.soap import mapping
from tongban.connectors.soap.server import create_soap_app
from tongban.model.canonical import canonical_bytes

from security_support import TOKEN, Bus
from security_support import bus, province  # noqa: F401 - pytest fixtures


def _closed_by_server(conns: list[socket.socket], deadline: float) -> int:
    """How many of ``conns`` the server hung up on by ``deadline`` (time.monotonic) while they
    kept trickling."""
    closed = 0
    for conn in conns:
        try:
            conn.sendall(b"a")          # still trickling …
            conn.settimeout(max(0.1, deadline - time.monotonic()))
            closed += conn.recv(1) == b""  # … but the server hung up at the deadline
        except (ConnectionResetError, BrokenPipeError):
            closed += 1
        except socket.timeout:
            pass
        finally:
            conn.close()
    return closed


def test_trickled_request_heads_are_closed_at_the_deadline_and_valid_pushes_pass(bus: Bus):
    app = create_rest_app(bus.receiver, authenticate=token_table({TOKEN["LW"]: bus.id("LW")}))
    with ServerThread(app, header_timeout=1.0) as server:
        slow = []
        for _ in range(50):
            conn = socket.create_connection((server.host, server.port), timeout=5)
            conn.sendall(b"POST /tbs/v1/case HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            slow.append(conn)
        t0 = time.monotonic()
        env = bus.envelope()
        ok = httpx.post(server.url + "/tbs/v1/case", content=canonical_bytes(env), headers=bus.headers(env),
                        timeout=10)
        assert ok.status_code == 200 and ok.json()["status"] == "ACCEPTED"
        closed = _closed_by_server(slow, t0 + 3.0)
        assert closed == len(slow), f"{len(slow) - closed} slow connections still open after the deadline"
        assert time.monotonic() - t0 < 10


def _rest_request(bus: Bus) -> tuple[str, bytes, dict[str, str]]:
    env = bus.envelope()
    return "/tbs/v1/case", canonical_bytes(env), bus.headers(env)


def _soap_request(bus: Bus) -> tuple[str, bytes, dict[str, str]]:
    env = bus.envelope()
    return "/tbs/v1/soap", mapping.envelope_to_push_batch(env), bus.soap_headers(env)


BINDINGS = {"rest": (create_rest_app, _rest_request), "soap": (create_soap_app, _soap_request)}


@pytest.mark.parametrize("binding", sorted(BINDINGS))
def test_trickled_request_bodies_are_closed_at_the_deadline_and_valid_pushes_pass(bus: Bus, binding: str):
    """Authenticated requests whose complete head promises a body that then arrives a byte at a
    time: the server closes each at the body deadline without storing anything, the app sees a
    refusal (not a crash), and a valid push in the meantime is stored."""
    create_app, request = BINDINGS[binding]
    app = create_app(bus.receiver, authenticate=token_table({TOKEN["LW"]: bus.id("LW")}))
    before = bus.snapshot()
    with ServerThread(app, header_timeout=5.0, body_timeout=1.0) as server:
        slow = []
        for _ in range(20):
            path, body, headers = request(bus)
            head = f"POST {path} HTTP/1.1\r\nHost: {server.host}\r\nContent-Length: {len(body)}\r\n" + "".join(
                f"{name}: {value}\r\n" for name, value in headers.items()) + "\r\n"
            conn = socket.create_connection((server.host, server.port), timeout=5)
            conn.sendall(head.encode() + body[:10])
            slow.append(conn)
        t0 = time.monotonic()
        path, body, headers = request(bus)
        ok = httpx.post(server.url + path, content=body, headers=headers, timeout=10)
        assert ok.status_code == 200, ok.text[:300]
        ack = ok.json() if binding == "rest" else mapping.xml_to_ack(ok.content)
        assert ack["status"] == "ACCEPTED" and ack["counts"]["stored"] == 1, ack
        closed = _closed_by_server(slow, t0 + 3.0)
        assert closed == len(slow), f"{len(slow) - closed} trickling bodies still open after the deadline"
        assert time.monotonic() - t0 < 10
        time.sleep(0.2)  # the apps' body reads see the disconnect
        assert app.state.refused.get("BAD_PARAMETER", 0) == len(slow), app.state.refused
    after = bus.snapshot()
    assert len(set(after["case"]) - set(before["case"])) == 1, "only the valid push is stored"
