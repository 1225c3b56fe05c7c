"""CATALOG_CONSUMER tests (TBS-1.0 §20.2 CC-01 … CC-08): the suite plays a correct or defective
catalog provider and pushes to the SUT.

Every envelope the suite sends is also given to an oracle — a
:class:`~tongban.conformance.reference_receiver.ReferenceReceiver` standing for the SUT, holding
only what the suite sent — and the SUT's acknowledgement must be equivalent to the oracle's
under TBS-RPT-010 (TBS-CONF-004). Item codes are fresh per session, so the SUT's earlier state
cannot interfere. Over SOAP the oracle receives exactly the JSON the SUT maps the XML to
(TBS-SOAP-003), with the mapping's findings.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from tongban.connectors.base import ConnectorError, ServiceError
from tongban.model.canonical import canonical_sha256
from tongban.validators.rules import rule_catalog

from . import probes
from .reference_receiver import ReferenceReceiver, SenderProfile, ack_differences
from .results import KitFinding, Level, TestResult
from .schemas import schema_errors
from .session import Session
from .testkit import ConformanceTest
from .vectors import Vectors, negative_items, null_item, tampered


@dataclass
class Exchange:
    """One push: what was sent, what the oracle expects, what the SUT answered."""

    name: str
    envelope: dict[str, Any]
    request_hash: str
    expected_ack: dict[str, Any] | None = None
    expected_error: ServiceError | None = None
    ack: dict[str, Any] | None = None
    error: ConnectorError | None = None
    status_code: int | None = None
    findings: list[KitFinding] = field(default_factory=list)

    def evidence(self) -> dict[str, Any]:
        out: dict[str, Any] = {"note": self.name, "messageId": self.envelope.get("messageId"),
                               "requestHash": self.request_hash}
        if self.expected_ack is not None:
            out["expected"] = {"status": self.expected_ack["status"], "counts": self.expected_ack["counts"]}
        if self.expected_error is not None:
            out["expected"] = {"refused": self.expected_error.status, "code": self.expected_error.code}
        if self.ack is not None:
            out["response"] = {"httpStatus": self.status_code, "status": self.ack.get("status"),
                               "counts": self.ack.get("counts"), "ack": self.ack}
        if self.error is not None:
            out["response"] = {"refused": self.error.status, "code": self.error.code, "error": str(self.error)[:300]}
        return out


class ConsumerHarness:
    """The suite as a catalog provider of one session (see the module docstring)."""

    def __init__(self, session: Session) -> None:
        cfg = session.config
        self.session = session
        self.binding = cfg.binding
        keys = {cfg.kit_key[0]: ("HMAC-SHA256", cfg.kit_key[1])} if cfg.kit_key else {}
        # the oracle receives in the session's version, as the SUT must (TBS-1.1 TBS-ENV-029)
        profile = SenderProfile(("CATALOG_PROVIDER",), keys, spec_version=cfg.spec_version)
        self.oracle = ReferenceReceiver(cfg.system_id, {cfg.kit_system_id: profile}, allowlist=cfg.allowlist)
        self.vectors = Vectors(cfg.kit_system_id, cfg.system_id, cfg.kit_key, file_batches=cfg.binding == "FILE",
                               spec_version=cfg.spec_version)
        self.exchanges: list[Exchange] = []

    def wire_form(self, envelope: dict[str, Any]) -> tuple[dict[str, Any], tuple[Any, ...]]:
        """The JSON the SUT will validate, and the binding's mapping findings."""
        if self.binding == "SOAP":
            from tongban.connectors.soap import mapping

            mapped, findings = mapping.push_batch_to_envelope(mapping.envelope_to_push_batch(envelope))
            return mapped or {}, tuple(findings)
        return envelope, ()

    def push(self, name: str, envelope: dict[str, Any]) -> Exchange:
        wire, binding_findings = self.wire_form(envelope)
        request_hash = canonical_sha256(wire)
        ex = Exchange(name, envelope, request_hash)
        try:
            kit = self.session.config.kit_system_id
            ex.expected_ack = self.oracle.receive(
                copy.deepcopy(wire), binding=self.binding, request_hash=request_hash,
                # MQTT: the identity the consumer can vouch for is the topic region (TBS-MQTT-002)
                authenticated_sender=None if self.binding == "MQTT" else kit,
                binding_dataset="catalog" if self.binding in ("REST", "FILE", "MQTT") else None,
                topic_region=kit.split(":")[2] if self.binding == "MQTT" else None,
                binding_findings=binding_findings)
        except ServiceError as err:
            ex.expected_error = err
        try:
            result = self.session.connector().push(envelope)
        except ConnectorError as exc:
            ex.error = exc
        else:
            ex.ack, ex.status_code = result.ack, result.status_code
        ex.findings = self.judge(ex)
        self.exchanges.append(ex)
        return ex

    def judge(self, ex: Exchange) -> list[KitFinding]:
        out: list[KitFinding] = []
        where = {"exchange": ex.name, "messageId": ex.envelope.get("messageId")}
        if ex.expected_error is not None and self.binding in ("FILE", "MQTT"):
            # no HTTP status over these bindings: the refusal is a REJECTED acknowledgement naming the rule
            err = ex.expected_error
            rules = [i.get("ruleId") for i in ((ex.ack or {}).get("envelopeReport") or {}).get("items", [])]
            if ex.ack is None or ex.ack.get("status") != "REJECTED" or err.rule_id not in rules:
                got = f"status {ex.ack.get('status')}, rules {rules}" if ex.ack else f"no acknowledgement ({ex.error})"
                out.append(KitFinding(err.rule_id or "TBS-SEC-002", f"{ex.name}: expected a REJECTED acknowledgement "
                                      f"under {err.rule_id}, got {got}", f"{ex.name}：应以 {err.rule_id} 拒绝",
                                      where=where))
            return out
        if ex.expected_error is not None:
            err = ex.expected_error
            if ex.error is None or ex.error.status != err.status or ex.error.code != err.code:
                got = (f"{ex.error.status} {ex.error.code}" if ex.error is not None
                       else f"an acknowledgement with status {ex.ack.get('status') if ex.ack else None}")
                out.append(KitFinding(err.rule_id or "TBS-REST-008", f"{ex.name}: expected refusal {err.status} "
                                      f"{err.code}, got {got}", f"{ex.name}：应拒绝（{err.status} {err.code}）",
                                      where=where))
            return out
        assert ex.expected_ack is not None
        if ex.error is not None:
            rule = "TBS-ENV-031" if "TBS-ENV-031" in str(ex.error) else "TBS-ENV-030"
            return [KitFinding(rule, f"{ex.name}: no acknowledgement: {ex.error}", f"{ex.name}：未返回确认",
                               where=where)]
        ack = ex.ack
        for problem in schema_errors("ack", ack, self.session.config.spec_version):
            out.append(KitFinding("TBS-ENV-030", f"{ex.name}: acknowledgement shape: {problem}",
                                  f"{ex.name}：确认格式不符：{problem}", where=where))
        if isinstance(ack, dict):
            if ack.get("requestHash") != ex.request_hash:
                out.append(KitFinding("TBS-ENV-031", f"{ex.name}: requestHash {ack.get('requestHash')}, expected "
                                      f"{ex.request_hash}", f"{ex.name}：requestHash 不正确", where=where))
            if ack.get("requestMessageId") != ex.expected_ack.get("requestMessageId") \
                    or ack.get("sender") != self.session.config.system_id \
                    or ack.get("receiver") != self.session.config.kit_system_id:
                out.append(KitFinding("TBS-ENV-030", f"{ex.name}: requestMessageId/sender/receiver of the "
                                      "acknowledgement are wrong", f"{ex.name}：确认的 requestMessageId/sender/receiver "
                                      "不正确", where=where))
            counts = ack.get("counts") if isinstance(ack.get("counts"), dict) else {}
            parts = [counts.get(k, 0) for k in ("stored", "duplicate", "stale", "held", "rejected")]
            if all(isinstance(p, int) for p in parts) and counts.get("received") != sum(parts):
                out.append(KitFinding("TBS-ENV-030", f"{ex.name}: counts do not add up: {counts}",
                                      f"{ex.name}：计数不一致", where=where))
        expected_http = 422 if ex.expected_ack["envelopeReport"]["result"] == "FAILURE" else 200
        if self.binding == "REST" and ex.status_code != expected_http:
            out.append(KitFinding("TBS-REST-008", f"{ex.name}: HTTP {ex.status_code}, expected {expected_http}",
                                  f"{ex.name}：HTTP 状态 {ex.status_code}，应为 {expected_http}", where=where))
        for diff in ack_differences(ex.expected_ack, ack):
            out.append(KitFinding(diff.rule_ids[0], f"{ex.name}: {diff.message}", f"{ex.name}：与预期确认不等价",
                                  where={**where, "rules": list(diff.rule_ids)}))
        return out


