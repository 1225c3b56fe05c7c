"""The member types of the SOAP binding, read from the normative ``tbs-1.0.xsd`` (TBS-SOAP-004).

The XML mapping of TBS-SOAP-003 needs, for every element, the JSON type of its member (h) and
the sending order (a). Both are in the normative XSD, so they are read from it instead of being
typed a second time: a named or anonymous complex type is an object whose members are its
element particles in document order; a complex type whose only particle is a repeatable ``item``
element is an array (b); ``xs:integer`` / ``xs:boolean`` / ``xs:string`` are integer, boolean and
string (c, d); ``tbs:JsonText`` is the ``ext`` member (g); ``tbs:AnyRecord`` stands for the record
type of the envelope's ``dataset`` (f).
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Literal

from lxml import etree

from tongban.specs import spec_dir

TBS_NS = "urn:tbs:1.0"
SPEC_VERSION = "TBS-1.0"
#: TBS-1.1 TBS-SOAP-001: the namespace of the SOAP body selects the version.
NAMESPACES: dict[str, str] = {"TBS-1.0": "urn:tbs:1.0", "TBS-1.1": "urn:tbs:1.1"}
VERSION_OF_NAMESPACE: dict[str, str] = {ns: version for version, ns in NAMESPACES.items()}
XS_NS = "http://www.w3.org/2001/XMLSchema"
_XS = f"{{{XS_NS}}}"

Kind = Literal["string", "integer", "boolean", "json", "object", "array", "record"]

#: TBS-SOAP-003 (f): the record type of ``records/item`` for each dataset.
RECORD_TYPE_BY_DATASET: dict[str, str] = {
    "catalog": "ServiceItem",
    "case": "Case",
    "case-event": "CaseEvent",
    "result": "Result",
    "evaluation": "Evaluation",
}

_BUILTIN_KINDS: dict[str, Kind] = {
    f"{{{XS_NS}}}string": "string",
    f"{{{XS_NS}}}integer": "integer",
    f"{{{XS_NS}}}boolean": "boolean",
}
_RECORD_TYPE = "AnyRecord"
_JSON_TYPE = "JsonText"


@dataclass(frozen=True, slots=True)
class Member:
    name: str
    type_name: str
    required: bool


@dataclass(frozen=True, slots=True)
class XType:
    """One type of the mapping: a simple kind, an object with ordered members, or an array."""

    name: str
    kind: Kind
    members: tuple[Member, ...] = ()
    item_type: str | None = None   # arrays only

    def member(self, name: str) -> Member | None:
        for m in self.members:
            if m.name == name:
                return m
        return None


class SchemaModel:
    """Types of ``tbs-1.0.xsd`` by name; anonymous types of global elements carry the element name."""

    def __init__(self, types: dict[str, XType], elements: dict[str, str]) -> None:
        self.types = types
        self.elements = elements

    def type(self, name: str) -> XType:
        return self.types[name]

    def record_type(self, dataset: str | None) -> XType | None:
        name = RECORD_TYPE_BY_DATASET.get(dataset or "")
        return self.types[name] if name else None


def _type_ref(qname: str, nsmap: dict[str | None, str]) -> str:
    prefix, _, local = qname.rpartition(":")
    ns = nsmap.get(prefix or None, "")
    return f"{{{ns}}}{local}" if ns else local


def _complex_type(name: str, ct: etree._Element, types: dict[str, XType], namespace: str = TBS_NS) -> XType:
    group = ct.find(f"{_XS}sequence")
    if group is None:
        group = ct.find(f"{_XS}all")
    if group is None:  # pragma: no cover - the normative XSD has only sequences and alls
        raise ValueError(f"complex type {name} has no sequence or all")
    members: list[Member] = []
    for el in group.findall(f"{_XS}element"):
        type_ref = _type_ref(el.get("type", ""), el.nsmap)
        type_name = type_ref.removeprefix(f"{{{namespace}}}")
        if type_ref in _BUILTIN_KINDS:
            type_name = _BUILTIN_KINDS[type_ref]
        members.append(Member(el.get("name", ""), type_name, el.get("minOccurs", "1") != "0"))
    items = group.findall(f"{_XS}element")
    if name == _RECORD_TYPE:
        return XType(name, "record", tuple(members))
    if len(items) == 1 and items[0].get("name") == "item" and items[0].get("maxOccurs") == "unbounded":
        return XType(name, "array", item_type=members[0].type_name)
    return XType(name, "object", tuple(members))


@cache
def schema_model(xsd_path: Path | None = None) -> SchemaModel:
    """The type model of the normative XSD (parsed once)."""
    path = xsd_path or spec_dir("TBS-1.0") / "tbs-1.0.xsd"
    root = etree.parse(str(path), etree.XMLParser(resolve_entities=False, no_network=True)).getroot()
    types: dict[str, XType] = {kind: XType(kind, kind) for kind in ("string", "integer", "boolean")}
    types[_JSON_TYPE] = XType(_JSON_TYPE, "json")
    elements: dict[str, str] = {}
    namespace = root.get("targetNamespace", TBS_NS)  # each spec version's XSD has its own
    for ct in root.findall(f"{_XS}complexType"):
        name = ct.get("name", "")
        types[name] = _complex_type(name, ct, types, namespace)
    for el in root.findall(f"{_XS}element"):
        name = el.get("name", "")
        anonymous = el.find(f"{_XS}complexType")
        if anonymous is not None:
            types[name] = _complex_type(name, anonymous, types, namespace)
            elements[name] = name
        else:
            elements[name] = _type_ref(el.get("type", ""), el.nsmap).removeprefix(f"{{{namespace}}}")
    return SchemaModel(types, elements)


def namespace_of(spec_version: str) -> str:
    """The XML namespace of ``spec_version`` (``urn:tbs:1.1`` for TBS-1.1); ValueError when the
    SOAP binding has none for it."""
    try:
        return NAMESPACES[spec_version]
    except KeyError:
        raise ValueError(f"spec version {spec_version!r} has no SOAP namespace; known: "
                         f"{', '.join(NAMESPACES)}") from None


def model_of(spec_version: str = SPEC_VERSION) -> SchemaModel:
    """The type model of ``spec_version``'s normative XSD (``tbs-1.1.xsd`` for TBS-1.1)."""
    namespace_of(spec_version)
    if spec_version == SPEC_VERSION:
        return schema_model()
    return schema_model(spec_dir(spec_version) / f"{spec_version.lower()}.xsd")
