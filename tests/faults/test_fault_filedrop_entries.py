"""Finding 2: one hostile entry in a file-drop inbox must not stop the partner's feed.

A batch's ``.jsonl`` replaced by a FIFO, by a symbolic link or by a directory: the sync
neither blocks nor fails; that batch is rejected and moved aside with a report naming the
rule, ledgered and counted in the sync (finding 9), and the batches after it are stored —
counted, 0 lost and 0 duplicated.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from fault_support import BUS, assert_exactly_once, write_registry
from tongban.connectors.filedrop.writer import FileDropWriter
from tongban.store import Store
from tongban.store.schema import LedgerEntry

KEY = "fault-filedrop-hmac-key-0123456789abcdef"


def _at(offset: int) -> str:
    """A sentAt within the freshness window (TBS-SEC-006), ordered by ``offset``."""
    return (datetime.now(timezone.utc) + timedelta(seconds=offset)).isoformat(timespec="seconds")


@pytest.mark.timeout(120)
def test_fifo_symlink_and_directory_batches_are_rejected_and_the_rest_proceed(tmp_path, fault_county):
    cases = fault_county.records("case")[:8]
    root = tmp_path / "drop"
    for folder in ("inbox", "archive", "rejected"):
        (root / folder / "case").mkdir(parents=True)
    writer = FileDropWriter(root, sender=fault_county.system_id, receiver=BUS, key_id="K1", key=KEY.encode())
    batches = [writer.write_batch("case", cases[i:i + 2], sent_at=_at(i))
               for i in range(0, 8, 2)]
    fifo, link, folder, good = batches
    outside = tmp_path / "outside.jsonl"
    outside.write_bytes(link.data_path.read_bytes())
    fifo.data_path.unlink()
    os.mkfifo(fifo.data_path)
    link.data_path.unlink()
    link.data_path.symlink_to(outside)
    folder.data_path.unlink()
    folder.data_path.mkdir()

    partners = write_registry(tmp_path / "partners.yaml", fault_county.system_id, str(root), None,
                              transport="filedrop",
                              credentials={"hmac_key_env": "TONGBAN_TEST_FAULT_HMAC", "key_id": "K1"})
    db = tmp_path / "store.db"
    env = {**os.environ, "TONGBAN_DATABASE_URL": f"sqlite:///{db}", "TONGBAN_TEST_FAULT_HMAC": KEY}
    Store(f"sqlite:///{db}").upgrade()

    def sync():
        return subprocess.run([sys.executable, "-m", "tongban.cli", "sync", "--partners", str(partners), "--partner",
                               fault_county.system_id, "--dataset", "case", "--format", "json"],
                              env=env, capture_output=True, text=True, timeout=40)

    first = sync()
    assert first.returncode == 0, first.stdout + first.stderr
    # the three refused batches are counted in the sync (2 records each, as their manifests
    # declare) and ledgered as REJECTED file-drop envelopes (finding 9); the good one is stored
    run = json.loads(first.stdout)
    assert (run["pages"], run["pulled"], run["stored"], run["rejected"]) == (4, 8, 2, 6), run
    store = Store(f"sqlite:///{db}")
    with store.reading() as s:
        entries = s.execute(select(LedgerEntry.binding, LedgerEntry.verdict, LedgerEntry.record_count,
                                   LedgerEntry.message_id).where(LedgerEntry.direction == "IN")).all()
    store.dispose()
    refused_ids = {json.loads((root / "rejected" / "case" / b.manifest_path.name).read_text())["messageId"]
                   for b in (fifo, link, folder)}
    assert sorted(e.verdict for e in entries) == ["ACCEPTED", "REJECTED", "REJECTED", "REJECTED"], entries
    assert {e.message_id for e in entries if e.verdict == "REJECTED"} == refused_ids
    assert all(e.binding == "FILE" and e.record_count == 2 for e in entries), entries
    for bad in (fifo, link, folder):
        report = json.loads((root / "rejected" / "case" / f"{bad.batch_id}.report.json").read_text())
        rules = {i["ruleId"] for i in report["envelopeReport"]["items"]}
        assert "TBS-FILE-005" in rules, rules
        assert not (root / "inbox" / "case" / bad.manifest_path.name).exists()
        assert not os.path.lexists(root / "inbox" / "case" / bad.data_path.name), "the hostile entry stays behind"
    assert (root / "archive" / "case" / f"{good.batch_id}.ack.json").exists()
    assert outside.exists(), "a link's target is never moved or read"
    assert sorted(os.listdir(root / "inbox" / "case")) == []

    # A later batch still flows, and nothing was stored twice.
    late = writer.write_batch("case", cases[2:4], sent_at=_at(10))
    second = sync()
    assert second.returncode == 0, second.stdout + second.stderr
    assert (root / "archive" / "case" / f"{late.batch_id}.ack.json").exists()
    store = Store(f"sqlite:///{db}")
    assert_exactly_once(store, "case", cases[2:4] + cases[6:8])
    store.dispose()
