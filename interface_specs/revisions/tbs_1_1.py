"""TBS-1.1 as edits to TBS-1.0's companions, one group per change of the revision document.

Each edit names the change it comes from. Changes that live only in requirement text (state
rules, operational and conformance rules, names of code values) have no edit here; they are
listed in ``REQUIREMENT_CHANGES``, which the derivation writes beside the spec files as
``requirement-changes.json`` (the source of ``tongban spec diff`` for what no schema shows,
and of the TBS-1.1 rule catalog of the validators).
"""
from __future__ import annotations

from pathlib import Path

from tongban.specs.revise import Create, JsonCopy, JsonRemove, JsonSet, ListInsert, ListRemove, Rename, Replace, Revision

S = "common.schema.json#/$defs/string"
CAT, CASE, EVT, RES, EVAL = ("schemas/catalog.schema.json", "schemas/case.schema.json", "schemas/case-event.schema.json",
                             "schemas/result.schema.json", "schemas/evaluation.schema.json")
COMMON = "schemas/common.schema.json"
XSD, WSDL, OPENAPI = "tbs-1.1.xsd", "tbs-1.1.wsdl", "openapi.yaml"
CODE_COMMENT = "TBS-1.1 Annex A code table (normative unless marked informative)."

# ----------------------------------------------------------------------------- requirement text
# Classes per §0.2 of the revision document: "compatible" or "breaking", for producers and consumers.
C, B = "compatible", "breaking"


def _added(rid, change, severity, scope, stage, en, zh, text, producers=C, consumers=C):
    return {"id": rid, "change": change, "severity": severity, "scope": scope, "stage": stage, "en": en, "zh": zh,
            "text": text, "producers": producers, "consumers": consumers}


def _changed(rid, change, summary, producers, consumers):
    return {"id": rid, "change": change, "summary": summary, "producers": producers, "consumers": consumers}


