"""Hostile input at the edge (issue 4): each is refused with a clear error and counted, and
nothing valid is lost: after every refusal a valid push or drop still stores its records.

The bus is a real :class:`BusReceiver` over a SQLite store, behind the real REST and SOAP
servers on loopback (HTTPS with a local CA) and the bus's file-drop scan (``scan_drops``).
XXE / billion laughs: TBS-SEC-010; oversized body: TBS-SEC-009; path traversal: TBS-FILE-002;
forged HMAC: TBS-ENV-028 / TBS-SEC-007; wrong region: TBS-SEC-003; replay: TBS-SEC-005;
torn batch: TBS-FILE-005.
"""
from __future__ import annotations

import os
import socket
import ssl
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from sqlalchemy import select

from tongban.connectors.base import ProtocolError
from tongban.connectors.filedrop.acks import now_rfc3339
from tongban.connectors.filedrop.writer import FileDropWriter
from tongban.connectors.rest.client import RestConnector
from tongban.connectors.rest.server import MAX_BODY_BYTES, create_rest_app, token_table
from tongban.connectors.serving import ServerThread, TlsFiles, make_local_ca
from tongban.connectors.soap import mapping
from tongban.connectors.soap.client import SoapConnector
from tongban.connectors.soap.server import create_soap_app
from tongban.model.canonical import records_sha256
from tongban.registry import load_registry
from tongban.sandbox.generate import generate_province
from tongban.sandbox.systems import SandboxSystem
from tongban.store import Store
from tongban.store.schema import LedgerEntry
from tongban.sync.drops import scan_drops
from tongban.sync.export import export_current
from tongban.sync.receiver import BusReceiver

BUS = "TB:province:440000:TONGBAN"
TOKENS = {"lw-edge-token-0123456789abcdefghij": "TB:county:440103:LWZWFW",
          "yx-edge-token-0123456789abcdefghij": "TB:county:440104:YXZWFW"}
LW_TOKEN = "lw-edge-token-0123456789abcdefghij"
HMAC_KEY = "edge-test-hmac-key-440103-LWZWFW-0123456789"


@pytest.fixture(scope="module")
def counties():
    data = generate_province(23, cities=1, counties_per_city=2)
    lw, yx = data.counties
    assert (lw.region_code, yx.region_code) == ("440103", "440104")
    return lw, yx


@pytest.fixture(scope="module")
def tls(tmp_path_factory) -> TlsFiles:
    return make_local_ca(tmp_path_factory.mktemp("tls"))


@dataclass
class Edge:
    """The bus with its three inbound edges, and the county LW that pushes to it."""

    store: Store
    receiver: BusReceiver
    rest: ServerThread
    soap: ServerThread
    drop_root: Path
    county: SandboxSystem
    other: SandboxSystem
    tls: TlsFiles
    _next_case: int = 0
    stored_case_nos: set[str] = field(default_factory=set)

    @property
    def partner(self):
        return self.receiver.registry.get(self.county.system_id)

    def refused(self, server: ServerThread) -> dict[str, int]:
        return dict(server._server.config.app.state.refused)

    def fresh_cases(self, n: int = 2) -> list[dict[str, Any]]:
        """Cases of LW never sent before, one version each (every valid push stores new records)."""
        latest: dict[str, dict[str, Any]] = {}
        for case in self.county.records("case"):   # feed order holds several versions of a case
            latest[case["caseNo"]] = case
        cases = list(latest.values())[self._next_case:self._next_case + n]
        self._next_case += n
        assert len(cases) == n
        return cases

    def envelope(self, records: list[dict[str, Any]], dataset: str = "case") -> dict[str, Any]:
        return {"specVersion": "TBS-1.0", "messageId": str(uuid.uuid4()), "sender": self.county.system_id,
                "receiver": BUS, "dataset": dataset, "sentAt": now_rfc3339(), "records": records,
                "integrity": {"recordsSha256": records_sha256(records)}}

    def rest_connector(self) -> RestConnector:
        return RestConnector(self.rest.url, sender=self.county.system_id, token=LW_TOKEN,
                             verify=str(self.tls.ca_file), retries=0)

    def soap_connector(self) -> SoapConnector:
        return SoapConnector(self.soap.url, sender=self.county.system_id, token=LW_TOKEN,
                             verify=str(self.tls.ca_file), retries=0)

    def writer(self, key: str = HMAC_KEY) -> FileDropWriter:
        return FileDropWriter(self.drop_root, sender=self.county.system_id, receiver=BUS, key_id="LWZWFW-K1",
                              key=key.encode())

    def scan(self):
        return scan_drops(self.receiver, self.partner, "case")[1]

    def stored(self) -> set[str]:
        import json

        return {json.loads(line)["caseNo"] for line in export_current(self.store, "case")}

    def ledger_verdicts(self) -> list[str]:
        with self.store.reading() as s:
            return list(s.execute(select(LedgerEntry.verdict).order_by(LedgerEntry.seq)).scalars())

    # -- nothing valid is lost ------------------------------------------------------------
    def still_stores(self, via: str) -> None:
        """A valid envelope right after a refusal is stored whole, and earlier records stay."""
        before = self.stored()
        assert self.stored_case_nos <= before
        cases = self.fresh_cases()
        if via == "filedrop":
            batch = self.writer().write_batch("case", cases)
            stats = self.scan()
            assert stats.archived == 1 and stats.rejected == 0, stats
            ack = self.writer().read_ack("case", batch.batch_id)
        else:
            connector = self.rest_connector() if via == "rest" else self.soap_connector()
            try:
                ack = connector.push(self.envelope(cases)).ack
            finally:
                connector.close()
        assert ack["status"] == "ACCEPTED" and ack["counts"]["stored"] == len(cases), ack
        new = {c["caseNo"] for c in cases}
        self.stored_case_nos |= new
        assert self.stored() == before | new


