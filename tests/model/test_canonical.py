"""Canonical JSON (RFC 8785) and hashes, §5.3: the reference implementation, the json.dumps
form and the validated fast form agree on TBS payloads; numbers follow JCS."""
from __future__ import annotations

import json

import pytest

from tongban.model.canonical import canonical_bytes, canonical_bytes_validated, records_sha256
from tongban.sandbox.generate import generate_province


def _dumps(value) -> bytes:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()


def test_all_three_forms_agree_on_every_generated_record():
    data = generate_province(4)
    n = 0
    for system in data.systems.values():
        for dataset in ("catalog", "case", "case-event", "result", "evaluation"):
            for rec in system.records(dataset):
                assert canonical_bytes(rec) == canonical_bytes_validated(rec) == _dumps(rec)
                n += 1
    assert n > 1000


@pytest.mark.parametrize("text", ["a\x01b\x1f", "tab\t nl\n cr\r bs\b ff\f", 'q"bs\\ /', "\u2028\u2029",
                                  "中文（全角）", "\x7f", "😀", "\x00"])
def test_string_escapes_match_jcs(text):
    import rfc8785

    value = {"k": text, "a": [1, -(2**53 - 1)]}
    assert canonical_bytes_validated(value) == rfc8785.dumps(value) == canonical_bytes(value)


def test_numbers_follow_jcs():
    assert canonical_bytes({"v": 5.0}) == b'{"v":5}'
    assert canonical_bytes({"v": 2**70}) == b'{"v":1.1805916207174113e+21}'
    assert canonical_bytes({"b": 1, "a": {"d": 1, "c": 2}}) == b'{"a":{"c":2,"d":1},"b":1}'


def test_annex_b_records_sha256():
    from pathlib import Path

    b2 = json.loads((Path(__file__).resolve().parents[1] / "data" / "annex_b" / "B.2.json")
                    .read_text(encoding="utf-8"))
    assert records_sha256(b2["records"]) == "558e930882d2222e21ed962b30685c1cf9b79cbebdec7264a81519b4af6b6d47"
