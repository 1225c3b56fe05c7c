"""The sandbox's file-drop sender keeps TBS-SYNC-001: a batch a receiver took from the inbox
without acknowledging it is dropped again with the same records; a batch left in the inbox is
never resent."""
from __future__ import annotations

import shutil
import time

from tongban.connectors.filedrop.writer import FileDropWriter
from tongban.sandbox import runtime


def test_a_taken_but_unacknowledged_batch_is_resent_and_a_waiting_one_is_not(tmp_path, monkeypatch):
    monkeypatch.setattr(runtime, "FILE_ACK_TIMEOUT", 0.3)
    root = tmp_path / "drop"
    for sub in ("inbox", "archive", "rejected"):
        (root / sub / "case").mkdir(parents=True)
    writer = FileDropWriter(root, sender="TB:county:440103:LWZWFW", receiver="TB:province:440000:GDZWFW",
                            key_id="K1", key=b"k" * 32)
    records = [{"n": 1}], [{"n": 2}]
    taken, waiting = (writer.write_batch("case", r) for r in records)
    shutil.move(str(taken.data_path), str(root / "archive" / "case" / taken.data_path.name))  # taken, no ack
    resender = runtime.FileResender(writer, [(records[0], taken), (records[1], waiting)]).start()
    try:
        deadline = time.monotonic() + 10
        while not resender.resent and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.5)
    finally:
        resender.stop()
    inbox = sorted(p.name for p in (root / "inbox" / "case").glob("*.jsonl"))
    assert len(resender.resent) == 1 and taken.data_path.name not in inbox
    assert waiting.data_path.name in inbox and len(inbox) == 2   # the waiting one and the resend
