"""The ledger's hash chain detects an edited, deleted or reordered entry and names it."""
from __future__ import annotations

from sqlalchemy import delete, update

from tongban.store.schema import LedgerEntry
from tongban.sync import ledger


def _fill(store, n=5):
    with store.transaction() as s:
        for i in range(n):
            ledger.append(s, direction="IN", sender="TB:county:440103:LWZWFW", receiver="TB:province:440000:TONGBAN",
                          dataset="case-event", binding="REST", envelope_sha256=f"{i:064x}", record_count=i,
                          verdict="ACCEPTED", counts={"stored": i})


def test_intact_chain_verifies(store):
    _fill(store)
    result = ledger.verify(store)
    assert result.ok and result.entries == 5


def test_edited_entry_is_named(store):
    _fill(store)
    with store.transaction() as s:
        s.execute(update(LedgerEntry).where(LedgerEntry.seq == 3).values(record_count=999))
    result = ledger.verify(store)
    assert not result.ok and result.first_bad_seq == 3 and "edited" in result.problem


def test_deleted_entry_is_detected_at_its_successor(store):
    _fill(store)
    with store.transaction() as s:
        s.execute(delete(LedgerEntry).where(LedgerEntry.seq == 2))
    result = ledger.verify(store)
    assert not result.ok and result.first_bad_seq == 3


def test_reordered_entries_are_detected(store):
    _fill(store)
    fields = ("recorded_at", "envelope_sha256", "record_count", "counts", "prev_hash", "entry_hash")
    with store.transaction() as s:
        a, b = s.get(LedgerEntry, 2), s.get(LedgerEntry, 4)
        va, vb = ({f: getattr(a, f) for f in fields}, {f: getattr(b, f) for f in fields})
        a.prev_hash, a.entry_hash = "x" * 64, "y" * 64  # unique columns: park entry 2 first
        s.flush()
        for f in fields:
            setattr(b, f, va[f])
        s.flush()
        for f in fields:
            setattr(a, f, vb[f])
    result = ledger.verify(store)
    assert not result.ok and result.first_bad_seq == 2


def test_chain_cannot_fork(store):
    """Two entries may not chain onto the same predecessor (unique prev_hash)."""
    import pytest
    from sqlalchemy.exc import IntegrityError

    _fill(store, 1)
    with pytest.raises(IntegrityError):
        with store.transaction() as s:
            first = s.get(LedgerEntry, 1)
            s.add(LedgerEntry(recorded_at="x", direction="IN", sender="a", receiver="b", dataset="case", binding="REST",
                              envelope_sha256="0" * 64, record_count=0, verdict="EMPTY", counts="{}",
                              prev_hash=first.prev_hash, entry_hash="f" * 64))


def test_record_list_text_is_the_canonical_form_records_sha256_was_always_computed_from():
    """append writes and hashes ledger.records_text (orjson); chains written before migration 0012
    hashed canonical_bytes: the two must be the same bytes for every key text."""
    import pytest

    from tongban.model.canonical import canonical_bytes, sha256_hex

    keys = ['["K1",1]', '["案件\\"引号\\"",2]', '["tab\\t\\u0001\\u001f",3]', '["back\\\\slash"]', '["\u2028\u2029\x7f"]',
            '["😀 é"]', '["\\n\\r\\b\\f"]', '[18446744073709551616]', '', '"']
    records = [("case-event" if i % 2 else "case", k, f"{i:064x}") for i, k in enumerate(keys)]
    assert ledger.records_text(records) == canonical_bytes([list(r) for r in records])
    assert sha256_hex(ledger.records_text(records)) == sha256_hex(canonical_bytes([list(r) for r in records]))
    odd = [("case", "\ud800", "0" * 64)]   # a lone surrogate: the canonical path decides (it refuses)
    with pytest.raises(UnicodeEncodeError):
        ledger.records_text(odd)
