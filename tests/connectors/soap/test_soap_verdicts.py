"""TBS-SOAP-004: an envelope sent over SOAP gets the same verdict as the same envelope over REST.

REST side: the validator on the JSON text. SOAP side: the JSON text → PushBatch XML → the
TBS-SOAP-003 mapping → the validator on the mapped JSON with the mapping findings. Compared by
TBS-RPT-010 equivalence, on Annex B and the stateless rows of Annex C.
"""
from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any, Callable

import pytest

from tongban.connectors.soap import mapping
from tongban.model.canonical import canonical_bytes, records_sha256, sha256_hex
from tongban.validators import ValidationContext, validate_envelope

ANNEX_B = Path(__file__).resolve().parents[2] / "data" / "annex_b"
CONTEXT = ValidationContext(binding="SOAP")


def example(name: str) -> dict[str, Any]:
    return json.loads((ANNEX_B / f"{name}.json").read_text(encoding="utf-8"))


def variant(name: str, change: Callable[[dict[str, Any]], None], *, rehash: bool = True) -> dict[str, Any]:
    env = copy.deepcopy(example(name))
    change(env)
    if rehash:
        env["integrity"]["recordsSha256"] = records_sha256(env["records"])
    return env


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(env: dict[str, Any]) -> None:
        *parents, last = path.split("/")
        node: Any = env
        for token in parents:
            node = node[int(token)] if isinstance(node, list) else node[token]
        if isinstance(node, list):
            node[int(last)] = value
        else:
            node[last] = value
    return change


def _drop(*paths: str) -> Callable[[dict[str, Any]], None]:
    def change(env: dict[str, Any]) -> None:
        for path in paths:
            *parents, last = path.split("/")
            node: Any = env
            for token in parents:
                node = node[int(token)] if isinstance(node, list) else node[token]
            del node[last]
    return change


CASES: dict[str, dict[str, Any]] = {
    **{name: example(name) for name in ("B.1", "B.2", "B.3", "B.4", "B.5")},
    "C.1": variant("B.1", _set("records/0/dept/uscc", "11440103007493637J")),
    "C.3": variant("B.1", _set("records/0/itemCode", "44012O012002")),
    "C.4": variant("B.1", lambda e: e["records"][0]["materials"][0].update(form="PAPER", originals=1)),
    "C.5": variant("B.2", _set("records/0/applicant/idNo", "110105194912310021")),
    "C.6": variant("B.2", _set("records/0/caseNo", "11440103007493637K4440120012001202611020007")),
    "C.7": variant("B.2", _set("records/0/submittedAt", "2026-11-02T09:15:00")),
    "C.8": variant("B.2", _set("records/0/remark", "加急")),
    "C.9": variant("B.2", _set("records/1/applicant/idNo", "91350211M0000XUF46")),
    "C.11": variant("B.3", _set("records/3/conclusionCode", "NOT_PERMITTED")),
    "C.13": variant("B.3", _set("records/2/opinion", "同意。"), rehash=False),
    "C.15": variant("B.5", _drop("records/1/detailCodes", "records/1/text")),
    "C.20": variant("B.5", _set("records/0/satisfaction", 5.0)),
    "unknown envelope member": variant("B.4", _set("priority", "HIGH")),
    "wrong dataset": variant("B.4", _set("dataset", "results")),
    "ext and empty list": variant("B.5", lambda e: e["records"][1].update(ext={"k": [1, {"z": True}]},
                                                                        detailCodes=[])),
}


@pytest.mark.parametrize("name", list(CASES))
def test_soap_and_rest_verdicts_are_equivalent(name: str) -> None:
    envelope = CASES[name]
    text = json.dumps(envelope, ensure_ascii=False).encode("utf-8")  # keeps 5.0 as written (C.20)
    rest = validate_envelope(text, context=ValidationContext(binding="REST"))
    mapped, findings = mapping.push_batch_to_envelope(mapping.envelope_to_push_batch(envelope))
    assert mapped is not None
    soap = validate_envelope(mapped, context=CONTEXT, binding_findings=findings)
    assert soap.report.equivalent(rest.report), (soap.report.render_text("SOAP"), rest.report.render_text("REST"))
    assert [r.result for r in soap.record_reports] == [r.result for r in rest.record_reports]
    assert soap.request_hash == sha256_hex(canonical_bytes(mapped))


def test_the_annex_c_rows_are_not_all_passing() -> None:
    """Guards the comparison above against two validators that accept everything."""
    failing = [name for name, env in CASES.items()
               if not validate_envelope(json.dumps(env).encode(), context=ValidationContext(binding="REST")).ok]
    assert {"C.1", "C.5", "C.8", "C.13", "C.20", "wrong dataset"} <= set(failing)


def test_xml_only_faults_reach_the_verdict_through_binding_findings() -> None:
    """An attribute and a repeated element exist only in XML: the mapping findings carry them."""
    xml = mapping.envelope_to_push_batch(example("B.2"))
    with_attribute = xml.replace(b"<tbs:itemName>", b'<tbs:itemName xml:lang="zh">', 1)
    mapped, findings = mapping.push_batch_to_envelope(with_attribute)
    verdict = validate_envelope(mapped, context=CONTEXT, binding_findings=findings)
    assert [f.identity for f in verdict.report.items] == [("ERROR", "TBS-ENV-002", "/records/0/itemName")]
    assert [r.ok for r in verdict.record_reports] == [False, True] and not verdict.envelope_rejected
    # TBS-ENV-001 is ERROR (env): a repeated element, like a duplicate JSON member, rejects the envelope
    repeated = xml.replace(b"<tbs:channel>1</tbs:channel>", b"<tbs:channel>1</tbs:channel><tbs:channel>2</tbs:channel>")
    mapped, findings = mapping.push_batch_to_envelope(repeated)
    verdict = validate_envelope(mapped, context=CONTEXT, binding_findings=findings)
    assert [f.identity for f in verdict.report.items] == [("ERROR", "TBS-ENV-001", "/records/1/channel")]
    assert verdict.envelope_rejected
