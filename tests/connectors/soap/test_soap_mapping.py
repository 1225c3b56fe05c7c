"""TBS-SOAP-003 mapping, both ways, and the refusals of TBS-SEC-010 / TBS-SOAP-005."""
from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from tongban.connectors.soap import mapping
from tongban.connectors.soap.xsd_model import TBS_NS
from tongban.model.canonical import canonical_bytes

ANNEX_B = Path(__file__).resolve().parents[2] / "data" / "annex_b"
SOAP = "http://schemas.xmlsoap.org/soap/envelope/"


def example(name: str) -> dict[str, Any]:
    return json.loads((ANNEX_B / f"{name}.json").read_text(encoding="utf-8"))


def identities(findings: list) -> list[tuple[str, str, str]]:
    return [f.identity for f in findings]


def push_xml(envelope_inner: str, *, records: str | None = None, dataset: str = "case") -> bytes:
    """A PushBatch request with a hand-written envelope; ``records`` replaces the record list."""
    rec = records if records is not None else "<tbs:item><tbs:caseNo>X1</tbs:caseNo></tbs:item>"
    return (
        f'<soap:Envelope xmlns:soap="{SOAP}" xmlns:tbs="urn:tbs:1.0"><soap:Body><tbs:PushBatch><tbs:envelope>'
        f"<tbs:specVersion>TBS-1.0</tbs:specVersion><tbs:dataset>{dataset}</tbs:dataset>"
        f"<tbs:records>{rec}</tbs:records>{envelope_inner}"
        "</tbs:envelope></tbs:PushBatch></soap:Body></soap:Envelope>"
    ).encode("utf-8")


# --------------------------------------------------------------------------- round trips

@pytest.mark.parametrize("name", ["B.1", "B.2", "B.3", "B.4", "B.5"])
def test_annex_b_envelope_round_trips_to_identical_canonical_bytes(name: str) -> None:
    envelope = example(name)
    back, findings = mapping.push_batch_to_envelope(mapping.envelope_to_push_batch(envelope))
    assert findings == []
    assert canonical_bytes(back) == canonical_bytes(envelope)


def test_ext_free_text_control_characters_and_empty_values_round_trip() -> None:
    envelope = example("B.5")
    envelope["ext"] = {"zone": "南区", "n": [1, -2, {"deep": True}]}
    envelope["records"][0]["text"] = "  行一\r\n\t行二  "   # TBS-SOAP-003 (c): verbatim, CR kept
    envelope["records"][1]["ext"] = {}
    envelope["records"][1]["detailCodes"] = []
    back, findings = mapping.push_batch_to_envelope(mapping.envelope_to_push_batch(envelope))
    assert findings == []
    assert canonical_bytes(back) == canonical_bytes(envelope)


@pytest.mark.parametrize("name", ["B.6", "B.7"])
def test_acknowledgement_round_trips(name: str) -> None:
    ack = example(name)
    assert canonical_bytes(mapping.xml_to_ack(mapping.ack_to_xml(ack))) == canonical_bytes(ack)
    assert mapping.xml_to_ack(mapping.ack_to_xml(ack, "GetAck"), "GetAck") == ack


def test_meta_and_changes_round_trip() -> None:
    meta = {"systemId": "TB:county:440103:LWZWFW", "roles": ["CASE_REPORTER"], "datasets": ["case", "case-event"],
            "specVersions": ["TBS-1.0"], "limits": {"maxRecords": 1000, "maxBodyBytes": 16777216}}
    assert mapping.xml_to_meta(mapping.meta_to_xml(meta)) == meta
    changes = {"records": example("B.3")["records"], "nextCursor": "c-0000000000000127", "hasMore": False}
    back, findings = mapping.xml_to_changes(mapping.changes_to_xml(changes, "case-event"), "case-event")
    assert findings == [] and back == changes


