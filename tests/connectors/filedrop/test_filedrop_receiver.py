"""Writer and receiver against a real drop root in tmp_path (TBS-FILE-001..009)."""
from __future__ import annotations

import json
import os
import shutil
import threading
import time

import pytest

from tongban.connectors.base import Feed, Pusher, ServiceError, TransportError
from tongban.connectors.filedrop import FileDropConnector, FileDropReceiver, FileDropWriter
from tongban.connectors.filedrop.names import is_drop_name
from tongban.connectors.filedrop.signing import verify_hmac_sha256
from tongban.model.canonical import canonical_sha256

from filedrop_support import KEY, RECEIVER, SENDER, case_event

DS = "case-event"


def listing(folder) -> list[str]:
    return sorted(os.listdir(folder))


def report_rules(path) -> set[tuple[str, str]]:
    ack = json.loads(path.read_text("utf-8"))
    assert ack["status"] == "REJECTED"
    return {(i["ruleId"], i["location"]) for i in ack["envelopeReport"]["items"]}


def test_round_trip_archives_the_batch_with_its_ack(writer, receiver, service, tmp_path):
    written = writer.write_batch(DS, [case_event(1), case_event(2)], batch_id="b-001")
    assert listing(tmp_path / "drop/inbox" / DS) == ["b-001.jsonl", "b-001.manifest.json"]

    stats = receiver.scan_once()

    assert stats.archived == 1 and stats.rejected == 0
    [call] = service.calls
    assert call["binding"] == "FILE"
    assert call["authenticated_sender"] == SENDER
    assert call["binding_dataset"] == DS
    assert call["request_hash"] == canonical_sha256(call["envelope"]) == written.request_hash
    assert call["envelope"]["records"] == [case_event(1), case_event(2)]
    assert "file" not in call["envelope"]
    assert verify_hmac_sha256(call["envelope"], KEY)
    assert listing(tmp_path / "drop/inbox" / DS) == []
    assert listing(tmp_path / "drop/archive" / DS) == ["b-001.ack.json", "b-001.jsonl", "b-001.manifest.json"]
    ack = writer.read_ack(DS, "b-001", message_id=written.message_id)
    assert ack["status"] == "ACCEPTED" and ack["requestHash"] == written.request_hash


def test_connector_push_waits_for_the_ack_file(writer, receiver):
    stop = threading.Event()
    scanner = threading.Thread(target=receiver.serve, args=(stop, 0.05), daemon=True)
    scanner.start()
    try:
        connector = FileDropConnector(writer, ack_timeout=10, poll_interval=0.05)
        envelope = writer.build_envelope(DS, [case_event(1)])
        del envelope["batch"]  # the connector adds batch {batchId: messageId}
        result = connector.push(envelope)
    finally:
        stop.set()
        scanner.join(5)
    assert result.ack["status"] == "ACCEPTED"
    assert result.ack["requestMessageId"] == envelope["messageId"]
    assert result.extras == {"batchId": envelope["messageId"], "requestHashMatches": True}
    # the file binding has no feed: the connector only pushes
    assert isinstance(connector, Pusher) and not isinstance(connector, Feed)


def test_connector_push_without_a_receiver_times_out_as_transport_error(writer):
    connector = FileDropConnector(writer, ack_timeout=0.2, poll_interval=0.05)
    with pytest.raises(TransportError):
        connector.push(writer.build_envelope(DS, [case_event(1)]))


def test_torn_batch_waits_then_is_rejected_after_the_age_limit(tmp_path, service):
    receiver = FileDropReceiver(tmp_path / "drop", service, own_id=RECEIVER, owner=SENDER, orphan_max_age=3600)
    receiver.provision()
    writer = FileDropWriter(tmp_path / "drop", sender=SENDER, receiver=RECEIVER, key_id="k1", key=KEY)
    written = writer.write_batch(DS, [case_event(1)], batch_id="torn")
    written.manifest_path.unlink()  # the sender died between the two renames

    stats = receiver.scan_once()
    assert stats.incomplete == 1 and stats.archived == stats.rejected == 0
    assert service.calls == []
    assert listing(tmp_path / "drop/inbox" / DS) == ["torn.jsonl"]

    old = time.time() - 3601
    os.utime(written.data_path, (old, old))
    stats = receiver.scan_once()
    assert stats.orphans_rejected == 1
    assert listing(tmp_path / "drop/rejected" / DS) == ["torn.jsonl", "torn.report.json"]
    assert report_rules(tmp_path / "drop/rejected" / DS / "torn.report.json") == {("TBS-FILE-005", "")}


