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
from tongban.store.schema import CaseEventRecord, CaseRecord, EvaluationRecord, LedgerEntry, LedgerHead, LedgerRecord
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


def _recompute_chain_after_editing(store):
    """The attacker edits a case, its ledger_records hash, and recomputes every entry hash."""
    with store.transaction() as s:
        _edit_case_content(s, fix_sha=True)
        row = s.execute(select(CaseRecord)).scalars().first()
        key = json.dumps([row.case_no], ensure_ascii=False, separators=(",", ":"))
        s.execute(update(LedgerRecord).where(LedgerRecord.dataset == "case", LedgerRecord.record_key == key)
                  .values(sha256=row.sha256))
        prev = ledger.GENESIS
        for e in s.execute(select(LedgerEntry).order_by(LedgerEntry.seq)).scalars().all():
            listed = [(d, k, h) for d, k, h in s.execute(
                select(LedgerRecord.dataset, LedgerRecord.record_key, LedgerRecord.sha256)
                .where(LedgerRecord.entry_seq == e.seq).order_by(LedgerRecord.id))]
            fields = {k: getattr(e, k) for k in ledger.HASHED_FIELDS}
            fields.update(prev_hash=prev, records_sha256=ledger.records_digest(listed) if listed else None)
            e.prev_hash, e.records_sha256 = prev, fields["records_sha256"]
            e.entry_hash = prev = ledger.entry_hash(fields)
            s.flush()


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
