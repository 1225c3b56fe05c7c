"""Load a spec version's JSON Schemas from disk and compile them into validator nodes.

The schemas in ``interface_specs/tbs-<version>/schemas/`` drive the structural stages: the
``x-tbs-*`` annotations say which TBS rule a constraint reports under and which checks JSON
Schema cannot express. Only the keywords listed in :data:`SUPPORTED` are understood; any
other validation keyword makes loading fail, so a future schema cannot be half-enforced.
"""
from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any

from tongban.specs import spec_dir
from tongban.validators.checks import CHECKS, FORMATS
from tongban.validators.nodes import (
    AnyObjectNode, ArrayNode, BooleanNode, Conditional, ExtNode, IntegerNode, Node, ObjectNode, StringNode,
)

ANNOTATIONS = {"$schema", "$id", "$comment", "$defs", "title", "description", "x-tbs-rule", "x-tbs-type",
               "x-tbs-type-rule", "x-tbs-code-table", "x-tbs-open", "x-tbs-deprecated", "x-tbs-deprecated-values", "x-tbs-formats", "x-tbs-checks", "x-tbs-mask", "x-tbs-ext",
               "x-tbs-order", "x-tbs-unique-by", "x-tbs-order-by", "x-tbs-records", "x-tbs-dataset",
               "x-tbs-record-rule", "x-tbs-cross-field", "x-tbs-authorization", "x-tbs-envelope-rules",
               "x-tbs-datasets", "x-tbs-limits", "x-tbs-event-members", "x-tbs-record-dispatch", "propertyNames",
               "contains"}
SUPPORTED = ANNOTATIONS | {"$ref", "type", "properties", "required", "additionalProperties", "items", "minItems",
                           "maxItems", "uniqueItems", "enum", "const", "pattern", "minLength", "maxLength", "minimum",
                           "maximum", "allOf", "dependentRequired"}
_TAKE_MAX = {"minimum", "minLength", "minItems"}
_TAKE_MIN = {"maximum", "maxLength", "maxItems"}


class SchemaError(ValueError):
    """A schema file uses something this validator does not understand."""


class SchemaSet:
    """Every ``*.schema.json`` of one spec folder, addressed by file name."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.documents: dict[str, dict[str, Any]] = {
            p.name: json.loads(p.read_text(encoding="utf-8")) for p in sorted(folder.glob("*.schema.json"))
        }
        if not self.documents:
            raise SchemaError(f"no *.schema.json in {folder.name}")

    def resolve(self, ref: str, base: str) -> tuple[dict[str, Any], str]:
        """A relative ``file#/json/pointer`` reference → (schema, file it lives in)."""
        file, _, fragment = ref.partition("#")
        file = file or base
        if file not in self.documents:
            raise SchemaError(f"{base}: unresolvable $ref {ref!r}")
        target: Any = self.documents[file]
        for token in filter(None, fragment.split("/")):
            target = target[token.replace("~1", "/").replace("~0", "~")]
        return target, file

    def merged(self, schema: dict[str, Any], base: str) -> tuple[dict[str, Any], str]:
        """``schema`` with its ``$ref`` chain folded in (siblings narrow or annotate the target)."""
        if "$ref" not in schema:
            return schema, base
        target, file = self.resolve(schema["$ref"], base)
        target, file = self.merged(target, file)
        out = dict(target)
        for key, value in schema.items():
            if key == "$ref":
                continue
            if key in out and key not in ANNOTATIONS and out[key] != value:
                if key in _TAKE_MAX:
                    value = max(value, out[key])
                elif key in _TAKE_MIN:
                    value = min(value, out[key])
                else:
                    raise SchemaError(f"{base}: {key!r} both in a $ref target and beside it")
            out[key] = value
        return out, file


def _check_keywords(schema: dict[str, Any], where: str) -> None:
    unknown = set(schema) - SUPPORTED
    if unknown:
        raise SchemaError(f"{where}: unsupported keyword(s) {sorted(unknown)}")


