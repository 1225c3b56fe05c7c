"""Defective sandbox systems: one defect each, for the suite's self-test and as negative fixtures.

Each :class:`Defect` builds a system under test from a generated sandbox system by wrapping its
:class:`~tongban.sandbox.feed.SandboxService` (changed feed records or cursor behaviour), its
receiver (a consumer that misses a rule) or its served app (a binding detail), and says which
catalogue tests it must fail (``fails``) and which requirement ids those tests' findings must
name (``rules``). Every other applicable test must still pass: the suite's discrimination is
exactly that.

Typical use::

    defect = DEFECTS["wrong_check_digit"]
    service = defect.service(system)                  # a SystemService
    app = defect.app(service, authenticate=...)        # REST or SOAP app, per defect.binding
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from tongban.connectors.base import ServiceError, SystemService
from tongban.model.codes import uscc_check_char
from tongban.model.datasets import CONSUMER_ROLE, PROVIDER_ROLES
from tongban.sandbox.feed import DEFAULT_LIMIT, SandboxService, cursor_for, parse_cursor
from tongban.sandbox.systems import SandboxSystem
from tongban.validators.report import Report
from tongban.validators.stateful import Outcome

from .reference_receiver import ReferenceReceiver, SenderProfile
from .sweep import case_classes

KIT = "TB:province:440000:TONGBAN"


class ListFeed:
    """A changes feed over a fixed list, with the sandbox's cursor form and none of its guards, so a
    defect can serve what :class:`~tongban.sandbox.feed.ChangeFeed` would refuse."""

    def __init__(self, records: list[dict[str, Any]], *, cursor_shift: int = 0, lenient_cursor: bool = False) -> None:
        self.records = [copy.deepcopy(r) for r in records]
        self.cursor_shift = cursor_shift        # >0: nextCursor designates an earlier position
        self.lenient_cursor = lenient_cursor    # an uninterpretable cursor reads from the start

    def page(self, since: str | None, limit: int = DEFAULT_LIMIT) -> dict[str, Any]:
        if since is None:
            start = 0
        else:
            try:
                start = parse_cursor(since)
            except ServiceError:
                if not self.lenient_cursor:
                    raise
                start = 0
        end = len(self.records)
        if start >= end:
            return {"records": [], "nextCursor": since if since is not None else cursor_for(start), "hasMore": False}
        stop = min(end, start + limit)
        has_more = stop < end
        position = stop - self.cursor_shift if has_more and stop - self.cursor_shift > start else stop
        return {"records": copy.deepcopy(self.records[start:stop]), "nextCursor": cursor_for(position),
                "hasMore": has_more}


class FeedOverrideService(SandboxService):
    """A :class:`SandboxService` whose feeds of some datasets are replaced by :class:`ListFeed` s."""

    def __init__(self, system: SandboxSystem, overrides: dict[str, ListFeed], **kw: Any) -> None:
        super().__init__(system, **kw)
        self.overrides = overrides

    def changes(self, dataset: str, since: str | None, limit: int = DEFAULT_LIMIT) -> dict[str, Any]:
        if dataset in self.overrides:
            return self.overrides[dataset].page(since, limit)
        return super().changes(dataset, since, limit)


# -- picking records to spoil ------------------------------------------------------------------
def _events_by_case(system: SandboxSystem) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for e in system.records("case-event"):
        out.setdefault(e["caseNo"], []).append(e)
    return out


def _plain_case(system: SandboxSystem, *, min_events: int) -> str:
    """An open case on no scripted path, single version, with no result or evaluation."""
    versions: dict[str, int] = {}
    for c in system.records("case"):
        versions[c["caseNo"]] = versions.get(c["caseNo"], 0) + 1
    linked = {r["caseNo"] for r in system.records("result")} | {r["caseNo"] for r in system.records("evaluation")}
    for case_no, events in sorted(_events_by_case(system).items()):
        types = {e["type"] for e in events}
        if (not case_classes(events) and len(events) >= min_events and versions.get(case_no) == 1
                and case_no not in linked and not types & {"CONCLUDE", "WITHDRAW"}):
            return case_no
    raise LookupError(f"{system.system_id} has no plain open case with {min_events} events")


def _single_version_item(system: SandboxSystem) -> str:
    counts: dict[str, int] = {}
    for r in system.records("catalog"):
        counts[r["implCode"]] = counts.get(r["implCode"], 0) + 1
    return next(k for k, n in sorted(counts.items()) if n == 1)


def spoil_check_digit(system: SandboxSystem) -> dict[str, list[dict[str, Any]]]:
    impl = _single_version_item(system)
    records = system.records("catalog")
    for r in records:
        if r["implCode"] == impl:
            uscc = r["dept"]["uscc"]
            wrong = next(c for c in "0123456789ABCDEFGHJKLMNPQRTUWXY" if c != uscc_check_char(uscc[:17]))
            r["dept"]["uscc"] = uscc[:17] + wrong
    return {"catalog": records}


def spoil_transition(system: SandboxSystem) -> dict[str, list[dict[str, Any]]]:
    """A WITHDRAW appended after DELIVER of a delivered approval case (DELIVERED is terminal)."""
    from datetime import datetime, timedelta

    for case_no, events in sorted(_events_by_case(system).items()):
        if case_classes(events) == {"approval", "delivered-approval"}:
            last = events[-1]
            at = datetime.fromisoformat(last["occurredAt"]) + timedelta(minutes=30)
            extra = {"caseNo": case_no, "seq": last["seq"] + 1, "type": "WITHDRAW", "occurredAt": at.isoformat(),
                     "stepName": "申请人撤回"}
            return {"case-event": system.records("case-event") + [extra]}
    raise LookupError("no delivered approval case")


def spoil_seq_gap(system: SandboxSystem) -> dict[str, list[dict[str, Any]]]:
    case_no = _plain_case(system, min_events=3)
    return {"case-event": [e for e in system.records("case-event") if not (e["caseNo"] == case_no and e["seq"] == 2)]}


def spoil_duplicate(system: SandboxSystem) -> dict[str, list[dict[str, Any]]]:
    records = system.records("result")
    twin = copy.deepcopy(records[0])
    twin["certName"] = twin["certName"] + "（补发）"
    return {"result": records + [twin]}


def spoil_missing_field(system: SandboxSystem) -> dict[str, list[dict[str, Any]]]:
    records = system.records("result")
    del records[-1]["certName"]
    return {"result": records}


def spoil_code_table(system: SandboxSystem) -> dict[str, list[dict[str, Any]]]:
    records = system.records("evaluation")
    followed = {(r["caseNo"]) for r in records if r["assessNo"] == 2}
    target = next(r for r in records if r["satisfaction"] in (3, 4) and r["assessNo"] == 1
                  and r["caseNo"] not in followed and r["channel"] not in ("HALL_PAD", "HALL_OTHER"))
    target["channel"] = "FAX"
    return {"evaluation": records}


def spoil_region(system: SandboxSystem) -> dict[str, list[dict[str, Any]]]:
    case_no = _plain_case(system, min_events=2)
    records = system.records("case")
    region = system.region_code
    other = region[:4] + ("04" if region[4:] != "04" else "05")
    for r in records:
        if r["caseNo"] == case_no:
            r["regionCode"] = other
    return {"case": records}


def spoil_revocation(system: SandboxSystem) -> dict[str, list[dict[str, Any]]]:
    from datetime import datetime, timedelta

    records = system.records("catalog")
    revoked = next(r for r in reversed(records) if r["status"] == "REVOKED")
    again = copy.deepcopy(revoked)
    again.update(status="ACTIVE", version=revoked["version"] + 1,
                 updatedAt=(datetime.fromisoformat(revoked["updatedAt"]) + timedelta(hours=1)).isoformat())
    return {"catalog": records + [again]}


# -- consumers that miss a rule ----------------------------------------------------------------
class IgnoresRejections(ReferenceReceiver):
    """Stores records whatever their stateless findings (envelope-level refusals still work)."""

    def _decide(self, dataset: str, record: Any, index: int, writer: str,
                report: Report) -> tuple[Outcome, Report]:
        if report.errors:
            return Outcome.STORED, Report()
        return super()._decide(dataset, record, index, writer, report)


class IgnoresSignatures(ReferenceReceiver):
    """Never verifies ``integrity.signature`` (TBS-ENV-028 unenforced)."""

    def _receiver_rules(self, env: dict[str, Any], report: Report, **kw: Any) -> list[Any]:
        return [f for f in super()._receiver_rules(env, report, **kw) if f.rule_id != "TBS-ENV-028"]


# -- the catalogue of defects --------------------------------------------------------------------
@dataclass(frozen=True)
class Defect:
    """One defect: how to build the defective SUT and what the suite must say about it."""

    name: str
    description: str
    fails: frozenset[str]
    rules: frozenset[str]
    roles: tuple[str, ...] = tuple(sorted(PROVIDER_ROLES))
    binding: str = "REST"
    level: str = "county"
    records: Callable[[SandboxSystem], dict[str, list[dict[str, Any]]]] | None = None
    cursor_shift: int = 0
    lenient_cursor: bool = False
    receiver: type[ReferenceReceiver] | None = None
    accept_any_token: bool = False
    fault_rewrite: bool = False
    pusher_extra: Callable[[Any], None] | None = None   # FILE: batches a pushing SUT adds after its run
    pusher_tries: int = 3                               # FILE: 1 = never resends an unacknowledged batch
    extras: dict[str, Any] = field(default_factory=dict)

    def pusher(self, system: SandboxSystem, drop_root: Any, *, receiver_id: str, key_id: str, key: bytes,
               ack_timeout: float = 2.0) -> Any:
        """The defective pushing SUT of ``system`` over FILE (:class:`~.sandbox_sut.FilePushingSystem`)."""
        from .sandbox_sut import FilePushingSystem

        return FilePushingSystem(system, drop_root, receiver_id=receiver_id, key_id=key_id, key=key,
                                 ack_timeout=ack_timeout, tries=self.pusher_tries, extra=self.pusher_extra,
                                 records=self.records(system) if self.records else None)

    def mqtt_pusher(self, system: SandboxSystem, broker_url: str, *, receiver_id: str, key_id: str, key: bytes,
                    ack_timeout: float = 2.0) -> Any:
        """The defective pushing SUT of ``system`` over MQTT (:class:`~.sandbox_sut.MqttPushingSystem`)."""
        from .sandbox_sut import MqttPushingSystem

        return MqttPushingSystem(system, broker_url, receiver_id=receiver_id, key_id=key_id, key=key,
                                 ack_timeout=ack_timeout, tries=self.pusher_tries, extra=self.pusher_extra,
                                 records=self.records(system) if self.records else None)

    def service(self, system: SandboxSystem, *, bindings: Sequence[str] | None = None,
                receiver: SystemService | None = None) -> SandboxService:
        """The defective :class:`SandboxService` of ``system``."""
        bindings = tuple(bindings or (self.binding,))
        if receiver is None and system.accepts:
            receiver = (self.receiver or ReferenceReceiver)(system.system_id, {KIT: SenderProfile()})
        overrides: dict[str, ListFeed] = {}
        if self.records is not None:
            overrides = {ds: ListFeed(recs) for ds, recs in self.records(system).items()}
        if self.cursor_shift or self.lenient_cursor:
            for ds in system.provides:
                overrides.setdefault(ds, ListFeed(system.records(ds)))
                overrides[ds].cursor_shift = self.cursor_shift
                overrides[ds].lenient_cursor = self.lenient_cursor
        return FeedOverrideService(system, overrides, bindings=bindings, receiver=receiver)

    def authenticate(self, tokens: dict[str, str]) -> Callable[[str | None], str | None]:
        from tongban.connectors.rest.server import token_table

        check = token_table(tokens)
        if not self.accept_any_token:
            return check
        fallback = next(iter(tokens.values()))
        return lambda token: check(token) or fallback   # anyone, even without a token, is the suite

    def app(self, service: SystemService, *, authenticate: Callable[[str | None], str | None]) -> Any:
        """The served app of the defective SUT for :attr:`binding`."""
        if self.binding == "SOAP":
            from tongban.connectors.soap.server import create_soap_app

            app = create_soap_app(service, authenticate=authenticate)
            return UnqualifiedFaultCode(app) if self.fault_rewrite else app
        from tongban.connectors.rest.server import create_rest_app

        return create_rest_app(service, authenticate=authenticate)


class UnqualifiedFaultCode:
    """ASGI wrapper writing SOAP faults with an unqualified ``faultcode`` (``Client``, not
    ``soap:Client``), a malformed TBS-SOAP-005 fault that still carries the TBS error detail."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope.get("type") != "http":
            await self.app(scope, receive, send)
            return
        start: dict[str, Any] = {}
        chunks: list[bytes] = []

        async def capture(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body"):
                return
            body = b"".join(chunks)
            if start.get("status") == 500 and b"Fault>" in body:
                body = body.replace(b"<faultcode>soap:", b"<faultcode>")
            headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
            headers.append((b"content-length", str(len(body)).encode()))
            await send({**start, "headers": headers})
            await send({"type": "http.response.body", "body": body})

        await self.app(scope, receive, capture)


def _first_records_again(sut: Any) -> dict[str, Any]:
    """A new envelope carrying the records of the SUT's first batch again (a harmless resend)."""
    first = sut.sent[0]
    return sut.writer.build_envelope(first["dataset"], first["records"])


def extra_bad_manifest(sut: Any) -> None:
    sut.write_raw(_first_records_again(sut), spoil_manifest=lambda m: m["file"].update(sha256="0" * 64))


def extra_forged_signature(sut: Any) -> None:
    from tongban.connectors.filedrop.signing import sign_envelope

    forged = sign_envelope(_first_records_again(sut), key_id=sut.writer.key_id, key=b"not-the-shared-key-" * 2)
    sut.write_raw(forged, sign=False)


def _mqtt_first_records_again(sut: Any, **members: Any) -> dict[str, Any]:
    first = sut.sent[0]
    return sut.envelope(first["dataset"], first["records"], **members)


def mqtt_forged_signature(sut: Any) -> None:
    from tongban.connectors.filedrop.signing import sign_envelope

    env = _mqtt_first_records_again(sut)
    sut.publish_raw(sign_envelope(env, key_id=sut.key_id, key=b"not-the-shared-key-" * 2))


def mqtt_foreign_topic(sut: Any) -> None:
    """Publishes under another county's region (a broker without the TBS-MQTT-002 ACL lets it)."""
    env = _mqtt_first_records_again(sut)
    own = sut.system.system_id.split(":")[2]
    other = next(r for r in ("440104", "440105", "440106") if r != own)
    sut.publish_raw(env, topic=f"tbs/v1/{other}/{env['dataset']}")


DEFECTS: dict[str, Defect] = {d.name: d for d in (
    Defect("wrong_check_digit", "a catalog item's dept.uscc with a wrong check character",
           frozenset({"COM-03", "CP-01"}), frozenset({"TBS-CODE-014"}), records=spoil_check_digit),
    Defect("cursor_backwards", "every nextCursor designates one position before the last record served",
           frozenset({"COM-07"}), frozenset({"TBS-REST-004"}), cursor_shift=1),
    Defect("illegal_transition", "a WITHDRAW event after DELIVER (DELIVERED is terminal)",
           frozenset({"CR-01"}), frozenset({"TBS-EVT-005"}), records=spoil_transition),
    Defect("seq_gap", "event seq 2 of an open case is never served",
           frozenset({"CR-04"}), frozenset({"TBS-EVT-007"}), records=spoil_seq_gap),
    Defect("duplicate_different_content", "a Result served twice with the same caseNo and certNo, different "
           "certName", frozenset({"RP-04"}), frozenset({"TBS-RES-006"}), records=spoil_duplicate),
    Defect("missing_required_field", "a Result without certName",
           frozenset({"COM-03", "RP-01"}), frozenset({"TBS-ENV-005"}), records=spoil_missing_field),
    Defect("value_outside_code_table", "an evaluation with channel FAX (not in A.13)",
           frozenset({"COM-03", "ER-01"}), frozenset({"TBS-EVAL-001"}), records=spoil_code_table),
    Defect("wrong_region", "a case reported with the region code of another county",
           frozenset({"COM-03", "CR-06"}), frozenset({"TBS-SEC-003"}), records=spoil_region),
    Defect("revocation_undone", "an ACTIVE version after the REVOKED tombstone",
           frozenset({"CP-04"}), frozenset({"TBS-SYNC-010"}), records=spoil_revocation),
    Defect("bad_cursor_accepted", "an uninterpretable cursor is read as the start of the feed",
           frozenset({"COM-07"}), frozenset({"TBS-REST-004"}), lenient_cursor=True),
    Defect("no_authentication", "any caller, even without a token, is accepted",
           frozenset({"COM-01"}), frozenset({"TBS-SEC-001"}), accept_any_token=True),
    Defect("malformed_soap_fault", "SOAP faults with an unqualified faultcode",
           frozenset({"COM-04"}), frozenset({"TBS-SOAP-005"}), binding="SOAP", fault_rewrite=True),
    Defect("manifest_sha256_mismatch", "a file-drop batch whose manifest file.sha256 is not the data file's",
           frozenset({"COM-04"}), frozenset({"TBS-FILE-006"}), binding="FILE", pusher_extra=extra_bad_manifest),
    Defect("forged_hmac_push", "a file-drop batch signed with a key that is not the shared one",
           frozenset({"COM-03"}), frozenset({"TBS-ENV-028"}), binding="FILE", pusher_extra=extra_forged_signature),
    Defect("no_resend", "a pushing system that never resends a batch whose acknowledgement did not come",
           frozenset({"COM-05"}), frozenset({"TBS-SYNC-001"}), binding="FILE", pusher_tries=1),
    Defect("file_wrong_check_digit", "a file-drop batch with a catalog item whose dept.uscc has a wrong check "
           "character", frozenset({"COM-03", "CP-01"}), frozenset({"TBS-CODE-014"}), binding="FILE",
           records=spoil_check_digit),
    Defect("soap_no_authentication", "a SOAP system that accepts any caller, even without a token",
           frozenset({"COM-01"}), frozenset({"TBS-SEC-001"}), binding="SOAP", accept_any_token=True),
    Defect("soap_wrong_check_digit", "a SOAP feed with a catalog item whose dept.uscc has a wrong check character",
           frozenset({"COM-03", "CP-01"}), frozenset({"TBS-CODE-014"}), binding="SOAP", records=spoil_check_digit),
    Defect("soap_cursor_backwards", "a SOAP feed whose nextCursor designates one position before the last record",
           frozenset({"COM-07"}), frozenset({"TBS-REST-004"}), binding="SOAP", cursor_shift=1),
    Defect("mqtt_forged_hmac", "an MQTT envelope signed with a key that is not the shared one",
           frozenset({"COM-03"}), frozenset({"TBS-ENV-028"}), binding="MQTT", pusher_extra=mqtt_forged_signature),
    Defect("mqtt_foreign_topic", "an MQTT envelope published under another county's region code",
           frozenset({"COM-04"}), frozenset({"TBS-MQTT-002"}), binding="MQTT", pusher_extra=mqtt_foreign_topic),
    Defect("mqtt_wrong_check_digit", "an MQTT envelope with a catalog item whose dept.uscc has a wrong check "
           "character", frozenset({"COM-03", "CP-01"}), frozenset({"TBS-CODE-014"}), binding="MQTT",
           records=spoil_check_digit),
    Defect("mqtt_no_resend", "an MQTT publisher that never resends an envelope whose acknowledgement did not come",
           frozenset({"COM-05"}), frozenset({"TBS-SYNC-001"}), binding="MQTT", pusher_tries=1),
    Defect("ignores_rejections", "a consumer that stores records despite their stateless ERRORs",
           frozenset({"CC-02"}), frozenset({"TBS-CODE-014", "TBS-ENV-002"}), roles=(CONSUMER_ROLE,), level="city",
           receiver=IgnoresRejections),
    Defect("ignores_signatures", "a consumer that accepts envelopes whose HMAC is forged or unverifiable",
           frozenset({"CC-05"}), frozenset({"TBS-ENV-028"}), roles=(CONSUMER_ROLE,), level="city",
           receiver=IgnoresSignatures),
)}

__all__ = ["DEFECTS", "Defect", "FeedOverrideService", "IgnoresRejections", "IgnoresSignatures", "ListFeed",
           "UnqualifiedFaultCode"]
