"""Bad input over the file-drop binding (TBS-1.0 §17): one case per kind.

Each kind drops one batch (written by the real writer, then damaged as a hostile or broken
sender would) and lets the bus scan its drop root. The batch must go to ``rejected/`` with a
report naming the rule, be counted in the scan's rejected rules, leave nothing in the store,
and a valid batch dropped right afterwards must be archived and stored whole.
"""
from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import pytest

from tongban.connectors.filedrop.writer import WrittenBatch
from tongban.model.canonical import canonical_bytes

from security_support import PROVINCE_UNREGISTERED, Bus
from security_support import bus, province  # noqa: F401 - pytest fixtures


@dataclass(frozen=True)
class Kind:
    id: str
    drop: Callable[[Bus], WrittenBatch]
    rule_id: str
    finding: str = ""
    ledgered: bool = True   # False: the manifest is no JSON object, there is no envelope to speak of
    only: bool = False      # the report names this rule and no other


def _batch(bus: Bus, **members: Any) -> WrittenBatch:
    writer = bus.writer()
    envelope = writer.build_envelope("case", bus.fresh_cases(2))
    envelope.update(members)
    return writer.write_envelope(envelope)


def _damage_data(edit: Callable[[bytes], bytes]) -> Callable[[Bus], WrittenBatch]:
    def drop(bus: Bus) -> WrittenBatch:
        batch = _batch(bus)
        path = Path(batch.data_path)
        path.write_bytes(edit(path.read_bytes()))
        return batch
    return drop


def _damage_manifest(edit: Callable[[bytes], bytes]) -> Callable[[Bus], WrittenBatch]:
    def drop(bus: Bus) -> WrittenBatch:
        batch = _batch(bus)
        path = Path(batch.manifest_path)
        path.write_bytes(edit(path.read_bytes()))
        return batch
    return drop


def _manifest_member(**changes: Any) -> Callable[[bytes], bytes]:
    def edit(raw: bytes) -> bytes:
        manifest = json.loads(raw)
        manifest.update(changes)
        return canonical_bytes(manifest)
    return edit


def _file_member(**changes: Any) -> Callable[[bytes], bytes]:
    def edit(raw: bytes) -> bytes:
        manifest = json.loads(raw)
        manifest["file"].update(changes)
        return canonical_bytes(manifest)
    return edit


def _reused_batch_id(bus: Bus) -> WrittenBatch:
    first = _batch(bus)
    _, stats = bus.scan()
    assert stats.archived == 1
    bus._reused = True  # type: ignore[attr-defined]
    return _batch(bus, batch={"batchId": first.batch_id})


def _same_size_other_byte(raw: bytes) -> bytes:
    i = raw.index(b'"caseNo":"') + 12
    return raw[:i] + (b"9" if raw[i:i + 1] != b"9" else b"8") + raw[i + 1:]


