"""A mixed-version sandbox sync (TBS-1.1 §3): the bus supports TBS-1.0 and TBS-1.1, its partners
TBS-1.0 only or both. Real REST servers on loopback, a real SQLite store.

The bus reads each partner in the highest version both support (TBS-ENV-034), stores each
record once with the version it arrived in (TBS-SYNC-015 (a)), and publishes the province's
catalog down to each consumer in a version it supports: a TBS-1.0-only consumer is never sent
TBS-1.1 content. The expectations are computed here from the sandbox's own records and the
test's own reading of the version rule, not by the code under test."""
from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from tongban.model.datasets import DATASETS, SPECS
from tongban.registry import load_registry
from tongban.store.schema import CaseEventRecord, CaseRecord, CatalogItemVersion, EvaluationRecord, ResultRecord
from tongban.sync.engine import SyncEngine
from tongban.sync.publish import publish_catalog
from transition_support import transition_province

TABLES = {"catalog": CatalogItemVersion, "case": CaseRecord, "case-event": CaseEventRecord, "result": ResultRecord,
          "evaluation": EvaluationRecord}
ONLY_11 = ("crossRegionScope", "accessibility", "applyChannel")   # members TBS-1.0 has no place for


def expected_version(versions: tuple[str, ...]) -> str:
    return "TBS-1.1" if "TBS-1.1" in versions else "TBS-1.0"


@pytest.fixture(scope="module")
def province(tmp_path_factory):
    with transition_province(tmp_path_factory.mktemp("mixed")) as (sandbox, registry, store, engine):
        reports = {}
        for dataset in DATASETS:   # prerequisites first
            for p in registry.partners:
                if dataset in p.datasets and registry.pulls(p, dataset):
                    reports[p.id, dataset] = engine.sync(p.id, dataset)
        yield sandbox, registry, store, engine, reports


def stored_rows(store, dataset):
    table = TABLES[dataset]
    with store.reading() as s:
        return [(source, json.loads(content), version) for source, content, version in
                s.execute(select(table.source, table.content, table.spec_version)).all()]


def test_each_partner_is_read_in_the_highest_common_version_and_stored_once_with_it(province) -> None:
    sandbox, registry, store, _, reports = province
    assert all(r.status == "SUCCESS" for r in reports.values()), [r.error for r in reports.values() if r.error]
    services = {r.system.system_id: r.service for r in sandbox.running}
    versions_seen = set()
    for dataset in DATASETS:
        rows = stored_rows(store, dataset)
        spec = SPECS[dataset]
        for partner in {pid for pid, ds in reports if ds == dataset}:
            version = expected_version(registry.get(partner).versions)
            served = services[partner].changes(dataset, None, 1000, version=version)["records"]
            mine = [(content, v) for source, content, v in rows if source == partner]
            if spec.keeps_history or not spec.versioned:   # every catalog version, every immutable record
                assert sorted(json.dumps(c, sort_keys=True) for c, _ in mine) == \
                    sorted(json.dumps(r, sort_keys=True) for r in served), (partner, dataset)
            else:   # cases: the current version of each
                current = {}
                for r in served:
                    current[r["caseNo"]] = r
                assert {c["caseNo"]: c for c, _ in mine} == current, (partner, dataset)
            assert {v for _, v in mine} <= {version}, (partner, dataset)
            versions_seen |= {v for _, v in mine}
            if version == "TBS-1.1":   # its 1.1 form is what the bus holds
                assert dataset != "case" or all("applyChannel" in c and "channel" not in c for c, _ in mine)
            else:
                assert not any(m in c for c, _ in mine for m in ONLY_11), (partner, dataset)
    assert versions_seen == {"TBS-1.0", "TBS-1.1"}
    # what only TBS-1.1 can say reached the store from the province hub
    hub = next(r.system.system_id for r in sandbox.running if r.system.level == "province")
    assert all("crossRegionScope" in c for source, c, _ in stored_rows(store, "catalog") if source == hub)


