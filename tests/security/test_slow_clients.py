"""Slow clients cannot hold the edge: a request head trickled byte by byte is cut off at the
head deadline, and many such connections at once do not stop a valid push (finding: 200 slow
connections were held for 45 s)."""
from __future__ import annotations

import socket
import time

from tongban.connectors.rest.server import create_rest_app, token_table
from tongban.connectors.serving import ServerThread
from tongban.model.canonical import canonical_bytes

from security_support import TOKEN, Bus
from security_support import bus, province  # noqa: F401 - pytest fixtures


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
        import httpx

        ok = httpx.post(server.url + "/tbs/v1/case", content=canonical_bytes(env), headers=bus.headers(env),
                        timeout=10)
        assert ok.status_code == 200 and ok.json()["status"] == "ACCEPTED"
        closed = 0
        for conn in slow:
            try:
                conn.sendall(b"a")          # still trickling …
                conn.settimeout(max(0.1, 3.0 - (time.monotonic() - t0)))
                closed += conn.recv(1) == b""  # … but the server hung up at the deadline
            except (ConnectionResetError, BrokenPipeError):
                closed += 1
            except socket.timeout:
                pass
            finally:
                conn.close()
        assert closed == len(slow), f"{len(slow) - closed} slow connections still open after the deadline"
        assert time.monotonic() - t0 < 10