def harness(session: Session) -> ConsumerHarness:
    return session.once("consumer", lambda: ConsumerHarness(session))


def _bump(item: dict[str, Any], version: int, **changes: Any) -> dict[str, Any]:
    """A later version of ``item``: same key, ``updatedAt`` one minute later per version step."""
    from datetime import datetime, timedelta

    out = copy.deepcopy(item)
    step = version - item["version"]
    out.update(changes)
    out["version"] = version
    out["updatedAt"] = (datetime.fromisoformat(item["updatedAt"]) + timedelta(minutes=step)).isoformat()
    return out


class _ConsumerTest(ConformanceTest):
    roles = ("CATALOG_CONSUMER",)

    def run(self, session: Session) -> TestResult:
        return self.check(session)

    def check(self, session: Session) -> TestResult:  # pragma: no cover - abstract
        raise NotImplementedError

    def judged(self, exchanges: list[Exchange]) -> TestResult:
        failures = [f for ex in exchanges for f in ex.findings]
        return TestResult.judge(failures, [ex.evidence() for ex in exchanges])


class Cc01ValidEnvelope(_ConsumerTest):
    test_id = "CC-01"
    requirement_ids = ("TBS-ENV-030", "TBS-ENV-031", "TBS-ENV-032")
    binding_requirements = {"REST": ("TBS-REST-005",), "SOAP": ("TBS-SOAP-002",), "FILE": ("TBS-FILE-007",),
                            "MQTT": ("TBS-MQTT-007",)}
    description = ("The valid catalog envelope (B.1, with fresh codes) is acknowledged ACCEPTED with the correct "
                   "counts and requestHash.")

    def check(self, session: Session) -> TestResult:
        return self.judged([cc01_exchange(session)])


