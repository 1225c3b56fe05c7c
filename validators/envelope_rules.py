"""Stage S0 envelope rules that follow the member walk, registered by rule id (§19.3 S0).

``envelope.schema.json`` lists them in ``x-tbs-envelope-rules``. Each is skipped when a
member it needs is invalid, and each is limited to what stateless mode may evaluate
(TBS-RPT-009): binding rules only against a supplied binding context, TBS-ENV-028 only with
a supplied key, TBS-SEC-007 only when the caller says the profile requires a signature.
"""
from __future__ import annotations

import hashlib
from typing import Any, Callable

from tongban.model.codes import parse_system_id, within_scope
from tongban.validators.context import ValidationContext
from tongban.validators.member_view import MemberView
from tongban.validators.parsing import jcs_bytes
from tongban.validators.report import Report
from tongban.validators.signature import UnsupportedAlgorithm, verify_signature


class EnvelopeCheck(MemberView):
    __slots__ = ("context", "jcs")

    def __init__(self, envelope: dict[str, Any], errors: set[str], sink: Report, spec: str,
                 context: ValidationContext, *, jcs: Callable[[Any], bytes] = jcs_bytes) -> None:
        super().__init__(envelope, "", errors, sink, spec)
        self.context = context
        self.jcs = jcs   # RFC 8785 writer of this envelope's values (a faster one when known plain)


EnvelopeRule = Callable[[EnvelopeCheck], None]
ENVELOPE_RULES: dict[str, EnvelopeRule] = {}


def envelope_rule(rule_id: str) -> Callable[[EnvelopeRule], EnvelopeRule]:
    def register(fn: EnvelopeRule) -> EnvelopeRule:
        ENVELOPE_RULES[rule_id] = fn
        return fn
    return register


@envelope_rule("TBS-ENV-026")
def batch_part_within_parts(ec: EnvelopeCheck) -> None:
    """``part ≤ parts`` (presence of both is the schema's dependentRequired)."""
    if ec.ok("batch/part", "batch/parts") and ec.get("batch/part") > ec.get("batch/parts"):
        ec.report("TBS-ENV-026", "batch/part", f"greater than parts ({ec.get('batch/parts')})",
                  f"大于 parts（{ec.get('batch/parts')}）", ec.get("batch/part"))


@envelope_rule("TBS-CODE-001")
def wildcard_receiver_only_over_mqtt(ec: EnvelopeCheck) -> None:
    """``receiver`` ``*`` is allowed only in the MQTT binding (§7.1, TBS-MQTT-006)."""
    binding = ec.context.binding
    if binding is not None and binding != "MQTT" and ec.ok("receiver") and ec.get("receiver") == "*":
        ec.report("TBS-CODE-001", "receiver", f"* is allowed only over MQTT, not {binding}", f"* 仅用于 MQTT 绑定，不适用于 {binding}", "*")


@envelope_rule("TBS-ENV-024")
def dataset_matches_binding(ec: EnvelopeCheck) -> None:
    expected = ec.context.binding_dataset
    if expected is not None and ec.ok("dataset") and ec.get("dataset") != expected:
        ec.report("TBS-ENV-024", "dataset", f"the binding implies {expected!r}", f"绑定所指数据集为 {expected!r}", ec.get("dataset"))


@envelope_rule("TBS-FILE-004")
def batch_mandatory_for_file(ec: EnvelopeCheck) -> None:
    """``batch`` is M for FILE; a missing mandatory member is TBS-ENV-005 (§4.2)."""
    if ec.context.binding == "FILE" and not ec.has("batch"):
        ec.report("TBS-ENV-005", "batch", "mandatory for the file-drop binding", "文件交换绑定必须提供 batch")


@envelope_rule("TBS-ENV-027")
def records_hash_matches(ec: EnvelopeCheck) -> None:
    if not ec.ok("records", "integrity/recordsSha256"):
        return
    digest = hashlib.sha256(ec.jcs(ec.get("records"))).hexdigest()
    if digest != ec.get("integrity/recordsSha256"):
        ec.report("TBS-ENV-027", "integrity/recordsSha256", f"SHA-256 of JCS(records) is {digest}",
                  f"JCS(records) 的 SHA-256 为 {digest}", ec.get("integrity/recordsSha256"))


@envelope_rule("TBS-ENV-028")
def signature_verifies(ec: EnvelopeCheck) -> None:
    """Evaluated only when the context holds keys for the sender (TBS-RPT-009)."""
    if not ec.ok("sender", "integrity/signature/alg", "integrity/signature/keyId", "integrity/signature/value"):
        return
    sender, key_id = ec.get("sender"), ec.get("integrity/signature/keyId")
    if not any(s == sender for s, _ in ec.context.keys):
        return
    entry = ec.context.keys.get((sender, key_id))
    if entry is None:
        ec.report("TBS-ENV-028", "integrity/signature/keyId", f"no key {key_id!r} for {sender}", f"{sender} 没有密钥 {key_id!r}", key_id)
        return
    alg, key = entry
    if ec.get("integrity/signature/alg") != alg:
        ec.report("TBS-ENV-028", "integrity/signature/alg", f"the partner profile requires {alg}", f"合作方配置要求 {alg}",
                  ec.get("integrity/signature/alg"))
        return
    try:
        good = verify_signature(ec.root, key, alg)
    except UnsupportedAlgorithm:
        return  # cannot be evaluated here (see the module docstring of signature.py)
    if not good:
        ec.report("TBS-ENV-028", "integrity/signature/value", "verification failed", "签名验证失败",
                  ec.get("integrity/signature/value"))


@envelope_rule("TBS-MQTT-002")
def topic_region_is_sender_region(ec: EnvelopeCheck) -> None:
    region = ec.context.topic_region
    if ec.context.binding == "MQTT" and region is not None and ec.ok("sender"):
        parts = parse_system_id(ec.get("sender"))
        if parts is not None and parts[1] != region:
            ec.report("TBS-MQTT-002", "sender", f"the topic region is {region}", f"主题区划为 {region}", ec.get("sender"))


@envelope_rule("TBS-SEC-011")
def origin_on_one_branch(ec: EnvelopeCheck) -> None:
    if not ec.ok("origin", "sender"):
        return
    origin, sender = ec.get("origin"), ec.get("sender")
    if origin == sender:
        ec.report("TBS-SEC-011", "origin", "equals sender", "与 sender 相同", origin)
        return
    o, s = parse_system_id(origin), parse_system_id(sender)
    if o is not None and s is not None and not (within_scope(o[1], s[1]) or within_scope(s[1], o[1])):
        ec.report("TBS-SEC-011", "origin", "neither region is within the scope of the other",
                  "两者区划互不在对方范围内", origin)


@envelope_rule("TBS-SEC-007")
def signature_present_when_required(ec: EnvelopeCheck) -> None:
    if ec.context.require_signature and type(ec.get("integrity")) is dict and not ec.has("integrity/signature"):
        ec.report("TBS-SEC-007", "integrity/signature", "a signature is required", "必须签名")