REQUIREMENT_CHANGES = {
    "spec": "TBS-1.1",
    "revises": "TBS-1.0",
    "$comment": "Requirement changes of TBS-1.1 that are read from the requirement text (§0.3 of the revision "
                "document): added, withdrawn and changed requirement ids, and changes with no trace in the "
                "machine-readable files. Classes per §0.2. Schema-visible changes are not listed here: "
                "tongban spec diff finds them by comparing the spec folders.",
    "added": [
        _added("TBS-ENV-013", 8, "WARNING", "record", "S3",
               "deprecated member or code value", "已弃用的成员或代码值",
               "Each present member that its field table marks deprecated, and each member whose value its code "
               "table marks deprecated, is reported under this rule, located at that member; evaluated in S3 after "
               "every other S3 rule, only for members with no ERROR at their own location."),
        _added("TBS-ENV-029", 2, "—", "none", "—", "validation version", "校验所用版本",
               "S0–S4 under the rules of the envelope's specVersion; S5, masking and logging follow the receiver's "
               "version; acknowledgement and reports in the envelope's version.", C, B),
        _added("TBS-ENV-034", 2, "—", "none", "—", "choice of version", "版本选择",
               "A sender writes each envelope in the highest version both sides support.", C, B),
        _added("TBS-CODE-021", 10, "ERROR", "record", "S2",
               "HMTRP number: 810000/820000/830000, 11 digits, check character; birth date from 1900-01-01",
               "港澳台居民居住证号码须以 810000/820000/830000 开头并含有效出生日期",
               "When idType is HMTRP, idNo MUST match ^(810000|820000|830000)[0-9]{11}[0-9X]$, and positions 7–14 "
               "MUST be a valid calendar date from 1900-01-01 onwards."),
        _added("TBS-CAT-011", 5, "WARNING", "record", "S3",
               "an ACTIVE item handled at a window should carry accessibility", "窗口办理的在用事项应填写无障碍与适老化服务",
               "A ServiceItem whose status is ACTIVE and whose handlingForms contains \"1\" SHOULD carry "
               "accessibility (location: accessibility)."),
        _added("TBS-CASE-006", 8, "ERROR", "record", "S3",
               "exactly one of applyChannel and channel", "applyChannel 与 channel 必须且只能有一个",
               "Exactly one of applyChannel and channel MUST be present. Both: located at channel; neither: at "
               "applyChannel. Reads only presence; always evaluated."),
        _added("TBS-CASE-007", 9, "ERROR", "record", "S3",
               "agent idType and idNo both present or both absent", "代理人证件类型与证件号码须同时出现或同时缺省",
               "In agent, idType and idNo MUST be both present or both absent (location: the absent one). Reads only "
               "presence; evaluated whenever agent is an object."),
        _added("TBS-EVT-014", 13, "ERROR", "record", "S3",
               "a RETURN review step must carry opinion", "退回的审查环节必须填写处理意见",
               "A REVIEW_STEP event whose action is RETURN MUST carry opinion (location: opinion).", B, C),
        _added("TBS-EVAL-011", 17, "WARNING", "record", "S2",
               "channel not listed in A.13", "评价渠道不在 A.13 所列值中",
               "A channel value that matches the pattern of its row but is not listed in A.13 SHOULD NOT be sent; "
               "receivers accept, store and forward it (location: channel). S2, after the pattern."),
        _added("TBS-SYNC-015", 3, "—", "none", "—", "several versions at one receiver", "多版本接收方",
               "Received version, relays by Annex E, feeds per version (admitted/withheld), carry-forward (Annex E.3).",
               C, B),
        _added("TBS-REST-012", 2, "—", "none", "—", "version of GET responses", "GET 响应的版本",
               "meta and changes responses are written in the version named by the request's X-TB-Spec-Version.",
               C, B),
        _added("TBS-CONF-010", 23, "—", "none", "—", "delta certification", "增量认证",
               "A TBS-1.1 certificate MAY be based on a CONFORMANT TBS-1.0 certificate (basedOn, carriedOver)."),
    ],
    "withdrawn": [
        {"id": "TBS-CODE-012", "change": 12, "summary": "caseNo SHOULD be structured (INFO): withdrawn, id reserved",
         "producers": C, "consumers": C},
    ],
    "changed": [
        _changed("TBS-ENV-021", 1, "specVersion MUST name a version the receiver supports (was: exactly TBS-1.0)", B, B),
        _changed("TBS-SOAP-001", 1, "namespace urn:tbs:1.1, SOAPAction urn:tbs:1.1#{Operation}", B, B),
        _changed("TBS-SOAP-004", 1, "companion artefacts tbs-1.1.wsdl and tbs-1.1.xsd", B, B),
        _changed("TBS-REST-002", 2, "specVersions lists every version served; TBS-1.1 systems list both until the sunset", C, B),
        _changed("TBS-REST-006", 2, "X-TB-Spec-Version negotiated; UNSUPPORTED_VERSION before the body is read", C, B),
        _changed("TBS-REST-007", 2, "response X-TB-Spec-Version names the version of the body", C, B),
        _changed("TBS-SOAP-001", 2, "the body namespace selects the version; mismatch BAD_HEADER, unsupported UNSUPPORTED_VERSION", C, B),
        _changed("TBS-SOAP-005", 2, "a namespace of either version is not a mapping fault", C, B),
        _changed("TBS-MQTT-006", 2, "broadcasts in the highest version every subscriber supports", C, B),
        _changed("TBS-RPT-003", 2, "findings name requirement ids of the envelope's version", C, B),
        _changed("TBS-RPT-009", 2, "stateless verdict also a function of the set of supported versions", C, B),
        _changed("TBS-ENV-012", 3, "identical content compared in the incoming record's version after carry-forward", C, B),
        _changed("TBS-SYNC-013", 3, "a feed contains, per version, every change TBS-SYNC-015 (d) admits", C, B),
        _changed("TBS-SYNC-009", 4, "crossRegionScope is a basic field (province-owned); kept when a non-authoritative writer omits it", C, B),
        _changed("TBS-CAT-009", 6, "onSiteVisits MUST be 0 under onlineDepth 4 (editorial: the member is mandatory)", C, C),
        _changed("TBS-CASE-002", 9, "the kind/idType rule applies to agent only when its idType is present", C, C),
        _changed("TBS-CODE-017", 10, "the GB 11643 check character also applies to HMTRP", C, C),
        _changed("TBS-EVT-011", 14, "a SUSPEND with code 1 (extension) from 2028-03-01 does not stop the clock", B, B),
        _changed("TBS-CASE-005", 14, "an approval extension is sent as a new Case version with the extended promisedBy", B, C),
        _changed("TBS-EVAL-009", 17, "SELF_SERVICE counts as an on-site channel", C, C),
        _changed("TBS-EVAL-002", 21, "a 差评 MUST carry detailCodes; text alone no longer suffices", B, C),
        _changed("TBS-SEC-012", 22, "masking of idNo (2+2), PERSON names and handler names; text and opinion never written; encryption at rest MUST", C, B),
        _changed("TBS-RPT-006", 22, "value absent for findings at text and opinion", C, B),
        _changed("TBS-CONF-005", 23, "suite 1.1.x for TBS-1.1", C, C),
        _changed("TBS-CONF-006", 23, "certificate gains basedOn and tests[].carriedOver (closed object; no certificate "
                                     "schema among the spec files, so found in the requirement text)", C, B),
        _changed("TBS-CONF-008", 23, "certification per version in use; TBS-1.1 certificate with COM-08 admits TBS-1.0 traffic", C, C),
    ],
    "textOnly": [
        {"change": 7, "subject": "A.1 11", "summary": "A.1 code 11 named 内部审批事项 (value set unchanged)",
         "producers": C, "consumers": C},
        {"change": 23, "subject": "test COM-08", "summary": "new common test COM-08 (negotiation and dual-version behaviour)",
         "producers": C, "consumers": C},
    ],
}