def cc01_exchange(session: Session) -> Exchange:
    def send() -> Exchange:
        h = harness(session)
        return h.push("B.1 catalog envelope", h.vectors.envelope([h.vectors.county_item(version=3)]))
    return session.once("cc01", send)


class Cc02NegativeVectors(_ConsumerTest):
    test_id = "CC-02"
    requirement_ids = tuple(f"TBS-RPT-{n:03d}" for n in range(1, 11)) + tuple(
        sorted(r for r in rule_catalog() if r.startswith(("TBS-ENV-", "TBS-CODE-", "TBS-CAT-"))))
    description = ("The negative vectors for the catalog dataset (Annex C style: check characters, codes, "
                   "cross-field rules, unknown and null members, scope, a pilot code on the reference allowlist, "
                   "a warning, a partial envelope, a records hash not recomputed) produce acknowledgements "
                   "equivalent to the expected ones.")

    def check(self, session: Session) -> TestResult:
        h = harness(session)
        v = h.vectors
        exchanges = [h.push(name, v.envelope(records)) for name, records in negative_items(v)]
        if session.config.binding == "REST":
            name, records = null_item(v)
            exchanges.append(h.push(name, v.envelope(records)))
        exchanges.append(h.push("C.13 recordsSha256 not recomputed (TBS-ENV-027)", tampered(v, [v.county_item()])))
        session.cache["cc02"] = exchanges
        return self.judged(exchanges)


class Cc03Versions(_ConsumerTest):
    test_id = "CC-03"
    requirement_ids = ("TBS-SYNC-004", "TBS-SYNC-005", "TBS-SYNC-006")
    description = "Version 3 stored; then version 2 is STALE, a different version 3 is a conflict, and an " \
                  "identical version 3 is a DUPLICATE."

    def check(self, session: Session) -> TestResult:
        h = harness(session)
        v = h.vectors
        item = v.province_item(version=3)
        stale = _bump(item, 2)
        stale["updatedAt"] = item["updatedAt"]
        conflict = copy.deepcopy(item)
        conflict["promiseLimit"] = {"value": 8, "unit": "WORKDAY"}
        exchanges = [h.push("version 3", v.envelope([item])),
                     h.push("version 2 after 3 (STALE, TBS-SYNC-004)", v.envelope([stale])),
                     h.push("another version 3 (conflict, TBS-SYNC-005)", v.envelope([conflict])),
                     h.push("identical version 3 again (DUPLICATE, TBS-SYNC-006)", v.envelope([copy.deepcopy(item)]))]
        return self.judged(exchanges)


