"""The bus under attack: a real :class:`BusReceiver` over a SQLite store behind the real REST and
SOAP servers on loopback, its file-drop scan, and its MQTT subscriber on a real broker.

Every kind of bad input in this folder is one parametrised case that asserts the answer (status,
fault or outcome), the TBS rule id, that nothing invalid reached the store, and that a valid
envelope sent right afterwards over the same binding is still stored whole.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest
import yaml
from sqlalchemy import func, select

from tongban.connectors.filedrop.acks import now_rfc3339
from tongban.connectors.filedrop.signing import sign_envelope
from tongban.connectors.filedrop.writer import FileDropWriter
from tongban.connectors.rest.server import create_rest_app, token_table
from tongban.connectors.serving import ServerThread
from tongban.connectors.soap import mapping
from tongban.connectors.soap.server import create_soap_app
from tongban.model.canonical import canonical_bytes, records_sha256
from tongban.registry import load_registry
from tongban.sandbox.generate import generate_province
from tongban.sandbox.systems import SandboxSystem
from tongban.store import Store
from tongban.store.schema import LedgerEntry
from tongban.sync.drops import scan_drops
from tongban.sync.export import export_current
from tongban.sync.receiver import BusReceiver

BUS = "TB:province:440000:TONGBAN"
PROVINCE_UNREGISTERED = "TB:province:440000:FAKEHUB"
DATASETS = ("catalog", "case", "case-event", "result", "evaluation")
HMAC = {"LW": "security-suite-hmac-440103-LWZWFW-0123456789ab",
        "YX": "security-suite-hmac-440104-YXZWFW-0123456789ab",
        "GZ": "security-suite-hmac-440100-GZZWFW-0123456789ab"}
TOKEN = {"LW": "lw-security-token-0123456789abcdefghij", "YX": "yx-security-token-0123456789abcdefghij",
         "GZ": "gz-security-token-0123456789abcdefghij"}


@pytest.fixture(scope="session")
def province():
    data = generate_province(23, cities=1, counties_per_city=2)
    city = data.cities[0]
    lw, yx = data.counties
    assert (city.region_code, lw.region_code, yx.region_code) == ("440100", "440103", "440104")
    return city, lw, yx


@dataclass
class Bus:
    """The bus and the systems that talk to it: LW (relayed by the city GZ), YX (direct), GZ."""

    store: Store
    receiver: BusReceiver
    rest: ServerThread
    soap: ServerThread
    systems: dict[str, SandboxSystem]
    drop_roots: dict[str, Path]
    _used: dict[str, int] = field(default_factory=dict)

    # -- identities and envelopes ---------------------------------------------------------
    def id(self, who: str) -> str:
        return self.systems[who].system_id

    def partner(self, who: str):
        return self.receiver.registry.get(self.id(who))

    def fresh_cases(self, n: int = 1, who: str = "LW") -> list[dict[str, Any]]:
        """Cases of ``who`` never sent before: a sandbox case with a new sequence number in its
        structured caseNo (TBS-CODE-012), so every valid push stores new records."""
        template = self.systems[who].records("case")[0]
        out = []
        for _ in range(n):
            seq = self._used[who] = self._used.get(who, 4999) + 1
            assert seq <= 9999
            out.append(dict(template, caseNo=template["caseNo"][:-4] + f"{seq:04d}"))
        return out

    def envelope(self, records: list[dict[str, Any]] | None = None, *, who: str = "LW", dataset: str = "case",
                 sign: bool = False, **over: Any) -> dict[str, Any]:
        records = self.fresh_cases(1, who) if records is None else records
        env = {"specVersion": "TBS-1.0", "messageId": str(uuid.uuid4()), "sender": self.id(who),
               "receiver": self.receiver.system_id,
               "dataset": dataset, "sentAt": now_rfc3339(), "records": records,
               "integrity": {"recordsSha256": records_sha256(records)}}
        env.update(over)
        if sign:
            env = sign_envelope(env, key_id=f"{who}-K1", key=HMAC[who].encode())
        return env

    def headers(self, env: Any = None, *, who: str = "LW", **over: str | None) -> dict[str, str]:
        h = {"Authorization": f"Bearer {TOKEN[who]}", "X-TB-Sender": self.id(who), "X-TB-Spec-Version": "TBS-1.0",
             "Content-Type": "application/json"}
        if isinstance(env, dict) and isinstance(env.get("messageId"), str):
            h["X-TB-Message-Id"] = env["messageId"]
        for name, value in over.items():
            name = name.replace("_", "-")
            if value is None:
                h.pop(name, None)
            else:
                h[name] = value
        return h

    # -- state ----------------------------------------------------------------------------
    @staticmethod
    def refused(server: ServerThread) -> dict[str, int]:
        """What a server's app refused so far, by error code (``app.state.refused``)."""
        return dict(server._server.config.app.state.refused)

    def snapshot(self) -> dict[str, list[str]]:
        return {d: list(export_current(self.store, d)) for d in DATASETS}

    def ledger_size(self) -> int:
        with self.store.reading() as s:
            return s.execute(select(func.count()).select_from(LedgerEntry)).scalar_one()

    def last_ledger(self) -> LedgerEntry:
        with self.store.reading() as s:
            return s.execute(select(LedgerEntry).order_by(LedgerEntry.seq.desc()).limit(1)).scalar_one()

    def stored_case_nos(self) -> set[str]:
        import json

        return {json.loads(line)["caseNo"] for line in export_current(self.store, "case")}

    # -- bindings -------------------------------------------------------------------------
    def rest_post(self, body: bytes, headers: dict[str, str], path: str = "/tbs/v1/case") -> httpx.Response:
        return httpx.post(self.rest.url + path, content=body, headers=headers, timeout=30)

    def soap_post(self, body: bytes, headers: dict[str, str]) -> httpx.Response:
        return httpx.post(self.soap.url + "/tbs/v1/soap", content=body, headers=headers, timeout=30)

    def soap_headers(self, env: Any = None, *, who: str = "LW", operation: str = "PushBatch",
                     **over: str | None) -> dict[str, str]:
        h = self.headers(env, who=who, Content_Type="text/xml; charset=utf-8",
                         SOAPAction=f'"urn:tbs:1.0#{operation}"')
        for name, value in over.items():
            name = name.replace("_", "-")
            if value is None:
                h.pop(name, None)
            else:
                h[name] = value
        return h

    def writer(self, who: str = "LW", key: str | None = None, key_id: str | None = None) -> FileDropWriter:
        return FileDropWriter(self.drop_roots[who], sender=self.id(who), receiver=BUS,
                              key_id=key_id or f"{who}-K1", key=(key or HMAC[who]).encode())

    def scan(self, who: str = "LW", dataset: str = "case"):
        return scan_drops(self.receiver, self.partner(who), dataset)

    # -- nothing valid is lost ------------------------------------------------------------
    def still_stores(self, via: str) -> None:
        """A valid envelope right after the refusal is stored whole, and nothing else changed."""
        before = self.snapshot()
        refused = self.refused(self.rest), self.refused(self.soap)
        cases = self.fresh_cases(2)
        if via == "rest":
            env = self.envelope(cases)
            resp = self.rest_post(canonical_bytes(env), self.headers(env))
            assert resp.status_code == 200, resp.text
            ack = resp.json()
        elif via == "soap":
            env = self.envelope(cases)
            resp = self.soap_post(mapping.envelope_to_push_batch(env), self.soap_headers(env))
            assert resp.status_code == 200, resp.text
            ack = mapping.xml_to_ack(resp.content)
        elif via == "filedrop":
            batch = self.writer().write_batch("case", cases)
            counting, stats = self.scan()
            assert stats.archived == 1 and stats.rejected == 0, stats
            ack = self.writer().read_ack("case", batch.batch_id)
        else:
            raise AssertionError(via)
        assert ack["status"] == "ACCEPTED" and ack["counts"]["stored"] == 2, ack
        assert (self.refused(self.rest), self.refused(self.soap)) == refused, "a valid push is refused nowhere"
        after = self.snapshot()
        assert {d: v for d, v in after.items() if d != "case"} == {d: v for d, v in before.items() if d != "case"}
        assert set(after["case"]) - set(before["case"]) == {canonical_bytes(c).decode() for c in cases}