def test_elements_are_sent_in_wsdl_order_whatever_the_json_order() -> None:
    envelope = example("B.2")
    shuffled = dict(sorted(envelope.items(), reverse=True))
    shuffled["records"] = [dict(sorted(r.items())) for r in envelope["records"]]
    root = etree.fromstring(mapping.envelope_to_push_batch(shuffled))
    env = root.find(f".//{{{TBS_NS}}}envelope")
    assert [etree.QName(c).localname for c in env] == [
        "specVersion", "messageId", "sender", "receiver", "dataset", "sentAt", "records", "integrity"]
    record = env.find(f"{{{TBS_NS}}}records/{{{TBS_NS}}}item")
    assert [etree.QName(c).localname for c in record] == [
        "caseNo", "implCode", "itemName", "caseType", "applicant", "channel", "regionCode", "submittedAt",
        "promisedBy", "version"]


def test_receiver_maps_any_element_order_pretty_printing_and_cdata() -> None:
    """Element order is not part of the verdict (TBS-SOAP-004); CDATA equals text (TBS-SOAP-003 (c))."""
    envelope = example("B.1")
    root = etree.fromstring(mapping.envelope_to_push_batch(envelope))
    env = root.find(f".//{{{TBS_NS}}}envelope")
    children = list(env)
    random.Random(7).shuffle(children)
    env[:] = children
    text = etree.tostring(root, pretty_print=True).decode()
    text = text.replace("<tbs:legalBasis>《公共场所卫生管理条例》第四条</tbs:legalBasis>",
                        "<tbs:legalBasis><![CDATA[《公共场所卫生管理条例》]]>第四条</tbs:legalBasis>")
    back, findings = mapping.push_batch_to_envelope(text.encode())
    assert findings == []
    assert canonical_bytes(back) == canonical_bytes(envelope)


def test_bare_push_batch_element_and_soap_header_are_accepted() -> None:
    envelope = example("B.4")
    root = etree.fromstring(mapping.envelope_to_push_batch(envelope))
    bare = etree.tostring(root[0][0])
    assert mapping.push_batch_to_envelope(bare) == (envelope, [])
    header = etree.Element(f"{{{SOAP}}}Header")
    etree.SubElement(header, "{urn:other}trace").text = "x"
    root.insert(0, header)
    assert mapping.push_batch_to_envelope(etree.tostring(root)) == (envelope, [])


def test_null_has_no_xml_form() -> None:
    envelope = example("B.1")
    envelope["records"][0]["version"] = None
    with pytest.raises(ValueError, match="null"):
        mapping.envelope_to_push_batch(envelope)


# --------------------------------------------------------------------------- mapping findings

def test_unknown_element_is_env_002_and_is_carried_into_the_json() -> None:
    xml = push_xml("", records="<tbs:item><tbs:caseNo>X1</tbs:caseNo><tbs:remark>加急</tbs:remark></tbs:item>")
    envelope, findings = mapping.push_batch_to_envelope(xml)
    assert identities(findings) == [("ERROR", "TBS-ENV-002", "/records/0/remark")]
    assert envelope["records"][0]["remark"] == "加急"


def test_type_mismatches_are_env_005_at_the_member() -> None:
    records = ("<tbs:item><tbs:caseNo>X1</tbs:caseNo><tbs:version>3.0</tbs:version>"
               "<tbs:applicant>张三</tbs:applicant><tbs:itemName><tbs:zh>x</tbs:zh></tbs:itemName></tbs:item>")
    envelope, findings = mapping.push_batch_to_envelope(push_xml("", records=records))
    assert identities(findings) == [
        ("ERROR", "TBS-ENV-005", "/records/0/version"),
        ("ERROR", "TBS-ENV-005", "/records/0/applicant"),
        ("ERROR", "TBS-ENV-005", "/records/0/itemName"),
    ]
    assert findings[0].value == "3.0"
    record = envelope["records"][0]
    # 3.0 stays the JSON number it is (hashed as 3 by RFC 8785); other text stays a string
    assert record["version"] == 3.0 and isinstance(record["version"], float)
    assert record["applicant"] == "张三" and record["itemName"] == {"zh": "x"}


