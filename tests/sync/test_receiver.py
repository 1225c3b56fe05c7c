"""The bus receiving pushed envelopes over the real REST binding (HTTPS): Annex B's worked
examples and acknowledgements (B.6, B.7), replay, envelope-level refusals."""
from __future__ import annotations

import copy
import json
import ssl
from datetime import datetime
from pathlib import Path

import httpx
import pytest
import yaml

from tongban.connectors.rest.client import RestConnector
from tongban.connectors.rest.server import create_rest_app, token_table
from tongban.connectors.serving import ServerThread, make_local_ca
from tongban.model.canonical import canonical_bytes, records_sha256, sha256_hex
from tongban.registry import load_registry
from tongban.sync.ledger import verify
from tongban.sync.receiver import BusReceiver

ANNEX_B = Path(__file__).resolve().parents[1] / "data" / "annex_b"
CITY = "TB:city:440100:GZZWFW"
COUNTY = "TB:county:440103:LWZWFW"
OTHER = "TB:county:440104:YXZWFW"
TOKENS = {"county-token-0123456789abcdef": COUNTY, "other-token-0123456789abcdef": OTHER}


def annex(name):
    return json.loads((ANNEX_B / f"{name}.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def tls(tmp_path_factory):
    return make_local_ca(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def bus(store, tmp_path, tls, monkeypatch):
    """The Guangzhou city system as the receiving bus, Liwan county as its partner."""
    monkeypatch.setenv("TONGBAN_TEST_LW_HMAC", "tbs-1.0-demo-key-440103-LWZWFW!!")
    path = tmp_path / "partners.yaml"
    path.write_text(yaml.safe_dump({"bus": {"system_id": CITY}, "partners": [
        {"id": COUNTY, "parent": CITY, "transport": "rest", "endpoint": "https://127.0.0.1:1",
         "credentials": {"hmac_key_env": "TONGBAN_TEST_LW_HMAC", "key_id": "LWZWFW-K1"},
         "roles": ["CASE_REPORTER", "CATALOG_PROVIDER", "RESULT_PUBLISHER"]},
        {"id": OTHER, "parent": CITY, "transport": "rest", "endpoint": "https://127.0.0.1:1",
         "roles": ["CASE_REPORTER"]}]}))
    clock = {"now": datetime.fromisoformat("2026-11-02T10:05:02+08:00")}
    receiver = BusReceiver(store, load_registry(path), clock=lambda: clock["now"])
    with ServerThread(create_rest_app(receiver, authenticate=token_table(TOKENS)), tls=tls) as srv:
        yield srv, clock, receiver


def push(srv, tls, envelope, token="county-token-0123456789abcdef", sender=COUNTY):
    with RestConnector(srv.url, sender=sender, token=token, verify=str(tls.ca_file), retries=0) as c:
        return c.push(envelope)


def equivalent(ack, expected):
    """TBS-RPT-010 for acknowledgements: status, counts, per-record outcomes, equivalent reports."""
    def items(report):
        return sorted((i["severity"], i["ruleId"], i["location"]) for i in report["items"])
    assert (ack["status"], ack["counts"], ack["final"]) == (expected["status"], expected["counts"], expected["final"])
    assert items(ack["envelopeReport"]) == items(expected["envelopeReport"])
    assert [(r["index"], r.get("key"), items(r["report"])) for r in ack["rejected"]] == \
        [(r["index"], r.get("key"), items(r["report"])) for r in expected["rejected"]]
    assert [(n["index"], n["outcome"]) for n in ack["notes"]] == [(n["index"], n["outcome"]) for n in expected["notes"]]


def test_b3_is_acknowledged_exactly_as_b6(bus, tls):
    srv, clock, _ = bus
    assert push(srv, tls, annex("B.2")).ack["status"] == "ACCEPTED"
    clock["now"] = datetime.fromisoformat("2026-11-06T09:35:01+08:00")
    result = push(srv, tls, annex("B.3"))
    expected = annex("B.6")
    equivalent(result.ack, expected)
    assert result.ack["requestHash"] == expected["requestHash"] == result.request_hash
    assert (result.ack["sender"], result.ack["receiver"], result.ack["receivedAt"]) == \
        (expected["sender"], expected["receiver"], expected["receivedAt"])


def test_b7_partial_with_masked_finding(bus, tls):
    srv, _, _ = bus
    env = annex("B.2")
    env["records"][1]["agent"]["idNo"] = "340524198001010010"
    env["integrity"]["recordsSha256"] = records_sha256(env["records"])
    assert env["integrity"]["recordsSha256"] == "27e04b6596d7291c79c5a22f242854e5f27254f13c211fec83024d2ba33436e7"
    result = push(srv, tls, env)
    expected = annex("B.7")
    equivalent(result.ack, expected)
    assert result.ack["requestHash"] == expected["requestHash"]
    assert result.ack["rejected"][0]["report"]["items"][0]["value"] == "340524********0010"


def test_replay_returns_the_stored_ack_and_a_reused_message_id_is_refused(bus, tls, store):
    srv, _, _ = bus
    first = push(srv, tls, annex("B.2")).ack
    assert push(srv, tls, annex("B.2")).ack == first  # TBS-SEC-005: no reprocessing
    changed = annex("B.2")
    changed["records"] = changed["records"][:1]
    changed["integrity"]["recordsSha256"] = records_sha256(changed["records"])
    with pytest.raises(Exception) as info:
        push(srv, tls, changed)
    assert getattr(info.value, "status", None) == 409 and getattr(info.value, "code", None) == "MESSAGE_ID_CONFLICT"
    assert verify(store).ok


def test_ack_can_be_read_back_by_its_sender_only(bus, tls):
    srv, _, receiver = bus
    ack = push(srv, tls, annex("B.2")).ack
    mid = annex("B.2")["messageId"]
    assert receiver.get_ack(mid, COUNTY) == ack and receiver.get_ack(mid, OTHER) is None


def _raw(srv, tls, envelope, token="county-token-0123456789abcdef", sender=COUNTY):
    body = canonical_bytes(envelope)
    return httpx.post(srv.url + f"/tbs/v1/{envelope['dataset']}", content=body, headers={
        "Authorization": f"Bearer {token}", "X-TB-Sender": sender, "X-TB-Spec-Version": "TBS-1.0",
        "X-TB-Message-Id": envelope["messageId"], "Content-Type": "application/json"},
        verify=ssl.create_default_context(cafile=str(tls.ca_file)))


def _rules(resp):
    return sorted((i["ruleId"], i["location"]) for i in resp.json()["envelopeReport"]["items"])


def test_c13_tampered_hash_is_422_rejected(bus, tls, store):
    srv, clock, _ = bus
    clock["now"] = datetime.fromisoformat("2026-11-06T09:35:01+08:00")
    env = annex("B.3")
    env["records"][2]["opinion"] = "同意。"
    resp = _raw(srv, tls, env)
    assert resp.status_code == 422 and resp.json()["status"] == "REJECTED"
    assert _rules(resp) == [("TBS-ENV-027", "/integrity/recordsSha256")]
    assert resp.json()["counts"]["rejected"] == 5 and resp.json()["rejected"] == []
    assert resp.headers["X-TB-Request-Hash"] == sha256_hex(canonical_bytes(env))


def test_stale_envelope_wrong_receiver_and_unauthorised_dataset(bus, tls):
    srv, clock, _ = bus
    clock["now"] = datetime.fromisoformat("2026-11-02T10:20:00+08:00")  # 15 min after sentAt
    assert _rules(_raw(srv, tls, annex("B.2"))) == [("TBS-SEC-006", "/sentAt")]
    clock["now"] = datetime.fromisoformat("2026-11-02T10:05:02+08:00")
    env = copy.deepcopy(annex("B.2"))
    env["receiver"] = "TB:province:440000:GDZWFW"
    assert _rules(_raw(srv, tls, env)) == [("TBS-ENV-023", "/receiver")]
    other = copy.deepcopy(annex("B.1"))  # a catalog envelope from a system that is only a CASE_REPORTER
    other["sender"] = OTHER
    other.pop("integrity")
    other["integrity"] = {"recordsSha256": records_sha256(other["records"])}
    other["sentAt"] = "2026-11-02T10:05:00+08:00"
    resp = _raw(srv, tls, other, token="other-token-0123456789abcdef", sender=OTHER)
    assert resp.status_code == 403 and resp.json()["code"] == "FORBIDDEN" and resp.json()["ruleId"] == "TBS-SEC-004"
