"""The suite as the receiver of a pushing SUT (file drop, MQTT; §20.2 COM-01, -03, -04, -05).

Over FILE the SUT writes batches into a drop root the suite provisions (``--endpoint DIR``).
The suite processes them with the binding's own receiver
(:class:`~tongban.connectors.filedrop.FileDropReceiver`) in front of a recording
:class:`~tongban.conformance.reference_receiver.ReferenceReceiver` (signatures required,
TBS-SEC-007; verified with the SUT's key, TBS-ENV-028), so every acknowledgement the SUT gets
is the one TBS-1.0 prescribes. COM-05: the acknowledgement of the first accepted batch is
withheld (its file written aside, never into the archive where the SUT looks for it) until the
SUT resends the records in a new envelope, or the wait ends. Collection ends when the SUT has been idle for ``idle_seconds`` after its last batch, or
after ``wait_seconds``. The records of accepted envelopes feed the role tests, located at
``/records/i`` of their envelope (TBS-RPT-004).

Over MQTT the suite subscribes at the broker (``--endpoint mqtt[s]://…``) as the bus would:
client identifier = the suite's ``systemCode``, the datasets of the claimed roles from every
region, and the binding's own consumer (:class:`~tongban.connectors.mqtt.MqttSubscriber`:
RETAIN, addressing, replay and topic checks) in front of the same recording reference
receiver; acknowledgements go to ``tbs/v1/{suite region}/ack`` (TBS-MQTT-007). COM-05 withholds
the first acknowledgement of an accepted envelope in the same way.
"""
from __future__ import annotations

import json
import shutil
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

from tongban.connectors.base import ReceivedBody
from tongban.model.canonical import canonical_bytes

from .feeds import FedRecord
from .reference_receiver import ReferenceReceiver, SenderProfile
from .results import KitFinding, Result, TestResult, attestation, capped

if TYPE_CHECKING:
    from .session import Session
    from .testkit import ConformanceTest



@dataclass
class Received:
    """One envelope the SUT pushed, as the suite processed it."""

    number: int
    envelope: dict[str, Any]
    ack: dict[str, Any]
    request_hash: str
    binding_findings: tuple[Any, ...] = ()
    withheld: bool = False

    @property
    def rejected(self) -> bool:
        return (self.ack.get("envelopeReport") or {}).get("result") == "FAILURE"


@dataclass
class Collection:
    received: list[Received] = field(default_factory=list)
    refused: list[dict[str, Any]] = field(default_factory=list)   # binding-level rejection reports
    withheld: Received | None = None
    resent: Received | None = None
    error: str | None = None


class RecordingReceiver(ReferenceReceiver):
    """The reference receiver, remembering every envelope it acknowledged."""

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.log: list[Received] = []

    def receive(self, envelope: dict[str, Any], *, binding: str, request_hash: str, authenticated_sender: str | None,
                binding_dataset: str | None = None, topic_region: str | None = None,
                binding_findings: Sequence[Any] = (), received: ReceivedBody | None = None) -> dict[str, Any]:
        ack = super().receive(envelope, binding=binding, request_hash=request_hash,
                              authenticated_sender=authenticated_sender, binding_dataset=binding_dataset,
                              topic_region=topic_region, binding_findings=binding_findings, received=received)
        self.log.append(Received(len(self.log), envelope, ack, request_hash, tuple(binding_findings)))
        return ack


def collect(session: "Session") -> Collection:
    return session.once("push", lambda: _collect(session))


def _oracle(session: "Session") -> RecordingReceiver:
    cfg = session.config
    roles = tuple(r for r in cfg.roles if r != "CATALOG_CONSUMER")
    keys = {k: ("HMAC-SHA256", v) for k, v in cfg.sut_keys.items()}
    return RecordingReceiver(cfg.kit_system_id, {cfg.system_id: SenderProfile(roles, keys, True)},
                             allowlist=cfg.allowlist)


