"""Bad input over the SOAP binding (TBS-1.0 §16): one case per kind.

Every technical refusal is a SOAP 1.1 fault with HTTP 500 (TBS-SOAP-005): ``soap:Client`` for
what the sender must fix, with the TBS code and rule id in its detail; an envelope rejected by
validation is a ``PushBatchResponse`` whose acknowledgement names the rule. Never a plain-text
500, never a traceback; nothing invalid stored; a valid PushBatch right afterwards is stored.
"""
from __future__ import annotations

import re
import time
import uuid
from dataclasses import dataclass
from typing import Any, Callable

import httpx
import pytest

from tongban.connectors.soap import mapping
from tongban.model.canonical import records_sha256

from security_support import TOKEN, Bus, assert_no_plain_500
from security_support import bus, province  # noqa: F401 - pytest fixtures

Request = tuple[bytes, dict[str, str]]

SOAP_NS = 'xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" xmlns:tbs="urn:tbs:1.0"'


@dataclass(frozen=True)
class Kind:
    id: str
    build: Callable[[Bus], Request]
    code: str | None          # the fault detail's TBS code; None: a PushBatchResponse answers
    rule_id: str
    finding: str = ""
    message: str = ""         # a word the fault's message must contain
    counted: bool = True      # False: answered by the edge before the app (431), not in its counters
    method: str = "POST"
    path: str = "/tbs/v1/soap"


def _push(bus: Bus, env: dict[str, Any] | None = None, *, body: bytes | None = None, **headers: str | None
          ) -> Request:
    env = bus.envelope() if env is None else env
    return (mapping.envelope_to_push_batch(env) if body is None else body), bus.soap_headers(env, **headers)


def _edit(bus: Bus, edit: Callable[[bytes], bytes], env: dict[str, Any] | None = None, **headers: str | None
          ) -> Request:
    env = bus.envelope() if env is None else env
    return edit(mapping.envelope_to_push_batch(env)), bus.soap_headers(env, **headers)


def _declared(encoding: str) -> Callable[[Bus], Request]:
    """A PushBatch whose XML declaration names ``encoding`` (its bytes stay UTF-8)."""
    return lambda b: _edit(b, lambda x: re.sub(rb'encoding=[\'"][^\'"]+[\'"]', f"encoding='{encoding}'".encode(),
                                               x, count=1))


def _raw(body: bytes, operation: str = "GetMeta") -> Callable[[Bus], Request]:
    return lambda b: (body, b.soap_headers(operation=operation))


def _op(body_inner: str, operation: str) -> Callable[[Bus], Request]:
    xml = f'<?xml version="1.0" encoding="UTF-8"?><soap:Envelope {SOAP_NS}><soap:Body>{body_inner}</soap:Body>' \
          f'</soap:Envelope>'
    return _raw(xml.encode(), operation)