def test_a_tbs_1_0_only_consumer_is_never_sent_tbs_1_1_content(province) -> None:
    sandbox, registry, store, _, _ = province
    hub = next(r.system.system_id for r in sandbox.running if r.system.level == "province")
    consumers = [r for r in sandbox.running if r.service is not None and r.service.receiver is not None
                 and r.system.system_id != hub]   # the hub is not sent its own items back
    only_10 = [r for r in consumers if registry.get(r.system.system_id).versions == ("TBS-1.0",)]
    both = [r for r in consumers if "TBS-1.1" in registry.get(r.system.system_id).versions]
    assert only_10 and both
    hub_items = {c["implCode"]: c for source, c, v in stored_rows(store, "catalog") if source == hub}
    for r in consumers:
        report = publish_catalog(store, registry, registry.get(r.system.system_id))
        assert report.rejected == 0 and report.withheld_keys == [] and report.accepted == report.offered > 0
        received = {code: rec for code, by_key in r.service.receiver.state.records["catalog"].items()
                    for rec in by_key.values()}
        acks = [e.ack for e in r.service.receiver.replay.entries.values()]
        hub_received = {code: rec for code, rec in received.items() if code in hub_items}
        assert set(hub_received) == set(hub_items)
        if r in only_10:
            assert {a["specVersion"] for a in acks} == {"TBS-1.0"}
            assert not any(m in rec for rec in received.values() for m in ONLY_11)
            # the Annex E.1 form: the hub's items without the members TBS-1.0 cannot carry
            assert hub_received == {code: {k: v for k, v in item.items() if k not in ONLY_11}
                                    for code, item in hub_items.items()}
        else:
            assert {a["specVersion"] for a in acks} == {"TBS-1.1"}
            assert hub_received == hub_items


def test_mqtt_announcements_stay_tbs_1_0_whatever_version_the_records_arrived_in(province) -> None:
    """TBS-1.1 TBS-MQTT-006: a broadcast is written in the version every subscriber reads,
    TBS-1.0 while any supports only TBS-1.0; records received in TBS-1.1 are announced in their
    Annex E.1 form."""
    from tongban.store.schema import OutboxEvent
    from tongban.validators import ValidationContext, validate_record

    _, _, store, _, _ = province
    with store.reading() as s:
        envelopes = [json.loads(e) for e in s.execute(select(OutboxEvent.envelope)).scalars()]
    evaluations_11 = [c for _, c, v in stored_rows(store, "evaluation") if v == "TBS-1.1"]
    assert envelopes and evaluations_11   # TBS-1.1 evaluations (dimensions an array) were announced
    announced = 0
    for envelope in envelopes:
        assert envelope["specVersion"] == "TBS-1.0"
        for i, record in enumerate(envelope["records"]):
            report = validate_record(envelope["dataset"], record, index=i, writer=None,
                                     context=ValidationContext(spec="TBS-1.0"))
            assert report.errors == 0, (envelope["dataset"], [f.rule_id for f in report.items])
            announced += envelope["dataset"] == "evaluation"
    assert announced == len(stored_rows(store, "evaluation"))


