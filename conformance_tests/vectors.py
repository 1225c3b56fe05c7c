"""Catalog test vectors the suite pushes to a CATALOG_CONSUMER (§20.2 CC-01 … CC-05).

Everything starts from the worked example B.1. Each session draws fresh item codes (main-item
sequence and sub-item of the basic code) so that the SUT holds no earlier state for them and a
rerun never collides with a previous session. Expected acknowledgements are not written here:
the oracle (:class:`~tongban.conformance.reference_receiver.ReferenceReceiver`) computes them.
"""
from __future__ import annotations

import copy
import random
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Callable

from tongban.model.canonical import records_sha256
from tongban.model.clock import CST
from tongban.model.codes import USCC_ALPHABET, uscc_check_char
from tongban.validators.signature import sign_hmac_sha256

SEQ_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"  # positions 7–9 of a basic code (no I, O, Z, S, V)

B1_RECORD: dict[str, Any] = {
    "itemCode": "440120012002",
    "implCode": "11440103007493637K4440120012002",
    "handlingItems": [{"code": "11440103007493637K444012001200201", "name": "公共场所卫生许可（新证）"}],
    "name": "公共场所卫生许可（新证）",
    "itemType": "01",
    "level": "4",
    "regionCode": "440103",
    "dept": {"name": "广州市荔湾区卫生健康局", "uscc": "11440103007493637K", "nature": "1"},
    "legalBasis": "《公共场所卫生管理条例》第四条",
    "legalLimit": {"value": 20, "unit": "WORKDAY"},
    "promiseLimit": {"value": 10, "unit": "WORKDAY"},
    "caseType": "2",
    "fee": {"charged": False},
    "serviceObjects": ["1", "2"],
    "handlingForms": ["1", "2", "3"],
    "onlineDepth": 4,
    "onSiteVisits": 0,
    "materials": [
        {"name": "公共场所卫生许可申请表", "required": True, "form": "ELECTRONIC", "originals": 0, "copies": 0},
        {"name": "营业执照", "required": True, "form": "ELECTRONIC", "originals": 0, "copies": 0},
        {"name": "卫生管理制度", "required": False, "form": "BOTH", "originals": 1, "copies": 0},
    ],
    "status": "ACTIVE",
    "version": 3,
    "updatedAt": "2026-11-27T16:20:00+08:00",
}
PROVINCE_DEPT = {"name": "广东省卫生健康委员会", "nature": "1"}


def _uscc(first17: str) -> str:
    return first17 + uscc_check_char(first17)


@dataclass
class Vectors:
    """Item factories and envelope building for one session."""

    sender: str
    receiver: str
    key: tuple[str, bytes] | None = None
    rng: random.Random = field(default_factory=lambda: random.Random(uuid.uuid4().int))
    clock: Callable[[], datetime] = lambda: datetime.now(CST)
    _used: set[str] = field(default_factory=set)
    file_batches: bool = False   # FILE binding: every envelope carries a fresh batch
    spec_version: str = "TBS-1.0"  # the envelopes' specVersion: the session's version

    # -- items --------------------------------------------------------------------------
    def _basic(self, prefix: str) -> str:
        while True:
            seq = "".join(self.rng.choice(SEQ_ALPHABET) for _ in range(3))
            if seq == "000":
                continue
            code = f"{prefix}0120{seq}{self.rng.randint(1, 999):03d}"
            if code not in self._used:
                self._used.add(code)
                return code

    def county_item(self, version: int = 1) -> dict[str, Any]:
        """B.1 with fresh codes: a county item (region 440103) the suite is not authoritative for."""
        item = copy.deepcopy(B1_RECORD)
        basic = self._basic("44")
        impl = item["dept"]["uscc"] + "4" + basic
        item.update(itemCode=basic, implCode=impl, version=version, updatedAt=self.stamp(-3600))
        item["handlingItems"] = [{"code": impl + "01", "name": item["name"]}]
        return item

    def province_item(self, version: int = 1) -> dict[str, Any]:
        """A provincial item (region 440000, level 2): a provincial sender owns every field of it."""
        item = copy.deepcopy(B1_RECORD)
        uscc = _uscc("114400000" + "".join(self.rng.choice("0123456789") for _ in range(8)))
        basic = self._basic("44")
        impl = uscc + "2" + basic
        item.update(itemCode=basic, implCode=impl, level="2", regionCode="440000", version=version,
                    dept={**PROVINCE_DEPT, "uscc": uscc}, updatedAt=self.stamp(-3600))
        item["handlingItems"] = [{"code": impl + "01", "name": item["name"]}]
        return item

    def other_province_item(self) -> dict[str, Any]:
        """An item of Xiamen (350203): outside the scope of a Guangdong sender (TBS-SEC-003)."""
        item = copy.deepcopy(B1_RECORD)
        uscc = _uscc("113502030" + "".join(self.rng.choice("0123456789") for _ in range(8)))
        basic = self._basic("35")
        impl = uscc + "4" + basic
        item.update(itemCode=basic, implCode=impl, regionCode="350203", dept={**item["dept"], "name": "厦门市思明区卫生健康局",
                                                                           "uscc": uscc},
                    version=1, updatedAt=self.stamp(-3600))
        item["handlingItems"] = [{"code": impl + "01", "name": item["name"]}]
        return item

    def stamp(self, offset_seconds: float = 0) -> str:
        return (self.clock() + timedelta(seconds=offset_seconds)).astimezone(CST).isoformat(timespec="seconds")

    # -- envelopes ----------------------------------------------------------------------
    def envelope(self, records: list[Any], *, sent_offset: float = 0, sign: bool = True,
                 message_id: str | None = None) -> dict[str, Any]:
        env: dict[str, Any] = {"specVersion": self.spec_version, "messageId": message_id or str(uuid.uuid4()),
                               "sender": self.sender, "receiver": self.receiver, "dataset": "catalog",
                               "sentAt": self.stamp(sent_offset), "records": records,
                               "integrity": {"recordsSha256": records_sha256(records)}}
        if self.file_batches:   # FILE: batch is mandatory (TBS-FILE-004), one batchId per envelope
            env["batch"] = {"batchId": f"cc-{uuid.uuid4().hex}"}
        if sign and self.key is not None:
            env = sign_hmac_sha256(env, self.key[1], self.key[0])
        return env

    def badly_signed(self, records: list[Any]) -> dict[str, Any]:
        """A signature that cannot verify: a wrong value under the suite's key id, or, without a
        key shared with the SUT, a key id the SUT cannot know (TBS-ENV-028 either way)."""
        env = self.envelope(records, sign=False)
        if self.key is not None:
            env = sign_hmac_sha256(env, b"tbs-conformance-wrong-key-" + bytes(6), self.key[0])
        else:
            env = sign_hmac_sha256(env, bytes(32), "TBS-CONF-UNKNOWN-KEY")
        return env


