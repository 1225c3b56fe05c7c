"""Common tests, every role (TBS-1.0 §20.2 COM-01 … COM-07).

Over REST and SOAP the suite is the SUT's client: a provider is read through its changes
feeds (the pull-only paragraph of §20.2), a consumer is pushed to. Over FILE and MQTT the SUT
pushes to the suite (see :mod:`tongban.conformance.push`).
"""
from __future__ import annotations

import re
from typing import Any

from tongban.connectors.base import ConnectorError
from tongban.model.canonical import canonical_bytes
from tongban.model.datasets import DATASETS, ROLE_DATASETS, Dataset, business_key

from . import probes
from .catalog_consumer import com04_consumer_push
from .feeds import read_feed
from .push import com01_push, com03_push, com04_push, com05_push
from .results import KitFinding, Level, TestResult, capped
from .schemas import schema_errors
from .session import Session
from .testkit import PULL, Collected, ConformanceTest

OTHER_SYSTEM = "TB:county:110101:TBSCONFTEST"   # a well-formed identity the suite is not
BAD_CURSOR = "tbs-conformance-not-a-cursor"     # cursor syntax, but no feed position
TIMESTAMP_MEMBERS = ("submittedAt", "occurredAt", "issuedAt", "assessedAt", "updatedAt", "promisedBy")


def _expect(answer: probes.Answer, status: int, code: str | None, rule: str, what: str) -> KitFinding | None:
    """A failure unless ``answer`` is the refusal TBS-REST-008 / TBS-SOAP-005 prescribe."""
    if answer.error and answer.status is None:
        return KitFinding(rule, f"{what}: no answer ({answer.error})", f"{what}：无应答", where=answer.summary())
    if answer.fault is not None:  # SOAP: status by the REST code of the fault detail
        from tongban.connectors.soap.client import STATUS_OF_CODE

        got = STATUS_OF_CODE.get(answer.code or "", 500 if answer.fault.faultcode.startswith("Server") else 400)
    else:
        got = answer.status
    if got != status or (code is not None and answer.code != code):
        return KitFinding(rule, f"{what}: expected {status} {code or ''}, got {got} {answer.code or ''}".strip(),
                          f"{what}：应为 {status} {code or ''}，实际为 {got} {answer.code or ''}", where=answer.summary())
    return None


class Com01Authentication(ConformanceTest):
    test_id = "COM-01"
    requirement_ids = ("TBS-SEC-001", "TBS-SEC-002")
    description = ("The SUT authenticates its callers: requests without credentials or with wrong credentials "
                   "are refused (401), a caller naming another system in X-TB-Sender is forbidden (403), and the "
                   "suite's own credentials are accepted.")

    def pushed(self, session: Session) -> TestResult:
        return com01_push(self, session)

    def pulled(self, session: Session) -> TestResult:
        token = session.config.token
        kit = session.config.kit_system_id
        evidence: list[dict[str, Any]] = []
        failures: list[KitFinding] = []
        checks = [("no credentials", None, kit, 401, "UNAUTHENTICATED", "TBS-SEC-001"),
                  ("wrong bearer token", "tbs-conformance-wrong-token-0000000000", kit, 401, "UNAUTHENTICATED",
                   "TBS-SEC-001")]
        if token:
            checks.append(("valid token, X-TB-Sender of another system", token, OTHER_SYSTEM, 403, "FORBIDDEN",
                           "TBS-SEC-002"))
        for what, tok, sender, status, code, rule in checks:
            answer = probes.get_meta(session, token=tok, sender=sender)
            evidence.append({"note": what, **answer.summary()})
            problem = _expect(answer, status, code, rule, what)
            if problem:
                failures.append(problem)
        if "CATALOG_CONSUMER" in session.config.roles:
            # TBS-SEC-001: refused before the body is parsed — a body that is not even JSON.
            answer = probes.post_envelope(session, "catalog", b"{not json", token=None, sender=kit,
                                          message_id="00000000-0000-4000-8000-000000000000")
            evidence.append({"note": "unauthenticated push with an unparsable body", **answer.summary()})
            problem = _expect(answer, 401, "UNAUTHENTICATED", "TBS-SEC-001", "unauthenticated push")
            if problem:
                failures.append(problem)
        if not token:
            return TestResult.skip("no credential was supplied (--credential-env): the suite cannot verify that "
                                   "authenticated calls succeed", evidence)
        answer = probes.get_meta(session, token=token, sender=kit)
        evidence.append({"note": "the suite's credentials", **answer.summary()})
        if answer.status != 200:
            failures.append(KitFinding("TBS-SEC-001", f"the suite's own credentials were refused ({answer.status})",
                                       f"测试套件自身的凭据被拒绝（{answer.status}）", where=answer.summary()))
        return TestResult.judge(failures, evidence)