class Cc04AuthorityAndTombstone(_ConsumerTest):
    test_id = "CC-04"
    requirement_ids = ("TBS-SYNC-009", "TBS-SYNC-010")
    description = ("A provincial writer changing an implementation field of a county item is rejected; a "
                   "REVOKED tombstone is applied and is final.")

    def check(self, session: Session) -> TestResult:
        h = harness(session)
        v = h.vectors
        county = v.county_item(version=1)
        province = v.province_item(version=1)
        exchanges = [
            h.push("county item, initial state", v.envelope([county])),
            h.push("county item v2 changing promiseLimit (TBS-SYNC-009)",
                   v.envelope([_bump(county, 2, promiseLimit={"value": 5, "unit": "WORKDAY"})])),
            h.push("provincial item v1", v.envelope([province])),
            h.push("provincial item v2 REVOKED (tombstone)", v.envelope([_bump(province, 2, status="REVOKED")])),
            h.push("provincial item v3 ACTIVE after REVOKED (TBS-SYNC-010)",
                   v.envelope([_bump(province, 3, status="ACTIVE")])),
            h.push("provincial item v4 REVOKED", v.envelope([_bump(province, 4, status="REVOKED")])),
        ]
        return self.judged(exchanges)


class Cc05RefusedEnvelopes(_ConsumerTest):
    test_id = "CC-05"
    requirement_ids = ("TBS-SEC-005", "TBS-SEC-006", "TBS-ENV-027", "TBS-ENV-028")
    description = ("Replayed, stale, tampered and badly signed envelopes are refused: an identical replay returns "
                   "the stored acknowledgement, a replay with other content is 409, sentAt an hour off is "
                   "rejected, a changed record under the old hash is rejected, a signature that does not verify "
                   "is rejected.")

    def check(self, session: Session) -> TestResult:
        h = harness(session)
        v = h.vectors
        first = cc01_exchange(session)
        replay = h.push("identical replay of the B.1 envelope (TBS-SEC-005)", copy.deepcopy(first.envelope))
        if first.ack is not None and replay.ack is not None:
            for diff in ack_differences(first.ack, replay.ack):
                replay.findings.append(KitFinding("TBS-SEC-005", f"the replay's acknowledgement differs from the "
                                                  f"first one: {diff.message}", "重放返回的确认与首次不同"))
        other = copy.deepcopy(first.envelope)
        other_records = [v.county_item()]
        other = v.envelope(other_records, message_id=first.envelope["messageId"])
        exchanges = [
            replay,
            h.push("same messageId, other content (TBS-SEC-005)", other),
            h.push("sentAt one hour ago (TBS-SEC-006)", v.envelope([v.county_item()], sent_offset=-3600)),
            h.push("sentAt one hour ahead (TBS-SEC-006)", v.envelope([v.county_item()], sent_offset=3600)),
            h.push("record changed after hashing (TBS-ENV-027)", tampered(v, [v.county_item()])),
            h.push("signature that does not verify (TBS-ENV-028)", v.badly_signed([v.county_item()])),
        ]
        return self.judged(exchanges)


class Cc06ResumeAfterCut(_ConsumerTest):
    test_id = "CC-06"
    requirement_ids = ("TBS-SYNC-012", "TBS-REST-004")
    description = ("Applies if the SUT pulls: the suite cuts the connection mid-read; the SUT resumes from its "
                   "committed cursor without loss.")

    def not_applicable(self, session: Session) -> str | None:
        if not session.config.sut_pulls:
            return "the SUT does not declare that it pulls catalog feeds (--sut-pulls)"
        return None

    def check(self, session: Session) -> TestResult:
        return TestResult.skip("serving a feed for the SUT to pull is not automated in suite 1.0.0: run the pull "
                               "scenario with the testing authority")


