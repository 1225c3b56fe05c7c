"""COM-08 (TBS-1.1 §20.2, change 23): negotiation and dual-version behaviour.

The suite plays a TBS-1.0 and a TBS-1.1 partner of the SUT. Over REST it checks what a
pull-only provider can show: ``meta`` answered in the version each partner asks for, an
unsupported version refused with ``UNSUPPORTED_VERSION`` naming the server's highest version,
and every feed read with either header served in that version, each record passing stateless
validation of that version (TBS-ENV-029, TBS-REST-012). What needs the SUT to *receive* is
checked for a SUT that claims CATALOG_CONSUMER: catalog envelopes pushed in each version are
acknowledged in that version, equivalent to what a reference receiver supporting both versions
acknowledges (a record valid under TBS-1.0 only is accepted from the TBS-1.0 partner and rejected
from the TBS-1.1 one), a record resent in the other version is a DUPLICATE, and a header/body
mismatch is refused. The result says which parts were not checked and why, so a PASS never
claims more than was seen.
"""
from __future__ import annotations

from typing import Any

from tongban.connectors.base import ConnectorError
from tongban.validators import ValidationContext

from . import probes
from .feeds import read_feed
from .results import KitFinding, Result, TestResult, capped
from .session import Session
from .sweep import sweep
from .testkit import ConformanceTest

V10, V11 = "TBS-1.0", "TBS-1.1"
UNKNOWN_VERSION = "TBS-9.9"
RECEIVING_ROLES = ("CATALOG_CONSUMER",)
NOT_CHECKED_PROVIDER = ("acknowledgements per version, header/body mismatch, resend in the other version as "
                        "DUPLICATE: the SUT claims no receiving role, it accepts no envelopes from the suite")
NOT_CHECKED_ALWAYS = ("withheld changes and minimal tombstones (TBS-SYNC-015 (d)) and relaying by Annex E are "
                      "not checked by this suite")


def listed_versions(session: Session) -> list[str] | None:
    """The SUT's ``meta.specVersions``, read as a TBS-1.0 partner (every server reads that header
    until the sunset); None when meta cannot be read that way."""
    def read() -> list[str] | None:
        cfg = session.config
        answer = probes.get_meta(session, token=cfg.token, sender=cfg.kit_system_id, spec=V10)
        body = answer.json() if answer.status == 200 else None
        versions = body.get("specVersions") if isinstance(body, dict) else None
        if answer.status != 200 or not isinstance(versions, list):
            answer = probes.get_meta(session, token=cfg.token, sender=cfg.kit_system_id, spec=V11)
            body = answer.json() if answer.status == 200 else None
            versions = body.get("specVersions") if isinstance(body, dict) else None
        return [v for v in versions if isinstance(v, str)] if isinstance(versions, list) else None
    return session.once("com08:versions", read)