class Com02Meta(ConformanceTest):
    test_id = "COM-02"
    requirement_ids = ()
    binding_requirements = {"REST": ("TBS-REST-002",), "SOAP": ("TBS-SOAP-002",)}
    bindings = PULL
    description = ("The self-description (meta) is well-formed and matches the claims: system id, every claimed "
                   "role, the datasets of those roles, TBS-1.0 among the spec versions and the binding.")

    def run(self, session: Session) -> TestResult:
        rule = "TBS-SOAP-002" if session.config.binding == "SOAP" else "TBS-REST-002"
        meta = session.meta()
        if isinstance(meta, ConnectorError):
            return TestResult.judge([KitFinding(rule, f"meta could not be read: {meta}", "无法读取自描述")],
                                    [{"note": "meta request failed"}])
        evidence = [{"note": "meta", "response": meta}]
        cfg = session.config
        failures = [KitFinding(rule, f"meta does not match its schema: {e}", f"自描述不符合模式：{e}")
                    for e in schema_errors("meta", meta, cfg.spec_version)]
        if isinstance(meta, dict):
            versions = meta.get("specVersions") if isinstance(meta.get("specVersions"), list) else []
            # TBS-1.1 TBS-REST-002: a system certified for TBS-1.1 lists it and, until the TBS-1.0
            # sunset, TBS-1.0 too (a session is run before the sunset, see INTERPRETATIONS.md)
            wanted = (cfg.spec_version,) if cfg.spec_version == "TBS-1.0" else ("TBS-1.0", cfg.spec_version)
            for version in wanted:
                if version not in versions:
                    failures.append(KitFinding(rule, f"meta.specVersions {versions} lacks {version}",
                                               f"meta.specVersions {versions} 未包含 {version}"))
            if meta.get("systemId") != cfg.system_id:
                failures.append(KitFinding(rule, f"systemId is {meta.get('systemId')!r}, the claim is {cfg.system_id}",
                                           f"systemId 为 {meta.get('systemId')!r}，声明为 {cfg.system_id}"))
            roles = meta.get("roles") if isinstance(meta.get("roles"), list) else []
            datasets = meta.get("datasets") if isinstance(meta.get("datasets"), list) else []
            for role in cfg.roles:
                if role not in roles:
                    failures.append(KitFinding(rule, f"claimed role {role} is not in meta.roles",
                                               f"声明的角色 {role} 不在 meta.roles 中"))
            for role in roles:
                for ds in ROLE_DATASETS.get(role, ()) if isinstance(role, str) else ():
                    if ds not in datasets:
                        failures.append(KitFinding(rule, f"dataset {ds} of role {role} is not in meta.datasets",
                                                   f"角色 {role} 的数据集 {ds} 不在 meta.datasets 中"))
            bindings = meta.get("bindings")
            if isinstance(bindings, list) and cfg.binding not in bindings:
                failures.append(KitFinding(rule, f"meta.bindings {bindings} lacks the tested binding {cfg.binding}",
                                           f"meta.bindings 未包含被测绑定 {cfg.binding}"))
        return TestResult.judge(failures, evidence)