def test_a_feed_read_again_in_tbs_1_0_stores_nothing_new(province) -> None:
    """Revision §3.4 step 4, TBS-ENV-012 across versions: the partners first read in TBS-1.1 are
    read again from the start in TBS-1.0 (the bus's versions briefly TBS-1.0 only); their
    records, written by Annex E.1, are the stored ones — DUPLICATE (or STALE), never stored again
    and never a conflict."""
    import yaml

    from tongban.store.schema import QuarantineEntry

    sandbox, registry, store, _, reports = province
    text = yaml.safe_load(sandbox.registry_file.read_text(encoding="utf-8"))
    text["bus"]["spec_versions"] = ["TBS-1.0"]
    only_10 = sandbox.folder / "partners-1.0.yaml"
    only_10.write_text(yaml.safe_dump(text, allow_unicode=True), encoding="utf-8")
    engine = SyncEngine(store, load_registry(only_10), trigger="test")
    before = {ds: len(stored_rows(store, ds)) for ds in DATASETS}
    with store.reading() as s:
        quarantined = s.query(QuarantineEntry).count()
    services = {r.system.system_id: r.service for r in sandbox.running}
    again, new = 0, {ds: 0 for ds in DATASETS}
    for dataset in DATASETS:
        for pid, ds in reports:
            if ds == dataset and "TBS-1.1" in registry.get(pid).versions:
                # only what the TBS-1.1 feed withheld (no passing TBS-1.1 form) is new to the bus
                key = SPECS[dataset].key_of
                in_11 = {key(r) for r in services[pid].changes(dataset, None, 1000, version="TBS-1.1")["records"]}
                withheld = [r for r in services[pid].changes(dataset, None, 1000, version="TBS-1.0")["records"]
                            if key(r) not in in_11]
                report = engine.sync(pid, dataset, since="c-0000000000000000")
                assert report.status == "SUCCESS" and report.counts.rejected == 0, (pid, dataset)
                assert report.counts.stored == len(withheld), (pid, dataset, report.counts.as_dict())
                assert report.counts.duplicate + report.counts.stale == report.pulled - len(withheld)
                again += report.pulled
                new[dataset] += len(withheld)
    assert again > 0 and new["catalog"] == new["case"] == 0
    assert {ds: len(stored_rows(store, ds)) for ds in DATASETS} == {ds: before[ds] + new[ds] for ds in DATASETS}
    with store.reading() as s:
        assert s.query(QuarantineEntry).count() == quarantined


def test_after_the_sunset_a_tbs_1_0_only_partner_is_not_exchanged_with(province) -> None:
    """§3.1: the sunset is configuration — TBS-1.0 removed from the bus's versions. A partner
    that supports only TBS-1.0 then shares no version with the bus (TBS-ENV-034): its run is
    SKIPPED and nothing is read; the bus's meta and its receiver's profiles list TBS-1.1 only.
    (Runs after the test above, which left the partners' cursors in TBS-1.0.)"""
    import yaml

    from tongban.store.schema import SyncRun
    from tongban.sync.engine import NoCommonVersion
    from tongban.sync.receiver import BusReceiver, profile_of

    sandbox, registry, store, _, _ = province
    text = yaml.safe_load(sandbox.registry_file.read_text(encoding="utf-8"))
    text["bus"]["spec_versions"] = ["TBS-1.1"]
    after = sandbox.folder / "partners-sunset.yaml"
    after.write_text(yaml.safe_dump(text, allow_unicode=True), encoding="utf-8")
    sunset = load_registry(after)
    engine = SyncEngine(store, sunset, trigger="test")
    old = next(p for p in sunset.partners if p.versions == ("TBS-1.0",) and "catalog" in p.datasets)
    new = next(p for p in sunset.partners if "TBS-1.1" in p.versions and "catalog" in p.datasets)
    with pytest.raises(NoCommonVersion):
        engine.sync(old.id, "catalog")
    with store.reading() as s:
        last = s.query(SyncRun).filter(SyncRun.partner_id == old.id).order_by(SyncRun.id.desc()).first()
    assert last.status == "SKIPPED" and last.error_code == "NO_COMMON_VERSION"
    # its feed was last read in TBS-1.0 (the test above): read in TBS-1.1 now, it restarts from the
    # beginning (TBS-REST-012) and everything in it is already stored
    served_11 = next(r.service for r in sandbox.running if r.system.system_id == new.id) \
        .changes("catalog", None, 1000, version="TBS-1.1")["records"]
    report = engine.sync(new.id, "catalog")
    assert report.status == "SUCCESS" and report.pulled == len(served_11) > 0
    assert report.counts.stored == 0 and report.counts.rejected == 0
    assert BusReceiver(store, sunset).meta()["specVersions"] == ["TBS-1.1"]
    assert profile_of(new, sunset).spec_versions == ("TBS-1.1",)
