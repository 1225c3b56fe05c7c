"""Bad input at the validator, whatever binding brought it (TBS-1.0 §19.3 S0–S4): one case per
kind. Every binding hands its bytes or its mapped envelope to :func:`validate_envelope`; these
kinds feed it directly and state the exact findings (severity, rule id, location), so a refusal
never depends on the binding that carried it. Nothing crashes or hangs; text that cannot be
parsed is refused whole, with its request hash taken over the raw bytes and a message in English
and Chinese.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any, Callable

import pytest

from tbs_examples import ANNEX_B, changed, identities
from tongban.validators import JsonParseError, ValidationContext, parse_json_strict, validate_envelope

B2 = (ANNEX_B / "B.2.json").read_bytes()
NOT_PARSED = [("ERROR", "TBS-ENV-001", "")]


@dataclass(frozen=True)
class Kind:
    id: str
    data: Callable[[], bytes | str | dict[str, Any]]
    findings: list[tuple[str, str, str]]
    context: ValidationContext = ValidationContext()
    check: Callable[[Any], None] | None = None   # what else the verdict must show


def _text(data: bytes | str) -> Callable[[], bytes | str]:
    return lambda: data


def _edited(name: str, edit: Callable[[dict[str, Any]], None]) -> Callable[[], str]:
    return lambda: json.dumps(changed(name, edit))


def _ten_megabyte_string(env: dict[str, Any]) -> None:
    env["records"][0]["itemName"] = "办" * 10_000_000


def _deep_member(env: dict[str, Any]) -> None:
    nested: list = []
    for _ in range(200):
        nested = [nested]
    env["records"][0]["deep"] = nested


def _only_the_first_record_rejected(verdict) -> None:
    assert verdict.record_reports[1].items == []


KINDS = [
    # -- text that is not I-JSON: refused whole (TBS-ENV-001) ---------------------------------
    Kind("byte-order-mark", _text(b"\xef\xbb\xbf" + B2), NOT_PARSED),
    Kind("invalid-utf8", _text(B2.replace("张三".encode(), b"\xff\xfe")), NOT_PARSED),
    Kind("gbk-bytes", _text(B2.decode().encode("gbk", "replace")), NOT_PARSED),
    Kind("nan", _text(B2.replace(b'"version": 1\n', b'"version": NaN\n', 1)), NOT_PARSED),
    Kind("infinity", _text(B2.replace(b'"version": 1\n', b'"version": -Infinity\n', 1)), NOT_PARSED),
    Kind("number-beyond-double", _text(B2.replace(b'"version": 1\n', b'"version": 1e400\n', 1)), NOT_PARSED),
    Kind("duplicate-member", _text(B2.replace(b'"channel": "3",', b'"channel": "3", "channel": "2",', 1)),
         NOT_PARSED),
    Kind("unpaired-surrogate-escape", _text(B2.replace("张三".encode(), b"\\ud800x", 1)), NOT_PARSED),
    Kind("encoded-surrogate", _text(B2.replace("张三".encode(), b"\xed\xa0\x80", 1)), NOT_PARSED),
    Kind("nested-10000-deep", _text(b'{"a": [' + b"[" * 10_000 + b"]" * 10_000 + b"]}"), NOT_PARSED),
    Kind("nested-300-deep", _text(b"[" * 300 + b"]" * 300), NOT_PARSED),
    Kind("empty", _text(b""), NOT_PARSED),
    Kind("truncated", _text(B2[:-20]), NOT_PARSED),
    Kind("str-with-lone-surrogate", _text(B2.decode().replace("张三", "\udc00")), NOT_PARSED),
    # -- size (TBS-SEC-009) ----------------------------------------------------------------------
    Kind("ten-megabyte-string-in-a-record",
         lambda: json.dumps(changed("B.2", _ten_megabyte_string), ensure_ascii=False).encode(),
         [("ERROR", "TBS-SEC-009", "/records/0")], check=_only_the_first_record_rejected),
    Kind("body-over-the-mqtt-limit", _text(b'{"pad": "' + b"x" * 1_100_000 + b'"}'), [("ERROR", "TBS-SEC-009", "")],
         context=ValidationContext(binding="MQTT")),
    Kind("records-over-1000", lambda: changed("B.4", lambda env: env.update(records=env["records"] * 1001)),
         [("ERROR", "TBS-ENV-025", "/records")]),
    # -- JSON, but not an envelope object (TBS-ENV-005) -------------------------------------------
    Kind("top-level-array", _text("[]"), [("ERROR", "TBS-ENV-005", "")]),
    Kind("top-level-number", _text("42"), [("ERROR", "TBS-ENV-005", "")]),
    Kind("top-level-string", _text('"envelope"'), [("ERROR", "TBS-ENV-005", "")]),
    Kind("top-level-null", _text("null"), [("ERROR", "TBS-ENV-005", "")]),
    # -- members (TBS-ENV-002, -005) --------------------------------------------------------------
    Kind("deep-nesting-in-a-record-member", _edited("B.2", _deep_member), [("ERROR", "TBS-ENV-002", "/records/0/deep")]),
    Kind("huge-integer", _edited("B.2", lambda env: env["records"][0].update(version=2**70)),
         [("ERROR", "TBS-ENV-005", "/records/0/version")]),
]


@pytest.mark.parametrize("kind", KINDS, ids=[k.id for k in KINDS])
def test_validator_kind(kind: Kind) -> None:
    data = kind.data()
    verdict = validate_envelope(data, context=kind.context)
    assert identities(verdict.report) == kind.findings
    if kind.findings == NOT_PARSED:
        # refused whole: nothing parsed, the hash over the raw bytes, a message in both languages
        assert verdict.envelope is None and verdict.record_reports == []
        raw = data if isinstance(data, bytes) else data.encode("utf-8", "surrogatepass")
        assert verdict.request_hash == hashlib.sha256(raw).hexdigest()
        assert verdict.report.items[0].message_en and verdict.report.items[0].message_zh
    if kind.check is not None:
        kind.check(verdict)


def test_the_kinds_table_has_one_case_per_kind() -> None:
    assert len({k.id for k in KINDS}) == len(KINDS)


def test_parser_keeps_valid_surrogate_pairs() -> None:
    assert parse_json_strict(b'{"a": "\\ud83d\\ude00"}') == {"a": "\U0001F600"}
    with pytest.raises(JsonParseError):
        parse_json_strict(b'{"a": "\\ude00\\ud83d"}')