class Com03StatelessValid(ConformanceTest):
    test_id = "COM-03"
    requirement_ids = tuple(f"TBS-ENV-{n:03d}" for n in range(1, 29)) + ("TBS-SEC-007",)
    description = ("Everything the SUT sends passes stateless validation with a result other than FAILURE, with "
                   "hash and signature verified; for a pull-only provider, every record of every changes "
                   "response it serves (validated as TBS-REST-003 says, sender := the SUT).")
    without_provider_role = "the SUT claims no provider role: it sends nothing to validate"

    def pushed(self, session: Session) -> TestResult:
        return com03_push(self, session)

    def pulled(self, session: Session) -> TestResult:
        failures: list[KitFinding] = []
        evidence: list[dict[str, Any]] = []
        for ds in session.provided_datasets():
            read = session.feed(ds)
            if read.error:
                failures.append(KitFinding("TBS-REST-003", f"the {ds} feed could not be read completely: {read.error}",
                                           f"{ds} 变更流未能完整读取：{read.error}", where={"dataset": ds}))
        sw = session.sweep()
        checked = 0
        for v in sw.all(*session.provided_datasets()):
            checked += 1
            if v.stateless.errors:
                failures += [KitFinding.from_validation(f, **v.fed.where()) for f in v.stateless.items
                             if f.severity.value == "ERROR"]
        evidence.append({"note": f"{checked} served records validated statelessly (S1–S4), "
                                 f"{sum(1 for v in sw.all() if v.stateless.errors)} with result FAILURE"})
        return TestResult.judge(capped(failures, "findings"), evidence)