# -- negative vectors (Annex C style), each a (name, records, expected change) -----------------
def negative_items(v: Vectors) -> list[tuple[str, list[dict[str, Any]]]]:
    """Catalog records with one defect each (CC-02); the oracle says what each must produce."""
    out: list[tuple[str, list[dict[str, Any]]]] = []

    item = v.county_item()
    item["dept"]["uscc"] = item["dept"]["uscc"][:-1] + "J"              # C.1: check character
    out.append(("C.1 dept.uscc check character (TBS-CODE-014)", [item]))

    item = v.county_item()
    impl = item["implCode"][:18] + "3" + item["implCode"][19:]          # C.2: exercise level ≠ level
    item["implCode"] = impl
    item["handlingItems"][0]["code"] = impl + "01"
    out.append(("C.2 implCode level digit (TBS-CODE-019)", [item]))

    item = v.county_item()
    item["itemCode"] = item["itemCode"][:4] + "O" + item["itemCode"][5:]  # C.3: a letter O
    out.append(("C.3 itemCode with a letter O (TBS-CODE-004)", [item]))

    item = v.county_item()
    item["materials"][0].update(form="PAPER", originals=1)              # C.4
    out.append(("C.4 paper material on 全程网办 (TBS-CAT-009)", [item]))

    item = v.county_item()
    item["remark"] = "加急"                                              # C.8 on a catalog record
    out.append(("C.8 unknown member (TBS-ENV-002)", [item]))

    out.append(("C.10 item outside the sender's scope (TBS-SEC-003)", [v.other_province_item()]))

    item = v.county_item()
    item["regionCode"] = "440100"                                       # city-shaped with level 4
    item["dept"] = dict(item["dept"])
    out.append(("exercise level does not fit the region shape (TBS-CAT-006 WARNING)", [item]))

    item = v.county_item()
    impl = "91350211M0000XUF46" + item["implCode"][18:]                 # reference allowlist (C.9)
    item.update(implCode=impl, dept={**item["dept"], "uscc": "91350211M0000XUF46"})
    item["handlingItems"][0]["code"] = impl + "01"
    out.append(("allowlisted pilot USCC (TBS-CODE-015 INFO)", [item]))

    good, bad = v.county_item(), v.county_item()
    bad["fee"] = {"charged": True}                                     # TBS-CAT-008: basis missing
    out.append(("one good and one bad record: PARTIAL (TBS-CAT-008)", [good, bad]))
    return out


def null_item(v: Vectors) -> tuple[str, list[dict[str, Any]]]:
    """C.20 on a catalog record: ``version`` written null (JSON bindings only: XML has no null)."""
    item = v.county_item()
    item["version"] = None
    return ("C.20 version null (TBS-ENV-004)", [item])


def tampered(v: Vectors, records: list[dict[str, Any]]) -> dict[str, Any]:
    """C.13: the records changed after the hash was taken (TBS-ENV-027)."""
    env = v.envelope(records, sign=False)
    env["records"] = copy.deepcopy(env["records"])
    env["records"][0]["name"] = env["records"][0]["name"] + "（变更）"
    if v.key is not None:
        env = sign_hmac_sha256(env, v.key[1], v.key[0])
    return env


__all__ = ["B1_RECORD", "Vectors", "negative_items", "null_item", "tampered", "USCC_ALPHABET"]
