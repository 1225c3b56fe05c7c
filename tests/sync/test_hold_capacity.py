"""Hold capacity (TBS-SYNC-008): at least 10 000 held records per sender; the record that
would exceed a sender's capacity is rejected at ``/records/i``; capacity is counted per sender,
also when a record held for one sender is released by another's record and held again."""
from __future__ import annotations

import copy
import json
from pathlib import Path

from sqlalchemy import func, select

from tongban.store.schema import HeldRecord, QuarantineEntry
from tongban.sync.ingest import Ingestor
from tongban.validators import ValidationContext

ANNEX_B = Path(__file__).resolve().parents[1] / "data" / "annex_b"
COUNTY = "TB:county:440103:LWZWFW"
CITY = "TB:city:440100:GZZWFW"
MINIMUM = 10_000   # TBS-SYNC-008: "at least 10 000 records per sender"


def annex(name):
    return json.loads((ANNEX_B / f"{name}.json").read_text(encoding="utf-8"))


def ingest(store, partner, dataset, records):
    with store.transaction() as s:
        return Ingestor(s, partner_id=partner, writer=partner, hold_timeout_s=3600,
                        context=ValidationContext()).ingest(dataset, records)


def orphan_events(count, first_case=1000):
    """``count`` events (seq 2 and 3) of cases nobody has reported: each is held (TBS-EVT-009)."""
    accept, review = copy.deepcopy(annex("B.3")["records"][1:3])
    prefix = accept["caseNo"][:-4]
    out = []
    for i in range(count):
        event = copy.deepcopy((accept, review)[i % 2])
        event["caseNo"] = f"{prefix}{first_case + i // 2:04d}"
        out.append(event)
    return out


def held_by(store, partner):
    with store.reading() as s:
        return s.execute(select(func.count()).select_from(HeldRecord)
                         .where(HeldRecord.partner_id == partner)).scalar_one()


def test_a_sender_holds_ten_thousand_records_and_the_next_one_is_rejected(store):
    events = orphan_events(MINIMUM + 1)
    result = ingest(store, COUNTY, "case-event", events)
    assert (result.counts.held, result.counts.rejected) == (MINIMUM, 1)
    last = result.results[-1]
    assert last.outcome.value == "REJECTED"
    assert [(f.rule_id, f.location) for f in last.report.items if f.severity.value == "ERROR"] == \
        [("TBS-SYNC-008", f"/records/{MINIMUM}")]
    assert held_by(store, COUNTY) == MINIMUM
    with store.reading() as s:
        [entry] = s.execute(select(QuarantineEntry)).scalars().all()
    assert entry.rule_ids == "TBS-SYNC-008" and json.loads(entry.raw) == events[-1]
    # another sender's capacity is its own
    other = ingest(store, CITY, "case-event", orphan_events(3, first_case=7000))
    assert (other.counts.held, other.counts.rejected) == (3, 0)


def test_a_released_record_held_again_counts_against_its_own_sender(store):
    """The city is at capacity; a county event waiting for its Case is released by the city's
    Case and held again (now waiting for seq 2): it is the county's hold, not the city's."""
    review = annex("B.3")["records"][2]   # seq 3, before its Case and seq 2
    assert ingest(store, COUNTY, "case-event", [review]).counts.held == 1
    assert ingest(store, CITY, "case-event", orphan_events(MINIMUM)).counts.held == MINIMUM
    case = annex("B.2")["records"][0]
    assert case["caseNo"] == review["caseNo"]
    result = ingest(store, CITY, "case", [case])
    assert (result.counts.stored, result.counts.rejected) == (1, 0)
    with store.reading() as s:
        held = s.execute(select(HeldRecord.partner_id, HeldRecord.rule_id)
                         .where(HeldRecord.waits_for == case["caseNo"])).all()
        assert s.execute(select(QuarantineEntry)).first() is None
    assert [tuple(h) for h in held] == [(COUNTY, "TBS-EVT-007")]
    assert (held_by(store, COUNTY), held_by(store, CITY)) == (1, MINIMUM)
