"""JSON ↔ XML mapping of the SOAP binding (TBS-SOAP-002, -003, -005).

Both directions are driven by the normative XSD (:mod:`.xsd_model`), so the member types and the
element order exist once. XML → JSON follows TBS-SOAP-003 (h): the mapped JSON is what the
receiver validates and hashes (TBS-ENV-031), so members that cannot be typed are still carried
into it (an unknown element as a string, object or array of its content, a mistyped integer as
its text) and the JSON validator reaches the same verdict as for the equivalent JSON request.
The mapping findings are returned alongside, with the JSON Pointers of the mapped members;
findings that the JSON form cannot show (a repeated element, an attribute) exist only there.

XML that cannot be mapped at all — not well-formed, a DOCTYPE, nesting over 64 levels, an element
outside the namespace of its operation, the wrong wrapper, mixed content — raises
:class:`Unmappable`, which carries one finding and becomes a ``soap:Client`` fault
(TBS-SOAP-005, TBS-SEC-010).

Versions (TBS-1.1 TBS-SOAP-001): the namespace of the operation element selects the version,
``urn:tbs:1.0`` TBS-1.0 with ``tbs-1.0.xsd``, ``urn:tbs:1.1`` TBS-1.1 with ``tbs-1.1.xsd``. A body
is read under the version of its namespace (:func:`version_of`) and every element in it must be
in that namespace; a body is written in the namespace of the version asked for.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Iterable

from lxml import etree

from tongban.model.codes import mask_id_number
from tongban.validators.report import Finding, Severity, render_value

from .safe_xml import MalformedXml, NotUtf8, UnsafeXml, parse_hardened
from .xsd_model import (NAMESPACES, SPEC_VERSION, TBS_NS, VERSION_OF_NAMESPACE, SchemaModel, XType, model_of,
                        namespace_of, schema_model)

SOAP_ENV_NS = "http://schemas.xmlsoap.org/soap/envelope/"
_S = f"{{{SOAP_ENV_NS}}}"
_INT_RE = re.compile(r"-?[0-9]+")
_NUMBER_RE = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
OPERATIONS = ("GetMeta", "GetChanges", "PushBatch", "GetAck")


# --------------------------------------------------------------------------- findings

_MESSAGES: dict[str, tuple[str, str]] = {
    "unknown": ("未定义的元素", "element not defined for this object"),
    "attribute": ("不允许的属性（仅允许命名空间声明）", "attribute not allowed (only namespace declarations are)"),
    "type": ("元素内容与成员类型不符", "element content does not match the member type"),
    "repeated": ("非数组成员的元素重复出现", "element of a non-array member repeated"),
    "ext-json": ("ext 元素的内容不是 JSON 对象文本", "ext element does not hold the JSON text of an object"),
    "ext-dup": ("ext 的 JSON 文本含重复成员名", "ext JSON text has duplicate member names"),
    "doctype": ("XML 文档含 DOCTYPE 声明、实体或嵌套超过 64 层，已拒绝", "XML refused: DOCTYPE, entity or nesting over 64 levels"),
    "malformed": ("XML 格式不正确", "XML is not well-formed"),
    "encoding": ("XML 不是 UTF-8 编码（XML 声明或字节顺序标记指明了其他编码）",
                 "XML is not UTF-8 (its declaration or byte-order mark names another encoding)"),
    "namespace": ("元素不在其操作的命名空间（urn:tbs:1.0 或 urn:tbs:1.1）中",
                  "element outside the namespace of its operation (urn:tbs:1.0 or urn:tbs:1.1)"),
    "wrapper": ("SOAP 主体不是预期的操作包装元素", "SOAP body does not hold the expected operation wrapper"),
    "mixed": ("混合内容（文本与子元素并存）无法映射", "mixed content (text and child elements) cannot be mapped"),
    "missing": ("缺少必需的元素", "mandatory element missing"),
}


def _finding(rule_id: str, location: str, kind: str, value: Any = None) -> Finding:
    zh, en = _MESSAGES[kind]
    return Finding(Severity.ERROR, rule_id, location, zh, en, None if value is None else _masked(location, value))


def _masked(location: str, value: Any) -> str:
    """TBS-RPT-006 / TBS-SEC-012: identity numbers are never echoed in clear."""
    text = render_value(value)
    return mask_id_number(text) if location.endswith("/idNo") else text


class Unmappable(ValueError):
    """The XML cannot be mapped to JSON: a ``soap:Client`` fault (TBS-SOAP-005)."""

    def __init__(self, finding: Finding) -> None:
        super().__init__(finding.message_en)
        self.finding = finding


def _pointer(parent: str, token: str | int) -> str:
    text = str(token).replace("~", "~0").replace("/", "~1")
    return f"{parent}/{text}"


# --------------------------------------------------------------------------- XML → JSON

def _local(el: etree._Element) -> str:
    return etree.QName(el).localname


class _Decoder:
    """One mapping run: values out, findings collected, :class:`Unmappable` on the first fatal fault."""

    def __init__(self, model: SchemaModel, namespace: str = TBS_NS) -> None:
        self.model = model
        self.namespace = namespace
        self.findings: list[Finding] = []

    def children(self, el: etree._Element, pointer: str) -> tuple[list[etree._Element], str]:
        """Child elements (all in the namespace being read) and the concatenated text of ``el``."""
        kids: list[etree._Element] = []
        texts = [el.text or ""]
        for child in el:
            if not isinstance(child.tag, str):  # comment or PI left in by a caller's parser
                texts.append(child.tail or "")
                continue
            if etree.QName(child).namespace != self.namespace:
                raise Unmappable(_finding("TBS-ENV-002", _pointer(pointer, _local(child)), "namespace"))
            kids.append(child)
            texts.append(child.tail or "")
        text = "".join(texts)
        if kids and text.strip():
            raise Unmappable(_finding("TBS-ENV-005", pointer, "mixed"))
        return kids, text

    def check_attributes(self, el: etree._Element, pointer: str) -> None:
        # lxml keeps namespace declarations out of .attrib: whatever is left is an attribute.
        for name in el.attrib:
            self.findings.append(_finding("TBS-ENV-002", pointer, "attribute", etree.QName(name).localname))
            break

    def value(self, el: etree._Element, xtype: XType | None, pointer: str, dataset: str | None = None) -> Any:
        self.check_attributes(el, pointer)
        kids, text = self.children(el, pointer)
        if xtype is None:
            return self.generic(kids, text, pointer)
        kind = xtype.kind
        if kind in ("string", "integer", "boolean", "json"):
            if kids:
                self.findings.append(_finding("TBS-ENV-005", pointer, "type"))
                return self.generic(kids, text, pointer, report=False)
            return self.simple(kind, text, pointer)
        if not kids and text.strip():
            self.findings.append(_finding("TBS-ENV-005", pointer, "type", text))
            return text
        if kind == "array":
            return self.array(kids, xtype, pointer, dataset)
        if kind == "record":
            # An unknown dataset (rejected under TBS-ENV-024 anyway) is mapped with AnyRecord, the
            # union of the five record types, so the mapped records and their hash (TBS-ENV-027)
            # are those of the JSON request.
            return self.object(kids, self.model.record_type(dataset) or xtype, pointer, dataset)
        return self.object(kids, xtype, pointer, dataset)

    def simple(self, kind: str, text: str, pointer: str) -> Any:
        if kind == "string":
            return text
        if kind == "integer":
            if _INT_RE.fullmatch(text):
                return int(text)
            self.findings.append(_finding("TBS-ENV-005", pointer, "type", text))
            # A JSON number with a fraction or exponent stays a number, as in the JSON request:
            # RFC 8785 hashes 5.0 as 5, so TBS-ENV-027 holds and only TBS-ENV-005 is reported.
            return float(text) if _NUMBER_RE.fullmatch(text) else text
        if kind == "boolean":
            if text in ("true", "false"):
                return text == "true"
            self.findings.append(_finding("TBS-ENV-005", pointer, "type", text))
            return text
        return self.json_text(text, pointer)

    def json_text(self, text: str, pointer: str) -> Any:
        """TBS-SOAP-003 (g): ``ext`` holds JSON text; I-JSON rules apply to it (TBS-ENV-001)."""
        duplicate = False

        def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
            nonlocal duplicate
            out: dict[str, Any] = {}
            for k, v in items:
                if k in out:
                    duplicate = True
                else:
                    out[k] = v
            return out

        def no_constants(name: str) -> Any:
            raise ValueError(name)

        try:
            parsed = json.loads(text, object_pairs_hook=pairs, parse_constant=no_constants)
        except ValueError:
            self.findings.append(_finding("TBS-ENV-005", pointer, "ext-json", text))
            return text
        if duplicate:
            self.findings.append(_finding("TBS-ENV-001", pointer, "ext-dup"))
        if not isinstance(parsed, dict):
            self.findings.append(_finding("TBS-ENV-005", pointer, "ext-json", text))
        return parsed

    def object(self, kids: list[etree._Element], xtype: XType, pointer: str, dataset: str | None) -> dict[str, Any]:
        if xtype.name == "Envelope":  # records/item needs the dataset, wherever it is in the order
            for kid in kids:
                if _local(kid) == "dataset" and len(kid) == 0:
                    dataset = kid.text or ""
                    break
        out: dict[str, Any] = {}
        for kid in kids:
            name = _local(kid)
            here = _pointer(pointer, name)
            if name in out:
                self.findings.append(_finding("TBS-ENV-001", here, "repeated"))
                continue
            member = xtype.member(name)
            if member is None:
                self.findings.append(_finding("TBS-ENV-002", here, "unknown"))
                out[name] = self.value(kid, None, here)
            else:
                out[name] = self.value(kid, self.model.type(member.type_name), here, dataset)
        return out

    def array(self, kids: list[etree._Element], xtype: XType, pointer: str, dataset: str | None) -> list[Any]:
        item_type = self.model.type(xtype.item_type or "string")
        out: list[Any] = []
        for kid in kids:
            if _local(kid) != "item":
                self.findings.append(_finding("TBS-ENV-002", pointer, "unknown", _local(kid)))
                continue
            out.append(self.value(kid, item_type, _pointer(pointer, len(out)), dataset))
        return out

    def generic(self, kids: list[etree._Element], text: str, pointer: str, report: bool = False) -> Any:
        """Content of an element without a member type: carried into the JSON as it stands."""
        if not kids:
            return text
        if all(_local(k) == "item" for k in kids):
            return [self.value(k, None, _pointer(pointer, i)) for i, k in enumerate(kids)]
        out: dict[str, Any] = {}
        for kid in kids:
            name = _local(kid)
            if name not in out:
                out[name] = self.value(kid, None, _pointer(pointer, name))
        return out


def _parse(xml: bytes) -> etree._Element:
    try:
        return parse_hardened(xml)
    except UnsafeXml:
        raise Unmappable(_finding("TBS-SEC-010", "", "doctype")) from None
    except NotUtf8:
        raise Unmappable(_finding("TBS-SOAP-001", "", "encoding")) from None
    except MalformedXml:
        raise Unmappable(_finding("TBS-ENV-001", "", "malformed")) from None


def soap_body_child(root: etree._Element) -> etree._Element:
    """The operation element of a SOAP 1.1 Envelope, or ``root`` itself when it is a bare wrapper."""
    if etree.QName(root).namespace in VERSION_OF_NAMESPACE:
        return root
    if root.tag != f"{_S}Envelope":
        raise Unmappable(_finding("TBS-ENV-002", "", "wrapper"))
    body = None
    for child in root:
        if not isinstance(child, etree._Element) or not isinstance(child.tag, str):
            continue
        if child.tag == f"{_S}Header" and body is None:
            continue
        if child.tag == f"{_S}Body" and body is None:
            body = child
            continue
        raise Unmappable(_finding("TBS-ENV-002", "", "wrapper"))
    if body is None:
        raise Unmappable(_finding("TBS-ENV-005", "", "wrapper"))
    elements = [c for c in body if isinstance(c.tag, str)]
    if len(elements) != 1 or (body.text or "").strip() or any((c.tail or "").strip() for c in body):
        raise Unmappable(_finding("TBS-ENV-005", "", "wrapper"))
    return elements[0]


def parse_operation(xml: bytes, versions: tuple[str, ...] = tuple(NAMESPACES)) -> tuple[str, etree._Element]:
    """Parse a request hardened and return (operation name, wrapper element); see :class:`Unmappable`.
    The wrapper must be in the namespace of one of ``versions`` (:func:`version_of` tells which):
    a TBS-1.0 reader passes ``("TBS-1.0",)`` and maps ``urn:tbs:1.1`` as any foreign namespace."""
    op = soap_body_child(_parse(xml))
    name = _local(op)
    if VERSION_OF_NAMESPACE.get(etree.QName(op).namespace or "") not in versions or name not in OPERATIONS:
        raise Unmappable(_finding("TBS-ENV-002", "", "wrapper"))
    return name, op


def version_of(el: etree._Element, default: str | None = None) -> str:
    """The version whose namespace ``el`` is in (TBS-1.1 TBS-SOAP-001); ``default`` (or
    ValueError) for an element in no TBS namespace."""
    version = VERSION_OF_NAMESPACE.get(etree.QName(el).namespace or "")
    if version is None:
        if default is None:
            raise ValueError(f"element {el.tag!r} is in no TBS namespace ({', '.join(VERSION_OF_NAMESPACE)})")
        return default
    return version


def wrapper_member(op: etree._Element, member: str, *, required: bool = True) -> etree._Element | None:
    """The single ``member`` child of an operation wrapper; anything else there is the wrong wrapper."""
    found = None
    for child in op:
        if not isinstance(child.tag, str):
            continue
        if etree.QName(child).namespace != etree.QName(op).namespace:
            raise Unmappable(_finding("TBS-ENV-002", "", "namespace"))
        if _local(child) != member or found is not None:
            raise Unmappable(_finding("TBS-ENV-002", "", "wrapper"))
        found = child
    if (op.text or "").strip() or any((c.tail or "").strip() for c in op):
        raise Unmappable(_finding("TBS-ENV-005", "", "mixed"))
    if found is None and required:
        raise Unmappable(_finding("TBS-ENV-005", "", "missing"))
    return found


def decode(el: etree._Element, type_name: str, *, pointer: str = "", dataset: str | None = None,
           model: SchemaModel | None = None) -> tuple[Any, list[Finding]]:
    """Map one element of XSD type ``type_name`` to JSON (TBS-SOAP-003 (h)) under the version of
    its namespace (TBS-1.0 outside both); raises :class:`Unmappable`."""
    version = version_of(el, SPEC_VERSION)
    decoder = _Decoder(model or model_of(version), namespace_of(version))
    value = decoder.value(el, decoder.model.type(type_name), pointer, dataset)
    return value, decoder.findings


def envelope_from_push_batch(op: etree._Element) -> tuple[dict[str, Any], list[Finding]]:
    """The JSON envelope of a parsed ``PushBatch`` wrapper, read under the version of its
    namespace; raises :class:`Unmappable`."""
    version = version_of(op, SPEC_VERSION)
    decoder = _Decoder(model_of(version), namespace_of(version))
    decoder.check_attributes(op, "")
    envelope_el = wrapper_member(op, "envelope")
    assert envelope_el is not None
    value = decoder.value(envelope_el, decoder.model.type("Envelope"), "")
    if not isinstance(value, dict):
        raise Unmappable(_finding("TBS-ENV-005", "", "type"))
    return value, decoder.findings


def push_batch_to_envelope(xml: bytes) -> tuple[dict[str, Any] | None, list[Finding]]:
    """Map a SOAP 1.1 Envelope (or a bare ``PushBatch`` element) holding ``PushBatch`` to the JSON envelope.

    Returns ``(envelope, mapping findings)``; for XML that cannot be mapped, ``(None, [finding])``
    with TBS-SEC-010 (DOCTYPE, entities, nesting over 64), TBS-ENV-001 (not well-formed),
    TBS-ENV-002 (wrong namespace or wrapper) or TBS-ENV-005 (mixed content, missing envelope).
    """
    try:
        name, op = parse_operation(xml)
        if name != "PushBatch":
            raise Unmappable(_finding("TBS-ENV-002", "", "wrapper"))
        return envelope_from_push_batch(op)
    except Unmappable as exc:
        return None, [exc.finding]


def record_item_texts(xml: bytes) -> list[str] | None:
    """The exact text of each ``records/item`` element of a SOAP body (a PushBatch envelope or a
    GetChangesResponse), start tag to end tag, as received; None when ``xml`` is not a body
    that mapped. Meant for a body that already passed :func:`parse_operation` (no DOCTYPE).
    expat reports where each element starts; lxml does not."""
    from xml.parsers import expat

    parser = expat.ParserCreate(namespace_separator=" ")
    depth, records_depth = 0, None
    spans: list[list[int]] = []

    def start(name: str, _attrs: Any) -> None:
        nonlocal depth, records_depth
        depth += 1
        local = name.rpartition(" ")[2]
        if records_depth is None and local == "records":
            records_depth = depth
        elif records_depth is not None and depth == records_depth + 1 and local == "item":
            spans.append([parser.CurrentByteIndex, -1])

    def end(name: str) -> None:
        nonlocal depth, records_depth
        if records_depth is not None and depth == records_depth + 1 and spans and spans[-1][1] < 0:
            spans[-1][1] = xml.index(b">", parser.CurrentByteIndex) + 1  # past the end tag (or ``/>``)
        elif depth == records_depth:
            records_depth = -1  # the first records wrapper is closed: later ones are not it
        depth -= 1

    parser.StartElementHandler, parser.EndElementHandler = start, end
    try:
        parser.Parse(xml, True)
        return [xml[a:b].decode("utf-8") for a, b in spans]
    except (expat.ExpatError, ValueError, UnicodeDecodeError):
        return None


def item_from_text(text: str, dataset: str, version: str = SPEC_VERSION) -> Any:
    """A record from the text of its ``records/item`` element (:func:`record_item_texts`), mapped
    as in a body of ``dataset`` in ``version``. Every element of a mapped body is in the namespace
    of its version, so each prefix the text uses is bound to it again. Raises ValueError when it
    does not map cleanly."""
    namespace = namespace_of(version)
    prefixes = sorted(set(re.findall(r"</?([A-Za-z_][\w.-]*):", text)) - {"xml"})
    declarations = "".join(f' xmlns:{p}="{namespace}"' for p in prefixes)
    try:
        wrapper = _parse(f'<records xmlns="{namespace}"{declarations}>{text}</records>'.encode("utf-8"))
        value, findings = decode(wrapper, "RecordList", dataset=dataset)
    except Unmappable as exc:
        raise ValueError(f"the quarantined item does not map: {exc.finding.rule_id}") from None
    if findings or not isinstance(value, list) or len(value) != 1:
        raise ValueError("the quarantined item does not map to one record")
    return value[0]


# --------------------------------------------------------------------------- JSON → XML

def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return json.dumps(value)
    if isinstance(value, str):
        return value
    raise ValueError(f"{type(value).__name__} has no XML form (TBS-SOAP-003)")


class _Encoder:
    def __init__(self, model: SchemaModel, namespace: str = TBS_NS) -> None:
        self.model = model
        self.tag = f"{{{namespace}}}"

    def add(self, parent: etree._Element, name: str, value: Any, xtype: XType | None,
            dataset: str | None = None) -> None:
        if value is None:
            raise ValueError(f"member {name!r} is null, which has no XML form (TBS-SOAP-003 (e))")
        el = etree.SubElement(parent, self.tag + name)
        self.fill(el, value, xtype, dataset)

    def fill(self, el: etree._Element, value: Any, xtype: XType | None, dataset: str | None) -> None:
        kind = xtype.kind if xtype else None
        if kind == "json" or (xtype is None and etree.QName(el).localname == "ext" and isinstance(value, dict)):
            el.text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
        elif isinstance(value, dict):
            if kind == "record":
                xtype = self.model.record_type(dataset) or xtype
            members = xtype.members if xtype is not None and xtype.kind in ("object", "record") else ()
            if xtype is not None and xtype.name == "Envelope" and isinstance(value.get("dataset"), str):
                dataset = value["dataset"]
            known = {m.name for m in members}
            for m in members:  # sending order of the WSDL (TBS-SOAP-003 (a))
                if m.name in value:
                    self.add(el, m.name, value[m.name], self.model.type(m.type_name), dataset)
            for name, member_value in value.items():  # not defined: sent as they stand, after
                if name not in known:
                    self.add(el, name, member_value, None)
        elif isinstance(value, list):
            item_type = self.model.type(xtype.item_type) if xtype is not None and xtype.item_type else None
            for item in value:
                self.add(el, "item", item, item_type, dataset)
        else:
            try:
                el.text = _text(value)
            except ValueError as exc:  # e.g. a control character XML 1.0 cannot carry
                raise ValueError(f"member {etree.QName(el).localname!r}: {exc}") from None


def encode(name: str, value: Any, type_name: str | None, *, dataset: str | None = None,
           model: SchemaModel | None = None, version: str = SPEC_VERSION) -> etree._Element:
    """An element ``tbs:{name}`` in ``version``'s namespace holding ``value`` mapped by
    TBS-SOAP-003; raises ValueError for null."""
    namespace = namespace_of(version)
    encoder = _Encoder(model or model_of(version), namespace)
    root = etree.Element(f"{{{namespace}}}{name}", nsmap={"tbs": namespace})
    encoder.fill(root, value, encoder.model.type(type_name) if type_name else None, dataset)
    return root


def soap_envelope(body_child: etree._Element) -> bytes:
    """A SOAP 1.1 Envelope around one body element, UTF-8 with an XML declaration."""
    env = etree.Element(_S + "Envelope", nsmap={"soap": SOAP_ENV_NS,
                                                "tbs": etree.QName(body_child).namespace or TBS_NS})
    body = etree.SubElement(env, _S + "Body")
    body.append(body_child)
    return etree.tostring(env, xml_declaration=True, encoding="UTF-8")


def _wrapper(operation: str, members: Iterable[tuple[str, Any, str]], dataset: str | None = None,
             version: str = SPEC_VERSION) -> etree._Element:
    model, namespace = model_of(version), namespace_of(version)
    op = etree.Element(f"{{{namespace}}}{operation}", nsmap={"tbs": namespace})
    encoder = _Encoder(model, namespace)
    for name, value, type_name in members:
        if value is not None:
            encoder.add(op, name, value, model.type(type_name), dataset)
    return op


def _version_named(value: Any) -> str:
    """The version a JSON member (``specVersion``) names, when the SOAP binding has a namespace
    for it; TBS-1.0 otherwise."""
    return value if isinstance(value, str) and value in NAMESPACES else SPEC_VERSION


def envelope_to_push_batch(envelope: dict[str, Any], version: str | None = None) -> bytes:
    """A full SOAP 1.1 ``PushBatch`` request for ``envelope``, element order per the WSDL, in
    the namespace of ``version`` (default: the one the envelope's ``specVersion`` names).

    Members the XSD does not define are sent after the defined ones, as they stand, so a
    receiver sees exactly what the JSON said. ``null`` has no XML form: ValueError.
    """
    version = version or _version_named(envelope.get("specVersion"))
    return soap_envelope(_wrapper("PushBatch", [("envelope", envelope, "Envelope")], version=version))


def get_meta_request(version: str = SPEC_VERSION) -> bytes:
    return soap_envelope(_wrapper("GetMeta", [], version=version))


def get_changes_request(dataset: str, since: str | None = None, limit: int | None = None,
                        version: str = SPEC_VERSION) -> bytes:
    return soap_envelope(_wrapper("GetChanges", [("dataset", dataset, "string"), ("since", since, "string"),
                                                 ("limit", limit, "integer")], version=version))


def meta_to_xml(meta: dict[str, Any], version: str = SPEC_VERSION) -> bytes:
    """``GetMetaResponse{meta}`` (TBS-SOAP-002)."""
    return soap_envelope(_wrapper("GetMetaResponse", [("meta", meta, "Meta")], version=version))


def changes_to_xml(changes: dict[str, Any], dataset: str, version: str = SPEC_VERSION) -> bytes:
    """``GetChangesResponse{records, nextCursor, hasMore}``; ``records/item`` typed by ``dataset``."""
    return soap_envelope(_wrapper("GetChangesResponse", [
        ("records", changes.get("records", []), "RecordList"),
        ("nextCursor", changes.get("nextCursor"), "string"),
        ("hasMore", changes.get("hasMore"), "boolean"),
    ], dataset, version=version))


def ack_to_xml(ack: dict[str, Any], operation: str = "PushBatch", version: str | None = None) -> bytes:
    """``PushBatchResponse{ack}`` or ``GetAckResponse{ack}``, in the namespace of ``version``
    (default: the version the acknowledgement is written in, TBS-1.1 TBS-ENV-029)."""
    version = version or _version_named(ack.get("specVersion"))
    return soap_envelope(_wrapper(f"{operation}Response", [("ack", ack, "Ack")], version=version))


def response_wrapper(xml: bytes, operation: str) -> etree._Element:
    """The ``{operation}Response`` element of a SOAP response, in the namespace of either
    version (:func:`version_of`); raises :class:`Unmappable`."""
    op = soap_body_child(_parse(xml))
    if _local(op) != f"{operation}Response" or etree.QName(op).namespace not in VERSION_OF_NAMESPACE:
        raise Unmappable(_finding("TBS-ENV-002", "", "wrapper"))
    return op


def xml_to_meta(xml: bytes) -> dict[str, Any]:
    """The self-description of a ``GetMetaResponse``; raises :class:`Unmappable`."""
    el = wrapper_member(response_wrapper(xml, "GetMeta"), "meta")
    assert el is not None
    return decode(el, "Meta")[0]


def xml_to_ack(xml: bytes, operation: str = "PushBatch") -> dict[str, Any]:
    """The acknowledgement of a ``PushBatchResponse`` / ``GetAckResponse``; raises :class:`Unmappable`."""
    el = wrapper_member(response_wrapper(xml, operation), "ack")
    assert el is not None
    return decode(el, "Ack")[0]


def xml_to_changes(xml: bytes, dataset: str) -> tuple[dict[str, Any], list[Finding]]:
    """``{records, nextCursor, hasMore}`` of a ``GetChangesResponse``; locations rooted at that object."""
    op = response_wrapper(xml, "GetChanges")
    return decode(op, "GetChangesResponse", dataset=dataset)


def get_changes_params(op: etree._Element) -> tuple[dict[str, Any], list[Finding]]:
    """``{dataset, since?, limit?}`` of a ``GetChanges`` wrapper."""
    return decode(op, "GetChanges")


def get_ack_params(op: etree._Element) -> tuple[dict[str, Any], list[Finding]]:
    return decode(op, "GetAck")


# --------------------------------------------------------------------------- faults (TBS-SOAP-005)

@dataclass(frozen=True)
class SoapFault:
    """A SOAP 1.1 fault with the TBS error of its detail (TBS-REST-009 codes)."""

    faultcode: str            # "Client", "Server" or "Server.RateLimited" (local part)
    faultstring: str
    code: str | None = None
    message: str | None = None
    rule_id: str | None = None
    request_message_id: str | None = None


def fault_to_xml(fault: SoapFault, version: str = SPEC_VERSION) -> bytes:
    env = etree.Element(_S + "Envelope", nsmap={"soap": SOAP_ENV_NS, "tbs": namespace_of(version)})
    body = etree.SubElement(env, _S + "Body")
    f = etree.SubElement(body, _S + "Fault")
    etree.SubElement(f, "faultcode").text = f"soap:{fault.faultcode}"
    etree.SubElement(f, "faultstring").text = fault.faultstring
    if fault.code is not None:
        detail = etree.SubElement(f, "detail")
        error = {"code": fault.code, "message": fault.message or fault.faultstring,
                 "ruleId": fault.rule_id, "requestMessageId": fault.request_message_id}
        detail.append(encode("error", {k: v for k, v in error.items() if v is not None}, "Error", version=version))
    return etree.tostring(env, xml_declaration=True, encoding="UTF-8")


def xml_to_fault(xml: bytes) -> SoapFault | None:
    """The fault of a SOAP response, or None when the body is not a fault; raises :class:`Unmappable`."""
    root = _parse(xml)
    if root.tag != f"{_S}Envelope":
        raise Unmappable(_finding("TBS-ENV-002", "", "wrapper"))
    fault = root.find(f"{_S}Body/{_S}Fault")
    if fault is None:
        return None
    code_text = (fault.findtext("faultcode") or "").strip()
    prefix, _, local = code_text.rpartition(":")
    if prefix and fault.nsmap.get(prefix) != SOAP_ENV_NS:
        local = code_text  # a fault code outside the SOAP namespace is kept as written
    error = next((e for ns in VERSION_OF_NAMESPACE if (e := fault.find(f"detail/{{{ns}}}error")) is not None),
                 None)
    fields: dict[str, Any] = {}
    if error is not None:
        fields = {k: v for k, v in decode(error, "Error")[0].items() if isinstance(v, str)}
    return SoapFault(local or code_text, fault.findtext("faultstring") or "", fields.get("code"),
                     fields.get("message"), fields.get("ruleId"), fields.get("requestMessageId"))