class Com04BindingProtocol(ConformanceTest):
    test_id = "COM-04"
    requirement_ids = ()
    binding_requirements = {"REST": ("TBS-REST-001", "TBS-REST-006", "TBS-REST-007"),
                            "SOAP": ("TBS-SOAP-001", "TBS-SOAP-003", "TBS-SOAP-005"),
                            "FILE": tuple(f"TBS-FILE-{n:03d}" for n in range(1, 9)),
                            "MQTT": tuple(f"TBS-MQTT-{n:03d}" for n in range(1, 8))}
    description = ("Protocol details of the binding: HTTPS, media types, the X-TB-* headers and their refusals "
                   "(REST); SOAP 1.1 media type, SOAPAction, the XML mapping and the shape of faults (SOAP); "
                   "drop-root layout, batch files and manifests (FILE); topics, QoS and retain (MQTT).")

    def pulled(self, session: Session) -> TestResult:
        return {"REST": self._rest, "SOAP": self._soap}[session.config.binding](session)

    def pushed(self, session: Session) -> TestResult:
        if not session.provided_datasets():  # a consumer over FILE/MQTT sends only acknowledgements
            return com04_consumer_push(session)
        return com04_push(self, session)

    def _rest(self, session: Session) -> TestResult:
        cfg = session.config
        failures, evidence, ok = _https_and_meta(session, "TBS-REST-001", "meta with correct headers")
        answers = [("meta", ok)]
        ds = next(iter(session.provided_datasets()), None)
        if ds:
            page = probes.get_changes(session, ds, limit=1, token=cfg.token, sender=cfg.kit_system_id)
            evidence.append({"note": f"{ds} changes, limit=1", **page.summary()})
            answers.append((f"{ds} changes", page))
        for what, answer in answers:
            if answer.status != 200:
                failures.append(KitFinding("TBS-REST-001", f"{what}: HTTP {answer.status}", f"{what}：HTTP {answer.status}",
                                           where=answer.summary()))
                continue
            media, _, params = answer.content_type.partition(";")
            charset = re.search(r"charset\s*=\s*\"?([^\";\s]+)", params)
            if media.strip().lower() != "application/json" or (charset and charset.group(1).lower() != "utf-8"):
                failures.append(KitFinding("TBS-REST-001", f"{what}: Content-Type {answer.content_type!r}",
                                           f"{what}：Content-Type 为 {answer.content_type!r}", where=answer.summary()))
            if answer.headers.get("x-tb-spec-version") != cfg.spec_version:
                failures.append(KitFinding("TBS-REST-007", f"{what}: X-TB-Spec-Version missing or wrong",
                                           f"{what}：缺少或错误的 X-TB-Spec-Version", where=answer.summary()))
        # TBS-1.1 TBS-REST-006: a version the server does not support is UNSUPPORTED_VERSION there;
        # a server that supports TBS-1.1 too answers so in a TBS-1.0 session as well (INTERPRETATIONS.md)
        unsupported = "BAD_HEADER" if cfg.spec_version == "TBS-1.0" else "UNSUPPORTED_VERSION"
        meta = session.meta()
        if unsupported == "BAD_HEADER" and isinstance(meta, dict) and "TBS-1.1" in (meta.get("specVersions") or ()):
            unsupported = "UNSUPPORTED_VERSION"
        for what, sender, spec, code in (("no X-TB-Sender", None, cfg.spec_version, "BAD_HEADER"),
                                         ("X-TB-Spec-Version: TBS-0.9", cfg.kit_system_id, "TBS-0.9", unsupported)):
            answer = probes.get_meta(session, token=cfg.token, sender=sender, spec=spec)
            evidence.append({"note": what, **answer.summary()})
            problem = _expect(answer, 400, code, "TBS-REST-006", what)
            if problem:
                failures.append(problem)
            elif "x-tb-spec-version" not in answer.headers:
                failures.append(KitFinding("TBS-REST-007", f"{what}: the error response lacks X-TB-Spec-Version",
                                           "错误响应缺少 X-TB-Spec-Version", where=answer.summary()))
            body = answer.json()
            error_spec = "TBS-1.1" if code == "UNSUPPORTED_VERSION" else cfg.spec_version   # a TBS-1.1 error code
            if answer.status == 400 and schema_errors("error", body, error_spec):
                failures.append(KitFinding("TBS-REST-006", f"{what}: error body is not {{code, message, …}}",
                                           "错误响应体不符合 {code, message, …}", where=answer.summary()))
        if "CATALOG_CONSUMER" in cfg.roles:
            answer = probes.post_envelope(session, "catalog", b'{"specVersion":"%s"}' % cfg.spec_version.encode(),
                                          token=cfg.token,
                                          sender=cfg.kit_system_id, message_id=None)
            evidence.append({"note": "push without X-TB-Message-Id", **answer.summary()})
            problem = _expect(answer, 400, "BAD_HEADER", "TBS-REST-006", "push without X-TB-Message-Id")
            if problem:
                failures.append(problem)
            if "x-tb-request-hash" not in answer.headers:
                failures.append(KitFinding("TBS-REST-007", "a POST error response lacks X-TB-Request-Hash",
                                           "POST 的错误响应缺少 X-TB-Request-Hash", where=answer.summary()))
        return TestResult.judge(failures, evidence)

    def _soap(self, session: Session) -> TestResult:
        from tongban.connectors.soap import mapping

        cfg = session.config
        failures, evidence, ok = _https_and_meta(session, "TBS-SOAP-001", "GetMeta")
        if ok.status != 200:
            failures.append(KitFinding("TBS-SOAP-001", f"GetMeta: HTTP {ok.status}", f"GetMeta：HTTP {ok.status}",
                                       where=ok.summary()))
        else:
            if not ok.content_type.lower().replace(" ", "").startswith("text/xml"):
                failures.append(KitFinding("TBS-SOAP-001", f"GetMeta: Content-Type {ok.content_type!r}",
                                           f"GetMeta：Content-Type 为 {ok.content_type!r}", where=ok.summary()))
            if ok.headers.get("x-tb-spec-version") != "TBS-1.0":
                failures.append(KitFinding("TBS-SOAP-001", "GetMeta: X-TB-Spec-Version missing or wrong",
                                           "GetMeta：缺少或错误的 X-TB-Spec-Version", where=ok.summary()))
            try:
                mapping.xml_to_meta(ok.body)
            except mapping.Unmappable as exc:
                failures.append(KitFinding("TBS-SOAP-003", f"GetMetaResponse cannot be mapped: {exc.finding.message_en}",
                                           f"GetMetaResponse 无法映射：{exc.finding.message_zh}", where=ok.summary()))
        provoked: list[tuple[str, probes.Answer, str]] = []
        answer = probes.get_meta(session, token=cfg.token, sender=None)
        provoked.append(("GetMeta without X-TB-Sender", answer, "BAD_HEADER"))
        answer = probes.soap_call(session, "GetMeta", mapping.get_meta_request(), token=cfg.token,
                                  sender=cfg.kit_system_id, action="urn:tbs:1.0#NoSuchOperation")
        provoked.append(("GetMeta with a wrong SOAPAction", answer, "BAD_HEADER"))
        ds = next(iter(session.provided_datasets()), None)
        if ds:
            answer = probes.get_changes(session, ds, since=BAD_CURSOR, token=cfg.token, sender=cfg.kit_system_id)
            provoked.append((f"GetChanges {ds} with an uninterpretable cursor", answer, "BAD_CURSOR"))
        for what, answer, code in provoked:
            evidence.append({"note": what, **answer.summary()})
            failures += _fault_shape(what, answer, code)
        return TestResult.judge(failures, evidence)


