"""Stage S0 envelope rules with a binding context, and the record API (pulled records, stages)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from tbs_examples import changed, identities, load_example
from tongban.validators import RECORD_STAGES, RecordRun, ValidationContext, validate_envelope, validate_record

E = "ERROR"


def _ids(envelope, **context) -> list[tuple[str, str, str]]:
    return identities(validate_envelope(envelope, context=ValidationContext(**context)).report)


def test_wildcard_receiver_only_over_mqtt() -> None:
    envelope = changed("B.2", lambda env: env.update(receiver="*"))
    assert _ids(envelope) == []
    assert _ids(envelope, binding="MQTT") == []
    assert _ids(envelope, binding="REST") == [(E, "TBS-CODE-001", "/receiver")]


def test_dataset_must_match_the_binding() -> None:
    assert _ids(load_example("B.2"), binding="REST", binding_dataset="case") == []
    assert _ids(load_example("B.2"), binding="REST", binding_dataset="catalog") == [(E, "TBS-ENV-024", "/dataset")]


def test_batch_part_and_parts_go_together() -> None:
    envelope = changed("B.3", lambda env: env["batch"].pop("parts"))
    assert _ids(envelope) == [(E, "TBS-ENV-026", "/batch/parts")]


def test_file_binding_needs_a_batch() -> None:
    assert _ids(load_example("B.2"), binding="FILE") == [(E, "TBS-ENV-005", "/batch")]


def test_envelope_level_error_stops_before_records() -> None:
    envelope = changed("B.2", lambda env: (env.update(note="x"), env["records"][0].update(remark="加急")))
    verdict = validate_envelope(envelope)
    assert identities(verdict.report) == [(E, "TBS-ENV-002", "/note")]
    assert verdict.record_reports == [] and verdict.envelope_rejected


def test_origin_equal_to_sender_is_refused() -> None:
    envelope = changed("B.5", lambda env: env.update(origin=env["sender"]))
    assert _ids(envelope) == [(E, "TBS-SEC-011", "/origin")]


def test_missing_members_are_located_where_they_would_be() -> None:
    envelope = changed("B.2", lambda env: (env.pop("sentAt"), env["integrity"].pop("recordsSha256")), rehash=False)
    assert _ids(envelope) == [(E, "TBS-ENV-005", "/integrity/recordsSha256"), (E, "TBS-ENV-005", "/sentAt")]


def test_binding_findings_join_the_right_report() -> None:
    from tongban.validators.rules import make_finding
    mapped = [make_finding("TBS-SOAP-003", "/records/1/itemName", "x", "x"),
              make_finding("TBS-ENV-002", "/records/0/remark", "x", "x", "加急")]
    verdict = validate_envelope(load_example("B.2"), binding_findings=mapped)
    assert [f.location for f in verdict.record_reports[0].items] == ["/records/0/remark"]
    assert [f.location for f in verdict.record_reports[1].items] == ["/records/1/itemName"]
    assert not verdict.envelope_rejected
    env_level = [make_finding("TBS-FILE-003", "/records/1", "x", "x")]
    verdict = validate_envelope(load_example("B.2"), binding_findings=env_level)
    assert verdict.envelope_rejected and verdict.record_reports == []


def test_pulled_record_uses_the_receipt_time() -> None:
    record = load_example("B.3")["records"][0]
    received = datetime(2026, 11, 2, 9, 5, tzinfo=timezone(timedelta(hours=8)))
    report = validate_record("case-event", record, index=4, writer=None, context=ValidationContext(received_at=received))
    assert identities(report) == [(E, "TBS-ENV-011", "/records/4/occurredAt")]
    assert validate_record("case-event", record, index=4, writer=None).items == []  # no reference time


def test_non_object_record_and_unknown_dataset() -> None:
    assert identities(validate_record("case", ["x"], index=2, writer=None)) == [(E, "TBS-ENV-025", "/records/2")]
    with pytest.raises(ValueError):
        validate_record("cases", {}, index=0, writer=None)


def test_a_later_stage_can_be_appended() -> None:
    """The stateful layer appends S5; it runs only after S1–S4 found no ERROR."""
    seen: list[int] = []

    def s5(run: RecordRun) -> None:
        if run.report.errors == 0:
            seen.append(run.index)
            run.emit("TBS-SYNC-006", run.base, "duplicate", "重复")

    good = load_example("B.3")["records"][0]
    bad = dict(good, seq=0)
    report = validate_record("case-event", good, index=0, writer=None, stages=RECORD_STAGES + (s5,))
    assert identities(report) == [("INFO", "TBS-SYNC-006", "/records/0")]
    validate_record("case-event", bad, index=1, writer=None, stages=RECORD_STAGES + (s5,))
    assert seen == [0]