class Cc07HostileInput(_ConsumerTest):
    test_id = "CC-07"
    requirement_ids = ()
    binding_requirements = {"SOAP": ("TBS-SEC-010",), "FILE": ("TBS-FILE-002", "TBS-FILE-005"),
                            "MQTT": ("TBS-MQTT-003", "TBS-MQTT-006")}
    bindings = ("SOAP", "FILE", "MQTT")
    description = ("SOAP: a PushBatch with a DOCTYPE, and one nested deeper than 64 levels, are refused with a "
                   "Client fault and nothing of them is stored. FILE: partial or temporary files are not "
                   "processed. MQTT: retained and foreign-addressed messages are ignored.")

    def check(self, session: Session) -> TestResult:
        if session.config.binding == "MQTT":
            return self.check_mqtt(session)
        if session.config.binding == "FILE":
            return self.check_file(session)
        return self.check_soap(session)

    def check_mqtt(self, session: Session) -> TestResult:
        """An envelope addressed to another system is ignored: its records are STORED when they
        come afterwards in an envelope for the SUT (had the SUT processed the first one, they
        would be DUPLICATE). A retained message reaches an established subscription with RETAIN 0
        (MQTT 3.1.1 §3.3.1.3), so the RETAIN discard is observable only on re-subscription,
        which the suite cannot cause; the evidence says so."""
        from tongban.connectors.filedrop.signing import sign_envelope

        h = harness(session)
        v = h.vectors
        item = v.county_item()
        foreign = v.envelope([item], sign=False)
        foreign["receiver"] = "TB:county:440104:TBSCONFX"   # not the SUT, not "*"
        if session.config.kit_key:
            foreign = sign_envelope(foreign, key_id=session.config.kit_key[0], key=session.config.kit_key[1])
        connector = session.connector()
        connector.publisher.publish_envelope(foreign)
        import time

        time.sleep(2.0)   # time for a wrongly processing SUT to store it
        after = h.push("the same records addressed to the SUT: STORED, not DUPLICATE", v.envelope([item]))
        evidence = [{"note": "envelope addressed to another system published", "messageId": foreign["messageId"]},
                    after.evidence(),
                    {"note": "RETAIN: a retained message reaches an established subscription with RETAIN 0 "
                             "(MQTT 3.1.1 §3.3.1.3); the discard of TBS-MQTT-003 applies on re-subscription only"}]
        return TestResult.judge(list(after.findings), evidence)

    def check_file(self, session: Session) -> TestResult:
        """Partial (``.part``) files and a data file without its manifest are not processed: they
        stay in the inbox, and their records are STORED when they come in a complete batch."""
        from pathlib import Path

        from tongban.connectors.filedrop import FileDropWriter

        h = harness(session)
        v = h.vectors
        item = v.county_item()
        root = Path(session.config.endpoint)
        partial = FileDropWriter(root).write_envelope(v.envelope([item]))
        for path in (partial.data_path, partial.manifest_path):
            Path(path).rename(Path(str(path) + ".part"))          # both still being written
        orphan = FileDropWriter(root).write_envelope(v.envelope([item]))
        Path(orphan.manifest_path).unlink()                        # the manifest has not come yet
        import time

        time.sleep(2.0)   # time for a wrongly processing SUT to take them
        after = h.push("the same records in a complete batch: STORED, not DUPLICATE", v.envelope([item]))
        failures = list(after.findings)
        left = [p for p in (Path(str(partial.data_path) + ".part"), Path(orphan.data_path)) if not p.exists()]
        if left:
            failures.append(KitFinding("TBS-FILE-005", f"incomplete batch files were taken from the inbox: "
                                       f"{[p.name for p in left]}", "未完成的批次文件被处理", where={}))
        for path in (Path(str(partial.data_path) + ".part"), Path(str(partial.manifest_path) + ".part")):
            path.unlink(missing_ok=True)   # leave no debris for the data-file orphan rule (24 h)
        evidence = [{"note": "a .part batch and a data file without manifest dropped",
                     "batchIds": [partial.batch_id, orphan.batch_id]}, after.evidence()]
        return TestResult.judge(failures, evidence)

    def check_soap(self, session: Session) -> TestResult:
        from tongban.connectors.soap import mapping

        h = harness(session)
        v = h.vectors
        item = v.county_item()
        env = v.envelope([item])
        body = mapping.envelope_to_push_batch(env)
        evidence: list[dict[str, Any]] = []
        failures: list[KitFinding] = []
        decl, _, rest = body.partition(b"?>")
        with_doctype = decl + b'?>\n<!DOCTYPE Envelope [<!ENTITY tbs "conformance">]>' + rest
        deep = body.replace(b"</tbs:name>", b"</tbs:name>" + b"<tbs:deep>" * 70 + b"x" + b"</tbs:deep>" * 70, 1)
        cfg = session.config
        for what, xml in (("PushBatch with a DOCTYPE", with_doctype), ("PushBatch nested 70 levels deep", deep)):
            answer = probes.soap_call(session, "PushBatch", xml, token=cfg.token, sender=cfg.kit_system_id,
                                      extra={"X-TB-Message-Id": env["messageId"]})
            evidence.append({"note": what, **answer.summary()})
            if answer.status != 500 or answer.fault is None or answer.fault.faultcode != "Client":
                failures.append(KitFinding("TBS-SEC-010", f"{what}: expected a Client fault, got HTTP {answer.status} "
                                           f"{answer.fault.faultcode if answer.fault else 'no fault'}",
                                           f"{what}：应返回 Client 故障", where=answer.summary()))
        after = h.push("the same records in a well-formed envelope: STORED, not DUPLICATE", v.envelope([item]))
        failures += after.findings
        evidence.append(after.evidence())
        return TestResult.judge(failures, evidence)