@pytest.mark.parametrize(("member", "text"), [("hasMore", "1"), ("charged", "TRUE"), ("onlineDepth", "+4"),
                                              ("onlineDepth", " 4"), ("onlineDepth", "")])
def test_booleans_are_true_or_false_and_integers_plain_decimal(member: str, text: str) -> None:
    if member == "hasMore":
        xml = (f'<soap:Envelope xmlns:soap="{SOAP}" xmlns:tbs="urn:tbs:1.0"><soap:Body><tbs:GetChangesResponse>'
               f"<tbs:records/><tbs:nextCursor>c1</tbs:nextCursor><tbs:hasMore>{text}</tbs:hasMore>"
               "</tbs:GetChangesResponse></soap:Body></soap:Envelope>").encode()
        _, findings = mapping.xml_to_changes(xml, "case")
        assert identities(findings) == [("ERROR", "TBS-ENV-005", "/hasMore")]
        return
    body = (f"<tbs:fee><tbs:charged>{text}</tbs:charged></tbs:fee>" if member == "charged"
            else f"<tbs:onlineDepth>{text}</tbs:onlineDepth>")
    _, findings = mapping.push_batch_to_envelope(push_xml("", records=f"<tbs:item>{body}</tbs:item>", dataset="catalog"))
    location = "/records/0/fee/charged" if member == "charged" else "/records/0/onlineDepth"
    assert identities(findings) == [("ERROR", "TBS-ENV-005", location)]


def test_repeated_non_array_element_is_env_001_and_the_first_is_kept() -> None:
    records = "<tbs:item><tbs:caseNo>X1</tbs:caseNo><tbs:caseNo>X2</tbs:caseNo></tbs:item>"
    envelope, findings = mapping.push_batch_to_envelope(push_xml("<tbs:sender>A</tbs:sender><tbs:sender>B</tbs:sender>",
                                                                  records=records))
    assert identities(findings) == [("ERROR", "TBS-ENV-001", "/records/0/caseNo"), ("ERROR", "TBS-ENV-001", "/sender")]
    assert envelope["records"][0]["caseNo"] == "X1" and envelope["sender"] == "A"


def test_attributes_other_than_namespace_declarations_are_env_002() -> None:
    records = ('<tbs:item xmlns:x="urn:x"><tbs:caseNo xmlns:y="urn:y">X1</tbs:caseNo>'
               '<tbs:version xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:nil="true"/>'
               '<tbs:itemName lang="zh">x</tbs:itemName></tbs:item>')
    envelope, findings = mapping.push_batch_to_envelope(push_xml("", records=records))
    # xsi:nil is an attribute (TBS-ENV-002) and does not make the empty integer valid (TBS-ENV-005)
    assert sorted(identities(findings)) == [("ERROR", "TBS-ENV-002", "/records/0/itemName"),
                                            ("ERROR", "TBS-ENV-002", "/records/0/version"),
                                            ("ERROR", "TBS-ENV-005", "/records/0/version")]
    assert envelope["records"][0]["itemName"] == "x"


def test_ext_must_hold_the_json_text_of_an_object() -> None:
    _, findings = mapping.push_batch_to_envelope(push_xml("<tbs:ext>{not json</tbs:ext>"))
    assert identities(findings) == [("ERROR", "TBS-ENV-005", "/ext")]
    _, findings = mapping.push_batch_to_envelope(push_xml("<tbs:ext>[1]</tbs:ext>"))
    assert identities(findings) == [("ERROR", "TBS-ENV-005", "/ext")]
    records = '<tbs:item><tbs:ext>{"a":1,"a":2}</tbs:ext></tbs:item>'
    _, findings = mapping.push_batch_to_envelope(push_xml("", records=records))
    assert identities(findings) == [("ERROR", "TBS-ENV-001", "/records/0/ext")]