KINDS = [
    # -- the data file (TBS-FILE-003, -006) ---------------------------------------------------
    Kind("data-crlf-line-ends", _damage_data(lambda d: d.replace(b"\n", b"\r\n")), "TBS-FILE-003", finding="9"),
    Kind("data-empty-line", _damage_data(lambda d: d + b"\n"), "TBS-FILE-003", finding="9"),
    Kind("data-utf8-bom", _damage_data(lambda d: b"\xef\xbb\xbf" + d), "TBS-FILE-003", finding="9"),
    Kind("data-invalid-utf8", _damage_data(lambda d: d.replace(b'"caseNo"', b'"case\xffNo"', 1)), "TBS-FILE-003", finding="9"),
    Kind("data-line-not-object", _damage_data(lambda d: b"[1,2]\n" + d.split(b"\n", 1)[1]), "TBS-FILE-003", finding="9"),
    Kind("data-last-line-without-lf", _damage_data(lambda d: d[:-1]), "TBS-FILE-003", finding="9"),
    Kind("data-extra-line", _damage_data(lambda d: d + d.split(b"\n", 1)[0] + b"\n"), "TBS-FILE-006", finding="9"),
    Kind("data-same-size-other-content", _damage_data(_same_size_other_byte), "TBS-FILE-006", finding="9"),
    # -- the manifest (TBS-ENV-001, TBS-FILE-006) ----------------------------------------------
    Kind("manifest-not-json", _damage_manifest(lambda m: b"not json"), "TBS-ENV-001", ledgered=False),
    Kind("manifest-truncated", _damage_manifest(lambda m: m[:-10]), "TBS-ENV-001", ledgered=False),
    Kind("manifest-utf8-bom", _damage_manifest(lambda m: b"\xef\xbb\xbf" + m), "TBS-ENV-001", ledgered=False),
    Kind("manifest-duplicate-member", _damage_manifest(lambda m: m[:-1] + b',"dataset":"case"}'), "TBS-ENV-001",
         ledgered=False),
    Kind("manifest-top-level-array", _damage_manifest(lambda m: b"[" + m + b"]"), "TBS-FILE-004", ledgered=False),
    Kind("manifest-file-size-wrong", _damage_manifest(_file_member(size=1)), "TBS-FILE-006", finding="9"),
    Kind("manifest-file-count-wrong", _damage_manifest(_file_member(count=7)), "TBS-FILE-006", finding="9"),
    Kind("manifest-file-sha-wrong", _damage_manifest(_file_member(sha256="0" * 64)), "TBS-FILE-006", finding="9"),
    # -- the envelope it makes (TBS-SEC-006, -007, -011, TBS-ENV-023, -024, -028) ---------------
    Kind("unsigned", lambda b: b.writer().__class__(b.drop_roots["LW"], sender=b.id("LW"),
                                                    receiver=b.receiver.system_id).write_batch("case",
                                                                                               b.fresh_cases(2)),
         "TBS-SEC-007"),
    Kind("forged-key", lambda b: b.writer(key="forged-key-0123456789abcdef0123456789").write_batch(
        "case", b.fresh_cases(2)), "TBS-ENV-028", only=True),
    Kind("unknown-key-id", lambda b: b.writer(key_id="LW-K9").write_batch("case", b.fresh_cases(2)), "TBS-ENV-028"),
    Kind("wrong-receiver", lambda b: _batch(b, receiver="TB:province:440000:OTHERBUS"), "TBS-ENV-023"),
    Kind("sent-over-24h-ago", lambda b: _batch(b, sentAt="2020-01-01T00:00:00+08:00"), "TBS-SEC-006"),
    Kind("origin-unregistered-province", lambda b: b.writer().write_batch("case", b.fresh_cases(1, "YX"),
                                                                          origin=PROVINCE_UNREGISTERED),
         "TBS-SEC-011", finding="1"),
    Kind("origin-sibling-county", lambda b: b.writer().write_batch("case", b.fresh_cases(1, "YX"),
                                                                   origin=b.id("YX")), "TBS-SEC-011", finding="1"),
    Kind("reused-batch-id", _reused_batch_id, "TBS-FILE-008", finding="9"),
]


@pytest.mark.parametrize("kind", KINDS, ids=[k.id for k in KINDS])
def test_filedrop_kind(bus, kind):
    batch = kind.drop(bus)
    before = bus.snapshot()
    ledger_before = bus.ledger_size()
    counting, stats = bus.scan()
    assert stats.rejected == 1 and stats.archived == 0, stats
    assert stats.rejected_rules[kind.rule_id] >= 1, stats.rejected_rules
    report_path = bus.drop_roots["LW"] / "rejected" / "case"
    reports = sorted(report_path.glob(f"{batch.batch_id}*.report.json"))
    assert reports, list(report_path.iterdir())
    assert b"Traceback" not in reports[-1].read_bytes()
    report = json.loads(reports[-1].read_bytes())
    assert report["status"] == "REJECTED"
    assert kind.rule_id in [i["ruleId"] for i in report["envelopeReport"]["items"]], report
    if kind.only:
        assert [i["ruleId"] for i in report["envelopeReport"]["items"]] == [kind.rule_id], report
    assert not list((bus.drop_roots["LW"] / "inbox" / "case").glob(f"{batch.batch_id}*"))  # moved aside
    assert bus.snapshot() == before, "nothing of a rejected batch may be stored"
    # what stands in for an unreadable data file adds no finding of its own (no null or missing records)
    assert not {"TBS-ENV-004", "TBS-ENV-005", "TBS-ENV-025"} & {i["ruleId"] for i in report["envelopeReport"]["items"]}
    if kind.ledgered:
        # a binding-level rejection of a batch whose manifest is a JSON object, be it for the
        # manifest or for the data file, is ledgered and counted like any refusal (finding 9)
        assert bus.ledger_size() == ledger_before + 1
        entry = bus.last_ledger()
        assert (entry.verdict, entry.binding, entry.sender) == ("REJECTED", "FILE", bus.id("LW")), entry
        assert counting.envelopes == 1 and counting.received >= 1
        assert counting.counts.rejected == counting.received == entry.record_count == report["counts"]["received"]
        assert counting.counts.stored == 0
    else:
        assert bus.ledger_size() == ledger_before and counting.envelopes == 0
    bus.still_stores("filedrop")


