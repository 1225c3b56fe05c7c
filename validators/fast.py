"""The fast path for valid records: a compiled JSON Schema plus the checks it cannot express.

``jsonschema_rs`` evaluates the record schema (types, required and unknown members, patterns,
enumerations, lengths, ranges) in Rust; :meth:`Node.quick` then runs what JSON Schema cannot
say (TBS-ENV-006 white space, calendar validity, check characters, list order, ``ext``, and
"5.0 is not an integer"). Only when both pass does the engine skip the reporting walk of
S1–S2: a record that fails either is walked in full, so the findings always come from the
one reporting implementation.
"""
from __future__ import annotations

from typing import Any

import jsonschema_rs

from tongban.validators.nodes import Node
from tongban.validators.schema_model import SchemaSet


class FastRecordCheck:
    def __init__(self, schemas: SchemaSet, file: str, node: Node) -> None:
        resources = [(doc["$id"], doc) for doc in schemas.documents.values()]
        registry = jsonschema_rs.Registry(resources)
        self._schema = jsonschema_rs.validator_for(schemas.documents[file], registry=registry)
        self._node = node

    def passes(self, record: dict[str, Any], allowlist: frozenset[str]) -> bool:
        """True when the full walk of S1–S2 would report nothing for ``record``."""
        try:
            if not self._schema.is_valid(record):
                return False
        except (ValueError, TypeError, OverflowError):  # e.g. an integer beyond 64 bits
            return False
        return self._node.quick(record, allowlist)
