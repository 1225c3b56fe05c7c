"""The fast path for valid records: a compiled JSON Schema plus the checks it cannot express.

``jsonschema_rs`` evaluates, in Rust, the record schema extended with what TBS adds to the
JSON types: TBS-ENV-006 (as patterns per ``x-tbs-type``) and the calendar validity of
``date-time``/``date`` (TBS-ENV-007/008, as patterns). The nodes' ``plan`` then runs the rest
in Python (check characters, list order, ``ext``, "5.0 is not an integer"). When both pass,
the reporting walk of S1–S2 would report nothing, and the engine skips it; a record that
fails either is walked in full, so findings always come from the one reporting
implementation. ``tests/validators/test_fast_path.py`` holds the two paths to agreement.
"""
from __future__ import annotations

import copy
from typing import Any

import jsonschema_rs

from tongban.validators.checks import WHITE_SPACE
from tongban.validators.nodes import Node
from tongban.validators.schema_model import SchemaSet

_CONTROL = "\\x00-\\x1f\\x7f"
_CONTROL_TEXT = "\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f\\x7f"
_WS = (WHITE_SPACE.replace("\t", "\\t").replace("\n", "\\n").replace("\x0b", "\\x0b")
       .replace("\x0c", "\\x0c").replace("\r", "\\r"))
_STRING = f"^[^{_CONTROL}{_WS}](?:[^{_CONTROL}]*[^{_CONTROL}{_WS}])?$"
_TEXT = f"^[^{_CONTROL_TEXT}]*[^{_CONTROL_TEXT}{_WS}][^{_CONTROL_TEXT}]*$"

# Calendar validity as regular expressions, without look-around, so the linear-time engine runs them.
_LEAP_YEAR = "(?:[0-9]{2}(?:0[48]|[2468][048]|[13579][26])|(?:0[48]|[2468][048]|[13579][26])00)"
_YEAR = "(?:[1-9][0-9]{3}|0[1-9][0-9]{2}|00[1-9][0-9]|000[1-9])"  # 0001–9999
_DATE = (f"(?:{_YEAR}-(?:(?:0[13578]|1[02])-(?:0[1-9]|[12][0-9]|3[01])|(?:0[469]|11)-(?:0[1-9]|[12][0-9]|30)"
         f"|02-(?:0[1-9]|1[0-9]|2[0-8]))|{_LEAP_YEAR}-02-29)")
_OFFSET = ("(?:Z|\\+(?:(?:0[0-9]|1[0-3]):[0-5][0-9]|14:00)"
           "|-(?:00:(?:0[1-9]|[1-5][0-9])|(?:0[1-9]|1[0-3]):[0-5][0-9]|14:00))")  # not -00:00
DATE_TIME_PATTERN = f"^{_DATE}T(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\\.[0-9]{{1,3}})?{_OFFSET}$"
DATE_PATTERN = f"^{_DATE}$"

# x-tbs-type -> patterns a value of that kind must also match (TBS-ENV-006, -007, -008).
KIND_PATTERNS = {
    "string": [_STRING],
    "text": [_TEXT],
    "date-time": [_STRING, DATE_TIME_PATTERN],
    "date": [_STRING, DATE_PATTERN],
}


_UNSAFE_IN_PATTERN = ("[^", ".", "\\s", "\\S", "\\W", "\\D", "\\p", "\\P", "\\t", "\\n", "\\r", "\\x", "\\u", " ")


def _pattern_excludes_blanks(pattern: str) -> bool:
    """Conservatively: can no match hold white space or a control character?

    True when the pattern uses only positive character classes and literals with no
    white space, escapes of control characters or wildcards (all TBS code patterns).
    """
    return not any(token in pattern for token in _UNSAFE_IN_PATTERN)


def _kind_patterns(merged: dict[str, Any]) -> list[str]:
    """Patterns to add to a use site of an ``x-tbs-type`` string, minus those already implied."""
    kind = merged.get("x-tbs-type", "")
    if kind not in KIND_PATTERNS:
        return []
    values = merged.get("enum", []) + ([merged["const"]] if "const" in merged else [])
    if values and all(isinstance(v, str) and v and not set(v) & set(WHITE_SPACE) and v.isprintable() for v in values):
        return []
    if kind in ("date-time", "date"):
        return KIND_PATTERNS[kind][1:]  # the calendar pattern admits no blank either
    if "pattern" in merged and _pattern_excludes_blanks(merged["pattern"]):
        return []
    return KIND_PATTERNS[kind]


def fast_documents(schemas: SchemaSet) -> dict[str, dict[str, Any]]:
    """The spec's schemas with the TBS string and date rules added as ``allOf`` patterns.

    Patterns go to each use site (a property, an item), where ``$ref`` siblings such as
    ``enum`` are known, so that codes whose pattern or enumeration already excludes white
    space are not tested twice.
    """
    documents = copy.deepcopy(schemas.documents)

    def extend(node: Any, file: str, is_definition: bool) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "$defs":
                    for sub in value.values():
                        extend(sub, file, True)
                else:
                    extend(value, file, False)
            if not is_definition and ("$ref" in node or "x-tbs-type" in node):
                merged, _ = schemas.merged(node, file)
                patterns = _kind_patterns(merged)
                if patterns:
                    node["allOf"] = list(node.get("allOf", [])) + [{"pattern": p} for p in patterns]
        elif isinstance(node, list):
            for value in node:
                extend(value, file, False)

    for file, document in documents.items():
        for key, value in document.items():
            if key == "$defs":
                for sub in value.values():
                    extend(sub, file, True)
            elif key in ("properties", "items", "allOf"):
                extend(value, file, False)
    return documents


class FastRecordCheck:
    def __init__(self, schemas: SchemaSet, file: str, node: Node, record_limit: int) -> None:
        documents = fast_documents(schemas)
        registry = jsonschema_rs.Registry([(doc["$id"], doc) for doc in documents.values()])
        self.is_valid = jsonschema_rs.validator_for(documents[file], registry=registry).is_valid
        self.plan = node.plan()
        bound = node.max_bytes()
        # When every accepted record is smaller than the TBS-SEC-009 limit, size needs no check.
        self.size_bounded = bound is not None and bound <= record_limit
        self.bound = bound

    def passes(self, record: dict[str, Any], allowlist: frozenset[str]) -> bool:
        """True when the full walk of S1–S2 would report nothing for ``record``."""
        try:
            if not self.is_valid(record):
                return False
        except (ValueError, TypeError, OverflowError):  # e.g. an integer beyond 64 bits
            return False
        return self.plan is None or self.plan(record, allowlist)
