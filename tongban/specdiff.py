"""``tongban spec diff``: every difference between two versions of the standard, classified.

Schema-visible differences (§0.3 of the TBS-1.1 revision document) are found by comparing the
machine-readable companions of the two versions themselves: the JSON Schemas (members, types,
M/O/C, enumerations, patterns, lengths, ranges, list rules, the deprecated markers), the code
tables (values, deprecated markers, open tables), the OpenAPI header values, the WSDL/XSD
namespace and element declarations, the AsyncAPI channels. Differences that live only in
requirement text come from the newer folder's ``requirement-changes.json``.

Each difference gets a class for producers and for consumers per §0.2 of the revision document:

* producers *breaking* when something the older receiver accepts is rejected by the newer one
  (a member made mandatory, a value or member removed, a length narrowed, a type changed);
* consumers *breaking* when something the newer receiver accepts is rejected by the older one
  (a member or value added to a closed object or table, a length widened, a type changed).

A found difference in several files (the JSON Schema, the XSD, a code table) is one difference
listing every file. Names and labels of code values and informative prose are not compared
(§0.3: not schema-visible).
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator

import yaml
from lxml import etree

from tongban.specs import spec_dir

C, B = "compatible", "breaking"
FROM_FILES, FROM_TEXT = "spec files", "requirement text"

# Top-level documents compared as field trees (record schemas by dataset name).
DOCUMENTS = {"envelope": "envelope.schema.json", "catalog": "catalog.schema.json", "case": "case.schema.json",
             "case-event": "case-event.schema.json", "result": "result.schema.json",
             "evaluation": "evaluation.schema.json", "ack": "ack.schema.json", "meta": "meta.schema.json",
             "error": "error.schema.json", "manifest": "manifest.schema.json", "report": "report.schema.json",
             "changes-response": "changes-response.schema.json"}
# XSD complex types that stand for the same documents (TBS-SOAP-004: same field tables).
XSD_DOCUMENTS = {"Envelope": "envelope", "ServiceItem": "catalog", "Case": "case", "CaseEvent": "case-event",
                 "Result": "result", "Evaluation": "evaluation", "Ack": "ack", "Meta": "meta", "Error": "error",
                 "Report": "report", "GetChangesResponse": "changes-response"}
_XS = "{http://www.w3.org/2001/XMLSchema}"
_WSDL = "{http://schemas.xmlsoap.org/wsdl/}"
_SOAP = "{http://schemas.xmlsoap.org/wsdl/soap/}"


@dataclass
class Difference:
    what: str                 # kind of difference, e.g. member-added, value-removed, length-widened
    location: str             # field path (case.agent.idNo), code table (A.10), header, namespace, requirement id
    detail: str               # the value, the old → new numbers, the requirement text summary
    producers: str
    consumers: str
    source: str               # FROM_FILES or FROM_TEXT
    files: list[str] = field(default_factory=list)
    change: int | None = None  # the revision's change number, when the requirement text names it

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.what, self.location, self.detail)

    def as_json(self) -> dict[str, Any]:
        out = {"what": self.what, "location": self.location, "detail": self.detail, "producers": self.producers,
               "consumers": self.consumers, "foundIn": self.source, "files": sorted(self.files)}
        if self.change is not None:
            out["change"] = self.change
        return out


class _Found:
    """Differences keyed by (what, location, detail); the same difference in two files is merged."""

    def __init__(self) -> None:
        self.items: dict[tuple[str, str, str], Difference] = {}

    def add(self, what: str, location: str, detail: str, producers: str, consumers: str, file: str) -> None:
        key = (what, location, detail)
        item = self.items.get(key)
        if item is None:
            self.items[key] = Difference(what, location, detail, producers, consumers, FROM_FILES, [file])
        elif file not in item.files:
            item.files.append(file)


# ----------------------------------------------------------------------------- JSON Schemas
@dataclass
class FieldSpec:
    """What a field table row says about one member, read from its (resolved) JSON Schema."""
    type: str
    required: bool
    keywords: dict[str, Any]
    conditionals: list[str]
    file: str


_COMPARED = ("enum", "pattern", "minLength", "maxLength", "minimum", "maximum", "minItems", "maxItems",
             "uniqueItems", "contains", "x-tbs-order", "x-tbs-unique-by", "x-tbs-order-by", "x-tbs-deprecated",
             "x-tbs-deprecated-values", "x-tbs-open")


class _Schemas:
    def __init__(self, folder: Path) -> None:
        self.docs = {p.name: json.loads(p.read_text(encoding="utf-8")) for p in (folder / "schemas").glob("*.schema.json")}

    def resolve(self, node: dict[str, Any], doc: str) -> tuple[dict[str, Any], str]:
        merged = dict(node)
        while "$ref" in merged:
            ref = merged.pop("$ref")
            file, _, pointer = ref.partition("#")
            doc = file or doc
            target: Any = self.docs[doc]
            for token in filter(None, pointer.split("/")):
                target = target[token.replace("~1", "/").replace("~0", "~")]
            # the referencing node's keywords win; "description"-like annotations do not matter here
            merged = {**{k: v for k, v in target.items() if k != "$id"}, **merged}
        return merged, doc

    def fields(self) -> dict[str, FieldSpec]:
        out: dict[str, FieldSpec] = {}
        for name, file in DOCUMENTS.items():
            if file in self.docs:
                self._walk(self.docs[file], file, name, True, out, f"schemas/{file}")
        return out

    def _walk(self, node: dict[str, Any], doc: str, path: str, required: bool, out: dict[str, FieldSpec],
              file: str) -> None:
        node, doc = self.resolve(node, doc)
        if "const" in node and "enum" not in node:
            node = {**node, "enum": [node["const"]]}
        kind = node.get("type", "object" if "properties" in node else "any")
        keywords = {k: node[k] for k in _COMPARED if k in node}
        conditionals = []
        for entry in node.get("allOf", ()):
            if "if" in entry and not entry.get("x-tbs-record-dispatch"):
                conditionals.append(json.dumps(entry, sort_keys=True, ensure_ascii=False))
        out[path] = FieldSpec(kind, required, keywords, conditionals, file)
        if node.get("x-tbs-records"):
            return  # records are compared per dataset document
        mandatory = set(node.get("required", ()))
        for member, sub in node.get("properties", {}).items():
            self._walk(sub, doc, f"{path}.{member}", member in mandatory, out, file)
        if kind == "array" and isinstance(node.get("items"), dict):
            self._walk(node["items"], doc, f"{path}[]", True, out, file)


def _probe_strings() -> list[str]:
    chars = "09AZazX_-.:/ 中"
    out = [""]
    for c in chars:
        out += [c * n for n in range(1, 41)]
    out += ["0" * n + "A" for n in range(0, 20)] + ["A" + "0" * n for n in range(0, 20)]
    return out


_PROBES = _probe_strings()


def _pattern_change(old: str, new: str) -> tuple[str, str, str]:
    """narrowed / widened / changed, judged on probe strings (a regular-language inclusion test
    would be exact; the probes cover the character classes and lengths of TBS patterns)."""
    o, n = re.compile(old), re.compile(new)
    only_old = any(o.search(s) and not n.search(s) for s in _PROBES)
    only_new = any(n.search(s) and not o.search(s) for s in _PROBES)
    if only_old and not only_new:
        return "pattern-narrowed", B, C
    if only_new and not only_old:
        return "pattern-widened", C, B
    return "pattern-changed", B, B


def _if_values(conditional: str) -> set[str]:
    """The member values a conditional's ``if`` tests (const/enum)."""
    entry = json.loads(conditional)
    values: set[str] = set()
    for sub in entry.get("if", {}).get("properties", {}).values():
        if "const" in sub:
            values.add(str(sub["const"]))
        values.update(str(v) for v in sub.get("enum", ()))
    return values