# -- entries that are not batches, and batches that never complete --------------------------------

def test_path_traversal_names_in_the_drop_root_are_ignored_and_counted(bus, tmp_path):
    """TBS-FILE-002: names outside the pattern, links and directories in the inbox are never
    opened or moved, only counted; a valid batch in the same scan is stored."""
    outside = tmp_path / "outside"
    outside.mkdir()
    secret = outside / "victim.manifest.json"
    secret.write_bytes(b'{"not": "yours"}')
    inbox = bus.drop_roots["LW"] / "inbox" / "case"
    hostile = ["..%2F..%2Foutside%2Fvictim.manifest.json", "..\\..\\outside\\victim.jsonl",
               ".hidden.manifest.json", "batch one.jsonl"]
    for name in hostile:
        (inbox / name).write_bytes(b"{}")
    (inbox / "escape.manifest.json").symlink_to(secret)
    (inbox / "nested.jsonl").mkdir()
    try:
        cases = bus.fresh_cases(2)
        batch = bus.writer().write_batch("case", cases)           # a valid batch in the same scan
        before = bus.snapshot()
        _, stats = bus.scan()
        assert stats.ignored["name"] == len(hostile)
        assert stats.ignored["symlink"] == 1 and stats.ignored["directory"] == 1
        assert stats.archived == 1 and stats.rejected == 0
        assert secret.read_bytes() == b'{"not": "yours"}' and sorted(p.name for p in outside.iterdir()) == [secret.name]
        assert all((inbox / name).exists() for name in hostile)  # left alone, never opened or moved
        assert bus.writer().read_ack("case", batch.batch_id)["status"] == "ACCEPTED"
        assert set(bus.snapshot()["case"]) - set(before["case"]) == {canonical_bytes(c).decode() for c in cases}
        bus.still_stores("filedrop")
    finally:
        for name in hostile + ["escape.manifest.json"]:
            (inbox / name).unlink()
        (inbox / "nested.jsonl").rmdir()


def test_a_torn_batch_waits_and_is_rejected_after_the_age_limit(bus):
    """TBS-FILE-005: a data file without its manifest waits (other batches flow meanwhile) and
    goes to rejected/ once it is older than 24 h; nothing of it is stored."""
    cases = bus.fresh_cases(2)
    batch = bus.writer().write_batch("case", cases)
    batch.manifest_path.unlink()                                  # the sender died before the manifest
    _, stats = bus.scan()
    assert stats.incomplete == 1 and stats.archived == stats.rejected == 0
    assert batch.data_path.exists() and not {c["caseNo"] for c in cases} & bus.stored_case_nos()
    bus.still_stores("filedrop")                                  # other batches flow meanwhile

    old = time.time() - 25 * 3600                                 # past the 24 h of TBS-FILE-005
    os.utime(batch.data_path, (old, old))
    _, stats = bus.scan()
    assert stats.orphans_rejected == 1 and stats.rejected == 1
    assert stats.rejected_rules["TBS-FILE-005"] == 1
    assert not batch.data_path.exists()
    assert (bus.drop_roots["LW"] / "rejected" / "case" / batch.data_path.name).exists()
    report = bus.writer().read_ack("case", batch.batch_id)
    assert report["status"] == "REJECTED"
    assert not {c["caseNo"] for c in cases} & bus.stored_case_nos()
    bus.still_stores("filedrop")