def test_unknown_element_inside_an_array_wrapper_is_env_002_at_the_array() -> None:
    records = ("<tbs:item><tbs:serviceObjects><tbs:item>1</tbs:item><tbs:entry>2</tbs:entry>"
               "</tbs:serviceObjects></tbs:item>")
    envelope, findings = mapping.push_batch_to_envelope(push_xml("", records=records, dataset="catalog"))
    assert identities(findings) == [("ERROR", "TBS-ENV-002", "/records/0/serviceObjects")]
    assert envelope["records"][0]["serviceObjects"] == ["1"]


def test_identity_numbers_are_masked_in_finding_values() -> None:
    records = ("<tbs:item><tbs:applicant><tbs:idNo>11010519491231002X</tbs:idNo><tbs:idNo>1</tbs:idNo>"
               "</tbs:applicant><tbs:agent><tbs:idNo><tbs:x>1</tbs:x></tbs:idNo></tbs:agent></tbs:item>")
    _, findings = mapping.push_batch_to_envelope(push_xml("", records=records))
    assert ("ERROR", "TBS-ENV-001", "/records/0/applicant/idNo") in identities(findings)
    assert all("11010519491231002X" not in (f.value or "") for f in findings)


def test_unknown_dataset_maps_records_with_the_union_of_the_record_types() -> None:
    records = "<tbs:item><tbs:caseNo>X1</tbs:caseNo><tbs:version>3</tbs:version><tbs:size>27</tbs:size></tbs:item>"
    envelope, findings = mapping.push_batch_to_envelope(push_xml("", records=records, dataset="cases"))
    assert identities(findings) == [("ERROR", "TBS-ENV-002", "/records/0/size")]
    assert envelope["records"] == [{"caseNo": "X1", "version": 3, "size": "27"}]


# --------------------------------------------------------------------------- unmappable XML

def refused(xml: bytes) -> tuple[str, str, str]:
    envelope, findings = mapping.push_batch_to_envelope(xml)
    assert envelope is None and len(findings) == 1
    return findings[0].identity


def test_doctype_is_refused_under_sec_010() -> None:
    assert refused(b'<?xml version="1.0"?><!DOCTYPE x><x/>') == ("ERROR", "TBS-SEC-010", "")
    ok = mapping.envelope_to_push_batch(example("B.2")).replace(b"?>", b"?><!DOCTYPE soap:Envelope>", 1)
    assert refused(ok) == ("ERROR", "TBS-SEC-010", "")


