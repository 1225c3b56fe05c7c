"""Hostile inputs are refused with a clear finding, without crashing or hanging."""
from __future__ import annotations

import hashlib
import json

import pytest

from tbs_examples import ANNEX_B, changed, identities
from tongban.validators import JsonParseError, ValidationContext, parse_json_strict, validate_envelope

B2 = (ANNEX_B / "B.2.json").read_bytes()


def _refused(data: bytes | str) -> None:
    verdict = validate_envelope(data)
    assert identities(verdict.report) == [("ERROR", "TBS-ENV-001", "")]
    assert verdict.envelope is None and verdict.record_reports == []
    raw = data if isinstance(data, bytes) else data.encode("utf-8", "surrogatepass")
    assert verdict.request_hash == hashlib.sha256(raw).hexdigest()
    assert verdict.report.items[0].message_en and verdict.report.items[0].message_zh


@pytest.mark.parametrize("data", [
    pytest.param(b"\xef\xbb\xbf" + B2, id="byte-order mark"),
    pytest.param(B2.replace("张三".encode(), b"\xff\xfe"), id="invalid UTF-8"),
    pytest.param(B2.decode().encode("gbk", "replace"), id="GBK bytes"),
    pytest.param(B2.replace(b'"version": 1\n', b'"version": NaN\n', 1), id="NaN"),
    pytest.param(B2.replace(b'"version": 1\n', b'"version": -Infinity\n', 1), id="Infinity"),
    pytest.param(B2.replace(b'"version": 1\n', b'"version": 1e400\n', 1), id="number beyond double"),
    pytest.param(B2.replace(b'"channel": "3",', b'"channel": "3", "channel": "2",', 1), id="duplicate member"),
    pytest.param(B2.replace("张三".encode(), b"\\ud800x", 1), id="unpaired surrogate escape"),
    pytest.param(B2.replace("张三".encode(), b"\xed\xa0\x80", 1), id="encoded surrogate"),
    pytest.param(b'{"a": [' + b"[" * 10_000 + b"]" * 10_000 + b"]}", id="nested 10 000 deep"),
    pytest.param(b"[" * 300 + b"]" * 300, id="nested 300 deep"),
    pytest.param(b"", id="empty"),
    pytest.param(B2[:-20], id="truncated"),
])
def test_unparseable_text_is_refused_whole(data: bytes) -> None:
    _refused(data)


def test_str_input_with_lone_surrogate_is_refused() -> None:
    _refused(B2.decode().replace("张三", "\udc00"))


def test_parser_keeps_valid_surrogate_pairs() -> None:
    assert parse_json_strict(b'{"a": "\\ud83d\\ude00"}') == {"a": "\U0001F600"}
    with pytest.raises(JsonParseError):
        parse_json_strict(b'{"a": "\\ude00\\ud83d"}')


def test_ten_megabyte_string_rejects_the_record_only() -> None:
    def edit(env):
        env["records"][0]["itemName"] = "办" * 10_000_000
    envelope = changed("B.2", edit)
    verdict = validate_envelope(json.dumps(envelope, ensure_ascii=False).encode())
    assert identities(verdict.report) == [("ERROR", "TBS-SEC-009", "/records/0")]
    assert verdict.record_reports[1].items == []


def test_oversized_body_is_refused_before_parsing_when_the_binding_is_known() -> None:
    body = b'{"pad": "' + b"x" * 1_100_000 + b'"}'
    verdict = validate_envelope(body, context=ValidationContext(binding="MQTT"))
    assert identities(verdict.report) == [("ERROR", "TBS-SEC-009", "")]


def test_deep_nesting_inside_a_record_member_is_reported_at_the_member() -> None:
    def edit(env):
        nested: list = []
        for _ in range(200):
            nested = [nested]
        env["records"][0]["deep"] = nested
    verdict = validate_envelope(json.dumps(changed("B.2", edit)))
    assert identities(verdict.report) == [("ERROR", "TBS-ENV-002", "/records/0/deep")]


@pytest.mark.parametrize("data", ["[]", "42", '"envelope"', "null"])
def test_non_object_envelope(data: str) -> None:
    verdict = validate_envelope(data)
    assert identities(verdict.report) == [("ERROR", "TBS-ENV-005", "")]


def test_huge_integer_is_a_type_error_not_a_crash() -> None:
    envelope = changed("B.2", lambda env: env["records"][0].update(version=2**70))
    verdict = validate_envelope(json.dumps(envelope))
    assert identities(verdict.report) == [("ERROR", "TBS-ENV-005", "/records/0/version")]


def test_envelope_with_1001_records_is_refused() -> None:
    envelope = changed("B.4", lambda env: env.update(records=env["records"] * 1001))
    verdict = validate_envelope(envelope)
    assert identities(verdict.report) == [("ERROR", "TBS-ENV-025", "/records")]