def _collect(session: "Session") -> Collection:
    collector = COLLECTORS.get(session.config.binding)
    if collector is None:
        return Collection(error=f"the SUT does not push over {session.config.binding}")
    return collector(session)


def _collect_mqtt(session: "Session") -> Collection:
    from tongban.connectors.mqtt import MqttConnection, MqttSettings, MqttSubscriber

    cfg = session.config
    oracle = _oracle(session)
    out = Collection()
    lock = threading.Lock()
    held: list[dict[str, Any]] = []                 # the withheld acknowledgement (COM-05)
    refused_seen = 0

    class WithholdingSubscriber(MqttSubscriber):
        def _publish_ack(self, ack: dict[str, Any]) -> None:
            with lock:
                item = next((r for r in oracle.log if r.ack is ack), None)
                if item is None:
                    out.refused.append(ack)         # refused by the binding (TBS-MQTT-002, ENV-024, …)
                elif item is not None and out.withheld is None and not item.rejected:
                    item.withheld, out.withheld = True, item
                    held.append(ack)
                    return
            super()._publish_ack(ack)

    secure = cfg.endpoint.startswith("mqtts://")
    settings = MqttSettings(cfg.endpoint, cfg.kit_system_id, persistent_session=False, ca_file=cfg.ca_file,
                            password=cfg.token if secure else None)
    try:
        connection = MqttConnection(settings)
    except ValueError as exc:
        return Collection(error=f"cannot subscribe at {cfg.endpoint}: {exc}")
    subscriber = WithholdingSubscriber(connection, oracle, datasets=session.provided_datasets())
    try:
        subscriber.start()
        if not connection.wait_subscribed(min(cfg.wait_seconds, 15.0)):
            return Collection(error=f"could not subscribe at {cfg.endpoint}: {connection.refusal or 'no answer'}")
        start = last = time.monotonic()
        while True:
            now = time.monotonic()
            with lock:
                while len(out.received) < len(oracle.log):
                    item = oracle.log[len(out.received)]
                    out.received.append(item)
                    last = now
                    if out.withheld is not None and out.withheld is not item and out.resent is None \
                            and _same_records(item, out.withheld):
                        out.resent = item
                give_back = held[:] if held and out.resent is not None else []
                if give_back:
                    held.clear()
                if len(out.refused) > refused_seen:
                    refused_seen, last = len(out.refused), now
            for ack in give_back:                    # the SUT resent: give the acknowledgement back
                MqttSubscriber._publish_ack(subscriber, ack)
            waiting_for_resend = out.withheld is not None and out.resent is None
            if now - start > cfg.wait_seconds or \
                    ((out.received or out.refused) and not waiting_for_resend and now - last > cfg.idle_seconds):
                break
            time.sleep(0.1)
        for ack in held:
            MqttSubscriber._publish_ack(subscriber, ack)
            time.sleep(0.05)
    finally:
        connection.close()
    if not out.received and not out.refused:
        out.error = f"the SUT published nothing at {cfg.endpoint} within {cfg.wait_seconds:.0f} s"
    return out