def _https_and_meta(session: Session, rule: str, note: str) -> tuple[list[KitFinding], list[dict[str, Any]],
                                                                     probes.Answer]:
    """How COM-04 starts on REST and SOAP: the endpoint is HTTPS (else a finding under ``rule``) and
    meta, asked with correct headers, answers; the findings, the evidence and meta's answer."""
    cfg = session.config
    failures: list[KitFinding] = []
    if not cfg.endpoint.lower().startswith("https://"):
        failures.append(KitFinding(rule, f"the endpoint {cfg.endpoint} is not HTTPS", "端点未使用 HTTPS"))
    ok = probes.get_meta(session, token=cfg.token, sender=cfg.kit_system_id)
    return failures, [{"note": note, **ok.summary()}], ok


def _fault_shape(what: str, answer: probes.Answer, code: str) -> list[KitFinding]:
    """TBS-SOAP-005: a 4xx case is a ``soap:Client`` fault on HTTP 500 with ``tbs:error`` detail."""
    from lxml import etree

    from tongban.connectors.soap.mapping import SOAP_ENV_NS
    from tongban.connectors.soap.xsd_model import TBS_NS

    out: list[KitFinding] = []

    def bad(en: str, zh: str) -> None:
        out.append(KitFinding("TBS-SOAP-005", f"{what}: {en}", f"{what}：{zh}", where=answer.summary()))

    if answer.status != 500:
        bad(f"a fault must be sent with HTTP 500, got {answer.status}", f"SOAP 故障须以 HTTP 500 返回，实际为 {answer.status}")
    if not answer.content_type.lower().replace(" ", "").startswith("text/xml"):
        bad(f"Content-Type {answer.content_type!r}", f"Content-Type 为 {answer.content_type!r}")
    try:
        root = etree.fromstring(answer.body, etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False))
    except etree.XMLSyntaxError:
        bad("the answer is not well-formed XML", "应答不是格式良好的 XML")
        return out
    fault = root.find(f"{{{SOAP_ENV_NS}}}Body/{{{SOAP_ENV_NS}}}Fault")
    if root.tag != f"{{{SOAP_ENV_NS}}}Envelope" or fault is None:
        bad("no SOAP 1.1 Envelope/Body/Fault", "没有 SOAP 1.1 Envelope/Body/Fault")
        return out
    faultcode = (fault.findtext("faultcode") or "").strip()
    prefix, _, local = faultcode.rpartition(":")
    if not prefix or fault.nsmap.get(prefix) != SOAP_ENV_NS or local != "Client":
        bad(f"faultcode {faultcode!r} is not the SOAP 1.1 Client code", f"faultcode {faultcode!r} 不是 SOAP 1.1 Client")
    if not (fault.findtext("faultstring") or "").strip():
        bad("empty faultstring", "faultstring 为空")
    error = fault.find(f"detail/{{{TBS_NS}}}error")
    if error is None:
        bad("no detail/tbs:error", "缺少 detail/tbs:error")
        return out
    got = (error.findtext(f"{{{TBS_NS}}}code") or "").strip()
    if got != code:
        bad(f"detail code {got!r}, expected {code}", f"detail 中的 code 为 {got!r}，应为 {code}")
    if not (error.findtext(f"{{{TBS_NS}}}message") or "").strip():
        bad("detail message is empty", "detail 中的 message 为空")
    return out


