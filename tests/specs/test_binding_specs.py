"""The binding documents of TBS-1.0 pass their ecosystems' checkers and agree with each other.

OpenAPI 3.1 (openapi-spec-validator), WSDL 1.1 (zeep), XSD (lxml/libxml2), AsyncAPI 3.0 (the
official AsyncAPI JSON Schema, vendored); the XSD's structure equals the JSON Schemas' (TBS-SOAP-004:
both are derived from the same field tables); Annex B envelopes mapped to XML by TBS-SOAP-003
validate against the XSD, record by record against their dataset's type.
"""
from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from lxml import etree

from tongban.connectors.soap import mapping
from tongban.connectors.soap.xsd_model import RECORD_TYPE_BY_DATASET, TBS_NS, schema_model
from tongban.specs import spec_dir

SPEC = spec_dir("TBS-1.0")
ANNEX_B = Path(__file__).resolve().parents[1] / "data" / "annex_b"
ENVELOPES = ["B.1", "B.2", "B.3", "B.4", "B.5"]
OPERATIONS = ("GetMeta", "GetChanges", "PushBatch", "GetAck")


def load_example(name: str) -> dict[str, Any]:
    return json.loads((ANNEX_B / f"{name}.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def xsd() -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(SPEC / "tbs-1.0.xsd")))


# --------------------------------------------------------------------------- OpenAPI

def test_openapi_document_passes_openapi_spec_validator() -> None:
    from openapi_spec_validator import validate
    from openapi_spec_validator.readers import read_from_filename

    spec, base_uri = read_from_filename(str(SPEC / "openapi.yaml"))
    assert spec["openapi"].startswith("3.1")
    validate(spec, base_uri=base_uri)


def test_openapi_has_the_four_endpoints_and_every_status_of_tbs_rest_008() -> None:
    spec = yaml.safe_load((SPEC / "openapi.yaml").read_text(encoding="utf-8"))
    paths = spec["paths"]
    assert set(paths) == {"/tbs/v1/meta", "/tbs/v1/{dataset}/changes", "/tbs/v1/{dataset}", "/tbs/v1/acks/{messageId}"}
    post = paths["/tbs/v1/{dataset}"]["post"]
    assert {"200", "400", "401", "403", "404", "409", "413", "415", "422", "429", "500", "503"} <= set(post["responses"])
    assert "410" in paths["/tbs/v1/{dataset}/changes"]["get"]["responses"]
    header_params = {p["$ref"].rsplit("/", 1)[1] for p in post["parameters"] if "$ref" in p}
    assert {"XTbSender", "XTbSpecVersion", "XTbMessageId"} <= header_params
    assert spec["components"]["securitySchemes"]["bearerAuth"] == {
        **spec["components"]["securitySchemes"]["bearerAuth"], "type": "http", "scheme": "bearer"}
    for name, response in spec["components"]["responses"].items():
        if name.startswith("Post"):
            assert "X-TB-Request-Hash" in response["headers"], name


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        return [v for k, v in node.items() if k == "$ref" and isinstance(v, str)] + [
            r for v in node.values() for r in _refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in _refs(v)]
    return []


@pytest.mark.parametrize("document", ["openapi.yaml", "asyncapi.yaml"])
def test_external_refs_point_at_existing_json_schema_files(document: str) -> None:
    spec = yaml.safe_load((SPEC / document).read_text(encoding="utf-8"))
    files = {r.split("#")[0] for r in _refs(spec) if not r.startswith("#")}
    assert files, "payloads are referenced, not copied"
    for ref in files:
        assert ref.startswith("schemas/") and (SPEC / ref).is_file(), ref


# --------------------------------------------------------------------------- AsyncAPI

def _asyncapi_validator() -> Any:
    import jsonschema

    schema = json.loads((SPEC / "vendor" / "asyncapi" / "3.0.0.json").read_text(encoding="utf-8"))
    return jsonschema.Draft7Validator(schema)


def test_asyncapi_document_is_valid_against_the_official_asyncapi_3_schema() -> None:
    document = yaml.safe_load((SPEC / "asyncapi.yaml").read_text(encoding="utf-8"))
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in _asyncapi_validator().iter_errors(document)]
    assert errors == []


def test_asyncapi_checker_is_not_vacuous() -> None:
    """The vendored schema rejects an MQTT binding with QoS 3, so it does look into bindings."""
    document = yaml.safe_load((SPEC / "asyncapi.yaml").read_text(encoding="utf-8"))
    document["operations"]["publishEnvelope"]["bindings"]["mqtt"]["qos"] = 3
    assert list(_asyncapi_validator().iter_errors(document))


def test_asyncapi_topics_qos_and_retain_follow_tbs_mqtt() -> None:
    document = yaml.safe_load((SPEC / "asyncapi.yaml").read_text(encoding="utf-8"))
    addresses = {c["address"] for c in document["channels"].values()}
    assert addresses == {"tbs/v1/{regionCode}/{dataset}", "tbs/v1/{regionCode}/ack"}
    for op in document["operations"].values():
        assert op["bindings"]["mqtt"]["qos"] == 1 and op["bindings"]["mqtt"]["retain"] is False
    payloads = {m["payload"]["$ref"] for m in document["components"]["messages"].values()}
    assert payloads == {"schemas/envelope.schema.json", "schemas/ack.schema.json"}


# --------------------------------------------------------------------------- WSDL / XSD

def test_xsd_compiles_with_lxml(xsd: etree.XMLSchema) -> None:
    assert xsd is not None


def test_zeep_loads_the_wsdl_and_finds_the_four_operations_with_their_soap_actions() -> None:
    import zeep

    client = zeep.Client(str(SPEC / "tbs-1.0.wsdl"))
    binding = client.wsdl.bindings[f"{{{TBS_NS}}}TbsSoap11"]
    actions = {name: op.soapaction for name, op in binding._operations.items()}
    assert actions == {op: f"urn:tbs:1.0#{op}" for op in OPERATIONS}
    for op in OPERATIONS:  # document/literal wrapped: input element named after the operation
        operation = binding._operations[op]
        assert operation.input.body.qname == etree.QName(TBS_NS, op)
        assert operation.output.body.qname == etree.QName(TBS_NS, f"{op}Response")


def test_wsdl_is_soap_11_document_literal() -> None:
    wsdl = etree.parse(str(SPEC / "tbs-1.0.wsdl"))
    ns = {"wsdl": "http://schemas.xmlsoap.org/wsdl/", "soap": "http://schemas.xmlsoap.org/wsdl/soap/"}
    (binding,) = wsdl.findall("wsdl:binding/soap:binding", ns)
    assert binding.get("style") == "document"
    assert binding.get("transport") == "http://schemas.xmlsoap.org/soap/http"
    uses = {b.get("use") for b in wsdl.iterfind(".//soap:body", ns)}
    assert uses == {"literal"}
    # WS-I BP 1.1 R2201/R2210: exactly one part, named after an element, per message
    for message in wsdl.iterfind("wsdl:message", ns):
        parts = message.findall("wsdl:part", ns)
        assert len(parts) == 1 and parts[0].get("element") and not parts[0].get("type")


@pytest.mark.parametrize("name", ENVELOPES)
def test_annex_b_envelope_mapped_to_xml_validates_against_the_xsd(name: str, xsd: etree.XMLSchema) -> None:
    root = etree.fromstring(mapping.envelope_to_push_batch(load_example(name)))
    push_batch = root[0][0]
    xsd.assertValid(etree.ElementTree(copy.deepcopy(push_batch)))


@pytest.fixture(scope="module")
def record_schemas(tmp_path_factory: pytest.TempPathFactory) -> dict[str, etree.XMLSchema]:
    """One schema per dataset whose only global element is ``item`` of that record type."""
    folder = tmp_path_factory.mktemp("xsd")
    (folder / "tbs-1.0.xsd").write_bytes((SPEC / "tbs-1.0.xsd").read_bytes())
    out = {}
    for dataset, type_name in RECORD_TYPE_BY_DATASET.items():
        wrapper = folder / f"{type_name}.xsd"
        wrapper.write_text(
            '<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:tbs="urn:tbs:1.0" '
            'targetNamespace="urn:tbs:1.0" elementFormDefault="qualified">'
            '<xs:include schemaLocation="tbs-1.0.xsd"/>'
            f'<xs:element name="item" type="tbs:{type_name}"/></xs:schema>', encoding="utf-8")
        out[dataset] = etree.XMLSchema(etree.parse(str(wrapper)))
    return out


@pytest.mark.parametrize("name", ENVELOPES)
def test_annex_b_records_validate_in_order_against_their_dataset_type(
        name: str, record_schemas: dict[str, etree.XMLSchema]) -> None:
    envelope = load_example(name)
    root = etree.fromstring(mapping.envelope_to_push_batch(envelope))
    items = root.findall(f".//{{{TBS_NS}}}records/{{{TBS_NS}}}item")
    assert len(items) == len(envelope["records"])
    for item in items:
        record_schemas[envelope["dataset"]].assertValid(etree.ElementTree(copy.deepcopy(item)))


def test_a_record_in_the_wrong_order_fails_its_dataset_type(record_schemas: dict[str, etree.XMLSchema]) -> None:
    envelope = load_example("B.2")
    root = etree.fromstring(mapping.envelope_to_push_batch(envelope))
    item = copy.deepcopy(root.find(f".//{{{TBS_NS}}}records/{{{TBS_NS}}}item"))
    item.append(item[0])  # caseNo moved to the end
    assert not record_schemas["case"].validate(etree.ElementTree(item))


@pytest.mark.parametrize("name", ["B.6", "B.7"])
def test_annex_b_acknowledgements_mapped_to_xml_validate_against_the_xsd(name: str, xsd: etree.XMLSchema) -> None:
    root = etree.fromstring(mapping.ack_to_xml(load_example(name)))
    xsd.assertValid(etree.ElementTree(copy.deepcopy(root[0][0])))


# --------------------------------------------------------------------------- XSD ≡ JSON Schemas

class _JsonSchemas:
    """Just enough of a resolver for the TBS JSON Schemas: ``file#/pointer`` references."""

    def __init__(self, folder: Path) -> None:
        self.docs = {p.name: json.loads(p.read_text(encoding="utf-8")) for p in folder.glob("*.schema.json")}

    def resolve(self, node: dict[str, Any], doc: str) -> tuple[dict[str, Any], str]:
        """Follow ``$ref`` chains and merge the sibling keywords that matter here."""
        merged = dict(node)
        while "$ref" in merged:
            ref = merged.pop("$ref")
            file, _, pointer = ref.partition("#")
            doc = file or doc
            target: Any = self.docs[doc]
            for token in filter(None, pointer.split("/")):
                target = target[token]
            merged = {**target, **merged}
        return merged, doc

    def kind(self, node: dict[str, Any], doc: str) -> str:
        node, doc = self.resolve(node, doc)
        return node.get("type", "object")


def _compare(schemas: _JsonSchemas, node: dict[str, Any], doc: str, type_name: str, where: str,
             problems: list[str], model: Any = None) -> None:
    model = model or schema_model()
    xtype = model.type(type_name)
    node, doc = schemas.resolve(node, doc)
    json_kind = node.get("type")
    if xtype.kind == "json":
        if json_kind != "object":
            problems.append(f"{where}: ext is JsonText in the XSD but {json_kind} in JSON Schema")
        return
    if xtype.kind in ("string", "integer", "boolean"):
        if json_kind != xtype.kind:
            problems.append(f"{where}: XSD {xtype.kind}, JSON Schema {json_kind}")
        return
    if xtype.kind == "array":
        if json_kind != "array":
            problems.append(f"{where}: XSD array, JSON Schema {json_kind}")
            return
        if xtype.item_type == "AnyRecord":
            return  # compared per dataset below
        _compare(schemas, node["items"], doc, xtype.item_type or "string", f"{where}/item", problems, model)
        return
    props = node.get("properties", {})
    if [m.name for m in xtype.members] != list(props):
        problems.append(f"{where}: XSD members {[m.name for m in xtype.members]} != JSON {list(props)}")
        return
    required = {m.name for m in xtype.members if m.required}
    if xtype.kind == "object" and required != set(node.get("required", [])):
        problems.append(f"{where}: XSD required {sorted(required)} != JSON {sorted(node.get('required', []))}")
    for m in xtype.members:
        _compare(schemas, props[m.name], doc, m.type_name, f"{where}/{m.name}", problems, model)


@pytest.mark.parametrize(("schema_file", "type_name"), [
    ("envelope.schema.json", "Envelope"),
    ("ack.schema.json", "Ack"),
    ("meta.schema.json", "Meta"),
    ("error.schema.json", "Error"),
    ("report.schema.json", "Report"),
    ("changes-response.schema.json", "GetChangesResponse"),
    *[(f"{ds}.schema.json", t) for ds, t in RECORD_TYPE_BY_DATASET.items()],
])
def test_xsd_structure_equals_the_json_schema(schema_file: str, type_name: str) -> None:
    """TBS-SOAP-004: same member names, order, required members and JSON types as the field tables."""
    schemas = _JsonSchemas(SPEC / "schemas")
    if schema_file not in schemas.docs:
        pytest.fail(f"JSON Schema {schema_file} is missing")
    problems: list[str] = []
    _compare(schemas, schemas.docs[schema_file], schema_file, type_name, type_name, problems)
    assert problems == []


def test_any_record_is_the_union_of_the_five_record_types() -> None:
    model = schema_model()
    union: dict[str, str] = {}
    for type_name in RECORD_TYPE_BY_DATASET.values():
        for m in model.type(type_name).members:
            assert union.setdefault(m.name, m.type_name) == m.type_name, f"{m.name} typed twice differently"
    any_record = {m.name: m.type_name for m in model.type("AnyRecord").members}
    assert any_record == union
    assert not any(m.required for m in model.type("AnyRecord").members)


def test_xsd_element_names_are_lower_camel_case_ascii() -> None:
    """TBS-ENV-002: member names are lowerCamelCase ASCII; only operation wrappers are capitalised."""
    model = schema_model()
    for xtype in model.types.values():
        for m in xtype.members:
            if xtype.name not in OPERATIONS and not xtype.name.endswith("Response"):
                assert re.fullmatch(r"[a-z][A-Za-z0-9]*", m.name), (xtype.name, m.name)