def test_manifest_without_data_file_is_rejected(writer, receiver, tmp_path):
    written = writer.write_batch(DS, [case_event(1)], batch_id="nodata")
    written.data_path.unlink()
    stats = receiver.scan_once()
    assert stats.rejected_rules["TBS-FILE-005"] == 1
    assert listing(tmp_path / "drop/rejected" / DS) == ["nodata.manifest.json", "nodata.report.json"]


def test_part_files_are_ignored_and_left_alone(receiver, service, tmp_path):
    inbox = tmp_path / "drop/inbox" / DS
    (inbox / "p.jsonl.part").write_bytes(b"{}\n")
    (inbox / "p.manifest.json.part").write_bytes(b"{}")
    stats = receiver.scan_once()
    assert stats.ignored["part"] == 2
    assert service.calls == []
    assert listing(inbox) == ["p.jsonl.part", "p.manifest.json.part"]


def test_unsafe_names_subdirectories_and_symlinks_are_ignored_and_counted(writer, receiver, service, tmp_path):
    # A valid batch outside the drop root that a symlink tries to smuggle in.
    outside = tmp_path / "outside"
    outside.mkdir()
    foreign = FileDropWriter(outside, sender=SENDER, receiver=RECEIVER, key_id="k1", key=KEY)
    (outside / "inbox" / DS).mkdir(parents=True)
    smuggled = foreign.write_batch(DS, [case_event(9)], batch_id="evil")
    inbox = tmp_path / "drop/inbox" / DS
    os.symlink(smuggled.manifest_path, inbox / "evil.manifest.json")
    os.symlink(smuggled.data_path, inbox / "evil.jsonl")
    (inbox / ".hidden.manifest.json").write_bytes(smuggled.manifest_path.read_bytes())
    (inbox / "..x.jsonl").write_bytes(b"{}\n")
    (inbox / "-dash.jsonl").write_bytes(b"{}\n")
    (inbox / "名单.jsonl").write_bytes(b"{}\n")
    (inbox / "sub.manifest.json").mkdir()
    (inbox / "notes.txt").write_bytes(b"hello")

    stats = receiver.scan_once()

    assert service.calls == []
    assert stats.ignored == {"symlink": 2, "name": 4, "directory": 1, "not-a-batch-file": 1}
    assert stats.archived == stats.rejected == 0
    assert smuggled.manifest_path.exists() and smuggled.data_path.exists()  # never moved


@pytest.mark.parametrize("name", ["../x", "a/../../x", "/etc/passwd", ".", "..", ".hidden", "x.part", "", "a" * 129])
def test_path_traversal_names_never_pass_the_name_check(name):
    assert not is_drop_name(name)


def test_receiver_refuses_to_join_an_unchecked_name(receiver, tmp_path):
    with pytest.raises(ValueError):
        receiver._inside(tmp_path / "drop/inbox" / DS, "../escape.jsonl")


@pytest.mark.parametrize("tamper, rule_location", [
    (lambda data: data[:-3] + b"9}\n", ("TBS-FILE-006", "/file/sha256")),                      # same size
    (lambda data: data + data, ("TBS-FILE-006", "/file/count")),
    (lambda data: data, None),                                                                # control: untouched
])
def test_manifest_mismatch_is_rejected_with_the_file_rule(writer, receiver, service, tmp_path, tamper, rule_location):
    written = writer.write_batch(DS, [case_event(1)], batch_id="t-1")
    written.data_path.write_bytes(tamper(written.data_path.read_bytes()))
    stats = receiver.scan_once()
    if rule_location is None:
        assert stats.archived == 1
        return
    # the service sees the batch only with the binding's findings (to ledger and count the refusal)
    assert stats.rejected == 1 and all(c["binding_findings"] for c in service.calls)
    rules = report_rules(tmp_path / "drop/rejected" / DS / "t-1.report.json")
    assert rule_location in rules
    if rule_location[1] == "/file/count":
        assert ("TBS-FILE-006", "/file/size") in rules and ("TBS-FILE-006", "/file/sha256") in rules