class Com05Resend(ConformanceTest):
    test_id = "COM-05"
    requirement_ids = ("TBS-SYNC-001", "TBS-ENV-033")
    description = ("Applies if the SUT pushes: the suite withholds an acknowledgement, the SUT resends, and the "
                   "resent records are DUPLICATE, never conflicts.")
    without_provider_role = "the SUT claims no provider role: it sends nothing"

    def not_applicable(self, session: Session) -> str | None:
        if session.collected is not Collected.PUSHED:
            return ("the SUT does not push over this binding (pull-only provider or consumer over "
                    f"{session.config.binding}, §20.2)")
        return super().not_applicable(session)

    def run(self, session: Session) -> TestResult:
        return com05_push(self, session)


class Com06Recommended(ConformanceTest):
    test_id = "COM-06"
    requirement_ids = ("TBS-ENV-010", "TBS-SEC-013", "TBS-REST-011")
    level = Level.SHOULD
    description = "Timestamps are written with the offset +08:00; Retry-After is honoured by a pushing SUT."
    without_provider_role = "the SUT claims no provider role: it sends no timestamps"

    def run(self, session: Session) -> TestResult:
        failures = []
        count = 0
        for ds, feds in session.records().items():
            for fed in feds:
                if not isinstance(fed.record, dict):
                    continue
                for member in TIMESTAMP_MEMBERS:
                    value = fed.record.get(member)
                    if isinstance(value, str):
                        count += 1
                        if not value.endswith("+08:00"):
                            failures.append(KitFinding("TBS-ENV-010", f"{member} {value} is not written with +08:00",
                                                       f"{member} {value} 未使用 +08:00", "WARNING",
                                                       f"{fed.location}/{member}", value, fed.where()))
        evidence = [{"note": f"{count} timestamps read"}]
        if session.collected is Collected.PUSHED:
            evidence.append({"note": "Retry-After honouring is observed in COM-05's exchanges"})
        return TestResult.judge(capped(failures, "timestamps"), evidence)


