"""interface_specs/tbs-1.1: derived from TBS-1.0 by the edits of the revision, and as sound as TBS-1.0's folder.

The committed folder equals a fresh derivation; an edit that no longer fits its base stops the
derivation; the derived documents pass the same checkers as TBS-1.0's (JSON Schema 2020-12,
OpenAPI, XSD/WSDL, AsyncAPI) and agree with each other (code tables, XSD structure).
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any, Iterator

import pytest
import yaml
from jsonschema import Draft202012Validator
from lxml import etree
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from tests.specs.test_binding_specs import _compare, _JsonSchemas
from tongban.connectors.soap.xsd_model import RECORD_TYPE_BY_DATASET, schema_model
from tongban.specs import revise, spec_dir
from tongban.specs.revisions.tbs_1_1 import REVISION

SPEC = spec_dir("TBS-1.1")
BASE = spec_dir("TBS-1.0")
DOCS = {p.name: json.loads(p.read_text(encoding="utf-8")) for p in sorted((SPEC / "schemas").glob("*.schema.json"))}
TABLES = {t["table"]: t for t in (json.loads(p.read_text(encoding="utf-8")) for p in sorted((SPEC / "codes").glob("*.json")))}
REGISTRY = Registry().with_resources(
    (doc["$id"], Resource.from_contents(doc, default_specification=DRAFT202012)) for doc in DOCS.values())


def walk(node: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    yield path, node
    if isinstance(node, dict):
        for k, v in node.items():
            yield from walk(v, f"{path}/{k}")
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from walk(v, f"{path}/{i}")


def test_committed_folder_equals_a_fresh_derivation() -> None:
    assert revise.differences(SPEC, revise.derive(REVISION)) == []


def test_check_mode_reports_a_stale_folder(tmp_path: Path) -> None:
    target = tmp_path / "tbs-1.1"
    shutil.copytree(SPEC, target)
    derived = revise.derive(REVISION)
    assert revise.differences(target, derived) == []
    (target / "codes" / "a16-cross-region-scope.json").write_text("{}\n", encoding="utf-8")
    (target / "stray.json").write_text("{}\n", encoding="utf-8")
    assert revise.differences(target, derived) == ["codes/a16-cross-region-scope.json", "stray.json"]
    revise.write(target, derived)
    assert revise.differences(target, derived) == []


def test_an_edit_that_does_not_fit_its_base_stops_the_derivation(tmp_path: Path) -> None:
    base = tmp_path / "tbs-1.0"
    shutil.copytree(BASE, base)
    text = (base / "openapi.yaml").read_text(encoding="utf-8")
    (base / "openapi.yaml").write_text(text.replace("description: the protocol version (TBS-REST-006)",
                                                    "description: the protocol version"), encoding="utf-8")
    with pytest.raises(revise.EditError, match="change 2, openapi.yaml"):
        revise.derive(REVISION, base)
    shutil.copy(BASE / "openapi.yaml", base / "openapi.yaml")
    catalog = json.loads((base / "schemas" / "catalog.schema.json").read_text(encoding="utf-8"))
    del catalog["properties"]["regionCode"]
    (base / "schemas" / "catalog.schema.json").write_text(json.dumps(catalog), encoding="utf-8")
    with pytest.raises(revise.EditError, match="anchor member 'regionCode'"):
        revise.derive(REVISION, base)


def test_every_derived_file_names_tbs_1_1_only() -> None:
    for path in SPEC.rglob("*"):
        if path.is_file() and "vendor" not in path.parts and path.name not in ("INTERPRETATIONS.md",
                                                                              "requirement-changes.json"):
            text = path.read_text(encoding="utf-8")
            assert "urn:tbs:1.0" not in text and "tbs-1.0" not in text, path
            if path.name == "delta-certification.json":
                continue  # names the version it is based on
            # TBS-1.0 survives only where negotiation names both versions (header, meta.specVersions)
            if "TBS-1.0" in text:
                assert path.name in ("openapi.yaml", "meta.schema.json"), path


@pytest.mark.parametrize("name", sorted(DOCS))
def test_schema_is_valid_2020_12_and_every_ref_resolves(name: str) -> None:
    doc = DOCS[name]
    Draft202012Validator.check_schema(doc)
    assert doc["$id"] == f"https://tongban.dev/spec/tbs-1.1/schemas/{name}"
    resolver = REGISTRY.resolver(base_uri=doc["$id"])
    for _, node in walk(doc):
        if isinstance(node, dict) and isinstance(node.get("$ref"), str):
            resolver.lookup(node["$ref"])


@pytest.mark.parametrize("name", sorted(DOCS))
def test_objects_are_closed(name: str) -> None:
    for path, node in walk(DOCS[name]):
        if isinstance(node, dict) and node.get("type") == "object" and "properties" in node and path != "/$defs/ext":
            assert node.get("additionalProperties") is False, f"{name}{path}"


def test_enums_equal_their_code_tables_and_the_open_table_lists_a_13() -> None:
    seen = set()
    for name, doc in DOCS.items():
        for path, node in walk(doc):
            if isinstance(node, dict) and "x-tbs-code-table" in node:
                table = TABLES[node["x-tbs-code-table"]]
                seen.add(table["table"])
                codes = [str(c["code"]) for c in table["codes"]]
                if "enum" in node:
                    assert node["enum"] == codes, f"{name}{path}"
                elif "x-tbs-open" in node:
                    assert table.get("open") is True and node["x-tbs-open"]["listed"] == codes
    assert {"A.10", "A.13", "A.16", "A.17", "A.18"} <= seen
    assert sorted(TABLES, key=lambda t: int(t.split(".")[1])) == [f"A.{i}" for i in range(1, 19)]
    assert [c["code"] for c in TABLES["A.10"]["codes"] if c.get("deprecated")] == ["990"]


def test_openapi_passes_openapi_spec_validator_and_negotiates_the_version() -> None:
    from openapi_spec_validator import validate
    from openapi_spec_validator.readers import read_from_filename

    spec, base_uri = read_from_filename(str(SPEC / "openapi.yaml"))
    validate(spec, base_uri=base_uri)
    assert spec["components"]["parameters"]["XTbSpecVersion"]["schema"]["enum"] == ["TBS-1.0", "TBS-1.1"]
    assert spec["components"]["headers"]["XTbSpecVersion"]["schema"]["enum"] == ["TBS-1.0", "TBS-1.1"]


def test_asyncapi_document_is_valid_against_the_official_schema() -> None:
    import jsonschema

    schema = json.loads((SPEC / "vendor" / "asyncapi" / "3.0.0.json").read_text(encoding="utf-8"))
    document = yaml.safe_load((SPEC / "asyncapi.yaml").read_text(encoding="utf-8"))
    assert [e.message for e in jsonschema.Draft7Validator(schema).iter_errors(document)] == []
    assert document["info"]["version"] == "TBS-1.1"


def test_xsd_compiles_and_wsdl_loads_in_namespace_urn_tbs_1_1() -> None:
    import zeep

    xsd = etree.parse(str(SPEC / "tbs-1.1.xsd"))
    etree.XMLSchema(xsd)
    assert xsd.getroot().get("targetNamespace") == "urn:tbs:1.1"
    client = zeep.Client(str(SPEC / "tbs-1.1.wsdl"))
    binding = client.wsdl.bindings["{urn:tbs:1.1}TbsSoap11"]
    actions = {name: op.soapaction for name, op in binding._operations.items()}
    assert actions == {op: f"urn:tbs:1.1#{op}" for op in ("GetMeta", "GetChanges", "PushBatch", "GetAck")}


@pytest.mark.parametrize(("schema_file", "type_name"), [
    ("envelope.schema.json", "Envelope"), ("ack.schema.json", "Ack"), ("meta.schema.json", "Meta"),
    ("error.schema.json", "Error"), ("report.schema.json", "Report"),
    ("changes-response.schema.json", "GetChangesResponse"),
    *[(f"{ds}.schema.json", t) for ds, t in RECORD_TYPE_BY_DATASET.items()],
])
def test_xsd_structure_equals_the_json_schema(schema_file: str, type_name: str) -> None:
    """TBS-SOAP-004 for TBS-1.1: the edited XSD and JSON Schemas still describe the same members."""
    schemas = _JsonSchemas(SPEC / "schemas")
    problems: list[str] = []
    model = schema_model(SPEC / "tbs-1.1.xsd")
    _compare(schemas, schemas.docs[schema_file], schema_file, type_name, type_name, problems, model)
    assert problems == []


def test_any_record_is_the_union_of_the_five_record_types() -> None:
    model = schema_model(SPEC / "tbs-1.1.xsd")
    union: dict[str, str] = {}
    for type_name in RECORD_TYPE_BY_DATASET.values():
        for m in model.type(type_name).members:
            assert union.setdefault(m.name, m.type_name) == m.type_name, m.name
    assert {m.name: m.type_name for m in model.type("AnyRecord").members} == union


def test_requirement_change_list_is_beside_the_spec_files() -> None:
    changes = json.loads((SPEC / "requirement-changes.json").read_text(encoding="utf-8"))
    added = {r["id"] for r in changes["added"]}
    assert added == {"TBS-ENV-013", "TBS-ENV-029", "TBS-ENV-034", "TBS-CODE-021", "TBS-CAT-011", "TBS-CASE-006",
                     "TBS-CASE-007", "TBS-EVT-014", "TBS-EVAL-011", "TBS-SYNC-015", "TBS-REST-012", "TBS-CONF-010"}
    assert [r["id"] for r in changes["withdrawn"]] == ["TBS-CODE-012"]