def test_external_entity_is_refused_and_never_resolved(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET", encoding="utf-8")
    xml = (f'<?xml version="1.0"?><!DOCTYPE e [<!ENTITY xxe SYSTEM "{secret.as_uri()}">]>'
           f'<soap:Envelope xmlns:soap="{SOAP}" xmlns:tbs="urn:tbs:1.0"><soap:Body><tbs:PushBatch><tbs:envelope>'
           "<tbs:sender>&xxe;</tbs:sender></tbs:envelope></tbs:PushBatch></soap:Body></soap:Envelope>").encode()
    envelope, findings = mapping.push_batch_to_envelope(xml)
    assert envelope is None and identities(findings) == [("ERROR", "TBS-SEC-010", "")]
    assert "TOP-SECRET" not in repr(findings)


def test_billion_laughs_is_refused() -> None:
    entities = "".join(f'<!ENTITY l{i} "{f"&l{i - 1};" * 10}">' for i in range(1, 10))
    xml = f'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY l0 "lol">{entities}]><lolz>&l9;</lolz>'.encode()
    assert refused(xml) == ("ERROR", "TBS-SEC-010", "")


def test_undeclared_entity_without_doctype_is_not_well_formed() -> None:
    assert refused(push_xml("<tbs:origin>&xxe;</tbs:origin>")) == ("ERROR", "TBS-ENV-001", "")


def nested(depth: int) -> bytes:
    """A PushBatch request whose deepest element is at ``depth`` (soap:Envelope is level 1)."""
    head = push_xml("<tbs:ext>{}</tbs:ext>").split(b"<tbs:ext>")[0]
    used = 5  # Envelope, Body, PushBatch, envelope, deep
    inner = "<tbs:d>" * (depth - used) + "x" + "</tbs:d>" * (depth - used)
    return head + f"<tbs:deep>{inner}</tbs:deep></tbs:envelope></tbs:PushBatch></soap:Body></soap:Envelope>".encode()


def test_nesting_of_64_levels_is_mapped_and_65_is_refused() -> None:
    envelope, findings = mapping.push_batch_to_envelope(nested(64))
    assert envelope is not None and identities(findings) == [("ERROR", "TBS-ENV-002", "/deep")]
    assert refused(nested(65)) == ("ERROR", "TBS-SEC-010", "")
    assert refused(nested(100_000)) == ("ERROR", "TBS-SEC-010", "")


@pytest.mark.parametrize("xml", [b"", b"<a", b"\xff<a/>", b"<a></b>", b"<a/><b/>"])
def test_not_well_formed_is_env_001_at_the_root(xml: bytes) -> None:
    assert refused(xml)[1:] == ("TBS-ENV-001", "")


@pytest.mark.parametrize("xml", [b"\xff\xfe<a/>", b"\xef\xbb\xbf<a/>", b"<?xml version='1.0' encoding='GBK'?><a/>",
                                 b'<?xml version="1.0" encoding="x-unknown"?><a/>'])
def test_a_document_not_in_utf8_is_soap_001_at_the_root(xml: bytes) -> None:
    assert refused(xml)[1:] == ("TBS-SOAP-001", "")


def test_element_in_another_namespace_is_refused_at_its_location() -> None:
    records = '<tbs:item><tbs:caseNo>X1</tbs:caseNo><x:caseNo xmlns:x="urn:x">X</x:caseNo></tbs:item>'
    assert refused(push_xml("", records=records)) == ("ERROR", "TBS-ENV-002", "/records/0/caseNo")
    xml = push_xml("").replace(b'xmlns:tbs="urn:tbs:1.0"', b'xmlns:tbs="urn:tbs:2.0"')
    assert refused(xml) == ("ERROR", "TBS-ENV-002", "")
    soap12 = push_xml("").replace(SOAP.encode(), b"http://www.w3.org/2003/05/soap-envelope")
    assert refused(soap12) == ("ERROR", "TBS-ENV-002", "")


def test_wrong_wrapper_is_refused() -> None:
    get_meta = mapping.get_meta_request()
    assert refused(get_meta) == ("ERROR", "TBS-ENV-002", "")
    no_envelope = (f'<soap:Envelope xmlns:soap="{SOAP}" xmlns:tbs="urn:tbs:1.0"><soap:Body><tbs:PushBatch/>'
                   "</soap:Body></soap:Envelope>").encode()
    assert refused(no_envelope) == ("ERROR", "TBS-ENV-005", "")
    two_bodies = push_xml("").replace(b"</soap:Envelope>", b"<soap:Body/></soap:Envelope>")
    assert refused(two_bodies) == ("ERROR", "TBS-ENV-002", "")


def test_mixed_content_is_refused_at_the_member() -> None:
    records = "<tbs:item><tbs:applicant>张三<tbs:kind>PERSON</tbs:kind></tbs:applicant></tbs:item>"
    assert refused(push_xml("", records=records)) == ("ERROR", "TBS-ENV-005", "/records/0/applicant")


# --------------------------------------------------------------------------- faults

def test_fault_round_trips_with_the_tbs_error_detail() -> None:
    fault = mapping.SoapFault("Client", "bad cursor", "BAD_CURSOR", "cursor cannot be read", "TBS-REST-004")
    xml = mapping.fault_to_xml(fault)
    root = etree.fromstring(xml)
    assert root.findtext(f"{{{SOAP}}}Body/{{{SOAP}}}Fault/faultcode") == "soap:Client"
    assert root.find(f".//detail/{{{TBS_NS}}}error/{{{TBS_NS}}}code").text == "BAD_CURSOR"
    assert mapping.xml_to_fault(xml) == fault
    assert mapping.xml_to_fault(mapping.meta_to_xml({"systemId": "x", "roles": [], "datasets": [],
                                                     "specVersions": []})) is None