class Com07ChangesFeeds(ConformanceTest):
    test_id = "COM-07"
    requirement_ids = ("TBS-REST-003", "TBS-REST-004", "TBS-REST-008", "TBS-SYNC-013")
    bindings = PULL
    description = ("For every changes feed the SUT serves: a full read page by page, a re-read from an "
                   "intermediate cursor that never goes backwards, a read at the end (no records, hasMore false, "
                   "nextCursor == since), an uninterpretable cursor (400 BAD_CURSOR), an unknown dataset (404), and "
                   "the events of each case in strictly ascending seq.")
    without_provider_role = "the SUT serves no changes feed (no provider role claimed)"

    def run(self, session: Session) -> TestResult:
        failures: list[KitFinding] = []
        evidence: list[dict[str, Any]] = []
        conn = session.connector()
        for ds in session.provided_datasets():
            read = session.feed(ds)
            evidence.append({"note": f"full read of {ds}: {len(read.pages)} page(s), {len(read.records)} record(s)",
                             "pages": [p.excerpt() for p in read.pages[:5]]})
            failures += read.problems
            if read.error:
                failures.append(KitFinding("TBS-REST-003", f"{ds}: the full read failed: {read.error}",
                                           f"{ds}：完整读取失败：{read.error}", where={"dataset": ds}))
                continue
            if ds == "case-event":
                failures += _event_order(read.records)
            failures += self._reread(conn, ds, read, session.config.page_limit, evidence)
            failures += self._at_end(conn, ds, read, evidence)
            failures += self._bad_cursor(conn, ds, evidence)
        failures += self._unknown_dataset(session, evidence)
        return TestResult.judge(capped(failures, "findings"), evidence)

    @staticmethod
    def _reread(conn: Any, ds: str, read: Any, limit: int, evidence: list[dict[str, Any]]) -> list[KitFinding]:
        if len(read.pages) < 2:
            return []  # one page: its start is the only cursor; the end read covers the rest
        middle = len(read.pages) // 2
        cursor = read.pages[middle - 1].next_cursor
        before = {canonical_bytes(f.record) for f in read.records if f.page < middle}
        later = [f.record for f in read.records if f.page >= middle]
        again = read_feed(conn, ds, limit=limit, since=cursor)
        evidence.append({"note": f"re-read of {ds} from the cursor after page {middle - 1}: "
                                 f"{len(again.records)} record(s)", "since": cursor})
        out = [KitFinding(p.requirement_id, f"re-read: {p.message_en}", f"重读：{p.message_zh}", where=p.where)
               for p in again.problems]
        if again.error:
            return out + [KitFinding("TBS-REST-004", f"{ds}: re-read from {cursor!r} failed: {again.error}",
                                     f"{ds}：从 {cursor!r} 重读失败", where={"dataset": ds})]
        back = [f for f in again.records if canonical_bytes(f.record) in before]
        if back:
            out.append(KitFinding("TBS-REST-004", f"{ds}: re-reading from {cursor!r} returned {len(back)} record(s) "
                                  "served before that cursor: the cursor went backwards",
                                  f"{ds}：从 {cursor!r} 重读返回了该游标之前的 {len(back)} 条记录：游标回退",
                                  where=back[0].where()))
        out += _not_older(ds, later, [f.record for f in again.records])
        return out

    @staticmethod
    def _at_end(conn: Any, ds: str, read: Any, evidence: list[dict[str, Any]]) -> list[KitFinding]:
        end = read.end_cursor
        try:
            page = conn.fetch_changes(ds, end, 10)
        except ConnectorError as exc:
            return [KitFinding("TBS-REST-004", f"{ds}: a read at the end failed: {exc}", f"{ds}：在末尾读取失败",
                               where={"dataset": ds, "since": end})]
        evidence.append({"note": f"read of {ds} at the end", "request": {"since": end},
                         "response": {"records": len(page.records), "nextCursor": page.next_cursor,
                                      "hasMore": page.has_more}})
        if page.records or page.has_more or page.next_cursor != end:
            return [KitFinding("TBS-REST-004", f"{ds}: at the end the feed must return no records, hasMore false and "
                               f"nextCursor == since; got {len(page.records)} record(s), hasMore {page.has_more}, "
                               f"nextCursor {page.next_cursor!r}", f"{ds}：末尾读取应无记录、hasMore 为 false 且 "
                               "nextCursor 等于 since", where={"dataset": ds, "since": end})]
        return []

    @staticmethod
    def _bad_cursor(conn: Any, ds: str, evidence: list[dict[str, Any]]) -> list[KitFinding]:
        try:
            conn.fetch_changes(ds, BAD_CURSOR, 10)
        except ConnectorError as exc:
            evidence.append({"note": f"{ds} with an uninterpretable cursor", "status": exc.status, "code": exc.code})
            if exc.status == 400 and exc.code == "BAD_CURSOR":
                return []
            return [KitFinding("TBS-REST-004", f"{ds}: an uninterpretable cursor must give 400 BAD_CURSOR, got "
                               f"{exc.status} {exc.code}", f"{ds}：无法解析的游标应返回 400 BAD_CURSOR",
                               where={"dataset": ds, "since": BAD_CURSOR})]
        return [KitFinding("TBS-REST-004", f"{ds}: an uninterpretable cursor was accepted", f"{ds}：接受了无法解析的游标",
                           where={"dataset": ds, "since": BAD_CURSOR})]

    @staticmethod
    def _unknown_dataset(session: Session, evidence: list[dict[str, Any]]) -> list[KitFinding]:
        meta = session.meta()
        listed = meta.get("datasets", []) if isinstance(meta, dict) else []
        unknown = next((d for d in DATASETS if d not in session.provided_datasets() and d not in listed), None)
        name = unknown or "no-such-dataset"
        try:
            session.connector().fetch_changes(name, None, 10)
        except ConnectorError as exc:
            evidence.append({"note": f"changes of {name}, which the SUT does not provide", "status": exc.status,
                             "code": exc.code})
            if exc.status == 404:
                return []
            return [KitFinding("TBS-REST-008", f"changes of a dataset the SUT does not provide ({name}) must give 404, "
                               f"got {exc.status} {exc.code}", f"请求未提供的数据集 {name} 应返回 404",
                               where={"dataset": name})]
        return [KitFinding("TBS-REST-008", f"changes of a dataset the SUT does not provide ({name}) were served",
                           f"未提供的数据集 {name} 返回了变更", where={"dataset": name})]


