"""logical_envelope: the TBS-FILE-004 envelope and the file-level faults, from raw bytes."""
from __future__ import annotations

import hashlib
import json

import pytest

from tongban.connectors.filedrop import logical_envelope
from tongban.model.canonical import canonical_bytes

from filedrop_support import case_event

BATCH = "b-0001"
NAME = f"{BATCH}.manifest.json"


def manifest_for(data: bytes, count: int, **overrides) -> bytes:
    manifest = {
        "specVersion": "TBS-1.0", "messageId": "0b7e6a54-3f1d-4c7a-9a55-1f2e3d4c5b6a",
        "sender": "TB:county:440103:LWZWFW", "receiver": "TB:province:440000:GDZWFW",
        "dataset": "case-event", "sentAt": "2025-03-01T09:00:00+08:00", "batch": {"batchId": BATCH},
        "integrity": {"recordsSha256": "0" * 64},
        "file": {"name": f"{BATCH}.jsonl", "size": len(data), "count": count,
                 "sha256": hashlib.sha256(data).hexdigest()},
    }
    for key, value in overrides.items():
        if value is None:
            manifest.pop(key, None)
        else:
            manifest[key] = value
    return json.dumps(manifest).encode()


def lines(*records) -> bytes:
    return b"".join(canonical_bytes(r) + b"\n" for r in records)


def rules(findings) -> set[tuple[str, str]]:
    return {(f.rule_id, f.location) for f in findings}


def test_valid_batch_gives_the_manifest_without_file_plus_records_in_order():
    data = lines(case_event(1), case_event(2), case_event(3))
    envelope, findings = logical_envelope(manifest_for(data, 3), data, manifest_name=NAME)
    assert findings == []
    assert "file" not in envelope
    assert [r["seq"] for r in envelope["records"]] == [1, 2, 3]
    assert envelope["batch"] == {"batchId": BATCH}


@pytest.mark.parametrize("data, location", [
    (b"\xef\xbb\xbf" + lines(case_event(1)), ""),                                      # BOM
    (b"", ""),                                                                        # no line at all
    (lines(case_event(1)) + b"\n" + lines(case_event(2)), "/records/1"),              # empty line
    (lines(case_event(1)) + canonical_bytes(case_event(2)) + b"\r\n", "/records/1"),  # CR
    (lines(case_event(1)) + canonical_bytes(case_event(2)), "/records/1"),            # last LF missing
    (b"[1,2]\n", "/records/0"),                                                       # not an object
    (b'{"seq":1,"seq":2}\n', "/records/0"),                                           # duplicate member
    (b'{"seq":NaN}\n', "/records/0"),                                                 # NaN is not JSON
    (b'{"name":"\\ud800"}\n', "/records/0"),                                          # unpaired surrogate
    (b'{"name":"\xff"}\n', "/records/0"),                                             # invalid UTF-8
    (lines(*[case_event(i) for i in range(1001)]), ""),                               # > 1000 lines
])
def test_line_framing_faults_are_file_003_at_the_line_or_the_file(data, location):
    count = max(data.count(b"\n"), 1)
    envelope, findings = logical_envelope(manifest_for(data, min(count, 1000)), data, manifest_name=NAME)
    assert envelope is None
    assert ("TBS-FILE-003", location) in rules(findings)
    assert all(f.severity.value == "ERROR" for f in findings)


def test_batch_id_must_equal_the_file_base_name():
    data = lines(case_event(1))
    _, findings = logical_envelope(manifest_for(data, 1, batch={"batchId": "other"}), data, manifest_name=NAME)
    assert ("TBS-FILE-004", "/batch/batchId") in rules(findings)


def test_batch_is_mandatory_for_file():
    data = lines(case_event(1))
    _, findings = logical_envelope(manifest_for(data, 1, batch=None), data, manifest_name=NAME)
    assert rules(findings) == {("TBS-ENV-005", "/batch")}


@pytest.mark.parametrize("field, value", [
    ("name", "b-0002.jsonl"), ("size", 10), ("count", 2), ("sha256", hashlib.sha256(b"x").hexdigest()),
])
def test_file_member_must_describe_the_data_file(field, value):
    data = lines(case_event(1))
    manifest = json.loads(manifest_for(data, 1))
    manifest["file"][field] = value
    envelope, findings = logical_envelope(json.dumps(manifest).encode(), data, manifest_name=NAME)
    assert rules(findings) == {("TBS-FILE-006", f"/file/{field}")}
    assert envelope is not None  # buildable, but rejected for the mismatch


def test_missing_file_member_and_unknown_file_member():
    data = lines(case_event(1))
    manifest = json.loads(manifest_for(data, 1))
    del manifest["file"]["sha256"]
    manifest["file"]["mtime"] = 1
    _, findings = logical_envelope(json.dumps(manifest).encode(), data, manifest_name=NAME)
    assert rules(findings) == {("TBS-ENV-005", "/file/sha256"), ("TBS-ENV-002", "/file/mtime")}


def test_manifest_without_data_file_is_file_005():
    envelope, findings = logical_envelope(manifest_for(b"x\n", 1), None, manifest_name=NAME)
    assert envelope is None
    assert ("TBS-FILE-005", "") in rules(findings)


def test_manifest_that_is_not_i_json_is_env_001():
    _, findings = logical_envelope(b'{"batch":{},"batch":{}}', b"{}\n", manifest_name=NAME)
    assert rules(findings) == {("TBS-ENV-001", "")}


def test_manifest_over_64_kib_is_refused_under_sec_009():
    data = lines(case_event(1))
    big = manifest_for(data, 1, ext={"pad": "x" * 70_000})
    _, findings = logical_envelope(big, data, manifest_name=NAME)
    assert rules(findings) == {("TBS-SEC-009", "")}


def test_data_file_over_64_mib_is_refused_under_sec_009():
    data = b"x" * (67_108_864 + 1)
    _, findings = logical_envelope(manifest_for(b"{}\n", 1), data, manifest_name=NAME)
    assert ("TBS-SEC-009", "") in rules(findings)