def _parent(path: str) -> str:
    if path.endswith("[]"):
        return path[:-2]
    return path.rsplit(".", 1)[0] if "." in path else ""


def _compare_fields(old: dict[str, FieldSpec], new: dict[str, FieldSpec], found: _Found) -> None:
    retyped: list[str] = []

    def under(path: str, roots: Iterable[str]) -> bool:
        return any(path.startswith(root + ".") or path.startswith(root + "[") for root in roots)

    for path in sorted(set(old) | set(new)):
        if under(path, retyped):
            continue
        a, b = old.get(path), new.get(path)
        if a is None:
            parent = _parent(path)
            if parent in new and parent not in old:
                continue  # inside a new member
            assert b is not None
            found.add("member-added", path, "mandatory" if b.required else "optional", B if b.required else C, B, b.file)
            continue
        if b is None:
            parent = _parent(path)
            if parent in old and parent not in new:
                continue
            found.add("member-removed", path, "", B, C, a.file)
            continue
        file = b.file
        if a.type != b.type:
            found.add("type-changed", path, f"{a.type} → {b.type}", B, B, file)
            retyped.append(path)
            continue
        if a.required != b.required:
            if b.required:
                found.add("member-now-mandatory", path, "", B, C, file)
            else:
                found.add("member-now-optional", path, "", C, B, file)
        _compare_keywords(path, a, b, found, file)
        _compare_conditionals(path, a, b, old, new, found, file)