# ----------------------------------------------------------------------------- code tables
A16 = {"$comment": CODE_COMMENT, "spec": "TBS-1.1", "table": "A.16", "name": "crossRegionScope", "zh": "通办范围",
       "en": "Cross-region handling scope", "source": "GB/T 39046—2020 通办范围; digits [TBS choice]",
       "usedBy": ["catalog/crossRegionScope"],
       "codes": [{"code": "1", "zh": "全国通办", "en": "nation-wide"},
                 {"code": "2", "zh": "跨省通办", "en": "across provinces"},
                 {"code": "3", "zh": "省内跨市通办", "en": "across cities of the province"},
                 {"code": "4", "zh": "市内跨县通办", "en": "across counties of the city"}]}
A17 = {"$comment": CODE_COMMENT, "spec": "TBS-1.1", "table": "A.17", "name": "accessibility", "zh": "无障碍与适老化服务",
       "en": "Accessibility services", "source": "[TBS choice]", "usedBy": ["catalog/accessibility"],
       "codes": [{"code": "1", "zh": "无障碍设施（通道、低位窗口、无障碍卫生间）", "en": "barrier-free facilities"},
                 {"code": "2", "zh": "手语或文字转写服务", "en": "sign language or transcription"},
                 {"code": "3", "zh": "无障碍网上办理（读屏兼容、大字版、适老化界面）", "en": "accessible online handling"},
                 {"code": "4", "zh": "帮办代办（老年人、残疾人）", "en": "assisted handling"},
                 {"code": "5", "zh": "预约上门服务", "en": "home visits by appointment"},
                 {"code": "9", "zh": "其他", "en": "other"}]}
A18_CODES = [("ATTITUDE", "服务态度", "attitude"), ("CONVENIENCE", "办事便捷度", "convenience"),
             ("EFFICIENCY", "办事效率 / 服务效率", "efficiency"), ("GUIDE_ACCURACY", "办事指南精确度", "accuracy of the guide"),
             ("QUALITY", "服务质量", "quality"), ("SERVICE_LEVEL", "服务水平", "service level"),
             ("USABILITY", "平台操作性", "usability of the platform")]
A18 = {"$comment": CODE_COMMENT, "spec": "TBS-1.1", "table": "A.18", "name": "dimensions[].indicator", "zh": "评价指标",
       "en": "Evaluation indicators", "source": "好差评 indicator practice; tokens [TBS choice]",
       "usedBy": ["evaluation/dimensions/indicator"],
       "codes": [{"code": c, "zh": zh, "en": en} for c, zh, en in A18_CODES]}
A13_LISTED = ["PC", "MOBILE", "QRCODE", "HALL_PAD", "HALL_OTHER", "PHONE", "SMS", "SELF_SERVICE"]

ID_TYPE_HMTRP = {"if": {"properties": {"idType": {"const": "HMTRP"}}, "required": ["idType"]},
                 "then": {"properties": {"idNo": {"pattern": "^(?:810000|820000|830000)[0-9]{11}[0-9X]$",
                                                  "maxLength": 18, "x-tbs-rule": "TBS-CODE-021",
                                                  "x-tbs-formats": ["resident-id-birth-date"],
                                                  "x-tbs-checks": ["resident-id-check-character"]}}}}