def _event_order(feds: list[Any]) -> list[KitFinding]:
    """TBS-SYNC-013: the events of one case appear in strictly ascending ``seq``."""
    last: dict[str, int] = {}
    out = []
    for f in feds:
        rec = f.record
        if not isinstance(rec, dict) or not isinstance(rec.get("seq"), int) or not isinstance(rec.get("caseNo"), str):
            continue
        prev = last.get(rec["caseNo"])
        if prev is not None and rec["seq"] <= prev:
            out.append(KitFinding("TBS-SYNC-013", f"event seq {rec['seq']} of case {rec['caseNo']} follows seq {prev}",
                                  f"办件 {rec['caseNo']} 的环节序号 {rec['seq']} 出现在 {prev} 之后", where=f.where()))
        last[rec["caseNo"]] = max(rec["seq"], prev or 0)
    return out


def _not_older(ds: str, first: list[Any], again: list[Any]) -> list[KitFinding]:
    """TBS-REST-004: a re-read returns the same records or newer versions, never older ones."""
    out = []
    dataset = Dataset(ds)
    if dataset.versioned:
        newest: dict[tuple, int] = {}
        for rec in first:
            if isinstance(rec, dict) and isinstance(rec.get("version"), int):
                key = tuple(sorted(business_key(ds, rec).items()))
                newest[key] = max(newest.get(key, 0), rec["version"])
        for rec in again:
            if isinstance(rec, dict) and isinstance(rec.get("version"), int):
                key = tuple(sorted(business_key(ds, rec).items()))
                if key in newest and rec["version"] < newest[key] and not any(
                        isinstance(r, dict) and tuple(sorted(business_key(ds, r).items())) == key
                        and r.get("version", 0) >= newest[key] for r in again):
                    out.append(KitFinding("TBS-REST-004", f"{ds}: re-read returned version {rec['version']} of "
                                          f"{dict(key)} but version {newest[key]} had been served",
                                          f"{ds}：重读返回了较旧版本", where={"dataset": ds, "key": dict(key)}))
    else:
        served = {canonical_bytes(r) for r in first}
        keys = {tuple(sorted(business_key(ds, r).items())): canonical_bytes(r) for r in first if isinstance(r, dict)}
        for rec in again:
            if isinstance(rec, dict):
                key = tuple(sorted(business_key(ds, rec).items()))
                if key in keys and canonical_bytes(rec) not in served:
                    out.append(KitFinding("TBS-REST-004", f"{ds}: re-read returned different content for {dict(key)}",
                                          f"{ds}：重读返回的内容不同", where={"dataset": ds, "key": dict(key)}))
    return out


COMMON_TESTS: tuple[type[ConformanceTest], ...] = (Com01Authentication, Com02Meta, Com03StatelessValid,
                                                   Com04BindingProtocol, Com05Resend, Com06Recommended,
                                                   Com07ChangesFeeds)
