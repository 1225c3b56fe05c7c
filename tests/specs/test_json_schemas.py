"""The TBS-1.0 JSON Schemas: valid 2020-12 documents, resolvable refs, Annex B passes,
code-table enums equal Annex A, and every property names its TBS rule."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator

import pytest
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from tongban.specs import spec_dir

SCHEMAS = spec_dir("TBS-1.0") / "schemas"
CODES = spec_dir("TBS-1.0") / "codes"
ANNEX_B = Path(__file__).resolve().parents[1] / "data" / "annex_b"
BASE = "https://tongban.dev/spec/tbs-1.0/schemas/"
EXPECTED_FILES = {"common", "envelope", "catalog", "case", "case-event", "result", "evaluation", "ack", "report",
                  "manifest", "meta", "changes-response", "error"}


def _load(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


DOCS = {p.name: _load(p) for p in sorted(SCHEMAS.glob("*.schema.json"))}
TABLES = {t["table"]: t for t in (_load(p) for p in sorted(CODES.glob("*.json")))}
REGISTRY = Registry().with_resources(
    (doc["$id"], Resource.from_contents(doc, default_specification=DRAFT202012)) for doc in DOCS.values())


def validator(name: str) -> Draft202012Validator:
    return Draft202012Validator(DOCS[f"{name}.schema.json"], registry=REGISTRY)


def walk(node: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    yield path, node
    if isinstance(node, dict):
        for k, v in node.items():
            yield from walk(v, f"{path}/{k}")
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from walk(v, f"{path}/{i}")


def test_every_object_has_its_schema_file() -> None:
    assert {name.removesuffix(".schema.json") for name in DOCS} == EXPECTED_FILES


@pytest.mark.parametrize("name", sorted(DOCS))
def test_schema_is_valid_2020_12_with_a_stable_id(name: str) -> None:
    doc = DOCS[name]
    Draft202012Validator.check_schema(doc)
    assert doc["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert doc["$id"] == BASE + name


@pytest.mark.parametrize("name", sorted(DOCS))
def test_every_ref_resolves(name: str) -> None:
    resolver = REGISTRY.resolver(base_uri=DOCS[name]["$id"])
    refs = [node["$ref"] for _, node in walk(DOCS[name]) if isinstance(node, dict) and isinstance(node.get("$ref"), str)]
    for ref in refs:
        assert not ref.startswith("http"), f"{ref}: refs between files are relative file names"
        assert resolver.lookup(ref).contents is not None


@pytest.mark.parametrize("name", sorted(DOCS))
def test_every_property_names_its_rule(name: str) -> None:
    for path, node in walk(DOCS[name]):
        if path.endswith("/properties") and isinstance(node, dict) and "/if/" not in path:
            for member, sub in node.items():
                if "/then/" in path:
                    continue  # conditional overrides narrow a property that is annotated already
                assert "x-tbs-rule" in sub, f"{name}{path}/{member}"


@pytest.mark.parametrize("name", sorted(DOCS))
def test_objects_are_closed(name: str) -> None:
    for path, node in walk(DOCS[name]):
        if isinstance(node, dict) and node.get("type") == "object" and "properties" in node:
            assert node.get("additionalProperties") is False, f"{name}{path}"


@pytest.mark.parametrize("example,schema", [("B.1", "envelope"), ("B.2", "envelope"), ("B.3", "envelope"),
                                            ("B.4", "envelope"), ("B.5", "envelope"), ("B.6", "ack"),
                                            ("B.7", "ack"), ("B.8", "manifest")])
def test_annex_b_validates(example: str, schema: str) -> None:
    instance = _load(ANNEX_B / f"{example}.json")
    assert list(validator(schema).iter_errors(instance)) == []
    for record in instance.get("records", []):
        assert list(validator(instance["dataset"]).iter_errors(record)) == []
    for report in [instance.get("envelopeReport")] + [r["report"] for r in instance.get("rejected", [])]:
        if report is not None:
            assert list(validator("report").iter_errors(report)) == []


def test_rest_examples_validate() -> None:
    meta = {"systemId": "TB:county:440103:LWZWFW", "roles": ["CASE_REPORTER", "CATALOG_PROVIDER", "RESULT_PUBLISHER"],
            "datasets": ["case", "case-event", "catalog", "result"], "specVersions": ["TBS-1.0"], "bindings": ["REST", "FILE"]}
    assert list(validator("meta").iter_errors(meta)) == []
    assert list(validator("changes-response").iter_errors(
        {"records": [], "nextCursor": "c-0000000000000127", "hasMore": False})) == []
    assert list(validator("error").iter_errors({"code": "BAD_CURSOR", "message": "cursor cannot be read"})) == []
    assert not validator("error").is_valid({"code": "TEAPOT", "message": "x"})


def test_schemas_reject_annex_c_changes() -> None:
    b2 = _load(ANNEX_B / "B.2.json")
    case = validator("case")
    record = dict(b2["records"][0], remark="加急")
    assert not case.is_valid(record)  # C.8: closed objects
    assert not case.is_valid(dict(b2["records"][0], submittedAt="2026-11-02T09:15:00"))  # C.7
    assert not validator("catalog").is_valid(dict(_load(ANNEX_B / "B.1.json")["records"][0], itemCode="44012O012002"))


def _code_values(table: dict[str, Any]) -> list[Any]:
    return [c["code"] for c in table["codes"]]


def test_code_tables_are_complete() -> None:
    assert sorted(TABLES, key=lambda t: int(t.split(".")[1])) == [f"A.{i}" for i in range(1, 16)]
    for table in TABLES.values():
        assert table["codes"] and all({"code", "zh", "en"} <= set(c) for c in table["codes"])


def test_enums_equal_their_code_tables() -> None:
    seen = set()
    for name, doc in DOCS.items():
        for path, node in walk(doc):
            if isinstance(node, dict) and "x-tbs-code-table" in node:
                table = TABLES[node["x-tbs-code-table"]]
                seen.add(table["table"])
                if "enum" in node:
                    assert node["enum"] == [str(c) for c in _code_values(table)], f"{name}{path}"
                else:  # integer codes: the range is the table
                    target = node
                    if "$ref" in node:
                        target = {**DOCS["common.schema.json"]["$defs"]["integer"], **node}
                    assert list(range(target["minimum"], target["maximum"] + 1)) == sorted(_code_values(table)), \
                        f"{name}{path}"
    assert seen == {f"A.{i}" for i in range(1, 16)}


def test_dialect_mappings_point_at_codes() -> None:
    for table in TABLES.values():
        values = set(_code_values(table))
        for dialect in table.get("dialects", {}).values():
            for target in dialect.get("toTbs", {}).values():
                assert all(part in {str(v) for v in values} | values for part in str(target).split("+")[:1])