# ----------------------------------------------------------------------------- Table 4.1
# §4 of the revision document: each §20.2 test under TBS-1.1 (TBS-CONF-010). "bindings": the
# [REST, SOAP]-style qualifier of a row (null: every binding); a test without a row for the
# claimed binding does not apply on it and keeps its TBS-1.0 result (OMIT).
_T41 = [
    ("COM-01", "SHALL", None, "carry over", "TBS-SEC-001, -002 unchanged"),
    ("COM-02", "SHALL", ["REST", "SOAP"], "rerun", "specVersions (2)"),
    ("COM-03", "SHALL", None, "rerun", "every envelope is now TBS-1.1: ENV-021 (1), record changes 4–21"),
    ("COM-04", "SHALL", ["REST"], "rerun", "TBS-REST-006, -007, -012 (2)"),
    ("COM-04", "SHALL", ["SOAP"], "rerun", "namespace urn:tbs:1.1, TBS-SOAP-001 (1, 2)"),
    ("COM-04", "SHALL", ["FILE"], "carry over", "TBS-FILE-001 … -008 unchanged"),
    ("COM-04", "SHALL", ["MQTT"], "rerun", "TBS-MQTT-006 (2)"),
    ("COM-05", "SHALL", None, "carry over", "TBS-SYNC-001, TBS-ENV-033 unchanged"),
    ("COM-06", "SHOULD", None, "carry over", "unchanged"),
    ("COM-07", "SHALL", ["REST", "SOAP"], "rerun", "TBS-REST-012, TBS-SYNC-013 (2, 3)"),
    ("COM-08", "SHALL", None, "new", "negotiation and dual-version behaviour (23); applies to systems listing "
                                     "both versions and to relays"),
    ("CP-01", "SHALL", None, "rerun", "crossRegionScope, accessibility, onSiteVisits M (4–6); TBS-CODE-012 withdrawn (12)"),
    ("CP-02", "SHALL", ["REST", "SOAP"], "rerun", "feed completeness per version (3)"),
    ("CP-03", "SHALL", None, "carry over", "TBS-SYNC-014, -011 unchanged"),
    ("CP-04", "SHALL", None, "carry over", "TBS-SYNC-010 unchanged"),
    ("CP-05", "SHALL", None, "rerun", "TBS-SYNC-009: crossRegionScope is province-owned (4)"),
    ("CP-06", "SHOULD", None, "rerun", "TBS-CAT-011 (5)"),
    ("CR-01", "SHALL", None, "rerun", "applyChannel, agent, HMTRP, TBS-CASE-006, -007, TBS-CODE-021, TBS-EVT-014; "
                                     "TBS-CODE-012 withdrawn (8–10, 12, 13)"),
    ("CR-02", "SHALL", None, "carry over", "TBS-EVT-003, -005 unchanged"),
    ("CR-03", "SHALL", None, "rerun", "TBS-EVT-011, TBS-CASE-005 (14)"),
    ("CR-04", "SHALL", None, "carry over", "TBS-EVT-004, -006, -007, -008 unchanged"),
    ("CR-05", "SHALL", None, "carry over", "unchanged"),
    ("CR-06", "SHALL", None, "carry over", "unchanged"),
    ("CR-07", "SHOULD", None, "rerun", "TBS-CODE-012 withdrawn (12)"),
    ("RP-01", "SHALL", None, "rerun", "certNo, mediaType (15, 16)"),
    ("RP-02", "SHALL", None, "carry over", "unchanged"),
    ("RP-03", "SHALL", None, "carry over", "unchanged"),
    ("RP-04", "SHALL", None, "carry over", "unchanged"),
    ("ER-01", "SHALL", None, "rerun", "channel, dimensions, text, detailCodes, TBS-EVAL-002 (17–21)"),
    ("ER-02", "SHALL", None, "carry over", "TBS-EVAL-007 unchanged"),
    ("ER-03", "SHALL", None, "carry over", "unchanged"),
    ("ER-04", "SHALL", None, "carry over", "attestation unchanged"),
    ("ER-05", "SHOULD", None, "rerun", "dimensions type; SELF_SERVICE (17, 18)"),
    ("CC-01", "SHALL", None, "rerun", "the TBS-1.1 form of B.1 is acknowledged in TBS-1.1 (1, 5)"),
    ("CC-02", "SHALL", None, "rerun", "new negative vectors, TBS-ENV-013, masking of value (22)"),
    ("CC-03", "SHALL", None, "carry over", "unchanged"),
    ("CC-04", "SHALL", None, "rerun", "TBS-SYNC-009 and carry-forward (3, 4)"),
    ("CC-05", "SHALL", None, "carry over", "TBS-SEC-005, -006, TBS-ENV-027, -028 unchanged"),
    ("CC-06", "SHALL", None, "carry over", "unchanged"),
    ("CC-07", "SHALL", ["SOAP", "FILE"], "carry over", "unchanged"),
    ("CC-07", "SHALL", ["MQTT"], "rerun", "TBS-MQTT-006 (2)"),
    ("CC-08", "SHOULD", None, "carry over", "unchanged"),
]
DELTA_CERTIFICATION = {
    "spec": "TBS-1.1", "basedOn": "TBS-1.0", "suite": "1.1.x",
    "$comment": "Table 4.1 of the TBS-1.1 revision document (TBS-CONF-010): per §20.2 test, rerun, new or carry over.",
    "newTests": {"COM-08": {"roles": "*", "appliesIf": "the SUT lists more than one version, or relays"}},
    "tests": [{"test": t, "level": level, "bindings": b, "action": action, "reason": reason}
              for t, level, b, action, reason in _T41],
}

