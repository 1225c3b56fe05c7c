"""Property-based fuzzing (hypothesis) of what reads bytes from outside: the strict JSON
parser, the SOAP/XML mapping and the file-drop manifest reader.

The property is the same for all three: any input gives a value or a finding naming a TBS
rule — never another exception. Inputs are random bytes, and mutations (bytes flipped,
inserted, cut) of valid documents built from the Annex B examples, so the generator reaches
deep into the parsers. CI runs a bounded number of examples (seconds); ``make fuzz`` runs
the long profile (TONGBAN_FUZZ=long). A crash found becomes an explicit example below.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

from hypothesis import HealthCheck, example, given, settings, strategies as st

from tongban.connectors.filedrop.batch import logical_envelope
from tongban.connectors.soap.mapping import envelope_to_push_batch, push_batch_to_envelope
from tongban.model.canonical import canonical_bytes
from tongban.validators.parsing import JsonParseError, parse_json_strict

settings.register_profile("ci", max_examples=60, deadline=None, database=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("long", max_examples=20_000, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("long" if os.environ.get("TONGBAN_FUZZ") == "long" else "ci")

ANNEX_B = Path(__file__).resolve().parents[1] / "data" / "annex_b"
ENVELOPE = json.loads((ANNEX_B / "B.2.json").read_text(encoding="utf-8"))
ENVELOPE_BYTES = canonical_bytes(ENVELOPE)
PUSH_BATCH = envelope_to_push_batch(ENVELOPE)
DATA = b"".join(canonical_bytes(r) + b"\n" for r in ENVELOPE["records"])
MANIFEST_NAME = "LW-case-20261102-01.manifest.json"
MANIFEST = (ANNEX_B / MANIFEST_NAME).read_bytes()


@st.composite
def mutated(draw, seed: bytes):
    """``seed`` with a few bytes replaced, inserted or cut out."""
    data = bytearray(seed)
    for _ in range(draw(st.integers(1, 6))):
        op = draw(st.sampled_from(["replace", "insert", "delete", "truncate"]))
        at = draw(st.integers(0, max(len(data) - 1, 0)))
        if op == "replace" and data:
            data[at] = draw(st.integers(0, 255))
        elif op == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=8))
        elif op == "delete" and data:
            del data[at:at + draw(st.integers(1, 16))]
        elif op == "truncate":
            del data[at:]
    return bytes(data)


def _rule_ids(findings) -> list[str]:
    return [f.rule_id for f in findings]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2 ** 53) + 1, 2 ** 53 - 1)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=8), inner, max_size=5),
    max_leaves=30)


@given(json_values)
def test_strict_parser_reads_back_every_json_value(value):
    assert parse_json_strict(json.dumps(value, ensure_ascii=False).encode("utf-8")) == value


@example(b"\xef\xbb\xbf{}")
@example(b"[" * 5000)
@example(b'{"a":1,"a":2}')
@example(b'{"x": NaN}')
@example(b'"\\ud800"')
@given(st.one_of(st.binary(max_size=512), mutated(ENVELOPE_BYTES)))
def test_strict_parser_gives_a_value_or_a_parse_error(data):
    try:
        parse_json_strict(data)
    except JsonParseError as exc:
        assert str(exc)


@example(b'<?xml version="1.0" encoding="GBK"?><a/>')
@example(b'<!DOCTYPE a [<!ENTITY x "y">]><a>&x;</a>')
@example(b"<a>" * 200)
@given(st.one_of(st.binary(max_size=512), mutated(PUSH_BATCH)))
def test_soap_mapping_gives_an_envelope_or_findings_with_a_rule(data):
    envelope, findings = push_batch_to_envelope(data)
    assert envelope is not None or findings
    assert all(rule.startswith("TBS-") for rule in _rule_ids(findings))


@given(st.one_of(mutated(MANIFEST), st.binary(max_size=256)), st.one_of(mutated(DATA), st.none()))
def test_filedrop_manifest_reader_gives_an_envelope_or_findings_with_a_rule(manifest, data):
    envelope, findings = logical_envelope(manifest, data, manifest_name=MANIFEST_NAME)
    assert envelope is not None or findings
    assert all(rule.startswith("TBS-") for rule in _rule_ids(findings))