def _collect_file(session: "Session") -> Collection:
    cfg = session.config
    from tongban.connectors.filedrop import FileDropReceiver
    from tongban.connectors.filedrop.names import REJECTED, REPORT_SUFFIX

    oracle = _oracle(session)
    root = Path(cfg.endpoint)
    out = Collection()
    aside = root.parent / f".{root.name}.withheld-acks"
    held_ack: tuple[Path, Path] | None = None

    class WithholdingReceiver(FileDropReceiver):
        """The first acknowledgement of an accepted envelope is written aside, never into the
        archive: a sender polling for it while the scan still files later batches must not
        read it (TBS-SYNC-001 / ENV-033, COM-05)."""

        def _write_ack(self, path: Path, ack: dict[str, Any], *, archived: bool) -> None:
            nonlocal held_ack
            item = next((r for r in oracle.log if r.ack is ack), None)
            if archived and out.withheld is None and item is not None and not item.rejected:
                aside.mkdir(exist_ok=True)
                kept = aside / path.name
                super()._write_ack(kept, ack, archived=archived)
                held_ack, out.withheld = (path, kept), item
                item.withheld = True
                return
            super()._write_ack(path, ack, archived=archived)

    receiver = WithholdingReceiver(root, oracle, own_id=cfg.kit_system_id, owner=cfg.system_id)
    receiver.provision()
    seen_reports: set[Path] = set()
    start = last = time.monotonic()
    while True:
        stats = receiver.scan_once()
        now = time.monotonic()
        if stats.processed_order or stats.incomplete:
            last = now
        for report in sorted(root.glob(f"{REJECTED}/*/*{REPORT_SUFFIX}")):
            if report not in seen_reports:
                seen_reports.add(report)
                last = now
                try:
                    body = json.loads(report.read_bytes())
                except ValueError:
                    continue
                if not any(r.request_hash == body.get("requestHash") for r in oracle.log):
                    out.refused.append(body)
        while len(out.received) < len(oracle.log):
            item = oracle.log[len(out.received)]
            out.received.append(item)
            last = now
            if out.withheld is not None and out.resent is None and _same_records(item, out.withheld):
                out.resent = item
        if held_ack is not None and out.resent is not None:
            shutil.move(str(held_ack[1]), held_ack[0])   # the SUT resent: give the acknowledgement back
            held_ack = None
        waiting_for_resend = out.withheld is not None and out.resent is None
        idle = now - last
        if now - start > cfg.wait_seconds or (out.received and not waiting_for_resend and idle > cfg.idle_seconds):
            break
        time.sleep(0.1)
    if held_ack is not None:
        shutil.move(str(held_ack[1]), held_ack[0])
    shutil.rmtree(aside, ignore_errors=True)
    if not out.received and not out.refused:
        out.error = f"the SUT pushed nothing into {root} within {cfg.wait_seconds:.0f} s"
    return out


#: how the suite collects the pushes of each binding the SUT pushes over (testkit.COLLECTED)
COLLECTORS: dict[str, Callable[["Session"], Collection]] = {"MQTT": _collect_mqtt, "FILE": _collect_file}


def _same_records(a: Received, b: Received) -> bool:
    return (a.envelope.get("messageId") != b.envelope.get("messageId")
            and canonical_bytes(a.envelope.get("records")) == canonical_bytes(b.envelope.get("records")))


def pushed_records(session: "Session") -> dict[str, list[FedRecord]]:
    """The records of every accepted envelope, per dataset, in arrival order (resends included:
    their records are DUPLICATE under S5)."""
    coll = collect(session)
    out: dict[str, list[FedRecord]] = {ds: [] for ds in session.provided_datasets()}
    for item in coll.received:
        env = item.envelope
        if item.rejected or env.get("dataset") not in out:
            continue
        received = _received_at(item.ack)
        for index, record in enumerate(env.get("records") or []):
            out[env["dataset"]].append(FedRecord(env["dataset"], record, item.number, index, received,
                                                 writer=env.get("origin", env.get("sender")),
                                                 sent_at=env.get("sentAt")))
    return out


def _received_at(ack: dict[str, Any]) -> datetime:
    try:
        return datetime.fromisoformat(ack["receivedAt"])
    except (KeyError, TypeError, ValueError):
        return datetime.now(timezone.utc)


def _unavailable(coll: Collection) -> TestResult | None:
    if coll.error and not coll.received:
        return TestResult.skip(coll.error)
    return None


# -- the COM tests on a pushing binding ------------------------------------------------------
def com01_push(test: "ConformanceTest", session: "Session") -> TestResult:
    """TBS-SEC-001/-002 on FILE: the drop root's SFTP account is outside what the suite observes;
    the attestation of the testing authority stands in (TBS-CONF-009)."""
    attested = attestation(session.config.attestations, test.test_id)
    if attested is not None:
        return attested
    return TestResult.skip(f"authentication over {session.config.binding} (SFTP account, broker credentials) "
                           "is not observable by the suite: an attestation is required (--attestation FILE)")


