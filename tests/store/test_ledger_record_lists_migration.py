"""Migration 0012 turns the per-record ``ledger_records`` rows into one ``ledger_record_lists``
text per entry, and a chain written before it still verifies after it: every list is the very
text its entry's ``records_sha256`` is the SHA-256 of, and every stored record is explained.

The old ledger is written here as the code before 0012 wrote it (one ``ledger_records`` row per
stored record, in stored order), on a store at revision 0011; the records themselves are stored
through the real ingest (Annex B worked examples). Then the store is upgraded to head; the
downgrade expands the lists back to the same rows in the same order."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from sqlalchemy import select, text

from store_support import migrated_store
from tongban.model.canonical import canonical_bytes, sha256_hex
from tongban.store.records import PENDING
from tongban.store.schema import LedgerEntry, LedgerHead, LedgerRecordList
from tongban.sync import ledger
from tongban.sync.ingest import Ingestor
from tongban.validators import ValidationContext

ANNEX_B = Path(__file__).resolve().parents[1] / "data" / "annex_b"
COUNTY = "TB:county:440103:LWZWFW"
BUS = "TB:province:440000:TONGBAN"
KEY = b"ledger-head-key-for-tests-0123456789"
BEFORE = "0011_source_totals"


def old_records_digest(records: list[tuple[str, str, str]]) -> str:
    """records_sha256 as ledger.append computed it before migration 0012."""
    return sha256_hex(canonical_bytes([list(r) for r in records]))


def old_append(s, stored: list[tuple[str, str, str]], *, dataset: str, envelope_sha256: str, verdict: str) -> int:
    """ledger.append as it was before migration 0012: the entry, then one ledger_records row per
    stored record, then the authenticated head."""
    last = s.execute(select(LedgerEntry.entry_hash).order_by(LedgerEntry.seq.desc()).limit(1)).scalar()
    fields = {"recorded_at": "2026-12-05T20:00:00.000000+00:00", "direction": "IN", "sender": COUNTY,
              "receiver": BUS, "dataset": dataset, "binding": "REST", "message_id": None,
              "envelope_sha256": envelope_sha256, "record_count": len(stored), "verdict": verdict,
              "counts": "{}", "prev_hash": last or ledger.GENESIS,
              "records_sha256": old_records_digest(stored) if stored else None}
    entry = LedgerEntry(**fields, entry_hash=ledger.entry_hash(fields))
    s.add(entry)
    s.flush()
    if stored:
        s.execute(text("INSERT INTO ledger_records (entry_seq, dataset, record_key, sha256)"
                       " VALUES (:seq, :dataset, :key, :sha256)"),
                  [{"seq": entry.seq, "dataset": d, "key": k, "sha256": h} for d, k, h in stored])
    head = s.get(LedgerHead, 1) or LedgerHead(id=1)
    s.add(head)
    head.seq, head.entry_hash = entry.seq, entry.entry_hash
    head.mac = ledger.head_mac(KEY, entry.seq, entry.entry_hash)
    s.flush()
    return entry.seq


def downgrade(store, revision: str) -> None:
    from alembic import command

    cfg = store.alembic_config()
    with store.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, revision)


def lists(store) -> dict[int, str]:
    with store.reading() as s:
        return dict(s.execute(select(LedgerRecordList.entry_seq, LedgerRecordList.records)).all())


def records_sha256s(store) -> dict[int, str | None]:
    with store.reading() as s:
        return dict(s.execute(select(LedgerEntry.seq, LedgerEntry.records_sha256)).all())


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_a_ledger_written_before_0012_verifies_after_it(kind, tmp_path):
    with migrated_store(kind, tmp_path, BEFORE) as store:
        written: dict[int, list[tuple[str, str, str]]] = {}
        for n, name in enumerate(("B.1", "B.2", "B.3", "B.4", "B.5")):
            example = json.loads((ANNEX_B / f"{name}.json").read_text(encoding="utf-8"))
            with store.transaction() as s:
                result = Ingestor(s, partner_id=COUNTY, writer=COUNTY, hold_timeout_s=60,
                                  context=ValidationContext()).ingest(example["dataset"], example["records"])
                assert result.counts.rejected == 0, name
                stored = s.info.pop(PENDING)
                seq = old_append(s, stored, dataset=example["dataset"],
                                 envelope_sha256=sha256_hex(canonical_bytes(example)), verdict="ACCEPTED")
                written[seq] = stored
                if n == 1:   # an entry that stored nothing, between two that did
                    old_append(s, [], dataset="case", envelope_sha256="0" * 64, verdict="EMPTY")
        assert old_records_digest(written[1]) == records_sha256s(store)[1]

        assert store.upgrade() == "0012_ledger_record_lists"
        assert "ledger_records" not in store.table_names()
        texts, digests = lists(store), records_sha256s(store)
        assert set(texts) == set(written) and len(digests) == len(written) + 1
        for seq, stored in written.items():
            assert texts[seq] == canonical_bytes([list(r) for r in stored]).decode()
            assert sha256_hex(texts[seq].encode()) == digests[seq]
        result = ledger.verify(store, key=KEY, records=True)
        assert result.ok and result.head == "authenticated" and result.records == 11, result

        with store.transaction() as s:  # the new code appends onto the migrated chain
            s.info["tongban.ledger.key"] = KEY
            ledger.append(s, direction="IN", sender=COUNTY, receiver=BUS, dataset="case", binding="REST",
                          envelope_sha256="1" * 64, record_count=0, verdict="EMPTY", counts={})
        assert ledger.verify(store, key=KEY, records=True).ok

        seq = max(written)
        with store.transaction() as s:  # one listed digest changed, the entry's hash left alone
            row = s.get(LedgerRecordList, seq)
            triples = json.loads(row.records)
            triples[-1][2] = "f" * 64
            row.records = canonical_bytes(triples).decode()
        result = ledger.verify(store, key=KEY, records=True)
        assert not result.ok and result.first_bad_seq == seq
        assert f"entry {seq}" in result.problem and "ledger_record_lists was edited" in result.problem


def digest(i: int) -> str:
    return hashlib.sha256(str(i).encode()).hexdigest()


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_lists_longer_than_a_batch_survive_the_upgrade_and_the_downgrade(kind, tmp_path):
    """The upgrade reads ledger_records 20 000 rows at a time: entries of every size around that
    (one bigger than a batch, so its rows span two) keep their rows in order; keys that need JSON
    escapes keep their text."""
    sizes = [3, 0, 20_001, 1, 19_998, 0, 7]
    odd = ['["案件\\"引号\\"",1]', '["tab\\t\\u0001",2]', '["back\\\\slash",3]', '["\u2028😀",4]']
    with migrated_store(kind, tmp_path, BEFORE) as store:
        rows: list[tuple[int, str, str, str]] = []
        n = 0
        with store.transaction() as s:
            for size in sizes:
                stored = []
                for _ in range(size):
                    key = odd[n % len(odd)] if n % 1000 == 0 else f'["K{n:08d}",{n % 9}]'
                    stored.append(("case-event" if n % 3 else "result", key, digest(n)))
                    n += 1
                seq = old_append(s, stored, dataset="case-event", envelope_sha256=digest(-len(rows)),
                                 verdict="ACCEPTED" if stored else "EMPTY")
                rows += [(seq, *r) for r in stored]
        expected = {seq: [list(r[1:]) for r in rows if r[0] == seq] for seq in {r[0] for r in rows}}

        store.upgrade()
        texts = lists(store)
        assert {seq: json.loads(t) for seq, t in texts.items()} == expected
        assert ledger.verify(store, key=KEY).ok   # every list hashes to its entry's records_sha256

        downgrade(store, BEFORE)
        assert "ledger_record_lists" not in store.table_names()
        with store.reading() as s:
            back = s.execute(text("SELECT entry_seq, dataset, record_key, sha256 FROM ledger_records ORDER BY id")).all()
        assert [tuple(r) for r in back] == rows

        store.upgrade()
        assert lists(store) == texts and ledger.verify(store, key=KEY).ok