@pytest.fixture
def edge(tmp_path, tls, counties, monkeypatch) -> Edge:
    lw, yx = counties
    monkeypatch.setenv("TONGBAN_TEST_EDGE_HMAC", HMAC_KEY)
    drop_root = tmp_path / "drop" / "LWZWFW"
    registry = tmp_path / "partners.yaml"
    registry.write_text(yaml.safe_dump({"bus": {"system_id": BUS}, "partners": [
        {"id": lw.system_id, "parent": BUS, "transport": "filedrop", "endpoint": str(drop_root),
         "credentials": {"hmac_key_env": "TONGBAN_TEST_EDGE_HMAC", "key_id": "LWZWFW-K1"}, "roles": list(lw.roles)},
        {"id": yx.system_id, "parent": BUS, "transport": "rest", "endpoint": "https://127.0.0.1:1",
         "ca_file": str(tls.ca_file), "roles": list(yx.roles)}]}))
    store = Store(f"sqlite:///{tmp_path / 'bus.db'}")
    store.upgrade()
    receiver = BusReceiver(store, load_registry(registry))
    authenticate = token_table(TOKENS)
    rest = ServerThread(create_rest_app(receiver, authenticate=authenticate), tls=tls).start()
    soap = ServerThread(create_soap_app(receiver, authenticate=authenticate), tls=tls).start()
    edge = Edge(store, receiver, rest, soap, drop_root, lw, yx, tls)
    scan_drops(receiver, edge.partner, "case")  # provisions the drop root (TBS-FILE-001)
    yield edge
    rest.stop()
    soap.stop()
    store.dispose()


# -- SOAP: XXE and billion laughs (TBS-SEC-010) -------------------------------------------

