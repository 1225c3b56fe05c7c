"""Finding 8: ``tongban ledger verify`` checks the stored content against the ledger, and a
chain recomputed after an edit is caught by the head's HMAC (with the bus's ledger key) or
by an anchor written before the edit.

The store is filled through the real ingest and ledger (Annex B worked examples: a catalog
item, two cases, five events, a result, two evaluations); the tampering is done with plain
SQL, as someone with write access to the database would.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from sqlalchemy import delete, select, update

from fault_support import BUS
from tongban.cli import main
from tongban.model.canonical import canonical_bytes, sha256_hex
from tongban.store import Store
from tongban.store.schema import (CaseEventRecord, CaseRecord, EvaluationRecord, LedgerEntry, LedgerHead,
                                   LedgerRecordList)
from tongban.sync import ledger
from tongban.sync.ingest import Ingestor
from tongban.validators import ValidationContext

ANNEX_B = Path(__file__).resolve().parents[1] / "data" / "annex_b"
COUNTY = "TB:county:440103:LWZWFW"
KEY = "ledger-head-key-for-tests-0123456789"


@pytest.fixture
def filled(tmp_path, monkeypatch):
    db = f"sqlite:///{tmp_path / 'ledger.db'}"
    anchors = tmp_path / "anchors.jsonl"
    partners = tmp_path / "partners.yaml"
    partners.write_text(yaml.safe_dump({"bus": {"system_id": BUS, "admission": "off",
                                                "ledger_key_env": "TONGBAN_TEST_LEDGER_KEY",
                                                "ledger_anchor_file": str(anchors)},
                                        "partners": [{"id": COUNTY, "parent": BUS, "transport": "rest",
                                                      "endpoint": "https://127.0.0.1:1", "hold_timeout": "PT1M",
                                                      "roles": ["CASE_REPORTER", "CATALOG_PROVIDER",
                                                                "RESULT_PUBLISHER", "EVALUATION_REPORTER"]}]}))
    monkeypatch.setenv("TONGBAN_DATABASE_URL", db)
    monkeypatch.setenv("TONGBAN_PARTNERS", str(partners))
    monkeypatch.setenv("TONGBAN_TEST_LEDGER_KEY", KEY)
    store = Store(db)
    store.upgrade()
    store.ledger_key = KEY.encode()
    for name in ("B.1", "B.2", "B.3", "B.4", "B.5"):
        example = json.loads((ANNEX_B / f"{name}.json").read_text(encoding="utf-8"))
        with store.transaction() as s:
            result = Ingestor(s, partner_id=COUNTY, writer=COUNTY, hold_timeout_s=60,
                              context=ValidationContext()).ingest(example["dataset"], example["records"])
            assert result.counts.rejected == 0, name
            ledger.append(s, direction="IN", sender=COUNTY, receiver=BUS, dataset=example["dataset"], binding="REST",
                          envelope_sha256=sha256_hex(canonical_bytes(example)), record_count=len(example["records"]),
                          verdict="ACCEPTED", counts=result.counts.as_dict())
    ledger.anchor(store, anchors)
    return store, anchors


def verify_cli(*args):
    return CliRunner().invoke(main, ["ledger", "verify", *args])


def test_an_untouched_store_verifies_with_every_record_explained(filled):
    result = verify_cli()
    assert result.exit_code == 0, result.output
    assert "head authenticated" in result.output and "1 anchor(s)" in result.output
    assert "11 stored records explained" in result.output


def _edit_case_content(s, *, fix_sha: bool):
    row = s.execute(select(CaseRecord)).scalars().first()
    content = json.loads(row.content)
    content["applicant"]["name"] = "李四"
    text = canonical_bytes(content).decode()
    values = {"content": text, "sha256": sha256_hex(text.encode())} if fix_sha else {"content": text}
    s.execute(update(CaseRecord).where(CaseRecord.case_no == row.case_no).values(**values))


def _edit_event_opinion(s):
    row = s.execute(select(CaseEventRecord).order_by(CaseEventRecord.seq.desc())).scalars().first()
    content = json.loads(row.content)
    content["opinion"] = "同意（已改）"
    text = canonical_bytes(content).decode()
    s.execute(update(CaseEventRecord).where(CaseEventRecord.case_no == row.case_no, CaseEventRecord.seq == row.seq)
              .values(content=text, sha256=sha256_hex(text.encode())))


def _delete_evaluation(s):
    row = s.execute(select(EvaluationRecord)).scalars().first()
    s.execute(delete(EvaluationRecord).where(EvaluationRecord.case_no == row.case_no,
                                             EvaluationRecord.assess_no == row.assess_no))


def _insert_unledgered_evaluation(s):
    row = s.execute(select(EvaluationRecord)).scalars().first()
    s.add(EvaluationRecord(case_no=row.case_no, assess_no=99, satisfaction=5, channel=row.channel,
                           assessed_at=row.assessed_at, source=row.source, content=row.content, sha256=row.sha256))


@pytest.mark.parametrize("tamper, expected", [
    (lambda s: _edit_case_content(s, fix_sha=False), "does not match its sha256"),
    (lambda s: _edit_case_content(s, fix_sha=True), "differs from what the ledger says was stored"),
    (_edit_event_opinion, "differs from what the ledger says was stored"),
    (_delete_evaluation, "missing (deleted)"),
    (_insert_unledgered_evaluation, "stored by no ledger entry"),
], ids=["case-content-edited", "case-content-and-sha-edited", "event-opinion-edited", "evaluation-deleted",
        "row-inserted-outside-the-ledger"])
def test_tampered_stored_content_fails_ledger_verify(filled, tamper, expected):
    store, _ = filled
    with store.transaction() as s:
        tamper(s)
    result = verify_cli()
    assert result.exit_code == 1 and expected in result.output, result.output
    assert verify_cli("--chain-only").exit_code == 0, "the chain itself was not touched"


def _edit_ledgered_case_digest(s, *, rehash_entry: bool):
    """Edit a case with its sha256, and the case's digest in the record list of every entry that
    stored it (the list text rewritten canonically); with ``rehash_entry`` also the entry's
    records_sha256 (which breaks its entry hash), else the list no longer matches it."""
    _edit_case_content(s, fix_sha=True)
    row = s.execute(select(CaseRecord)).scalars().first()
    key = json.dumps([row.case_no], ensure_ascii=False, separators=(",", ":"))
    edited = 0
    for lst in s.execute(select(LedgerRecordList)).scalars().all():
        triples = json.loads(lst.records)
        if not any(d == "case" and k == key for d, k, _ in triples):
            continue
        triples = [[d, k, row.sha256 if (d, k) == ("case", key) else h] for d, k, h in triples]
        lst.records = canonical_bytes(triples).decode()
        edited += 1
        if rehash_entry:
            s.get(LedgerEntry, lst.entry_seq).records_sha256 = sha256_hex(lst.records.encode())
    assert edited, "the case is in some entry's list"


def _recompute_chain_after_editing(store):
    """The attacker edits a case, its digest in the record list, and recomputes every entry hash."""
    with store.transaction() as s:
        _edit_ledgered_case_digest(s, rehash_entry=False)
        prev = ledger.GENESIS
        for e in s.execute(select(LedgerEntry).order_by(LedgerEntry.seq)).scalars().all():
            listed = s.get(LedgerRecordList, e.seq)
            fields = {k: getattr(e, k) for k in ledger.HASHED_FIELDS}
            fields.update(prev_hash=prev,
                          records_sha256=sha256_hex(listed.records.encode()) if listed is not None else None)
            e.prev_hash, e.records_sha256 = prev, fields["records_sha256"]
            e.entry_hash = prev = ledger.entry_hash(fields)
            s.flush()


def _first_entry_with_records(s):
    return s.execute(select(LedgerEntry).where(LedgerEntry.records_sha256.is_not(None))
                     .order_by(LedgerEntry.seq)).scalars().first()


def _edit_list_text(s):
    """A digest in a record list changed, nothing else."""
    lst = s.get(LedgerRecordList, _first_entry_with_records(s).seq)
    triples = json.loads(lst.records)
    triples[0][2] = "0" * 64
    lst.records = canonical_bytes(triples).decode()


def _delete_list(s):
    s.execute(delete(LedgerRecordList).where(LedgerRecordList.entry_seq == _first_entry_with_records(s).seq))


def _add_list_to_entry_without_records(s):
    bare = s.execute(select(LedgerEntry).where(LedgerEntry.records_sha256.is_(None))).scalars().first()
    if bare is None:   # every Annex B entry stored something: ledger one that did not
        bare = ledger.append(s, direction="IN", sender=COUNTY, receiver=BUS, dataset="case", binding="REST",
                             envelope_sha256="1" * 64, record_count=0, verdict="EMPTY", counts={})
    s.add(LedgerRecordList(entry_seq=bare.seq, records=s.get(LedgerRecordList, _first_entry_with_records(s).seq)
                           .records))


def _add_list_for_entry_not_in_chain(s):
    last = s.execute(select(LedgerEntry.seq).order_by(LedgerEntry.seq.desc())).scalars().first()
    s.add(LedgerRecordList(entry_seq=last + 100, records='[["case","[\\"X\\"]","' + "0" * 64 + '"]]'))


@pytest.mark.parametrize("tamper, expected", [
    (_edit_list_text, "the list text in ledger_record_lists was edited"),
    (lambda s: _edit_ledgered_case_digest(s, rehash_entry=False), "the list text in ledger_record_lists was edited"),
    (lambda s: _edit_ledgered_case_digest(s, rehash_entry=True), "content does not match its hash"),
    (_delete_list, "list of stored records is missing"),
    (_add_list_to_entry_without_records, "stored no records, yet ledger_record_lists holds a list"),
    (_add_list_for_entry_not_in_chain, "which is not in the chain"),
], ids=["list-text-edited", "case-and-its-listed-digest-edited", "case-digest-and-records-sha256-edited",
        "list-deleted", "list-added-to-an-entry", "list-of-an-entry-not-in-the-chain"])
def test_tampered_record_lists_fail_even_the_chain_check(filled, tamper, expected):
    store, _ = filled
    with store.transaction() as s:
        tamper(s)
    for args in ((), ("--chain-only",)):
        result = verify_cli(*args)
        said = " ".join(result.output.split())   # the console wraps long lines
        assert result.exit_code == 1 and expected in said, (args, result.output)
        assert "entry " in said


def test_a_recomputed_chain_is_caught_by_the_head_hmac(filled):
    store, _ = filled
    _recompute_chain_after_editing(store)
    assert ledger.verify(store, records=True).ok, "without the key the forgery is consistent"
    result = verify_cli("--anchors", "/nonexistent-anchor-file")
    assert result.exit_code == 1 and "the chain was recomputed" in result.output, result.output
    with store.transaction() as s:  # the forger also points the head at the new last hash, but has no key
        last = s.execute(select(LedgerEntry).order_by(LedgerEntry.seq.desc())).scalars().first()
        s.execute(update(LedgerHead).values(seq=last.seq, entry_hash=last.entry_hash))
    result = verify_cli("--anchors", "/nonexistent-anchor-file")
    assert result.exit_code == 1 and "HMAC does not verify" in result.output, result.output


def test_a_recomputed_chain_with_a_rewritten_head_is_caught_by_the_anchor(filled):
    """Even someone holding the key (who can rewrite the head's HMAC) cannot rewrite the anchor."""
    store, anchors = filled
    _recompute_chain_after_editing(store)
    with store.transaction() as s:  # the forger holds the key and re-authenticates the head
        ledger.append(s, direction="IN", sender=COUNTY, receiver=BUS, dataset="case", binding="REST",
                      envelope_sha256="0" * 64, record_count=0, verdict="EMPTY", counts={})
    assert ledger.verify(store, key=KEY.encode(), records=True).ok
    result = verify_cli()
    assert result.exit_code == 1 and "not in the chain" in result.output and "anchor" in result.output, result.output
