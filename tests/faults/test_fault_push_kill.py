"""The fault matrix, push side: a pushing partner killed with SIGKILL in the middle of sending
an envelope. The bus stores nothing of the half-sent request; the partner pushes the same
envelope again and it is stored once; a third identical push is answered from replay memory
(TBS-SEC-005) — counted, 0 lost and 0 duplicated."""
from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
from datetime import datetime
from pathlib import Path

import pytest
import yaml

from fault_support import assert_exactly_once, count
from tongban.connectors.rest.client import RestConnector
from tongban.connectors.rest.server import create_rest_app, token_table
from tongban.connectors.serving import ServerThread
from tongban.model.canonical import canonical_bytes
from tongban.registry import load_registry
from tongban.store.schema import CaseRecord, LedgerEntry
from tongban.sync.ledger import verify
from tongban.sync.receiver import BusReceiver

ANNEX_B = Path(__file__).resolve().parents[1] / "data" / "annex_b"
CITY = "TB:city:440100:GZZWFW"
COUNTY = "TB:county:440103:LWZWFW"
TOKEN = "county-token-0123456789abcdef"

HALF_PUSH = textwrap.dedent("""
    import socket, ssl, sys, time
    host, port, ca, token, body = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], open(sys.argv[5], "rb").read()
    ctx = ssl.create_default_context(cafile=ca)
    sock = ctx.wrap_socket(socket.create_connection((host, port)), server_hostname=host)
    head = (f"POST /tbs/v1/case HTTP/1.1\\r\\nHost: {host}\\r\\nAuthorization: Bearer {token}\\r\\n"
            f"Content-Type: application/json\\r\\nX-TB-Sender: {sys.argv[6]}\\r\\nX-TB-Spec-Version: TBS-1.0\\r\\n"
            f"Content-Length: {len(body)}\\r\\n\\r\\n").encode()
    sock.sendall(head + body[: len(body) // 2])
    print("sent", flush=True)
    time.sleep(60)
""")


@pytest.mark.timeout(60)
def test_a_partner_killed_mid_push_then_pushing_again_is_stored_once(store, fault_tls, tmp_path, monkeypatch):
    monkeypatch.setenv("TONGBAN_TEST_LW_HMAC", "tbs-1.0-demo-key-440103-LWZWFW!!")
    path = tmp_path / "partners.yaml"
    path.write_text(yaml.safe_dump({"bus": {"system_id": CITY}, "partners": [
        {"id": COUNTY, "parent": CITY, "transport": "rest", "endpoint": "https://127.0.0.1:1",
         "credentials": {"hmac_key_env": "TONGBAN_TEST_LW_HMAC", "key_id": "LWZWFW-K1"},
         "roles": ["CASE_REPORTER"]}]}))
    envelope = json.loads((ANNEX_B / "B.2.json").read_text(encoding="utf-8"))
    body = tmp_path / "body.json"
    body.write_bytes(canonical_bytes(envelope))
    receiver = BusReceiver(store, load_registry(path), clock=lambda: datetime.fromisoformat("2026-11-02T10:05:02+08:00"))
    with ServerThread(create_rest_app(receiver, authenticate=token_table({TOKEN: COUNTY})), tls=fault_tls) as srv:
        proc = subprocess.Popen([sys.executable, "-c", HALF_PUSH, "127.0.0.1", str(srv.port), str(fault_tls.ca_file),
                                 TOKEN, str(body), COUNTY], stdout=subprocess.PIPE, text=True)
        try:
            assert proc.stdout.readline().strip() == "sent"
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)
        assert count(store, CaseRecord) == 0 and count(store, LedgerEntry) == 0
        with RestConnector(srv.url, sender=COUNTY, token=TOKEN, verify=str(fault_tls.ca_file), retries=0) as client:
            first = client.push(envelope)
            again = client.push(envelope)
    assert first.ack["status"] == "ACCEPTED" and first.ack["counts"]["stored"] == len(envelope["records"])
    assert again.ack == first.ack, "the resend is answered from replay memory"
    assert_exactly_once(store, "case", envelope["records"])
    assert verify(store, records=True).ok


@pytest.mark.timeout(60)
def test_clock_skew_refuses_the_push_with_its_rule_and_nothing_is_lost_once_clocks_agree(store, fault_tls, tmp_path,
                                                                                        monkeypatch):
    """The bus's clock two hours behind the sender's: the envelope is refused under TBS-SEC-006
    (its sentAt is outside the window), nothing is stored; once the clocks agree the same
    envelope is stored once."""
    monkeypatch.setenv("TONGBAN_TEST_LW_HMAC", "tbs-1.0-demo-key-440103-LWZWFW!!")
    path = tmp_path / "partners.yaml"
    path.write_text(yaml.safe_dump({"bus": {"system_id": CITY}, "partners": [
        {"id": COUNTY, "parent": CITY, "transport": "rest", "endpoint": "https://127.0.0.1:1",
         "credentials": {"hmac_key_env": "TONGBAN_TEST_LW_HMAC", "key_id": "LWZWFW-K1"},
         "roles": ["CASE_REPORTER"]}]}))
    envelope = json.loads((ANNEX_B / "B.2.json").read_text(encoding="utf-8"))
    clock = {"now": datetime.fromisoformat("2026-11-02T08:05:02+08:00")}  # two hours behind
    receiver = BusReceiver(store, load_registry(path), clock=lambda: clock["now"])
    with ServerThread(create_rest_app(receiver, authenticate=token_table({TOKEN: COUNTY})), tls=fault_tls) as srv:
        with RestConnector(srv.url, sender=COUNTY, token=TOKEN, verify=str(fault_tls.ca_file), retries=0) as client:
            skewed = client.push(envelope)
            assert skewed.ack["status"] == "REJECTED"
            assert "TBS-SEC-006" in {i["ruleId"] for i in skewed.ack["envelopeReport"]["items"]}
            assert count(store, CaseRecord) == 0
            clock["now"] = datetime.fromisoformat("2026-11-02T10:05:02+08:00")
            fixed = client.push(envelope)
    assert fixed.ack["status"] == "ACCEPTED"
    assert_exactly_once(store, "case", envelope["records"])