XXE = b"""<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE foo [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" xmlns:tbs="urn:tbs:1.0">
<soap:Body><tbs:GetChanges><tbs:dataset>&xxe;</tbs:dataset></tbs:GetChanges></soap:Body></soap:Envelope>"""

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" xmlns:tbs="urn:tbs:1.0">
<soap:Body><tbs:GetChanges><tbs:dataset>&lol9;</tbs:dataset></tbs:GetChanges></soap:Body></soap:Envelope>"""


def _soap_post(edge: Edge, body: bytes) -> httpx.Response:
    return httpx.post(edge.soap.url + "/tbs/v1/soap", content=body, verify=ssl.create_default_context(cafile=str(edge.tls.ca_file)),
                      timeout=30,
                      headers={"Authorization": f"Bearer {LW_TOKEN}", "X-TB-Sender": edge.county.system_id,
                               "X-TB-Spec-Version": "TBS-1.0", "Content-Type": "text/xml; charset=utf-8",
                               "SOAPAction": '"urn:tbs:1.0#GetChanges"'})


@pytest.mark.parametrize("body", [XXE, BILLION_LAUGHS], ids=["xxe", "billion-laughs"])
def test_doctype_payloads_get_a_client_fault_and_are_counted(edge, body):
    t0 = time.monotonic()
    resp = _soap_post(edge, body)
    assert time.monotonic() - t0 < 10          # refused before any expansion (a bomb would not return)
    assert resp.status_code == 500              # TBS-SOAP-005: faults travel with HTTP 500
    fault = mapping.xml_to_fault(resp.content)
    assert fault.faultcode == "Client"
    assert fault.rule_id == "TBS-SEC-010" and "DOCTYPE" in fault.message
    assert b"root:" not in resp.content         # no file content leaked
    assert edge.refused(edge.soap) == {"MALFORMED_JSON": 1}
    edge.still_stores("soap")
    assert edge.refused(edge.soap) == {"MALFORMED_JSON": 1}


# -- REST: oversized body (TBS-SEC-009) ---------------------------------------------------

def _raw_https(edge: Edge, head: bytes, body_chunks=()) -> bytes:
    """One HTTP/1.1 request written by hand (the declared length need not match what is sent)."""
    context = ssl.create_default_context(cafile=str(edge.tls.ca_file))
    with socket.create_connection((edge.rest.host, edge.rest.port), timeout=30) as raw:
        with context.wrap_socket(raw, server_hostname="127.0.0.1") as conn:
            conn.sendall(head)
            try:
                for chunk in body_chunks:
                    conn.sendall(chunk)
            except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
                pass  # the server answered and closed before reading everything: that is the point
            answer = b""
            while b"\r\n\r\n" not in answer:
                data = conn.recv(65536)
                if not data:
                    break
                answer += data
            return answer


def _push_head(edge: Edge, extra: str) -> bytes:
    return (f"POST /tbs/v1/case HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {LW_TOKEN}\r\n"
            f"X-TB-Sender: {edge.county.system_id}\r\nX-TB-Spec-Version: TBS-1.0\r\n"
            f"Content-Type: application/json\r\nX-TB-Message-Id: {uuid.uuid4()}\r\n{extra}\r\n").encode()


def test_an_oversized_declared_body_is_refused_with_413_before_it_is_read(edge):
    answer = _raw_https(edge, _push_head(edge, f"Content-Length: {MAX_BODY_BYTES + 1}\r\n"))
    assert answer.startswith(b"HTTP/1.1 413")
    assert edge.refused(edge.rest) == {"PAYLOAD_TOO_LARGE": 1}
    edge.still_stores("rest")


def test_an_oversized_chunked_body_is_cut_off_at_the_limit_with_413(edge):
    chunk = b"x" * (1024 * 1024)
    framed = b"%x\r\n%s\r\n" % (len(chunk), chunk)
    answer = _raw_https(edge, _push_head(edge, "Transfer-Encoding: chunked\r\n"),
                        [framed] * (MAX_BODY_BYTES // len(chunk) + 2) + [b"0\r\n\r\n"])
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert edge.refused(edge.rest) == {"PAYLOAD_TOO_LARGE": 1}
    edge.still_stores("rest")


# -- file drop: path traversal and odd entries (TBS-FILE-002) -----------------------------

def test_path_traversal_names_in_the_drop_root_are_ignored_and_counted(edge, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    secret = outside / "victim.manifest.json"
    secret.write_bytes(b'{"not": "yours"}')
    inbox = edge.drop_root / "inbox" / "case"
    hostile = ["..%2F..%2Foutside%2Fvictim.manifest.json", "..\\..\\outside\\victim.jsonl", ".hidden.manifest.json",
               "batch one.jsonl"]
    for name in hostile:
        (inbox / name).write_bytes(b"{}")
    (inbox / "escape.manifest.json").symlink_to(secret)
    (inbox / "nested.jsonl").mkdir()

    cases = edge.fresh_cases()
    batch = edge.writer().write_batch("case", cases)          # a valid batch in the same scan
    stats = edge.scan()
    assert stats.ignored["name"] == len(hostile)
    assert stats.ignored["symlink"] == 1 and stats.ignored["directory"] == 1
    assert stats.archived == 1 and stats.rejected == 0
    assert secret.read_bytes() == b'{"not": "yours"}' and sorted(p.name for p in outside.iterdir()) == [secret.name]
    assert all((inbox / name).exists() for name in hostile)  # left alone, never opened or moved
    assert edge.writer().read_ack("case", batch.batch_id)["status"] == "ACCEPTED"
    assert {c["caseNo"] for c in cases} <= edge.stored()
    edge.stored_case_nos |= {c["caseNo"] for c in cases}
    edge.still_stores("filedrop")


# -- forged HMAC (TBS-ENV-028, TBS-SEC-007) -----------------------------------------------

def test_a_batch_signed_with_a_forged_key_is_rejected_and_counted(edge):
    forged = edge.writer(key="not-the-partners-key-0123456789abcdef")
    cases = edge.fresh_cases()
    batch = forged.write_batch("case", cases)
    stats = edge.scan()
    assert stats.rejected == 1 and stats.archived == 0
    assert stats.rejected_rules["TBS-ENV-028"] == 1
    report = forged.read_ack("case", batch.batch_id)
    assert report["status"] == "REJECTED"
    assert [i["ruleId"] for i in report["envelopeReport"]["items"]] == ["TBS-ENV-028"]
    assert (edge.drop_root / "rejected" / "case" / f"{batch.batch_id}.report.json").exists()
    assert not {c["caseNo"] for c in cases} & edge.stored()
    edge.still_stores("filedrop")


def test_a_rest_push_with_a_forged_signature_is_rejected_and_counted(edge):
    from tongban.connectors.filedrop.signing import sign_envelope

    cases = edge.fresh_cases()
    envelope = sign_envelope(edge.envelope(cases), key_id="LWZWFW-K1", key=b"forged-key-0123456789abcdef0123")
    with edge.rest_connector() as c:
        result = c.push(envelope)
    assert result.status_code == 422 and result.ack["status"] == "REJECTED"
    assert [i["ruleId"] for i in result.ack["envelopeReport"]["items"]] == ["TBS-ENV-028"]
    assert edge.ledger_verdicts()[-1] == "REJECTED"             # counted in the ledger
    assert not {c["caseNo"] for c in cases} & edge.stored()
    edge.still_stores("rest")


# -- wrong region (TBS-SEC-003) -----------------------------------------------------------

def test_a_case_of_another_county_is_rejected_and_the_others_are_stored(edge):
    own = edge.fresh_cases(3)
    foreign = edge.other.records("case")[0]
    with edge.rest_connector() as c:
        ack = c.push(edge.envelope(own[:2] + [foreign] + own[2:])).ack
    assert ack["status"] == "PARTIAL"
    assert ack["counts"]["stored"] == 3 and ack["counts"]["rejected"] == 1
    assert [(r["index"], [i["ruleId"] for i in r["report"]["items"]]) for r in ack["rejected"]] == \
        [(2, ["TBS-SEC-003"])]
    assert edge.ledger_verdicts()[-1] == "PARTIAL"
    stored = edge.stored()
    assert {c["caseNo"] for c in own} <= stored and foreign["caseNo"] not in stored
    edge.stored_case_nos |= {c["caseNo"] for c in own}
    edge.still_stores("rest")


# -- replayed messageId (TBS-SEC-005) -----------------------------------------------------

@pytest.mark.parametrize("via", ["rest", "soap"])
def test_a_replayed_message_id_with_other_content_is_refused_with_409(edge, via):
    cases = edge.fresh_cases()
    envelope = edge.envelope(cases)
    server = edge.rest if via == "rest" else edge.soap
    connector = edge.rest_connector() if via == "rest" else edge.soap_connector()
    try:
        first = connector.push(envelope).ack
        assert first["status"] == "ACCEPTED"
        assert connector.push(envelope).ack == first           # an identical replay: the stored ack
        changed = dict(envelope, records=cases[:1], integrity={"recordsSha256": records_sha256(cases[:1])})
        with pytest.raises(ProtocolError) as info:
            connector.push(changed)
    finally:
        connector.close()
    assert info.value.status == 409 and info.value.code == "MESSAGE_ID_CONFLICT"
    assert edge.refused(server) == {"MESSAGE_ID_CONFLICT": 1}
    edge.stored_case_nos |= {c["caseNo"] for c in cases}
    edge.still_stores(via)


# -- torn batch without manifest (TBS-FILE-005) -------------------------------------------

def test_a_torn_batch_waits_and_is_rejected_after_the_age_limit(edge):
    cases = edge.fresh_cases()
    batch = edge.writer().write_batch("case", cases)
    batch.manifest_path.unlink()                                  # the sender died before the manifest
    stats = edge.scan()
    assert stats.incomplete == 1 and stats.archived == stats.rejected == 0
    assert batch.data_path.exists() and not {c["caseNo"] for c in cases} & edge.stored()
    edge.still_stores("filedrop")                                 # other batches flow meanwhile

    old = time.time() - 25 * 3600                                 # past the 24 h of TBS-FILE-005
    os.utime(batch.data_path, (old, old))
    stats = edge.scan()
    assert stats.orphans_rejected == 1 and stats.rejected == 1
    assert stats.rejected_rules["TBS-FILE-005"] == 1
    assert not batch.data_path.exists()
    assert (edge.drop_root / "rejected" / "case" / batch.data_path.name).exists()
    report = edge.writer().read_ack("case", batch.batch_id)
    assert report["status"] == "REJECTED"
    assert not {c["caseNo"] for c in cases} & edge.stored()
    edge.still_stores("filedrop")
