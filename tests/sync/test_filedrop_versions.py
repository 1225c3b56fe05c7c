"""Version negotiation over file drop (TBS-1.1 §3.2: FILE's version signal is the manifest's
``specVersion``; TBS-ENV-021, -029, -034): the sandbox province in transition with its systems
dropping batches into real drop roots, a real SQLite store.

A dual-version sender writes TBS-1.1 batches; the bus reads each batch under the version its
manifest names when the partner profile lists it, stores the records with that version and
acknowledges in it; a TBS-1.1 batch from a TBS-1.0-only partner is refused (TBS-ENV-021) with a
TBS-1.0 acknowledgement. Expected versions are read from the manifests on disk and the test's
own reading of the version rule, not from the code under test."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from tongban.connectors.filedrop.writer import FileDropWriter
from tongban.model.annex_e import downgrade, upgrade
from tongban.sandbox.runtime import BUS_ID
from tongban.store.schema import CaseRecord, CatalogItemVersion
from transition_support import pulled_transition_province

BOTH, ONLY_10 = ("TBS-1.0", "TBS-1.1"), ("TBS-1.0",)


@pytest.fixture(scope="module")
def province(tmp_path_factory):
    with pulled_transition_province(tmp_path_factory.mktemp("dropversions"), "filedrop") as (sandbox, registry, store, engine,
                                                                                reports):
        yield sandbox, registry, store, engine, reports


def drop_partners(sandbox, registry, versions) -> list[Any]:
    return [registry.get(r.system.system_id) for r in sandbox.running
            if r.transport == "filedrop" and registry.get(r.system.system_id).versions == versions]


def filed(partner, folder: str, dataset: str) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(manifest, acknowledgement) of every batch the bus filed under ``folder`` for ``dataset``."""
    out = []
    suffix = ".ack.json" if folder == "archive" else ".report.json"   # TBS-FILE-007
    for manifest in sorted((Path(partner.endpoint) / folder / dataset).glob("*.manifest.json")):
        ack = manifest.with_name(manifest.name.removesuffix(".manifest.json") + suffix)
        out.append((json.loads(manifest.read_text()), json.loads(ack.read_text())))
    return out


def stored_versions(store, table, source: str) -> set[str]:
    with store.reading() as s:
        return set(s.execute(select(table.spec_version).where(table.source == source)).scalars())


def test_dual_version_senders_drop_tbs_1_1_batches_read_and_stored_in_1_1(province) -> None:
    sandbox, registry, store, _, reports = province
    assert all(r.status == "SUCCESS" for r in reports.values()), [r.error for r in reports.values() if r.error]
    both, only_10 = drop_partners(sandbox, registry, BOTH), drop_partners(sandbox, registry, ONLY_10)
    assert both and only_10
    for partner in both + only_10:
        for dataset, table in (("catalog", CatalogItemVersion), ("case", CaseRecord)):
            batches = filed(partner, "archive", dataset)
            assert batches and not filed(partner, "rejected", dataset), (partner.id, dataset)
            manifest_versions = {m["specVersion"] for m, _ in batches}
            # the sender wrote in the highest version both support: TBS-1.1 when the profile lists it
            assert manifest_versions == ({"TBS-1.1"} if partner.versions == BOTH else {"TBS-1.0"}), partner.id
            # each acknowledgement in the version of its manifest (TBS-ENV-029)
            assert all(a["specVersion"] == m["specVersion"] and a["status"] != "REJECTED" for m, a in batches)
            assert stored_versions(store, table, partner.id) == manifest_versions, (partner.id, dataset)
    # a TBS-1.1 batch carries the TBS-1.1 form (change 8: applyChannel)
    cases = filed(both[0], "archive", "case")
    data = (Path(both[0].endpoint) / "archive" / "case" / cases[0][0]["file"]["name"]).read_text().splitlines()
    assert all("applyChannel" in json.loads(line) and "channel" not in json.loads(line) for line in data)


def writer_for(partner, version: str) -> FileDropWriter:
    return FileDropWriter(partner.endpoint, sender=partner.id, receiver=BUS_ID, key_id=partner.credentials.key_id,
                          key=partner.credentials.hmac_key(), spec_version=version)


def catalog_item(store, source: str) -> tuple[dict[str, Any], str]:
    """The current version (highest ``version``) of one of ``source``'s catalog items, and its
    received version."""
    with store.reading() as s:
        rows = [(json.loads(c), v) for c, v in s.execute(select(CatalogItemVersion.content,
                                                                CatalogItemVersion.spec_version)
                                                         .where(CatalogItemVersion.source == source))]
    code = rows[0][0]["implCode"]
    return max((r for r in rows if r[0]["implCode"] == code), key=lambda r: r[0]["version"])


def test_a_tbs_1_1_batch_from_a_tbs_1_0_only_partner_is_refused_under_env_021(province) -> None:
    sandbox, registry, store, engine, _ = province
    partner = drop_partners(sandbox, registry, ONLY_10)[0]
    item, _ = catalog_item(store, partner.id)
    written = writer_for(partner, "TBS-1.1").write_batch("catalog", [upgrade("catalog", item)])
    report = engine.sync(partner.id, "catalog")
    assert report.status == "SUCCESS" and report.counts.rejected == 1
    refused = [(m, a) for m, a in filed(partner, "rejected", "catalog") if m["messageId"] == written.message_id]
    assert len(refused) == 1
    manifest, ack = refused[0]
    assert manifest["specVersion"] == "TBS-1.1"
    assert ack["status"] == "REJECTED" and ack["specVersion"] == "TBS-1.0"   # the highest common version
    assert [i["ruleId"] for i in ack["envelopeReport"]["items"]] == ["TBS-ENV-021"]


def test_a_dual_version_partner_may_still_drop_tbs_1_0_batches(province) -> None:
    """The manifest names the version the batch is read in: a TBS-1.0 resend of a record first
    received in TBS-1.1 (its Annex E.1 form) is read under TBS-1.0 and is a DUPLICATE (§3.4 step 4)."""
    sandbox, registry, store, engine, _ = province
    partner = drop_partners(sandbox, registry, BOTH)[0]
    item, version = catalog_item(store, partner.id)
    assert version == "TBS-1.1"
    written = writer_for(partner, "TBS-1.0").write_batch("catalog", [downgrade("catalog", item)])
    report = engine.sync(partner.id, "catalog")
    assert report.status == "SUCCESS"
    done = [(m, a) for m, a in filed(partner, "archive", "catalog") if m["messageId"] == written.message_id]
    assert len(done) == 1
    manifest, ack = done[0]
    assert manifest["specVersion"] == ack["specVersion"] == "TBS-1.0"
    assert ack["counts"]["duplicate"] == 1 and ack["counts"]["rejected"] == 0, ack["counts"]


def test_the_binding_acknowledges_in_the_manifest_version_when_supported_else_the_lowest() -> None:
    from tongban.connectors.filedrop.acks import ack_version

    assert ack_version({"specVersion": "TBS-1.1"}, BOTH) == "TBS-1.1"
    assert ack_version({"specVersion": "TBS-1.1"}, ONLY_10) == "TBS-1.0"
    assert ack_version({"specVersion": "TBS-9.9"}, BOTH) == "TBS-1.0"     # every sender reads it until the sunset
    assert ack_version(None, ("TBS-1.1",)) == "TBS-1.1"                   # after the sunset
    assert ack_version({"specVersion": "TBS-1.0"}, None) == "TBS-1.0"