class Com08DualVersion(ConformanceTest):
    test_id = "COM-08"
    requirement_ids = ("TBS-ENV-012", "TBS-ENV-021", "TBS-ENV-029", "TBS-ENV-034", "TBS-SYNC-015")
    binding_requirements = {"REST": ("TBS-REST-006", "TBS-REST-007", "TBS-REST-012"), "SOAP": ("TBS-SOAP-001",)}
    description = ("The suite plays a TBS-1.0 and a TBS-1.1 partner: meta and every feed read with either header "
                   "come in that version and pass its stateless validation; an unsupported version is refused "
                   "(UNSUPPORTED_VERSION, naming the highest version); for a receiving SUT, acknowledgements in "
                   "each version, a header/body mismatch refused and a resend in the other version a DUPLICATE.")

    def not_applicable(self, session: Session) -> str | None:
        versions = listed_versions(session)
        if versions is not None and len(set(versions)) < 2:
            return (f"the SUT lists only {', '.join(versions) or 'no version'} in meta.specVersions: COM-08 applies "
                    "if it lists more than one version, or relays")
        return None

    def run(self, session: Session) -> TestResult:
        cfg = session.config
        if cfg.binding != "REST":
            return TestResult(Result.ERROR, [{"note": "not built"}], [],
                              f"COM-08 over {cfg.binding} is not built in this suite: it cannot be judged")
        failures: list[KitFinding] = []
        evidence: list[dict[str, Any]] = []
        versions = listed_versions(session)
        if versions is None:
            failures.append(KitFinding("TBS-REST-002", "meta could not be read with X-TB-Spec-Version TBS-1.0 or "
                                       "TBS-1.1", "无论以 TBS-1.0 还是 TBS-1.1 均无法读取自描述"))
            return TestResult.judge(failures, evidence)
        highest = max(versions)
        metas: dict[str, Any] = {}
        for version in (V10, V11):
            answer = probes.get_meta(session, token=cfg.token, sender=cfg.kit_system_id, spec=version)
            evidence.append({"note": f"meta as a {version} partner", **answer.summary()})
            if answer.status != 200:
                failures.append(KitFinding("TBS-REST-012", f"meta asked in {version}: HTTP {answer.status} "
                                           f"{answer.code or ''}".strip(), f"以 {version} 请求自描述：HTTP {answer.status}",
                                           where=answer.summary()))
                continue
            metas[version] = answer.json()
            if answer.headers.get("x-tb-spec-version") != version:
                failures.append(KitFinding("TBS-REST-007", f"meta asked in {version} answered with X-TB-Spec-Version "
                                           f"{answer.headers.get('x-tb-spec-version')!r}",
                                           f"以 {version} 请求的自描述应答版本头为 {answer.headers.get('x-tb-spec-version')!r}",
                                           where=answer.summary()))
        if len(metas) == 2 and metas[V10] != metas[V11]:
            failures.append(KitFinding("TBS-REST-012", "meta differs between TBS-1.0 and TBS-1.1 (the body has the "
                                       "same members in every version)", "自描述在两个版本中不一致"))
        answer = probes.get_meta(session, token=cfg.token, sender=cfg.kit_system_id, spec=UNKNOWN_VERSION)
        evidence.append({"note": f"meta asked in the unsupported {UNKNOWN_VERSION}", **answer.summary()})
        if answer.status != 400 or answer.code != "UNSUPPORTED_VERSION":
            failures.append(KitFinding("TBS-REST-006", f"X-TB-Spec-Version {UNKNOWN_VERSION}: expected 400 "
                                       f"UNSUPPORTED_VERSION, got {answer.status} {answer.code or ''}".strip(),
                                       f"X-TB-Spec-Version {UNKNOWN_VERSION}：应返回 400 UNSUPPORTED_VERSION",
                                       where=answer.summary()))
        elif answer.headers.get("x-tb-spec-version") != highest:
            failures.append(KitFinding("TBS-REST-007", f"the UNSUPPORTED_VERSION answer names "
                                       f"{answer.headers.get('x-tb-spec-version')!r}, not the highest version {highest}",
                                       f"UNSUPPORTED_VERSION 应答未给出最高版本 {highest}", where=answer.summary()))
        for version in (V10, V11):
            failures += self._feeds_in(session, version, evidence)
        not_checked = [NOT_CHECKED_ALWAYS]
        if any(r in cfg.roles for r in RECEIVING_ROLES):
            failures += self._receiving(session, evidence)
        else:
            not_checked.insert(0, NOT_CHECKED_PROVIDER)
        evidence.append({"note": "not checked: " + "; ".join(not_checked)})
        result = TestResult.judge(capped(failures, "findings"), evidence)
        if result.result is Result.PASS:
            result.reason = "not checked: " + "; ".join(not_checked)
        return result

    def _receiving(self, session: Session, evidence: list[dict[str, Any]]) -> list[KitFinding]:
        """The suite pushes catalog envelopes as a TBS-1.0 and as a TBS-1.1 partner; a reference
        receiver that supports both versions gives the expected acknowledgements (TBS-RPT-010)."""
        import copy
        import dataclasses

        from tongban.model.canonical import canonical_bytes

        from .reference_receiver import ReferenceReceiver, SenderProfile, ack_differences, request_hash_of
        from .vectors import Vectors

        cfg = session.config
        kit = cfg.kit_system_id
        keys = {cfg.kit_key[0]: ("HMAC-SHA256", cfg.kit_key[1])} if cfg.kit_key else {}
        oracle = ReferenceReceiver(cfg.system_id, {kit: SenderProfile(("CATALOG_PROVIDER",), keys, spec_version=V11,
                                                                       spec_versions=(V10, V11))},
                                   allowlist=cfg.allowlist)
        v11 = Vectors(kit, cfg.system_id, cfg.kit_key, spec_version=V11)
        v10 = dataclasses.replace(v11, spec_version=V10)
        failures: list[KitFinding] = []

        def push(what: str, envelope: dict[str, Any], header: str, *, outcome: str | None = None) -> None:
            expected = oracle.receive(copy.deepcopy(envelope), binding="REST", request_hash=request_hash_of(envelope),
                                      authenticated_sender=kit, binding_dataset="catalog")
            answer = probes.post_envelope(session, "catalog", canonical_bytes(envelope), token=cfg.token, sender=kit,
                                          message_id=envelope["messageId"], spec=header)
            ack = answer.json()
            evidence.append({"note": what, **answer.summary()})
            where = {"exchange": what, "messageId": envelope["messageId"]}
            version = envelope["specVersion"]
            if answer.status not in (200, 422) or not isinstance(ack, dict):
                failures.append(KitFinding("TBS-ENV-029", f"{what}: no acknowledgement (HTTP {answer.status} "
                                           f"{answer.code or ''})".strip(), f"{what}：未返回确认", where=where))
                return
            if ack.get("specVersion") != version or answer.headers.get("x-tb-spec-version") != version:
                failures.append(KitFinding("TBS-ENV-029", f"{what}: acknowledged in {ack.get('specVersion')!r} "
                                           f"(header {answer.headers.get('x-tb-spec-version')!r}), not in {version}",
                                           f"{what}：确认未以 {version} 书写", where=where))
            for diff in ack_differences(expected, ack):
                failures.append(KitFinding(diff.rule_ids[0], f"{what}: {diff.message}", f"{what}：与预期确认不等价",
                                           where={**where, "rules": list(diff.rule_ids)}))
            outcomes = [r.get("outcome") for r in ack.get("recordReports", []) if isinstance(r, dict)]
            evidence[-1].update(ackSpecVersion=ack.get("specVersion"), ackStatus=ack.get("status"),
                                counts=ack.get("counts"), expected=expected_outcome(expected))
            if outcome and expected_outcome(expected) != outcome:   # the oracle itself must agree (a kit check)
                raise AssertionError(f"reference receiver: {what} gives {expected_outcome(expected)}, not {outcome}")
            if outcome and outcome not in outcomes and (ack.get("counts") or {}).get(outcome.lower()) != 1:
                failures.append(KitFinding("TBS-ENV-012", f"{what}: expected {outcome}, got {outcomes or ack.get('counts')}",
                                           f"{what}：应为 {outcome}", where=where))

        item = v11.province_item(version=3)
        push("a catalog item as a TBS-1.1 partner", v11.envelope([item]), V11, outcome="STORED")
        push("the same item resent as a TBS-1.0 partner (new envelope)", v10.envelope([copy.deepcopy(item)]), V10,
             outcome="DUPLICATE")
        lacking = v10.province_item()
        lacking.pop("onSiteVisits", None)   # optional in TBS-1.0, mandatory in TBS-1.1 (change 6)
        push("an item without onSiteVisits as a TBS-1.0 partner (TBS-1.0 verdict)", v10.envelope([lacking]), V10,
             outcome="STORED")
        other = v11.province_item()
        other.pop("onSiteVisits", None)
        push("an item without onSiteVisits as a TBS-1.1 partner (TBS-1.1 verdict)", v11.envelope([other]), V11,
             outcome="REJECTED")
        mismatch = v11.envelope([v11.province_item()])
        answer = probes.post_envelope(session, "catalog", canonical_bytes(mismatch), token=cfg.token, sender=kit,
                                      message_id=mismatch["messageId"], spec=V10)
        evidence.append({"note": "a TBS-1.1 envelope with X-TB-Spec-Version TBS-1.0", **answer.summary()})
        if answer.status != 400 or answer.code != "BAD_HEADER":
            failures.append(KitFinding("TBS-REST-006", f"header TBS-1.0 on a TBS-1.1 envelope: expected 400 BAD_HEADER, "
                                       f"got {answer.status} {answer.code or ''}".strip(),
                                       "版本头与信封 specVersion 不一致时应返回 400 BAD_HEADER", where=answer.summary()))
        return failures

    def _feeds_in(self, session: Session, version: str, evidence: list[dict[str, Any]]) -> list[KitFinding]:
        """Every provided feed read as a ``version`` partner: the header names ``version`` and every
        record passes the stateless validation of ``version`` (TBS-REST-012, TBS-ENV-029)."""
        cfg = session.config
        failures: list[KitFinding] = []
        datasets = session.provided_datasets()
        if not datasets:
            return failures
        connector = session.open_connector(token=cfg.token, spec_version=version)
        try:
            reads = {ds: read_feed(connector, ds, limit=cfg.page_limit) for ds in datasets}
        finally:
            connector.close()
        for ds, read in reads.items():
            if read.error:
                failures.append(KitFinding("TBS-REST-012", f"the {ds} feed could not be read in {version}: {read.error}",
                                           f"无法以 {version} 读取 {ds} 变更流：{read.error}", where={"dataset": ds}))
            page = probes.get_changes(session, ds, limit=1, token=cfg.token, sender=cfg.kit_system_id, spec=version)
            if page.status == 200 and page.headers.get("x-tb-spec-version") != version:
                failures.append(KitFinding("TBS-REST-012", f"{ds} changes asked in {version} answered with "
                                           f"X-TB-Spec-Version {page.headers.get('x-tb-spec-version')!r}",
                                           f"以 {version} 请求的 {ds} 变更流应答版本头错误", where=page.summary()))
        context = ValidationContext(spec=version, allowlist=cfg.allowlist)
        swept = sweep({ds: read.records for ds, read in reads.items()}, writer=cfg.system_id, context=context)
        failing = [v for v in swept.all(*datasets) if v.stateless.errors]
        for v in failing:
            failures += [KitFinding("TBS-ENV-029", f"served in {version}, fails {version}: {f.message_en}",
                                    f"以 {version} 提供但不符合 {version}：{f.message_zh}",
                                    where={**v.fed.where(), "requirementId": f.rule_id})
                         for f in v.stateless.items if f.severity.value == "ERROR"]
        evidence.append({"note": f"feeds read as a {version} partner: "
                                 + ", ".join(f"{ds} {len(r.records)}" for ds, r in reads.items())
                                 + f" records, {len(failing)} failing {version} stateless validation"})
        return failures


def expected_outcome(ack: dict[str, Any]) -> str | None:
    outcomes = [r.get("outcome") for r in ack.get("recordReports", []) if isinstance(r, dict)]
    if outcomes:
        return outcomes[0]
    counts = ack.get("counts") or {}
    return next((k.upper() for k in ("stored", "duplicate", "stale", "held", "rejected") if counts.get(k)), None)


DUAL_VERSION_TESTS = (Com08DualVersion,)