def _compare_conditionals(path: str, a: FieldSpec, b: FieldSpec, old: dict[str, FieldSpec],
                          new: dict[str, FieldSpec], found: _Found, file: str) -> None:
    """Conditionals of an object (``allOf`` if/then): a rule whose condition tests only values new
    in this version cannot touch older content (compatible both ways); any other added rule may
    reject what the older version accepted."""
    for cond in b.conditionals:
        if cond in a.conditionals:
            continue
        fresh = False
        tested = json.loads(cond).get("if", {}).get("properties", {})
        if tested:
            fresh = True
            for member in tested:
                before = set(map(str, old[f"{path}.{member}"].keywords.get("enum", ()))) if f"{path}.{member}" in old else set()
                after = set(map(str, new[f"{path}.{member}"].keywords.get("enum", ()))) if f"{path}.{member}" in new else set()
                fresh = fresh and bool(_if_values(cond)) and _if_values(cond) <= (after - before)
        found.add("conditional-rule-added", path, _conditional_summary(cond), C if fresh else B, C, file)
    for cond in a.conditionals:
        if cond not in b.conditionals:
            found.add("conditional-rule-removed", path, _conditional_summary(cond), C, B, file)


def _compare_keywords(path: str, a: FieldSpec, b: FieldSpec, found: _Found, file: str) -> None:
    ka, kb = a.keywords, b.keywords
    old_values = list(ka.get("enum", ())) if "enum" in ka else None
    if "x-tbs-open" in kb and "x-tbs-open" not in ka:
        found.add("code-table-opened", path, f"any value matching {kb.get('pattern')}", C, B, file)
        listed = kb["x-tbs-open"].get("listed", [])
        for v in listed:
            if old_values is not None and v not in old_values:
                found.add("value-added", path, str(v), C, B, file)
    elif old_values is not None or "enum" in kb:
        new_values = list(kb.get("enum", ())) if "enum" in kb else None
        if old_values is not None and new_values is not None:
            if len(old_values) == 1 and len(new_values) == 1:
                if old_values != new_values:
                    found.add("value-changed", path, f"{old_values[0]} → {new_values[0]}", B, B, file)
            else:
                for v in new_values:
                    if v not in old_values:
                        found.add("value-added", path, str(v), C, B, file)
                for v in old_values:
                    if v not in new_values:
                        found.add("value-removed", path, str(v), B, C, file)
        elif new_values is not None:
            found.add("enumeration-added", path, ", ".join(map(str, new_values)), B, C, file)
        else:
            found.add("enumeration-removed", path, "", C, B, file)
    if "pattern" in ka and "pattern" in kb and ka["pattern"] != kb["pattern"]:
        what, p, c = _pattern_change(ka["pattern"], kb["pattern"])
        found.add(what, path, f"{ka['pattern']} → {kb['pattern']}", p, c, file)
    elif "pattern" in kb and "pattern" not in ka and "x-tbs-open" not in kb:
        found.add("pattern-added", path, kb["pattern"], B, C, file)
    elif "pattern" in ka and "pattern" not in kb:
        found.add("pattern-removed", path, ka["pattern"], C, B, file)
    for lower, upper, noun in (("minLength", "maxLength", "length"), ("minimum", "maximum", "range"),
                               ("minItems", "maxItems", "count")):
        for word, wider_when_larger in ((lower, False), (upper, True)):
            va, vb = ka.get(word), kb.get(word)
            if va == vb:
                continue
            if va is None or vb is None:
                widened = (vb is None)  # a bound removed widens, a bound added narrows
            else:
                widened = (vb > va) == wider_when_larger
            detail = f"{word} {va} → {vb}"
            if widened:
                found.add(f"{noun}-widened", path, detail, C, B, file)
            else:
                found.add(f"{noun}-narrowed", path, detail, B, C, file)
    for word in ("uniqueItems", "contains", "x-tbs-order", "x-tbs-unique-by", "x-tbs-order-by"):
        if ka.get(word) != kb.get(word):
            if word in ka and word not in kb:
                found.add("constraint-removed", path, f"{word} {json.dumps(ka[word], ensure_ascii=False)}", C, B, file)
            elif word in kb and word not in ka:
                found.add("constraint-added", path, f"{word} {json.dumps(kb[word], ensure_ascii=False)}", B, C, file)
            else:
                found.add("constraint-changed", path, f"{word} {ka[word]} → {kb[word]}", B, B, file)
    if kb.get("x-tbs-deprecated") and not ka.get("x-tbs-deprecated"):
        found.add("member-deprecated", path, "", C, C, file)
    for v in kb.get("x-tbs-deprecated-values", ()):
        if v not in ka.get("x-tbs-deprecated-values", ()):
            found.add("value-deprecated", path, str(v), C, C, file)