class Compiler:
    def __init__(self, schemas: SchemaSet) -> None:
        self.schemas = schemas

    def compile(self, schema: dict[str, Any], base: str, inherited_rule: str, where: str,
                skip_dispatch: bool = True) -> Node:
        schema, base = self.schemas.merged(schema, base)
        _check_keywords(schema, where)
        rule = schema.get("x-tbs-rule", inherited_rule)
        type_rule = schema.get("x-tbs-type-rule", "TBS-ENV-005")
        kind = schema.get("type")
        if "x-tbs-ext" in schema:
            ext = schema["x-tbs-ext"]
            return ExtNode(rule=rule, max_depth=ext["maxDepth"], size_limit=ext["maxBytes"])
        if kind == "object":
            if "properties" not in schema:
                return AnyObjectNode(rule=rule, type_rule=type_rule)
            if schema.get("additionalProperties", True) is not False:
                raise SchemaError(f"{where}: objects must be closed (additionalProperties: false)")
            props = {name: self.compile(sub, base, rule, f"{where}/{name}")
                     for name, sub in schema["properties"].items()}
            conditionals = []
            for entry in schema.get("allOf", []):
                if entry.get("x-tbs-record-dispatch") and skip_dispatch:
                    continue
                conditionals.append(self._conditional(entry, props, schema, base, where))
            masked = frozenset(n for n, sub in schema["properties"].items()
                               if self.schemas.merged(sub, base)[0].get("x-tbs-mask"))
            return ObjectNode(rule=rule, type_rule=type_rule, properties=props,
                              required=tuple(schema.get("required", ())),
                              dependent_required={k: tuple(v) for k, v in schema.get("dependentRequired", {}).items()},
                              conditionals=tuple(conditionals), masked=masked)
        if kind == "array":
            items = self.compile(schema.get("items", {"type": "object"}), base, rule, f"{where}/items")
            return ArrayNode(rule=rule, type_rule=type_rule, items=items, min_items=schema.get("minItems"),
                             max_items=schema.get("maxItems"), unique=bool(schema.get("uniqueItems")),
                             ascending=schema.get("x-tbs-order") == "ascending",
                             unique_by=schema.get("x-tbs-unique-by"), order_by=schema.get("x-tbs-order-by"))
        if kind == "string":
            for name in schema.get("x-tbs-formats", ()):
                if name not in FORMATS:
                    raise SchemaError(f"{where}: unknown x-tbs-formats entry {name!r}")
            for name in schema.get("x-tbs-checks", ()):
                if name not in CHECKS:
                    raise SchemaError(f"{where}: unknown x-tbs-checks entry {name!r}")
            pattern = schema.get("pattern")
            return StringNode(rule=rule, type_rule=type_rule, kind=schema.get("x-tbs-type", "string"),
                              min_length=schema.get("minLength"), max_length=schema.get("maxLength"),
                              pattern=re.compile(pattern) if pattern else None, pattern_text=pattern or "",
                              enum=frozenset(schema["enum"]) if "enum" in schema else None,
                              const=schema.get("const"), formats=tuple(schema.get("x-tbs-formats", ())),
                              checks=tuple(schema.get("x-tbs-checks", ())),
                              open_listed=frozenset(schema["x-tbs-open"]["listed"]) if "x-tbs-open" in schema else None,
                              open_rule=schema.get("x-tbs-open", {}).get("rule", ""))
        if kind == "integer":
            return IntegerNode(rule=rule, type_rule=type_rule, minimum=schema.get("minimum"),
                               maximum=schema.get("maximum"))
        if kind == "boolean":
            return BooleanNode(rule=rule, type_rule=type_rule)
        raise SchemaError(f"{where}: unsupported or missing type {kind!r}")

    def _conditional(self, entry: dict[str, Any], props: dict[str, Node], parent: dict[str, Any], base: str,
                     where: str) -> Conditional:
        cond, then = entry.get("if", {}), entry.get("then", {})
        tested = cond.get("properties", {})
        if len(tested) != 1 or set(entry) - {"if", "then", "$comment", "description"}:
            raise SchemaError(f"{where}: allOf entries must be if/then on one member")
        (member, test), = tested.items()
        values = frozenset([test["const"]] if "const" in test else test["enum"])
        overrides = {}
        for name, extra in then.get("properties", {}).items():
            base_schema, base_file = self.schemas.merged(parent["properties"][name], base)
            combined = {**base_schema, **{k: v for k, v in extra.items()}}
            overrides[name] = self.compile(combined, base_file, props[name].rule, f"{where}/{name}(if {member})")
        return Conditional(member=member, values=values, overrides=overrides)


@cache
def schema_set(spec: str) -> SchemaSet:
    return SchemaSet(spec_dir(spec) / "schemas")