class Cc08Bilingual(_ConsumerTest):
    test_id = "CC-08"
    requirement_ids = ("TBS-RPT-005", "TBS-RPT-011")
    level = Level.SHOULD
    description = ("Every finding of the SUT's acknowledgements has non-empty zh and en messages. (The TAR XML "
                   "rendering of TBS-RPT-011 has no endpoint in the bindings and is not observed.)")

    def check(self, session: Session) -> TestResult:
        h = harness(session)
        if not any(ex.ack for ex in h.exchanges):
            Cc02NegativeVectors().check(session)
        failures = []
        items = 0
        for ex in h.exchanges:
            for report in _reports(ex.ack):
                for item in report.get("items", []) if isinstance(report.get("items"), list) else []:
                    items += 1
                    msg = item.get("message") if isinstance(item, dict) else None
                    if not (isinstance(msg, dict) and str(msg.get("zh", "")).strip() and str(msg.get("en", "")).strip()):
                        failures.append(KitFinding("TBS-RPT-005", f"{ex.name}: a finding without both zh and en",
                                                   f"{ex.name}：缺少中英文消息", where={"exchange": ex.name}))
        if not items:
            return TestResult.skip("the SUT's acknowledgements carried no finding")
        return TestResult.judge(failures, [{"note": f"{items} finding(s) in {len(h.exchanges)} acknowledgement(s)"}])


def _reports(ack: Any) -> list[dict[str, Any]]:
    if not isinstance(ack, dict):
        return []
    out = [ack.get("envelopeReport")]
    out += [e.get("report") for e in (ack.get("rejected") or []) + (ack.get("notes") or []) if isinstance(e, dict)]
    return [r for r in out if isinstance(r, dict)]


CATALOG_CONSUMER_TESTS = (Cc01ValidEnvelope, Cc02NegativeVectors, Cc03Versions, Cc04AuthorityAndTombstone,
                          Cc05RefusedEnvelopes, Cc06ResumeAfterCut, Cc07HostileInput, Cc08Bilingual)


def com04_consumer_push(session: Session) -> TestResult:
    """A consumer over FILE or MQTT sends only acknowledgements: the one for the valid catalog
    envelope (CC-01) must come back through the binding — an ack file beside the archived batch
    (TBS-FILE-007) or a QoS 1 message on the consumer's ack topic (TBS-MQTT-007)."""
    ex = cc01_exchange(session)
    rule = "TBS-FILE-007" if session.config.binding == "FILE" else "TBS-MQTT-007"
    failures = []
    if ex.ack is None:
        failures.append(KitFinding(rule, f"no acknowledgement came back over {session.config.binding}: {ex.error}",
                                   "未经绑定返回确认", where={"messageId": ex.envelope.get("messageId")}))
    return TestResult.judge(failures, [ex.evidence()])