# ----------------------------------------------------------------------------- the edits
EDITS = [
    # Change 1 — version identifier (the renames of every file are GLOBAL_REPLACEMENTS below)
    Rename(1, "tbs-1.0.wsdl", to=WSDL),
    Rename(1, "tbs-1.0.xsd", to=XSD),
    # Change 2 — version negotiation
    JsonRemove(2, "schemas/meta.schema.json", "/properties/specVersions/contains"),
    JsonSet(2, "schemas/meta.schema.json", "/properties/specVersions/description",
            "every version in which the system accepts envelopes and serves responses (TBS-REST-002); a TBS-1.1 "
            "system lists TBS-1.0 too until the TBS-1.0 sunset", after="x-tbs-rule"),
    ListInsert(2, "schemas/error.schema.json", "/properties/code/enum", "UNSUPPORTED_VERSION", after="BAD_HEADER"),
    Replace(2, OPENAPI, "      description: the protocol version (TBS-REST-006)\n      schema:\n        type: string\n"
                        "        const: TBS-1.1\n",
            "      description: the version of the envelope (POST) or of the response asked for (GET) (TBS-REST-006, "
            "-012); an unsupported version is 400 UNSUPPORTED_VERSION\n      schema:\n        type: string\n"
            "        enum: [TBS-1.0, TBS-1.1]\n"),
    Replace(2, OPENAPI, "      description: carried by every response (TBS-REST-007)\n      required: true\n      schema:\n"
                        "        type: string\n        const: TBS-1.1\n",
            "      description: carried by every response, naming the version of its body (TBS-REST-007)\n"
            "      required: true\n      schema:\n        type: string\n        enum: [TBS-1.0, TBS-1.1]\n"),
    Replace(2, OPENAPI, "                specVersions: [TBS-1.1]\n", "                specVersions: [TBS-1.0, TBS-1.1]\n"),
    Replace(2, OPENAPI, "MALFORMED_JSON (TBS-ENV-001), BAD_HEADER (TBS-REST-006), BAD_PARAMETER",
            "MALFORMED_JSON (TBS-ENV-001), BAD_HEADER (TBS-REST-006), UNSUPPORTED_VERSION (TBS-REST-006, -012), "
            "BAD_PARAMETER", count=0),
    # Change 4 — crossRegionScope, A.16
    JsonSet(4, CAT, "/properties/crossRegionScope",
            {"$ref": S, "enum": ["1", "2", "3", "4"], "x-tbs-rule": "TBS-CAT-001", "x-tbs-code-table": "A.16",
             "description": "通办范围; absent = handled only in the jurisdiction of regionCode; a basic field "
                            "(TBS-SYNC-009)"},
            after="regionCode", must_exist=False),
    Create(4, "codes/a16-cross-region-scope.json", value=A16),
    Replace(4, XSD, '      <xs:element name="regionCode" type="xs:string"/>\n      <xs:element name="dept" type="tbs:Dept"/>\n'
                    '      <xs:element name="legalBasis" type="xs:string"/>\n',
            '      <xs:element name="regionCode" type="xs:string"/>\n'
            '      <xs:element name="crossRegionScope" type="xs:string" minOccurs="0"/>\n'
            '      <xs:element name="dept" type="tbs:Dept"/>\n      <xs:element name="legalBasis" type="xs:string"/>\n'),
    Replace(4, XSD, '      <xs:element name="regionCode" type="xs:string" minOccurs="0"/>\n',
            '      <xs:element name="regionCode" type="xs:string" minOccurs="0"/>\n'
            '      <xs:element name="crossRegionScope" type="xs:string" minOccurs="0"/>\n'),
    # Change 5 — accessibility, A.17, TBS-CAT-011
    JsonSet(5, CAT, "/properties/accessibility",
            {"type": "array", "minItems": 1, "maxItems": 6, "uniqueItems": True, "x-tbs-order": "ascending",
             "items": {"$ref": S, "enum": ["1", "2", "3", "4", "5", "9"], "x-tbs-rule": "TBS-CAT-001",
                       "x-tbs-code-table": "A.17"},
             "x-tbs-rule": "TBS-CAT-001", "description": "无障碍与适老化服务 (TBS-CAT-011)"},
            after="onSiteVisits", must_exist=False),
    Create(5, "codes/a17-accessibility.json", value=A17),
    ListInsert(5, CAT, "/x-tbs-cross-field", "TBS-CAT-011", after="TBS-CAT-010"),
    Replace(5, XSD, '      <xs:element name="onSiteVisits" type="xs:integer" minOccurs="0"/>\n'
                    '      <xs:element name="materials" type="tbs:MaterialList"/>\n',
            '      <xs:element name="onSiteVisits" type="xs:integer" minOccurs="0"/>\n'
            '      <xs:element name="accessibility" type="tbs:StringList" minOccurs="0"/>\n'
            '      <xs:element name="materials" type="tbs:MaterialList"/>\n'),
    Replace(5, XSD, '      <xs:element name="onSiteVisits" type="xs:integer" minOccurs="0"/>\n'
                    '      <xs:element name="materials" type="tbs:MaterialList" minOccurs="0"/>\n',
            '      <xs:element name="onSiteVisits" type="xs:integer" minOccurs="0"/>\n'
            '      <xs:element name="accessibility" type="tbs:StringList" minOccurs="0"/>\n'
            '      <xs:element name="materials" type="tbs:MaterialList" minOccurs="0"/>\n'),
    # Change 6 — onSiteVisits mandatory
    ListInsert(6, CAT, "/required", "onSiteVisits", after="onlineDepth"),
    Replace(6, XSD, '      <xs:element name="onSiteVisits" type="xs:integer" minOccurs="0"/>\n'
                    '      <xs:element name="accessibility" type="tbs:StringList" minOccurs="0"/>\n'
                    '      <xs:element name="materials" type="tbs:MaterialList"/>\n',
            '      <xs:element name="onSiteVisits" type="xs:integer"/>\n'
            '      <xs:element name="accessibility" type="tbs:StringList" minOccurs="0"/>\n'
            '      <xs:element name="materials" type="tbs:MaterialList"/>\n'),
    # Change 7 — A.1 code 11 named (a name: not schema-visible)
    JsonSet(7, "codes/a01-item-type.json", "/codes/code=11/zh", "内部审批事项", must_exist=True),
    JsonSet(7, "codes/a01-item-type.json", "/codes/code=11/en", "internal approval items", must_exist=True),
    # Change 8 — Case channel → applyChannel, deprecated alias, TBS-CASE-006, TBS-ENV-013
    ListRemove(8, CASE, "/required", "channel"),
    JsonSet(8, CASE, "/properties/applyChannel",
            {"$ref": S, "enum": ["1", "2", "3", "4", "9"], "x-tbs-rule": "TBS-CASE-001", "x-tbs-code-table": "A.5",
             "description": "submission channel (申报来源); exactly one of applyChannel and channel (TBS-CASE-006)"},
            before="channel", must_exist=False),
    JsonSet(8, CASE, "/properties/channel/x-tbs-deprecated", True, must_exist=False),
    JsonSet(8, CASE, "/properties/channel/description",
            "deprecated alias of applyChannel (TBS-ENV-013, TBS-CASE-006); to be removed in TBS-1.2", must_exist=False),
    ListInsert(8, CASE, "/x-tbs-cross-field", "TBS-CASE-006", after="TBS-CASE-004"),
    JsonSet(8, "codes/a05-handling-form.json", "/usedBy", ["catalog/handlingForms", "case/applyChannel", "case/channel"],
            must_exist=True),
    Replace(8, XSD, '      <xs:element name="agent" type="tbs:Party" minOccurs="0"/>\n'
                    '      <xs:element name="channel" type="xs:string"/>\n',
            '      <xs:element name="agent" type="tbs:AgentParty" minOccurs="0"/>\n'
            '      <xs:element name="applyChannel" type="xs:string" minOccurs="0"/>\n'
            '      <xs:element name="channel" type="xs:string" minOccurs="0"/>\n'),
    Replace(8, XSD, '      <xs:element name="agent" type="tbs:Party" minOccurs="0"/>\n'
                    '      <xs:element name="channel" type="xs:string" minOccurs="0"/>\n',
            '      <xs:element name="agent" type="tbs:AgentParty" minOccurs="0"/>\n'
            '      <xs:element name="applyChannel" type="xs:string" minOccurs="0"/>\n'
            '      <xs:element name="channel" type="xs:string" minOccurs="0"/>\n'),
    # Change 9 — agentParty, TBS-CASE-007
    JsonSet(9, CASE, "/properties/agent/$ref", "common.schema.json#/$defs/agentParty", must_exist=True),
    ListInsert(9, CASE, "/x-tbs-cross-field", "TBS-CASE-007", after="TBS-CASE-006"),
    Replace(9, XSD, '  <!-- ================================================================ §8 ServiceItem (catalog) -->\n',
            '  <xs:complexType name="AgentParty">\n'
            '    <xs:annotation><xs:documentation>agentParty (§5.2, TBS-CASE-007): idType and idNo both present or '
            'both absent</xs:documentation></xs:annotation>\n'
            '    <xs:sequence>\n      <xs:element name="kind" type="xs:string"/>\n'
            '      <xs:element name="name" type="xs:string"/>\n'
            '      <xs:element name="idType" type="xs:string" minOccurs="0"/>\n'
            '      <xs:element name="idNo" type="xs:string" minOccurs="0"/>\n    </xs:sequence>\n'
            '  </xs:complexType>\n\n'
            '  <!-- ================================================================ §8 ServiceItem (catalog) -->\n'),
    # Change 10 — HMTRP (the agentParty definition below is derived after it, so it has HMTRP too)
    ListInsert(10, COMMON, "/$defs/party/properties/idType/enum", "HMTRP", after="553"),
    ListInsert(10, COMMON, "/$defs/party/allOf", ID_TYPE_HMTRP, after=None),
    ListInsert(10, "codes/a10-id-type.json", "/codes",
               {"code": "HMTRP", "zh": "港澳台居民居住证",
                "en": "residence permit for Hong Kong, Macao and Taiwan residents (a TBS token, like USCC)",
                "checks": ["TBS-CODE-021", "TBS-CODE-017"]}, after={"code": "553"}),
    # Change 11 — 990 deprecated
    JsonSet(11, COMMON, "/$defs/party/properties/idType/x-tbs-deprecated-values", ["990"], must_exist=False),
    JsonSet(11, "codes/a10-id-type.json", "/codes/code=990/deprecated", True, must_exist=False),
    JsonSet(11, "codes/a10-id-type.json", "/codes/code=990/zh", "其他证件（已弃用，TBS-1.2 删除）", must_exist=True),
    # Change 9 (continued) — agentParty: the party of TBS-1.1 (with changes 10 and 11) without mandatory identity
    JsonCopy(9, COMMON, source="/$defs/party", pointer="/$defs/agentParty", after="party"),
    ListRemove(9, COMMON, "/$defs/agentParty/required", "idType"),
    ListRemove(9, COMMON, "/$defs/agentParty/required", "idNo"),
    JsonSet(9, COMMON, "/$defs/agentParty/description",
            "§5.2 agentParty: a party whose idType and idNo are both present or both absent (TBS-CASE-007)",
            must_exist=True),
    # Change 12 — TBS-CODE-012 withdrawn
    ListRemove(12, CASE, "/x-tbs-cross-field", "TBS-CODE-012"),
    # Change 13 — TBS-EVT-014
    ListInsert(13, EVT, "/x-tbs-cross-field", "TBS-EVT-014", after="TBS-EVT-004"),
    # Change 15 — certNo 100
    JsonSet(15, RES, "/properties/certNo/maxLength", 100, must_exist=True),
    # Change 16 — image media types removed
    ListRemove(16, RES, "/properties/document/properties/mediaType/enum", "image/jpeg"),
    ListRemove(16, RES, "/properties/document/properties/mediaType/enum", "image/png"),
    # Change 17 — A.13 SELF_SERVICE, open table, TBS-EVAL-011
    JsonSet(17, EVAL, "/properties/channel",
            {"$ref": S, "pattern": "^[A-Z][A-Z0-9_]{1,31}$", "x-tbs-rule": "TBS-EVAL-001", "x-tbs-code-table": "A.13",
             "x-tbs-open": {"listed": A13_LISTED, "rule": "TBS-EVAL-011"},
             "description": "code(A.13, open) (§4.6): a value matching the pattern but not listed in A.13 is "
                            "accepted with TBS-EVAL-011"}, must_exist=True),
    ListInsert(17, "codes/a13-evaluation-channel.json", "/codes",
               {"code": "SELF_SERVICE", "zh": "自助服务终端（大厅以外）", "en": "self-service terminal outside the halls"},
               after=None),
    JsonSet(17, "codes/a13-evaluation-channel.json", "/open", True, after="source", must_exist=False),
    # Change 18 — dimensions: array of indicator scores, A.18
    JsonSet(18, EVAL, "/properties/dimensions",
            {"type": "array", "minItems": 1, "maxItems": 7, "x-tbs-rule": "TBS-EVAL-001",
             "x-tbs-unique-by": "indicator", "x-tbs-order-by": "indicator",
             "items": {"type": "object", "additionalProperties": False, "required": ["indicator", "score"],
                       "properties": {
                           "indicator": {"$ref": S, "enum": [c for c, _, _ in A18_CODES], "x-tbs-rule": "TBS-EVAL-001",
                                         "x-tbs-code-table": "A.18"},
                           "score": {"$ref": "common.schema.json#/$defs/integer", "minimum": 1, "maximum": 5,
                                     "x-tbs-rule": "TBS-EVAL-001", "x-tbs-code-table": "A.8"}},
                       "x-tbs-rule": "TBS-EVAL-001"},
             "description": "评价指标得分: indicators distinct and ascending (code-point order), reported at dimensions"},
            must_exist=True),
    Create(18, "codes/a18-evaluation-indicator.json", value=A18),
    Replace(18, XSD, '  <xs:complexType name="Dimensions">\n    <xs:sequence>\n'
                     '      <xs:element name="quality" type="xs:integer"/>\n'
                     '      <xs:element name="efficiency" type="xs:integer"/>\n'
                     '      <xs:element name="attitude" type="xs:integer"/>\n    </xs:sequence>\n  </xs:complexType>\n',
            '  <xs:complexType name="IndicatorScore">\n    <xs:sequence>\n'
            '      <xs:element name="indicator" type="xs:string"/>\n'
            '      <xs:element name="score" type="xs:integer"/>\n    </xs:sequence>\n  </xs:complexType>\n\n'
            '  <xs:complexType name="Dimensions">\n'
            '    <xs:annotation><xs:documentation>dimensions (§12, A.18): a list of indicator scores '
            '(TBS-SOAP-003 (b))</xs:documentation></xs:annotation>\n    <xs:sequence>\n'
            '      <xs:element name="item" type="tbs:IndicatorScore" minOccurs="0" maxOccurs="unbounded"/>\n'
            '    </xs:sequence>\n  </xs:complexType>\n'),
    # Change 19 — text 500
    JsonSet(19, EVAL, "/properties/text/maxLength", 500, must_exist=True),
    # Change 20 — detailCodes numeric
    JsonSet(20, EVAL, "/properties/detailCodes/items/pattern", "^[0-9]{3,6}$", must_exist=True),
    JsonSet(20, EVAL, "/properties/detailCodes/items/minLength", 3, must_exist=True),
    JsonSet(20, EVAL, "/properties/detailCodes/items/maxLength", 6, must_exist=True),
    # Change 8, last: TBS-ENV-013 runs after every other S3 rule of each record
    ListInsert(8, CAT, "/x-tbs-cross-field", "TBS-ENV-013"),
    ListInsert(8, CASE, "/x-tbs-cross-field", "TBS-ENV-013"),
    # Change 2: the requirement-change list beside the spec files
    Create(2, "requirement-changes.json", value=REQUIREMENT_CHANGES),
    # Change 23: Table 4.1, the plan of a delta certification
    Create(23, "delta-certification.json", value=DELTA_CERTIFICATION),
    # The readings tongban took where the revision document leaves room
    Create(0, "INTERPRETATIONS.md", text=(Path(__file__).with_name("tbs_1_1_interpretations.md")
                                          .read_text(encoding="utf-8"))),
]

REVISION = Revision(
    version="TBS-1.1",
    base="TBS-1.0",
    # Change 1: every companion names TBS-1.1, its files and namespace (section numbers are unchanged).
    global_replacements=[("tbs-1.0", "tbs-1.1"), ("TBS-1.0", "TBS-1.1"), ("urn:tbs:1.0", "urn:tbs:1.1"),
                         ("接口标准 1.0", "接口标准 1.1")],
    edits=EDITS,
    keep_unchanged=("vendor/",),
    skip=("INTERPRETATIONS.md",),
)
