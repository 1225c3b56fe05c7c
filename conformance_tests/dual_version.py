"""COM-08 (TBS-1.1 §20.2, change 23): negotiation and dual-version behaviour.

The suite plays a TBS-1.0 and a TBS-1.1 partner of the SUT. Over REST it checks what a
pull-only provider can show: ``meta`` answered in the version each partner asks for, an
unsupported version refused with ``UNSUPPORTED_VERSION`` naming the server's highest version,
and every feed read with either header served in that version, each record passing stateless
validation of that version (TBS-ENV-029, TBS-REST-012). What needs the SUT to *receive*
(acknowledgements per version, a header/body mismatch refused, a record resent in the other
version acknowledged as DUPLICATE) is checked only for a SUT that claims a receiving role; the
result says which parts were not checked and why, so a PASS never claims more than was seen.
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
        if any(r in cfg.roles for r in RECEIVING_ROLES):
            return TestResult(Result.ERROR, [{"note": "not built"}], [],
                              "COM-08 for a receiving role (acknowledgements per version, DUPLICATE across versions) "
                              "is not built in this suite: it cannot be judged")
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
        not_checked = [NOT_CHECKED_PROVIDER, NOT_CHECKED_ALWAYS]
        evidence.append({"note": "not checked: " + "; ".join(not_checked)})
        result = TestResult.judge(capped(failures, "findings"), evidence)
        if result.result is Result.PASS:
            result.reason = "not checked: " + "; ".join(not_checked)
        return result

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


DUAL_VERSION_TESTS = (Com08DualVersion,)