def _conditional_summary(cond: str) -> str:
    entry = json.loads(cond)
    tests = []
    for member, sub in entry.get("if", {}).get("properties", {}).items():
        tests.append(f"{member} = {sub['const']}" if "const" in sub else f"{member} in {sub.get('enum')}")
    rules = sorted({json.dumps(v.get("x-tbs-rule")) for v in entry.get("then", {}).get("properties", {}).values()})
    return f"if {' and '.join(tests)} then {', '.join(json.loads(r) or '' for r in rules)}".strip()


# ----------------------------------------------------------------------------- code tables
def _tables(folder: Path) -> dict[str, tuple[dict[str, Any], str]]:
    out = {}
    for path in sorted((folder / "codes").glob("*.json")):
        doc = json.loads(path.read_text(encoding="utf-8"))
        out[doc["table"]] = (doc, f"codes/{path.name}")
    return out


def _compare_tables(old: Path, new: Path, found: _Found, fields: dict[str, FieldSpec]) -> None:
    a_tables, b_tables = _tables(old), _tables(new)
    for table in sorted(set(a_tables) | set(b_tables), key=lambda t: int(t.split(".")[1])):
        if table not in a_tables:
            doc, file = b_tables[table]
            found.add("code-table-added", table, f"{doc.get('name')}: " + ", ".join(str(c["code"]) for c in doc["codes"]),
                      C, C, file)
            continue
        if table not in b_tables:
            found.add("code-table-removed", table, "", B, C, a_tables[table][1])
            continue
        (a, _), (b, file) = a_tables[table], b_tables[table]
        a_codes = {str(c["code"]): c for c in a["codes"]}
        b_codes = {str(c["code"]): c for c in b["codes"]}
        opened = b.get("open") and not a.get("open")
        if opened:
            found.add("code-table-opened", table, "values not listed are accepted (open table)", C, B, file)
        for code in b_codes:
            if code not in a_codes:
                # Into an open table a new value is compatible; into a closed one it breaks consumers.
                found.add("code-added", table, code, C, C if a.get("open") else B, file)
        for code in a_codes:
            if code not in b_codes:
                found.add("code-removed", table, code, B, C, file)
            elif b_codes[code].get("deprecated") and not a_codes[code].get("deprecated"):
                found.add("code-deprecated", table, code, C, C, file)


# ----------------------------------------------------------------------------- XSD / WSDL
def _xsd_types(path: Path) -> tuple[str, dict[str, Any]]:
    root = etree.parse(str(path), etree.XMLParser(resolve_entities=False, no_network=True)).getroot()
    ns = root.get("targetNamespace", "")
    types: dict[str, Any] = {}
    for ct in root.findall(f"{_XS}complexType"):
        group = ct.find(f"{_XS}sequence")
        if group is None:
            group = ct.find(f"{_XS}all")
        if group is None:
            continue
        members = []
        for el in group.findall(f"{_XS}element"):
            type_name = el.get("type", "").split(":")[-1]
            members.append((el.get("name", ""), type_name, el.get("minOccurs", "1") != "0",
                            el.get("maxOccurs") == "unbounded"))
        types[ct.get("name", "")] = members
    return ns, types


