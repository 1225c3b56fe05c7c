"""Canonical JSON (RFC 8785) and hashes, §5.3, checked against things other than our code:
the independent ``rfc8785`` implementation over generated values and generated province
records, and the literals of RFC 8785 itself (Appendix B numbers, §3.2.3 key order,
§3.2.2.2 string escapes)."""
from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from tongban.model.canonical import canonical_bytes, canonical_bytes_validated, records_sha256
from tongban.sandbox.generate import generate_province

MAX_SAFE = 2**53 - 1

# Any text JSON can carry in UTF-8 (no lone surrogates), member names included.
text = st.text(st.characters(exclude_categories=("Cs",)), max_size=12)
safe_ints = st.integers(-MAX_SAFE, MAX_SAFE)
json_values = st.recursive(
    st.none() | st.booleans() | safe_ints | st.floats(allow_nan=False, allow_infinity=False) | text,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(text, inner, max_size=5),
    max_leaves=25)
# What a record looks like after TBS validation: ASCII member names, integers only.
validated_values = st.recursive(
    st.none() | st.booleans() | safe_ints | text,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(st.characters(max_codepoint=127), max_size=8),
                                                                 inner, max_size=5),
    max_leaves=25)


@settings(max_examples=150, deadline=None)
@given(json_values)
def test_canonical_bytes_equals_rfc8785_on_generated_values(value):
    assert canonical_bytes(value) == rfc8785.dumps(value)


@settings(max_examples=150, deadline=None)
@given(validated_values)
def test_validated_fast_form_equals_rfc8785_on_validated_values(value):
    assert canonical_bytes_validated(value) == rfc8785.dumps(value)


@settings(max_examples=100, deadline=None)
@given(st.integers(MAX_SAFE + 1, 2**80) | st.integers(-(2**80), -MAX_SAFE - 1))
def test_integers_beyond_the_safe_range_are_written_as_the_double_they_round_to(n):
    assert canonical_bytes({"v": n}) == b'{"v":' + rfc8785.dumps(float(n)) + b"}"


def test_every_generated_record_matches_rfc8785():
    data = generate_province(2)
    n = 0
    for system in data.systems.values():
        for dataset in ("catalog", "case", "case-event", "result", "evaluation"):
            for rec in system.records(dataset):
                expected = rfc8785.dumps(rec)
                assert canonical_bytes(rec) == expected
                assert canonical_bytes_validated(rec) == expected
                n += 1
    assert n > 500


# RFC 8785 Appendix B: IEEE 754 bit patterns and their JCS text.
APPENDIX_B = [
    ("0000000000000000", "0"), ("8000000000000000", "0"), ("0000000000000001", "5e-324"),
    ("8000000000000001", "-5e-324"), ("7fefffffffffffff", "1.7976931348623157e+308"),
    ("ffefffffffffffff", "-1.7976931348623157e+308"), ("4340000000000000", "9007199254740992"),
    ("c340000000000000", "-9007199254740992"), ("4430000000000000", "295147905179352830000"),
    ("44b52d02c7e14af5", "9.999999999999997e+22"), ("44b52d02c7e14af6", "1e+23"),
    ("44b52d02c7e14af7", "1.0000000000000001e+23"), ("444b1ae4d6e2ef4e", "999999999999999700000"),
    ("444b1ae4d6e2ef4f", "999999999999999900000"), ("444b1ae4d6e2ef50", "1e+21"),
    ("3eb0c6f7a0b5ed8c", "9.999999999999997e-7"), ("3eb0c6f7a0b5ed8d", "0.000001"),
    ("41b3de4355555553", "333333333.3333332"), ("41b3de4355555554", "333333333.33333325"),
    ("41b3de4355555555", "333333333.3333333"), ("41b3de4355555556", "333333333.3333334"),
    ("41b3de4355555557", "333333333.33333343"), ("becbf647612f3696", "-0.0000033333333333333333"),
    ("43143ff3c1cb0959", "1424953923781206.2"),
]


@pytest.mark.parametrize("bits, jcs", APPENDIX_B)
def test_numbers_as_rfc8785_appendix_b(bits, jcs):
    value = struct.unpack(">d", bytes.fromhex(bits))[0]
    assert canonical_bytes({"v": value}) == b'{"v":' + jcs.encode() + b"}"


def test_integral_doubles_and_nested_order():
    assert canonical_bytes({"v": 5.0}) == b'{"v":5}'
    assert canonical_bytes({"b": 1, "a": {"d": 1, "c": 2}}) == b'{"a":{"c":2,"d":1},"b":1}'


def test_member_names_sort_by_utf16_code_units_rfc8785_3_2_3():
    value = {"\u20ac": 1, "\r": 2, "\ufb33": 3, "1": 4, "\U0001F600": 5, "\u0080": 6, "\u00f6": 7}
    order = list(json.loads(canonical_bytes(value)))
    assert order == ["\r", "1", "\u0080", "\u00f6", "\u20ac", "\U0001F600", "\ufb33"]


@pytest.mark.parametrize("text, jcs", [
    ("\x00", b'"\\u0000"'), ("\x01\x1f", b'"\\u0001\\u001f"'), ("\b\t\n\f\r", b'"\\b\\t\\n\\f\\r"'),
    ('"\\', b'"\\"\\\\"'), ("/", b'"/"'), ("\x7f", b'"\x7f"'), ("\u2028\u2029", '"\u2028\u2029"'.encode()),
    ("中文（全角）", '"中文（全角）"'.encode()), ("😀", '"😀"'.encode()),
])
def test_string_escapes_as_rfc8785_3_2_2_2(text, jcs):
    assert canonical_bytes(text) == jcs
    assert canonical_bytes_validated(text) == jcs


def test_annex_b_records_sha256():
    b2 = json.loads((Path(__file__).resolve().parents[1] / "data" / "annex_b" / "B.2.json")
                    .read_text(encoding="utf-8"))
    assert records_sha256(b2["records"]) == "558e930882d2222e21ed962b30685c1cf9b79cbebdec7264a81519b4af6b6d47"
