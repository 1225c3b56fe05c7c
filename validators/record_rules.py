"""Stage S3 (cross-field) and S4 (authorization) rules of one record, registered by rule id.

A record schema lists the ids that apply to its dataset (``x-tbs-cross-field``,
``x-tbs-authorization``); the engine runs the registered functions in that order. Every
function reads members only through :meth:`RecordCheck.ok`, which implements the S3 gate
of §19.3 ("present and no ERROR from S1–S2").
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import AbstractSet, Any, Callable, Mapping

from tongban.model.codes import case_no_structured, parse_system_id, region_shape, system_id_ok, \
    valid_calendar_date, within_scope
from tongban.model.clock import CST
from tongban.validators.checks import china_date, instant, parse_date
from tongban.validators.member_view import MemberView
from tongban.validators.rules import MISSING
from tongban.validators.report import Report


class RecordCheck(MemberView):
    """A record under validation, as the S3/S4 rules see it."""

    __slots__ = ("dataset", "writer", "reference_time", "annotations")

    def __init__(self, record: dict[str, Any], base: str, errors: AbstractSet[str], sink: Report, spec: str,
                 dataset: str, writer: str | None, reference_time: datetime | None,
                 annotations: Mapping[str, Any]) -> None:
        # MemberView's attributes, assigned here directly: this runs once per record.
        self.root, self.base, self.errors, self.sink, self.spec = record, base, errors, sink, spec
        self.dataset = dataset
        self.writer = writer
        self.reference_time = reference_time
        self.annotations = annotations  # the record schema's top-level x-tbs-* annotations

    def elements(self, path: str) -> range:
        value = self.get(path)
        return range(len(value)) if type(value) is list else range(0)


RecordRule = Callable[[RecordCheck], None]
RECORD_RULES: dict[str, RecordRule] = {}
# A requirement whose text a later version changes has that version's implementation here,
# keyed by (version, id); every other version uses RECORD_RULES[id].
VERSIONED_RECORD_RULES: dict[tuple[str, str], RecordRule] = {}


def record_rule(rule_id: str, spec: str | None = None) -> Callable[[RecordRule], RecordRule]:
    def register(fn: RecordRule) -> RecordRule:
        if spec is None:
            RECORD_RULES[rule_id] = fn
        else:
            VERSIONED_RECORD_RULES[(spec, rule_id)] = fn
        return fn
    return register


def rule_for(spec: str, rule_id: str) -> RecordRule | None:
    """The implementation of ``rule_id`` as version ``spec`` words it."""
    return VERSIONED_RECORD_RULES.get((spec, rule_id)) or RECORD_RULES.get(rule_id)


# ----------------------------------------------------------------------------- TBS-ENV-011
BUSINESS_TIMESTAMPS = ("submittedAt", "occurredAt", "issuedAt", "assessedAt", "updatedAt")
FUTURE_SKEW = timedelta(seconds=300)


@record_rule("TBS-ENV-011")
def business_time_not_after_reference(rc: RecordCheck) -> None:
    """Business timestamps ≤ sentAt (or the consumer's receipt time) + 300 s."""
    if rc.reference_time is None:
        return
    limit, limit_text = _time_limit(rc.reference_time)
    record = rc.root
    for member in rc.annotations.get("timestamps", BUSINESS_TIMESTAMPS):
        if member in record:
            value = rc.value(member)
            if value is MISSING:
                continue
            # Most values are whole seconds at +08:00. For those, value > limit exactly when the
            # value's text is greater than the limit's +08:00 text rounded down to the second.
            if len(value) == 25 and value.endswith("+08:00"):
                later = value[:19] > limit_text
            else:
                later = instant(value) > limit
            if later:
                rc.report("TBS-ENV-011", member, f"later than {limit.isoformat()}", f"晚于 {limit.isoformat()}", value)


# (reference object, its limit): the records of one envelope share one reference. One tuple,
# replaced in one assignment, so concurrent threads never see a limit paired with another reference.
_last_limit: tuple[Any, tuple[datetime, str]] = (None, (datetime.min, ""))


def _time_limit(reference: datetime) -> tuple[datetime, str]:
    """The limit and its +08:00 text to the second, rounded down."""
    global _last_limit
    last = _last_limit
    if last[0] is reference:
        return last[1]
    limit = reference + FUTURE_SKEW
    result = (limit, limit.astimezone(CST).strftime("%Y-%m-%dT%H:%M:%S"))
    _last_limit = (reference, result)
    return result


# ----------------------------------------------------------------------------- §6 codes
@record_rule("TBS-CODE-007")
def handling_item_code_begins_with_impl_code(rc: RecordCheck) -> None:
    paths = ["handlingItemCode"] if rc.dataset == "case" else [f"handlingItems/{i}/code" for i in rc.elements("handlingItems")]
    for path in paths:
        if rc.ok(path, "implCode") and not rc.get(path).startswith(rc.get("implCode")):
            rc.report("TBS-CODE-007", path, "does not begin with the record's implCode", "未以本记录的实施编码开头", rc.get(path))


@record_rule("TBS-CODE-009")
def structured_case_no_matches_impl_code(rc: RecordCheck) -> None:
    if rc.ok("caseNo", "implCode"):
        case_no = rc.get("caseNo")
        if case_no_structured(case_no) and case_no[:31] != rc.get("implCode"):
            rc.report("TBS-CODE-009", "caseNo", "positions 1–31 differ from implCode", "第 1–31 位与实施编码不同", case_no)


@record_rule("TBS-CODE-010")
def structured_case_no_date_is_valid(rc: RecordCheck) -> None:
    if rc.ok("caseNo"):
        case_no = rc.get("caseNo")
        if case_no_structured(case_no) and not valid_calendar_date(case_no[31:39]):
            rc.report("TBS-CODE-010", "caseNo", f"{case_no[31:39]} is not a calendar date", f"{case_no[31:39]} 不是有效日期", case_no)


@record_rule("TBS-CODE-011")
def structured_case_no_date_matches_submission(rc: RecordCheck) -> None:
    if rc.ok("caseNo", "submittedAt"):
        case_no = rc.get("caseNo")
        submitted = instant(rc.get("submittedAt"))
        # Only a real date can be compared: an invalid one is TBS-CODE-010's finding.
        if case_no_structured(case_no) and valid_calendar_date(case_no[31:39]):
            expected = china_date(submitted).strftime("%Y%m%d")
            if case_no[31:39] != expected:
                rc.report("TBS-CODE-011", "caseNo", f"date {case_no[31:39]} differs from {expected}",
                          f"日期 {case_no[31:39]} 与 {expected} 不同", case_no)


@record_rule("TBS-CODE-012")
def case_no_should_be_structured(rc: RecordCheck) -> None:
    if rc.ok("caseNo") and not case_no_structured(rc.get("caseNo")):
        rc.report("TBS-CODE-012", "caseNo", "not the 43-character structure of §6.3", "不是 §6.3 的 43 位结构", rc.get("caseNo"))


@record_rule("TBS-CODE-019")
def impl_code_level_matches(rc: RecordCheck) -> None:
    if rc.ok("implCode", "level") and rc.get("implCode")[18] != rc.get("level"):
        rc.report("TBS-CODE-019", "implCode", f"position 19 is not the level {rc.get('level')}",
                  f"第 19 位不是行使层级 {rc.get('level')}", rc.get("implCode"))


# ----------------------------------------------------------------------------- §8 catalog
@record_rule("TBS-CAT-002")
def item_code_matches_impl_code(rc: RecordCheck) -> None:
    if rc.ok("itemCode", "implCode") and rc.get("itemCode") != rc.get("implCode")[19:31]:
        rc.report("TBS-CAT-002", "itemCode", "differs from implCode[20..31]", "与实施编码第 20–31 位不同", rc.get("itemCode"))


@record_rule("TBS-CAT-003")
def item_type_matches_item_code(rc: RecordCheck) -> None:
    if rc.ok("itemType", "itemCode") and rc.get("itemType") != rc.get("itemCode")[2:4]:
        rc.report("TBS-CAT-003", "itemType", "differs from itemCode[3..4]", "与基本编码第 3–4 位不同", rc.get("itemType"))


@record_rule("TBS-CAT-004")
def dept_uscc_matches_impl_code(rc: RecordCheck) -> None:
    if rc.ok("dept/uscc", "implCode") and rc.get("dept/uscc") != rc.get("implCode")[:18]:
        rc.report("TBS-CAT-004", "dept/uscc", "differs from implCode[1..18]", "与实施编码第 1–18 位不同", rc.get("dept/uscc"))


@record_rule("TBS-CAT-005")
def item_code_region_matches(rc: RecordCheck) -> None:
    if rc.ok("itemCode", "regionCode"):
        prefix = rc.get("itemCode")[:2]
        if prefix != "00" and prefix != rc.get("regionCode")[:2]:
            rc.report("TBS-CAT-005", "itemCode", "positions 1–2 are neither 00 nor the province of regionCode",
                      "第 1–2 位既不是 00 也不是 regionCode 的省级代码", rc.get("itemCode"))


_LEVEL_SHAPE = {"2": "province", "3": "city", "4": "county", "5": "county", "6": "county"}


@record_rule("TBS-CAT-006")
def level_fits_region_shape(rc: RecordCheck) -> None:
    if rc.ok("level", "regionCode"):
        expected = _LEVEL_SHAPE.get(rc.get("level"))
        shape = region_shape(rc.get("regionCode"))
        if expected is not None and shape != expected:
            rc.report("TBS-CAT-006", "level", f"level {rc.get('level')} expects a {expected}-shaped region, found {shape}",
                      f"行使层级 {rc.get('level')} 应对应{expected}形态区划，实为{shape}", rc.get("level"))


@record_rule("TBS-CAT-007")
def promise_limit_within_legal_limit(rc: RecordCheck) -> None:
    if rc.ok("legalLimit/value", "legalLimit/unit", "promiseLimit/value", "promiseLimit/unit"):
        if rc.get("legalLimit/unit") == rc.get("promiseLimit/unit") and rc.get("promiseLimit/value") > rc.get("legalLimit/value"):
            rc.report("TBS-CAT-007", "promiseLimit/value", f"exceeds the legal limit {rc.get('legalLimit/value')}",
                      f"超过法定时限 {rc.get('legalLimit/value')}", rc.get("promiseLimit/value"))


@record_rule("TBS-CAT-008")
def fee_basis_iff_charged(rc: RecordCheck) -> None:
    if rc.ok("fee/charged"):
        charged, basis = rc.get("fee/charged"), rc.get("fee/basis")
        if charged and not rc.has("fee/basis"):
            rc.report("TBS-CAT-008", "fee/basis", "missing although the item is charged", "收费事项缺少收费依据")
        elif not charged and rc.has("fee/basis"):
            rc.report("TBS-CAT-008", "fee/basis", "present although the item is free", "不收费事项不应有收费依据", basis)


@record_rule("TBS-CAT-009")
def full_online_handling(rc: RecordCheck) -> None:
    if not (rc.ok("onlineDepth") and rc.get("onlineDepth") == 4):
        return
    if rc.ok("handlingForms") and not {"2", "3"} & set(rc.get("handlingForms")):
        rc.report("TBS-CAT-009", "handlingForms", "onlineDepth 4 requires handling form 2 or 3",
                  "全程网办须包含办理形式 2 或 3", rc.get("handlingForms"))
    if rc.ok("onSiteVisits") and rc.get("onSiteVisits") != 0:
        rc.report("TBS-CAT-009", "onSiteVisits", "onlineDepth 4 requires 0 on-site visits", "全程网办到现场次数须为 0",
                  rc.get("onSiteVisits"))
    for i in rc.elements("materials"):
        required, form = f"materials/{i}/required", f"materials/{i}/form"
        if rc.ok(required, form) and rc.get(required) is True and rc.get(form) == "PAPER":
            rc.report("TBS-CAT-009", form, "a required material cannot be paper-only under onlineDepth 4",
                      "全程网办的必备材料不能仅为纸质", rc.get(form))


@record_rule("TBS-CAT-010")
def material_copies_fit_form(rc: RecordCheck) -> None:
    for i in rc.elements("materials"):
        form, originals, copies = f"materials/{i}/form", f"materials/{i}/originals", f"materials/{i}/copies"
        if not rc.ok(form, originals, copies):
            continue
        n = rc.get(originals) + rc.get(copies)
        if rc.get(form) == "ELECTRONIC" and (rc.get(originals) or rc.get(copies)):
            rc.report("TBS-CAT-010", form, "an electronic material has no originals or copies", "电子材料的原件和复印件份数须为 0",
                      rc.get(form))
        elif rc.get(form) in ("PAPER", "BOTH") and n < 1:
            rc.report("TBS-CAT-010", form, "a paper material needs at least one original or copy", "纸质材料至少需要一份原件或复印件",
                      rc.get(form))


# ----------------------------------------------------------------------------- §9 case
@record_rule("TBS-CASE-002")
def party_kind_fits_id_type(rc: RecordCheck) -> None:
    for party in ("applicant", "agent"):
        kind, id_type = f"{party}/kind", f"{party}/idType"
        if rc.ok(kind, id_type):
            if rc.get(kind) == "PERSON" and rc.get(id_type) == "USCC":
                rc.report("TBS-CASE-002", id_type, "a PERSON cannot use idType USCC", "自然人不能使用 USCC 证件类型", rc.get(id_type))
            elif rc.get(kind) == "ORG" and rc.get(id_type) != "USCC":
                rc.report("TBS-CASE-002", id_type, "an ORG must use idType USCC", "组织必须使用 USCC 证件类型", rc.get(id_type))


@record_rule("TBS-CASE-003")
def promised_case_has_deadline(rc: RecordCheck) -> None:
    if rc.ok("caseType") and rc.get("caseType") == "2" and not rc.has("promisedBy"):
        rc.report("TBS-CASE-003", "promisedBy", "required for caseType 2 (承诺件)", "承诺件必须有承诺办结时间")


@record_rule("TBS-CASE-004")
def deadline_not_before_submission(rc: RecordCheck) -> None:
    if rc.ok("promisedBy", "submittedAt"):
        if instant(rc.get("promisedBy")) < instant(rc.get("submittedAt")):
            rc.report("TBS-CASE-004", "promisedBy", "earlier than submittedAt", "早于申请时间", rc.get("promisedBy"))


# ----------------------------------------------------------------------------- §10 case-event
@record_rule("TBS-EVT-002")
def event_members_fit_type(rc: RecordCheck) -> None:
    """§10.3: members required and forbidden per type (``x-tbs-event-members`` of the schema)."""
    kind = rc.value("type")
    if kind is MISSING:
        return
    sets = rc.annotations.get("event-member-sets")
    row = (sets if sets is not None else event_member_sets(rc.annotations)).get(kind)
    if row is None:
        return
    required, forbidden = row
    record = rc.root
    if not required.issubset(record):
        for member in sorted(required.difference(record)):
            rc.report("TBS-EVT-002", member, f"required for type {kind}", f"{kind} 环节必须包含此成员")
    if not forbidden.isdisjoint(record):
        for member in sorted(forbidden.intersection(record)):
            rc.report("TBS-EVT-002", member, f"forbidden for type {kind}", f"{kind} 环节不得包含此成员", record[member])


def event_member_sets(annotations: Mapping[str, Any]) -> dict[str, tuple[frozenset[str], frozenset[str]]]:
    """The §10.3 table of the schema as (required, forbidden) sets; the engine derives it once."""
    table = annotations.get("event-member-sets")
    if table is None:
        table = {kind: (frozenset(row["required"]), frozenset(row["forbidden"]))
                 for kind, row in annotations.get("x-tbs-event-members", {}).items()}
    return table


@record_rule("TBS-EVT-003")
def non_approval_conclusion_has_opinion(rc: RecordCheck) -> None:
    record = rc.root
    if record.get("type") != "CONCLUDE" or "opinion" in record:
        return  # cheap exits first; the gate below decides
    found = rc.values("type", "conclusionCode")
    if found is not None and found[1] != "APPROVED_WITH_CERT":
        rc.report("TBS-EVT-003", "opinion", f"required for conclusion {found[1]}", f"办结结果 {found[1]} 必须有处理意见")


@record_rule("TBS-EVT-004")
def seq_one_iff_submit(rc: RecordCheck) -> None:
    seq, kind = rc.value("seq"), rc.value("type")
    if seq is not MISSING and kind is not MISSING and (seq == 1) != (kind == "SUBMIT"):
        en = "seq 1 must be SUBMIT" if seq == 1 else "SUBMIT must have seq 1"
        zh = "seq 为 1 时必须是 SUBMIT" if seq == 1 else "SUBMIT 的 seq 必须为 1"
        rc.report("TBS-EVT-004", "type", en, zh, kind)


# ----------------------------------------------------------------------------- §11 result
@record_rule("TBS-RES-002")
def valid_until_not_before_issue(rc: RecordCheck) -> None:
    if rc.ok("validUntil", "issuedAt"):
        until = parse_date(rc.get("validUntil"))
        if until is not None and until < china_date(instant(rc.get("issuedAt"))):
            rc.report("TBS-RES-002", "validUntil", "earlier than the +08:00 date of issuedAt", "早于发证日期（+08:00）",
                      rc.get("validUntil"))


# ----------------------------------------------------------------------------- §12 evaluation
@record_rule("TBS-EVAL-002")
def poor_rating_has_details(rc: RecordCheck) -> None:
    if rc.ok("satisfaction") and rc.get("satisfaction") < 3 and not rc.has("detailCodes") and not rc.has("text"):
        rc.report("TBS-EVAL-002", "satisfaction", "a rating below 3 needs detailCodes or text", "差评须有评价详情或文字评价",
                  rc.get("satisfaction"))


# ----------------------------------------------------------------------------- TBS-1.1 rules
@record_rule("TBS-CAT-011")
def window_item_states_accessibility(rc: RecordCheck) -> None:
    """TBS-1.1 change 5: an ACTIVE item handled at a window SHOULD carry accessibility."""
    found = rc.values("status", "handlingForms")
    if found is not None and found[0] == "ACTIVE" and "1" in found[1] and not rc.has("accessibility"):
        rc.report("TBS-CAT-011", "accessibility", "missing for an ACTIVE item handled at a window (handling form 1)",
                  "窗口办理的在用事项未填写无障碍与适老化服务")


@record_rule("TBS-CASE-006")
def exactly_one_apply_channel(rc: RecordCheck) -> None:
    """TBS-1.1 change 8: reads only presence, always evaluated."""
    record = rc.root
    new, old = "applyChannel" in record, "channel" in record
    if new and old:
        rc.report("TBS-CASE-006", "channel", "applyChannel and its deprecated alias channel are both present",
                  "applyChannel 与已弃用的 channel 同时出现", record["channel"])
    elif not new and not old:
        rc.report("TBS-CASE-006", "applyChannel", "neither applyChannel nor channel is present",
                  "applyChannel 与 channel 均缺失")


@record_rule("TBS-CASE-007")
def agent_identity_both_or_neither(rc: RecordCheck) -> None:
    """TBS-1.1 change 9: reads only presence, evaluated whenever agent is an object."""
    agent = rc.root.get("agent")
    if type(agent) is not dict:
        return
    has_type, has_no = "idType" in agent, "idNo" in agent
    if has_type != has_no:
        absent = "idNo" if has_type else "idType"
        rc.report("TBS-CASE-007", f"agent/{absent}", f"agent has {'idType' if has_type else 'idNo'} without {absent}",
                  f"代理人缺少{'证件号码' if has_type else '证件类型'}")


@record_rule("TBS-EVT-014")
def returned_review_step_has_opinion(rc: RecordCheck) -> None:
    """TBS-1.1 change 13."""
    record = rc.root
    if record.get("type") != "REVIEW_STEP" or record.get("action") != "RETURN" or "opinion" in record:
        return
    if rc.values("type", "action") is not None:
        rc.report("TBS-EVT-014", "opinion", "a RETURN review step must give its reason", "退回的审查环节必须填写处理意见")


@record_rule("TBS-EVAL-002", spec="TBS-1.1")
def poor_rating_has_detail_codes(rc: RecordCheck) -> None:
    """TBS-1.1 change 21: a 差评 needs detailCodes; text alone no longer suffices."""
    if rc.ok("satisfaction") and rc.get("satisfaction") < 3 and not rc.has("detailCodes"):
        rc.report("TBS-EVAL-002", "satisfaction", "a rating below 3 needs detailCodes", "差评须有评价详情代码",
                  rc.get("satisfaction"))


@record_rule("TBS-ENV-013")
def deprecated_members_and_values(rc: RecordCheck) -> None:
    """TBS-1.1 change 8: last S3 rule of a record; only members with no ERROR at their location
    (from S1–S2, or from an earlier S3 rule such as TBS-CASE-006 at ``channel``)."""
    s3_errors = {f.location for f in rc.sink.items if f.severity.value == "ERROR"}
    for path, values in rc.annotations.get("deprecated", ()):
        value = rc.value(path)
        if value is MISSING or rc.loc(path) in s3_errors:
            continue
        if values is None:
            rc.report("TBS-ENV-013", path, "deprecated member; use its replacement", "已弃用的成员，请改用其替代成员", value)
        elif value in values:
            rc.report("TBS-ENV-013", path, f"deprecated code value {value}", f"已弃用的代码值 {value}", value)


# ----------------------------------------------------------------------------- S4
@record_rule("TBS-SEC-003")
def record_region_within_writer_scope(rc: RecordCheck) -> None:
    """§19.3 S4: evaluated whatever other findings the record has, once regionCode is valid."""
    if rc.writer is None or not system_id_ok(rc.writer) or not rc.ok("regionCode"):
        return
    parts = parse_system_id(rc.writer)
    assert parts is not None
    if not within_scope(rc.get("regionCode"), parts[1]):
        rc.report("TBS-SEC-003", "regionCode", f"outside the scope of {rc.writer}", f"不在 {rc.writer} 的范围内",
                  rc.get("regionCode"))