def _xsd_fields(types: dict[str, Any]) -> dict[str, tuple[str, bool]]:
    """Field path → (kind, required), following element types; arrays by the item convention."""
    out: dict[str, tuple[str, bool]] = {}

    def kind_of(type_name: str) -> str:
        members = types.get(type_name)
        if members is None:
            return {"string": "string", "integer": "integer", "boolean": "boolean", "JsonText": "object"}.get(
                type_name, type_name)
        if len(members) == 1 and members[0][0] == "item" and members[0][3]:
            return "array"
        return "object"

    def walk(type_name: str, path: str, depth: int) -> None:
        members = types.get(type_name)
        if members is None or depth > 8 or type_name == "AnyRecord":
            return
        if kind_of(type_name) == "array":
            item_type = members[0][1]
            out[f"{path}[]"] = (kind_of(item_type), True)
            walk(item_type, f"{path}[]", depth + 1)
            return
        for name, member_type, required, _ in members:
            if member_type in ("RecordList",):
                continue
            out[f"{path}.{name}"] = (kind_of(member_type), required)
            walk(member_type, f"{path}.{name}", depth + 1)

    for type_name, document in XSD_DOCUMENTS.items():
        if type_name in types:
            walk(type_name, document, 0)
    return out


def _compare_xsd(old: Path, new: Path, found: _Found) -> None:
    a_xsd = next(old.glob("*.xsd"), None)
    b_xsd = next(new.glob("*.xsd"), None)
    if a_xsd is None or b_xsd is None:
        return
    a_ns, a_types = _xsd_types(a_xsd)
    b_ns, b_types = _xsd_types(b_xsd)
    if a_ns != b_ns:
        found.add("namespace-changed", "XML namespace", f"{a_ns} → {b_ns}", B, B, b_xsd.name)
    a_fields, b_fields = _xsd_fields(a_types), _xsd_fields(b_types)
    retyped: list[str] = []
    for path in sorted(set(a_fields) | set(b_fields)):
        if any(path.startswith(r + ".") or path.startswith(r + "[") for r in retyped):
            continue
        a, b = a_fields.get(path), b_fields.get(path)
        parent = _parent(path)
        if a is None:
            if parent in b_fields and parent not in a_fields:
                continue
            found.add("member-added", path, "mandatory" if b[1] else "optional", B if b[1] else C, B, b_xsd.name)
        elif b is None:
            if parent in a_fields and parent not in b_fields:
                continue
            found.add("member-removed", path, "", B, C, b_xsd.name)
        elif a[0] != b[0]:
            found.add("type-changed", path, f"{a[0]} → {b[0]}", B, B, b_xsd.name)
            retyped.append(path)
        elif a[1] != b[1]:
            if b[1]:
                found.add("member-now-mandatory", path, "", B, C, b_xsd.name)
            else:
                found.add("member-now-optional", path, "", C, B, b_xsd.name)
    a_wsdl, b_wsdl = next(old.glob("*.wsdl"), None), next(new.glob("*.wsdl"), None)
    if a_wsdl is not None and b_wsdl is not None:
        a_root, b_root = etree.parse(str(a_wsdl)).getroot(), etree.parse(str(b_wsdl)).getroot()
        if a_root.get("targetNamespace") != b_root.get("targetNamespace"):
            found.add("namespace-changed", "XML namespace", f"{a_root.get('targetNamespace')} → "
                      f"{b_root.get('targetNamespace')}", B, B, b_wsdl.name)


