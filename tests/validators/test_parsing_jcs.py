"""The fast canonical path of envelope digests: a text ``parse_json_strict_jcs`` calls plain
must serialize by sorted-key compact JSON to exactly what an independent RFC 8785
implementation (the ``rfc8785`` package) writes; texts that need JCS's own rules are not plain."""
from __future__ import annotations

import json

import pytest
import rfc8785
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tongban.model.canonical import canonical_bytes_validated
from tongban.validators.parsing import parse_json_strict_jcs

# names and strings drawn from every plane, the private-use area and full-width forms included
names = st.text(st.characters(blacklist_categories=("Cs",)), max_size=6)
leaves = (st.none() | st.booleans() | st.integers(-2**60, 2**60) | st.floats(allow_nan=False, allow_infinity=False)
          | st.text(st.characters(blacklist_categories=("Cs",)), max_size=12))
values = st.recursive(leaves, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(names, inner, max_size=4),
                      max_leaves=20)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(values, st.booleans(), st.booleans())
def test_a_plain_text_serializes_to_its_rfc_8785_form(value, ascii_escapes, spaced):
    text = json.dumps(value, ensure_ascii=ascii_escapes, separators=(", ", ": ") if spaced else (",", ":"))
    parsed, plain = parse_json_strict_jcs(text.encode("utf-8"))
    if plain:
        assert canonical_bytes_validated(parsed) == rfc8785.dumps(parsed)


@pytest.mark.parametrize("text", [
    '{"a":1.5}', '{"a":[2.0]}', '{"a":9007199254740993}', '{"a": -12345678901234567}',
    '{"\ue000":1,"\U0001f600":2}', '{"\\ue000":1,"\\ud83d\\ude00":2}', '{"k":{"x\\"\uff0c":1}}',
])
def test_texts_that_need_jcs_rules_are_not_plain(text):
    parsed, plain = parse_json_strict_jcs(text.encode("utf-8"))
    assert plain is False


@pytest.mark.parametrize("text", [
    '{"caseNo":"44010320261205000001","seq":3,"opinion":"材料齐全，予以受理（窗口）"}',
    '{"名称":"中文","list":[1,2,3],"n":900719925474099}',
])
def test_ordinary_tbs_texts_are_plain(text):
    parsed, plain = parse_json_strict_jcs(text.encode("utf-8"))
    assert plain is True and canonical_bytes_validated(parsed) == rfc8785.dumps(parsed)