def test_reused_batch_id_is_rejected_and_renamed_dup(writer, receiver, tmp_path):
    writer.write_batch(DS, [case_event(1)], batch_id="same")
    assert receiver.scan_once().archived == 1
    second = writer.write_batch(DS, [case_event(2)], batch_id="same")
    third_stats = receiver.scan_once()
    assert third_stats.rejected_rules == {"TBS-FILE-008": 1}
    assert report_rules(tmp_path / "drop/rejected" / DS / "same.report.json") == {("TBS-FILE-008", "/batch/batchId")}
    third = writer.write_batch(DS, [case_event(3)], batch_id="same")
    receiver.scan_once()
    assert "same-dup1.report.json" in listing(tmp_path / "drop/rejected" / DS)
    assert writer.read_ack(DS, "same", message_id=third.message_id)["requestMessageId"] == third.message_id
    assert writer.read_ack(DS, "same", message_id=second.message_id)["requestMessageId"] == second.message_id


def test_batches_are_processed_in_sent_at_order_then_batch_id(writer, receiver, service):
    writer.write_batch(DS, [case_event(1)], batch_id="c", sent_at="2025-03-01T10:00:00+08:00")
    writer.write_batch(DS, [case_event(2)], batch_id="a", sent_at="2025-03-01T02:30:00Z")  # 10:30 +08:00
    writer.write_batch(DS, [case_event(3)], batch_id="z", sent_at="2025-03-01T09:00:00+08:00")
    writer.write_batch(DS, [case_event(4)], batch_id="b", sent_at="2025-03-01T10:00:00+08:00")
    stats = receiver.scan_once()
    assert [c["envelope"]["batch"]["batchId"] for c in service.calls] == ["z", "b", "c", "a"]
    assert stats.processed_order == [f"{DS}/{b}" for b in ("z", "b", "c", "a")]


def test_dataset_must_match_the_drop_directory(writer, receiver, service, tmp_path):
    written = writer.write_batch("case", [case_event(1)], batch_id="wrongdir")
    for path in (written.data_path, written.manifest_path):
        shutil.move(path, tmp_path / "drop/inbox" / DS / path.name)
    receiver.scan_once()
    assert all(c["binding_findings"] for c in service.calls)
    assert report_rules(tmp_path / "drop/rejected" / DS / "wrongdir.report.json") == {("TBS-ENV-024", "/dataset")}


def test_envelope_level_rejection_by_the_service_goes_to_rejected(tmp_path, receiver, service):
    bad_key = FileDropWriter(tmp_path / "drop", sender=SENDER, receiver=RECEIVER, key_id="k1", key=b"\x01" * 32)
    bad_key.write_batch(DS, [case_event(1)], batch_id="badsig")
    stats = receiver.scan_once()
    assert len(service.calls) == 1 and stats.rejected == 1
    assert report_rules(tmp_path / "drop/rejected" / DS / "badsig.report.json") == {
        ("TBS-ENV-028", "/integrity/signature")}


def test_transient_service_failure_leaves_the_batch_for_the_next_scan(writer, receiver, service, tmp_path):
    writer.write_batch(DS, [case_event(1)], batch_id="later")
    service.fail_with = ServiceError(503, "UNAVAILABLE", "store down")
    assert receiver.scan_once().deferred == 1
    assert listing(tmp_path / "drop/inbox" / DS) == ["later.jsonl", "later.manifest.json"]
    service.fail_with = None
    assert receiver.scan_once().archived == 1


def test_forbidden_sender_is_rejected_under_sec_002(writer, receiver, service, tmp_path):
    writer.write_batch(DS, [case_event(1)], batch_id="who")
    service.fail_with = ServiceError(403, "FORBIDDEN", "sender is not the drop root owner")
    receiver.scan_once()
    assert report_rules(tmp_path / "drop/rejected" / DS / "who.report.json") == {("TBS-SEC-002", "/sender")}


def test_archived_ack_is_rewritten_when_held_records_resolve(writer, receiver, tmp_path):
    written = writer.write_batch(DS, [case_event(1)], batch_id="held")
    receiver.scan_once()
    ack = writer.read_ack(DS, "held", message_id=written.message_id)
    updated = {**ack, "final": True, "counts": {**ack["counts"], "stored": 1}}
    path = receiver.update_ack(DS, "held", updated)
    assert path == tmp_path / "drop/archive" / DS / "held.ack.json"
    assert json.loads(path.read_text("utf-8")) == updated
    with pytest.raises(FileNotFoundError):
        receiver.update_ack(DS, "held", {**updated, "requestMessageId": "00000000-0000-4000-8000-000000000000"})