def _envelope_errors(coll: Collection, binding_rules: bool) -> list[KitFinding]:
    """ERRORs of the envelope reports (accepted and refused): the binding's own rules
    (TBS-FILE/-MQTT) or, with ``binding_rules`` false, every other rule."""
    out = []
    sources = [(None, r) for r in coll.refused] + [(i.number, i.ack) for i in coll.received]
    for number, ack in sources:
        report = ack.get("envelopeReport") if isinstance(ack, dict) else None
        for f in (report or {}).get("items", []) if isinstance(report, dict) else []:
            rule = str(f.get("ruleId", ""))
            if f.get("severity") != "ERROR" or rule.startswith(("TBS-FILE-", "TBS-MQTT-")) != binding_rules:
                continue
            out.append(KitFinding(rule, f.get("message", {}).get("en", ""), f.get("message", {}).get("zh", ""),
                                  "ERROR", f.get("location"), f.get("value"),
                                  {"envelope": number, "requestMessageId": ack.get("requestMessageId"),
                                   "requestHash": ack.get("requestHash")}))
    return out


def com03_push(test: "ConformanceTest", session: "Session") -> TestResult:
    """Every envelope passes stateless validation: envelope level (hash, signature, SEC-007) from
    the acknowledgements, record level from the replay."""
    coll = collect(session)
    blocked = _unavailable(coll)
    if blocked:
        return blocked
    failures = _envelope_errors(coll, binding_rules=False)
    for v in session.sweep().all(*session.provided_datasets()):
        failures += [KitFinding.from_validation(f, **v.fed.where()) for f in v.stateless.items
                     if f.severity.value == "ERROR"]
    evidence = [{"note": f"{len(coll.received)} envelope(s) received, {len(coll.refused)} refused by the binding"}]
    return TestResult.judge(capped(failures, "findings"), evidence)


def com04_push(test: "ConformanceTest", session: "Session") -> TestResult:
    coll = collect(session)
    blocked = _unavailable(coll)
    if blocked:
        return blocked
    return TestResult.judge(_envelope_errors(coll, binding_rules=True),
                            [{"note": f"{len(coll.received)} batch(es) processed, {len(coll.refused)} refused by "
                                      "the binding (TBS-FILE-003..008)"}])


def com05_push(test: "ConformanceTest", session: "Session") -> TestResult:
    coll = collect(session)
    blocked = _unavailable(coll)
    if blocked:
        return blocked
    if coll.withheld is None:
        return TestResult.skip("no batch was accepted, so no acknowledgement could be withheld")
    evidence = [{"note": "acknowledgement withheld", "messageId": coll.withheld.envelope.get("messageId")}]
    if coll.resent is None:
        return TestResult.judge([KitFinding("TBS-SYNC-001", "the SUT did not resend the records of the envelope "
                                            "whose acknowledgement was withheld", "未收到确认时 SUT 未重发",
                                            where={"messageId": coll.withheld.envelope.get("messageId")})], evidence)
    ack = coll.resent.ack
    evidence.append({"note": "resent", "messageId": coll.resent.envelope.get("messageId"), "counts": ack.get("counts")})
    counts = ack.get("counts") or {}
    failures = []
    # identical records are DUPLICATE; versions the same batch superseded are STALE; never conflicts.
    # A record rejected the first time is rejected again: it was never stored, so it cannot be DUPLICATE.
    rejected_before = ((coll.withheld.ack.get("counts") or {}).get("rejected", 0))
    rejected = counts.get("rejected", 0)
    if counts.get("duplicate", 0) + counts.get("stale", 0) + rejected != counts.get("received") \
            or rejected > rejected_before:
        failures.append(KitFinding("TBS-ENV-033", f"the resent records were not all DUPLICATE (or STALE): {counts}",
                                   "重发记录未全部判为重复", where={"messageId": coll.resent.envelope.get("messageId")}))
    return TestResult.judge(failures, evidence)


__all__ = ["Collection", "Received", "RecordingReceiver", "collect", "pushed_records", "Result"]