# ----------------------------------------------------------------------------- OpenAPI / AsyncAPI
def _compare_openapi(old: Path, new: Path, found: _Found) -> None:
    a = yaml.safe_load((old / "openapi.yaml").read_text(encoding="utf-8"))
    b = yaml.safe_load((new / "openapi.yaml").read_text(encoding="utf-8"))
    groups = (("parameters", "request header"), ("headers", "response header"))
    # response headers are keyed by component name; the request parameter of the same key names the header
    header_names = {k: v.get("name", k) for k, v in b.get("components", {}).get("parameters", {}).items()}
    for group, label in groups:
        a_items, b_items = a.get("components", {}).get(group, {}), b.get("components", {}).get(group, {})
        for name in sorted(set(a_items) | set(b_items)):
            where = f"{label} {header_names.get(name, name)}"
            if name not in a_items:
                found.add("member-added", where, "", C, B, "openapi.yaml")
                continue
            if name not in b_items:
                found.add("member-removed", where, "", B, C, "openapi.yaml")
                continue
            sa, sb = a_items[name].get("schema", {}), b_items[name].get("schema", {})
            fa = FieldSpec(sa.get("type", "any"), True, _keywords(sa), [], "openapi.yaml")
            fb = FieldSpec(sb.get("type", "any"), True, _keywords(sb), [], "openapi.yaml")
            _compare_keywords(where, fa, fb, found, "openapi.yaml")
    a_paths, b_paths = set(a.get("paths", {})), set(b.get("paths", {}))
    for p in sorted(b_paths - a_paths):
        found.add("member-added", f"path {p}", "", C, B, "openapi.yaml")
    for p in sorted(a_paths - b_paths):
        found.add("member-removed", f"path {p}", "", B, C, "openapi.yaml")


def _keywords(schema: dict[str, Any]) -> dict[str, Any]:
    if "const" in schema and "enum" not in schema:
        schema = {**schema, "enum": [schema["const"]]}
    return {k: schema[k] for k in _COMPARED if k in schema}


def _compare_asyncapi(old: Path, new: Path, found: _Found) -> None:
    a = yaml.safe_load((old / "asyncapi.yaml").read_text(encoding="utf-8"))
    b = yaml.safe_load((new / "asyncapi.yaml").read_text(encoding="utf-8"))
    a_ch = {k: v.get("address") for k, v in a.get("channels", {}).items()}
    b_ch = {k: v.get("address") for k, v in b.get("channels", {}).items()}
    for name in sorted(set(a_ch) | set(b_ch)):
        if a_ch.get(name) != b_ch.get(name):
            found.add("channel-changed", f"MQTT channel {name}", f"{a_ch.get(name)} → {b_ch.get(name)}", B, B,
                      "asyncapi.yaml")


# ----------------------------------------------------------------------------- requirement text
def _requirement_text(new: Path) -> list[Difference]:
    path = new / "requirement-changes.json"
    if not path.is_file():
        return []
    doc = json.loads(path.read_text(encoding="utf-8"))
    out = []
    for entry in doc.get("added", ()):
        out.append(Difference("requirement-added", entry["id"], f"{entry['severity']}: {entry['en']}",
                              entry["producers"], entry["consumers"], FROM_TEXT, [path.name], entry["change"]))
    for entry in doc.get("withdrawn", ()):
        out.append(Difference("requirement-withdrawn", entry["id"], entry["summary"], entry["producers"],
                              entry["consumers"], FROM_TEXT, [path.name], entry["change"]))
    for entry in doc.get("changed", ()):
        out.append(Difference("requirement-changed", entry["id"], entry["summary"], entry["producers"],
                              entry["consumers"], FROM_TEXT, [path.name], entry["change"]))
    for entry in doc.get("textOnly", ()):
        out.append(Difference("text-changed", entry["subject"], entry["summary"], entry["producers"],
                              entry["consumers"], FROM_TEXT, [path.name], entry["change"]))
    return out


# ----------------------------------------------------------------------------- entry point
def diff(old_version: str, new_version: str) -> list[Difference]:
    """Every difference from ``old_version`` to ``new_version`` (spec folder names or versions)."""
    old, new = spec_dir(old_version.upper()), spec_dir(new_version.upper())
    found = _Found()
    old_fields, new_fields = _Schemas(old).fields(), _Schemas(new).fields()
    _compare_fields(old_fields, new_fields, found)
    _compare_tables(old, new, found, new_fields)
    _compare_xsd(old, new, found)
    _compare_openapi(old, new, found)
    _compare_asyncapi(old, new, found)
    return list(found.items.values()) + _requirement_text(new)


def breaking(differences: Iterable[Difference], side: str) -> list[Difference]:
    attr = {"producer": "producers", "consumer": "consumers"}[side]
    return [d for d in differences if getattr(d, attr) == B]


def iter_rows(differences: Iterable[Difference]) -> Iterator[tuple[str, ...]]:
    for d in differences:
        yield (d.what, d.location, d.detail, d.producers, d.consumers,
               d.source + (f" (change {d.change})" if d.change is not None else ""), ", ".join(sorted(d.files)))