XXE = b"""<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE foo [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" xmlns:tbs="urn:tbs:1.0">
<soap:Body><tbs:GetChanges><tbs:dataset>&xxe;</tbs:dataset></tbs:GetChanges></soap:Body></soap:Envelope>"""
PARAMETER_ENTITY = b"""<?xml version="1.0"?><!DOCTYPE d [<!ENTITY % p SYSTEM "http://127.0.0.1:9/x.dtd"> %p;]>
<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body/></soap:Envelope>"""
BILLION_LAUGHS = b"""<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">
<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;"><!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;">]>
<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>&d;</soap:Body></soap:Envelope>"""
BILLION_LAUGHS_LOL9 = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" xmlns:tbs="urn:tbs:1.0">
<soap:Body><tbs:GetChanges><tbs:dataset>&lol9;</tbs:dataset></tbs:GetChanges></soap:Body></soap:Envelope>"""
XINCLUDE = (f'<soap:Envelope {SOAP_NS} xmlns:xi="http://www.w3.org/2001/XInclude"><soap:Body><tbs:GetAck>'
            '<tbs:messageId><xi:include href="file:///etc/passwd" parse="text"/></tbs:messageId></tbs:GetAck>'
            '</soap:Body></soap:Envelope>').encode()


def _deep(levels: int) -> bytes:
    return (f"<soap:Envelope {SOAP_NS}><soap:Body><tbs:GetMeta>".encode() + b"<tbs:x>" * levels
            + b"</tbs:x>" * levels + b"</tbs:GetMeta></soap:Body></soap:Envelope>")


def _replayed(bus: Bus) -> Request:
    env = bus.envelope()
    first = bus.soap_post(mapping.envelope_to_push_batch(env), bus.soap_headers(env))
    assert first.status_code == 200 and mapping.xml_to_ack(first.content)["status"] == "ACCEPTED"
    again = bus.soap_post(mapping.envelope_to_push_batch(env), bus.soap_headers(env))
    assert mapping.xml_to_ack(again.content) == mapping.xml_to_ack(first.content)  # an identical replay: the stored ack
    other = dict(env, records=bus.fresh_cases(1))
    other["integrity"] = {"recordsSha256": records_sha256(other["records"])}
    return _push(bus, other)


def _with_attribute(x: bytes) -> bytes:
    return x.replace(b"<tbs:sender>", b'<tbs:sender role="admin">', 1)


def _repeat_sender(x: bytes) -> bytes:
    m = re.search(rb"<tbs:sender>[^<]*</tbs:sender>", x)
    assert m
    return x[:m.end()] + m.group(0) + x[m.end():]


KINDS = [
    # -- edge: authentication, headers, media type (TBS-SEC-001/-002, TBS-REST-006, TBS-SOAP-001)
    Kind("no-authorization", lambda b: _push(b, Authorization=None), "UNAUTHENTICATED", "TBS-SEC-001"),
    Kind("wrong-token", lambda b: _push(b, Authorization="Bearer nope"), "UNAUTHENTICATED", "TBS-SEC-001"),
    Kind("another-partners-token", lambda b: _push(b, Authorization=f"Bearer {TOKEN['YX']}"), "FORBIDDEN",
         "TBS-SEC-002"),
    Kind("missing-spec-version", lambda b: _push(b, X_TB_Spec_Version=None), "BAD_HEADER", "TBS-REST-006"),
    Kind("missing-sender-header", lambda b: _push(b, X_TB_Sender=None), "BAD_HEADER", "TBS-REST-006"),
    Kind("message-id-mismatch", lambda b: _push(b, X_TB_Message_Id=str(uuid.uuid4())), "BAD_HEADER",
         "TBS-REST-006"),
    Kind("wrong-soapaction", lambda b: _push(b, SOAPAction='"urn:tbs:1.0#GetMeta"'), "BAD_HEADER", "TBS-SOAP-001"),
    Kind("missing-soapaction", lambda b: _push(b, SOAPAction=None), "BAD_HEADER", "TBS-SOAP-001"),
    Kind("content-type-json", lambda b: _push(b, Content_Type="application/json"), "UNSUPPORTED_MEDIA_TYPE",
         "TBS-SOAP-001", finding="9"),
    Kind("content-type-charset-gbk", lambda b: _push(b, Content_Type="text/xml; charset=gbk"),
         "UNSUPPORTED_MEDIA_TYPE", "TBS-SOAP-001", finding="9"),
    Kind("header-over-size-limit", lambda b: _push(b, X_Padding="p" * (40 * 1024)), "BAD_HEADER", "TBS-REST-006",
         finding="9", counted=False),
    # -- hardened XML (TBS-SEC-010) --------------------------------------------------------
    Kind("xxe-external-entity", _raw(XXE, "GetChanges"), "MALFORMED_JSON", "TBS-SEC-010", message="DOCTYPE"),
    Kind("parameter-entity", _raw(PARAMETER_ENTITY), "MALFORMED_JSON", "TBS-SEC-010", message="DOCTYPE"),
    Kind("billion-laughs", _raw(BILLION_LAUGHS), "MALFORMED_JSON", "TBS-SEC-010", message="DOCTYPE"),
    Kind("billion-laughs-10-levels-in-getchanges", _raw(BILLION_LAUGHS_LOL9, "GetChanges"), "MALFORMED_JSON",
         "TBS-SEC-010", message="DOCTYPE"),
    Kind("nesting-over-64", _raw(_deep(80)), "MALFORMED_JSON", "TBS-SEC-010"),
    Kind("nesting-100000", _raw(_deep(100_000)), "MALFORMED_JSON", "TBS-SEC-010"),
    # -- declared encodings other than UTF-8 (TBS-SOAP-001) --------------------------------
    Kind("xml-declaration-gbk", _declared("GBK"), "MALFORMED_JSON", "TBS-SOAP-001", finding="4"),
    Kind("xml-declaration-gb18030", _declared("GB18030"), "MALFORMED_JSON", "TBS-SOAP-001", finding="4"),
    Kind("xml-declaration-big5", _declared("Big5"), "MALFORMED_JSON", "TBS-SOAP-001", finding="4"),
    Kind("xml-declaration-gb2312", _declared("GB2312"), "MALFORMED_JSON", "TBS-SOAP-001", finding="4"),
    Kind("xml-declaration-shift-jis", _declared("Shift_JIS"), "MALFORMED_JSON", "TBS-SOAP-001", finding="4"),
    Kind("xml-declaration-utf16", _declared("UTF-16"), "MALFORMED_JSON", "TBS-SOAP-001", finding="4"),
    Kind("xml-declaration-unknown", _declared("x-no-such-charset"), "MALFORMED_JSON", "TBS-SOAP-001",
         finding="4"),
    Kind("xml-declaration-latin1", _declared("ISO-8859-1"), "MALFORMED_JSON", "TBS-SOAP-001", finding="4"),
    Kind("body-in-gbk-bytes", lambda b: _edit(b, lambda x: x.decode().replace("UTF-8", "GBK", 1).encode("gbk")),
         "MALFORMED_JSON", "TBS-SOAP-001", finding="4"),
    Kind("utf16-bytes-with-bom", lambda b: _edit(b, lambda x: x.decode().replace("UTF-8", "UTF-16", 1)
                                                 .encode("utf-16")), "MALFORMED_JSON", "TBS-SOAP-001", finding="4"),
    # -- not well-formed, not a TBS operation (TBS-ENV-001, -002) --------------------------
    Kind("empty-body", _raw(b""), "MALFORMED_JSON", "TBS-ENV-001"),
    Kind("not-xml", _raw(b"{\"this\": \"is json\"}"), "MALFORMED_JSON", "TBS-ENV-001"),
    Kind("truncated-xml", lambda b: _edit(b, lambda x: x[:-40]), "MALFORMED_JSON", "TBS-ENV-001"),
    Kind("invalid-utf8-bytes", lambda b: _edit(b, lambda x: x.replace(b"<tbs:sender>", b"<tbs:sender>\xff\xfe", 1)),
         "MALFORMED_JSON", "TBS-ENV-001"),
    Kind("nul-character", lambda b: _edit(b, lambda x: x.replace(b"<tbs:sender>", b"<tbs:sender>&#0;", 1)),
         "MALFORMED_JSON", "TBS-ENV-001"),
    Kind("wrong-root-element", _raw(b'<html xmlns="http://www.w3.org/1999/xhtml"><body/></html>'),
         "MALFORMED_JSON", "TBS-ENV-002"),
    Kind("soap12-envelope", _raw(b'<e:Envelope xmlns:e="http://www.w3.org/2003/05/soap-envelope"><e:Body>'
                                 b'<tbs:GetMeta xmlns:tbs="urn:tbs:1.0"/></e:Body></e:Envelope>'),
         "MALFORMED_JSON", "TBS-ENV-002"),
    Kind("unknown-operation", _op("<tbs:DeleteAll/>", "DeleteAll"), "MALFORMED_JSON", "TBS-ENV-002"),
    Kind("operation-outside-namespace", _op('<GetMeta xmlns="urn:evil"/>', "GetMeta"), "MALFORMED_JSON",
         "TBS-ENV-002"),
    Kind("xinclude-not-resolved", lambda b: (XINCLUDE, b.soap_headers(operation="GetAck")), "MALFORMED_JSON",
         "TBS-ENV-002"),
    Kind("getchanges-without-dataset", _op("<tbs:GetChanges/>", "GetChanges"), "BAD_PARAMETER", "TBS-SOAP-002"),
    Kind("getchanges-limit-out-of-range", _op("<tbs:GetChanges><tbs:dataset>case</tbs:dataset><tbs:limit>5000"
                                              "</tbs:limit></tbs:GetChanges>", "GetChanges"), "BAD_PARAMETER",
         "TBS-REST-003"),
    Kind("getack-unknown-message", _op(f"<tbs:GetAck><tbs:messageId>{uuid.UUID(int=7)}</tbs:messageId></tbs:GetAck>",
                                       "GetAck"), "NOT_FOUND", "TBS-REST-010"),
    # -- outside the endpoint (TBS-SOAP-001): routing's answers are faults too ---------------
    Kind("unknown-path", lambda b: _push(b), "NOT_FOUND", "TBS-SOAP-001", finding="9", path="/admin"),
    Kind("path-below-the-endpoint", lambda b: _push(b), "NOT_FOUND", "TBS-SOAP-001", finding="9",
         path="/tbs/v1/soap/..%2F..%2Fetc"),
    Kind("put-to-the-endpoint", lambda b: _push(b), "BAD_PARAMETER", "TBS-SOAP-001", finding="9", method="PUT"),
    Kind("get-without-wsdl", lambda b: _push(b), "NOT_FOUND", "TBS-SOAP-001", finding="9", method="GET"),
    Kind("getchanges-on-the-bus", _op("<tbs:GetChanges><tbs:dataset>case</tbs:dataset></tbs:GetChanges>",
                                      "GetChanges"), "NOT_FOUND", "TBS-REST-003", finding="9"),
    # -- replay (TBS-SEC-005) ----------------------------------------------------------------
    Kind("replayed-message-id-other-content", _replayed, "MESSAGE_ID_CONFLICT", "TBS-SEC-005"),
    # -- mapped, then rejected by validation: PushBatchResponse with REJECTED ----------------
    Kind("attribute-on-element", lambda b: _edit(b, _with_attribute), None, "TBS-ENV-002"),
    Kind("repeated-scalar-element", lambda b: _edit(b, _repeat_sender), None, "TBS-ENV-001"),
    Kind("wrong-receiver", lambda b: _push(b, b.envelope(receiver="TB:province:440000:OTHERBUS")), None,
         "TBS-ENV-023"),
    Kind("stale-sent-at", lambda b: _push(b, b.envelope(sentAt="2020-01-01T00:00:00+08:00")), None, "TBS-SEC-006"),
    Kind("records-hash-mismatch", lambda b: _push(b, b.envelope(integrity={"recordsSha256": "0" * 64})), None,
         "TBS-ENV-027"),
    Kind("origin-unregistered-province", lambda b: _push(b, b.envelope(b.fresh_cases(1, "YX"),
                                                                       origin="TB:province:440000:FAKEHUB")),
         None, "TBS-SEC-011", finding="1"),
]


@pytest.mark.parametrize("kind", KINDS, ids=[k.id for k in KINDS])
def test_soap_kind(bus, kind):
    body, headers = kind.build(bus)
    after_build = bus.snapshot()
    refused_before = bus.refused(bus.soap)
    t0 = time.monotonic()
    resp = httpx.request(kind.method, bus.soap.url + kind.path, content=body if kind.method != "GET" else None,
                         headers=headers, timeout=30)
    elapsed = time.monotonic() - t0
    assert_no_plain_500(resp)
    assert resp.headers.get("content-type", "").startswith("text/xml"), resp.text[:300]
    if kind.code is not None:
        assert resp.status_code == 500, resp.text[:300]          # TBS-SOAP-005: faults travel with 500
        fault = mapping.xml_to_fault(resp.content)
        assert fault is not None, resp.text[:300]
        assert fault.faultcode == "Client", fault
        assert (fault.code, fault.rule_id) == (kind.code, kind.rule_id), fault
        assert kind.message in fault.message, fault
        if kind.message == "DOCTYPE":
            assert elapsed < 10         # refused before any expansion (a bomb would not return)
        # every fault the app answers is counted under its code (431 is answered before the app)
        counted = {kind.code: refused_before.get(kind.code, 0) + 1} if kind.counted else {}
        assert {c: n for c, n in bus.refused(bus.soap).items() if refused_before.get(c) != n} == counted
    else:
        assert resp.status_code == 200, resp.text[:300]
        ack = mapping.xml_to_ack(resp.content)
        assert ack["status"] == "REJECTED"
        assert kind.rule_id in [i["ruleId"] for i in ack["envelopeReport"]["items"]], ack
    assert b"root:" not in resp.content                         # no file content leaked
    assert bus.snapshot() == after_build, "nothing of a refused request may be stored"
    bus.still_stores("soap")