def registry_doc(province, drop_base: Path, bus_id: str = BUS) -> dict[str, Any]:
    city, lw, yx = province
    return {"bus": {"system_id": bus_id}, "partners": [
        {"id": city.system_id, "parent": bus_id, "transport": "filedrop", "endpoint": str(drop_base / "GZ"),
         "credentials": {"hmac_key_env": "TONGBAN_SEC_GZ_HMAC", "key_id": "GZ-K1"}, "roles": list(city.roles)},
        # LW's case-linked records reach the bus through its city (county → city → province)
        {"id": lw.system_id, "parent": city.system_id, "direct": False, "transport": "filedrop",
         "endpoint": str(drop_base / "LW"),
         "credentials": {"hmac_key_env": "TONGBAN_SEC_LW_HMAC", "key_id": "LW-K1"}, "roles": list(lw.roles)},
        {"id": yx.system_id, "parent": city.system_id, "transport": "filedrop", "endpoint": str(drop_base / "YX"),
         "credentials": {"hmac_key_env": "TONGBAN_SEC_YX_HMAC", "key_id": "YX-K1"}, "roles": list(yx.roles)}]}


def make_bus(tmp_path_factory, province, bus_id: str = BUS) -> Iterator[Bus]:
    mp = pytest.MonkeyPatch()
    for who, key in HMAC.items():
        mp.setenv(f"TONGBAN_SEC_{who}_HMAC", key)
    base = tmp_path_factory.mktemp("bus")
    path = base / "partners.yaml"
    path.write_text(yaml.safe_dump(registry_doc(province, base / "drop", bus_id)))
    store = Store(f"sqlite:///{base / 'bus.db'}")
    store.upgrade()
    receiver = BusReceiver(store, load_registry(path))
    city, lw, yx = province
    authenticate = token_table({TOKEN["LW"]: lw.system_id, TOKEN["YX"]: yx.system_id, TOKEN["GZ"]: city.system_id})
    rest = ServerThread(create_rest_app(receiver, authenticate=authenticate)).start()
    soap = ServerThread(create_soap_app(receiver, authenticate=authenticate)).start()
    bus = Bus(store, receiver, rest, soap, {"GZ": city, "LW": lw, "YX": yx},
              {"GZ": base / "drop" / "GZ", "LW": base / "drop" / "LW", "YX": base / "drop" / "YX"})
    for who in ("LW", "YX", "GZ"):
        bus.scan(who)  # provisions the drop roots (TBS-FILE-001)
    try:
        yield bus
    finally:
        rest.stop()
        soap.stop()
        store.dispose()
        mp.undo()


@pytest.fixture(scope="module")
def bus(tmp_path_factory, province) -> Iterator[Bus]:
    yield from make_bus(tmp_path_factory, province)


def assert_no_plain_500(resp: httpx.Response) -> None:
    """No kind may answer with a bare 500 or a traceback."""
    assert "Traceback" not in resp.text
    if resp.status_code >= 500 and not resp.headers.get("content-type", "").startswith("text/xml"):
        assert resp.headers.get("content-type", "").startswith("application/json"), resp.text[:200]
