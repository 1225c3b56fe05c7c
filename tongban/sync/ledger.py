"""The exchange ledger: one hash-chained entry per envelope or changes page received or sent.

Each entry's hash covers its own fields and the previous entry's hash, so editing,
deleting or reordering any entry breaks the chain at a point :func:`verify` names. The
``prev_hash`` column is unique, so two concurrent writers can never fork the chain.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Iterator

from sqlalchemy import select
from sqlalchemy.orm import Session

from tongban.model.canonical import canonical_bytes, sha256_hex
from tongban.store.schema import LedgerEntry
from tongban.store.store import Store, dumps

GENESIS = "0" * 64
HASHED_FIELDS = ("recorded_at", "direction", "sender", "receiver", "dataset", "binding", "message_id",
                 "envelope_sha256", "record_count", "verdict", "counts", "prev_hash")


def entry_hash(fields: dict[str, Any]) -> str:
    return sha256_hex(canonical_bytes({k: fields[k] for k in HASHED_FIELDS}))


def append(session: Session, *, direction: str, sender: str, receiver: str, dataset: str, binding: str,
           envelope_sha256: str, record_count: int, verdict: str, counts: dict[str, int],
           message_id: str | None = None, recorded_at: datetime | None = None) -> LedgerEntry:
    last = session.execute(select(LedgerEntry.entry_hash).order_by(LedgerEntry.seq.desc()).limit(1)).scalar()
    fields = {
        "recorded_at": (recorded_at or datetime.now(timezone.utc)).isoformat(timespec="microseconds"),
        "direction": direction, "sender": sender, "receiver": receiver, "dataset": dataset,
        "binding": binding, "message_id": message_id, "envelope_sha256": envelope_sha256,
        "record_count": record_count, "verdict": verdict, "counts": dumps(counts),
        "prev_hash": last or GENESIS,
    }
    entry = LedgerEntry(**fields, entry_hash=entry_hash(fields))
    session.add(entry)
    session.flush()
    return entry


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    entries: int
    first_bad_seq: int | None = None
    problem: str = ""


def _entries(session: Session, batch: int = 5000) -> Iterator[LedgerEntry]:
    last = 0
    while True:
        rows = session.execute(select(LedgerEntry).where(LedgerEntry.seq > last).order_by(LedgerEntry.seq)
                               .limit(batch)).scalars().all()
        if not rows:
            return
        yield from rows
        last = rows[-1].seq


def verify(store: Store) -> VerifyResult:
    """Walk the chain in ``seq`` order; stop at the first entry that does not hold."""
    prev = GENESIS
    count = 0
    with store.reading() as s:
        for e in _entries(s):
            count += 1
            fields = {k: getattr(e, k) for k in HASHED_FIELDS}
            if e.prev_hash != prev:
                return VerifyResult(False, count, e.seq, f"entry {e.seq}: prev_hash does not match the entry before"
                                    " it (an entry was deleted, inserted or reordered)")
            if entry_hash(fields) != e.entry_hash:
                return VerifyResult(False, count, e.seq, f"entry {e.seq}: content does not match its hash "
                                    "(the entry was edited)")
            prev = e.entry_hash
    return VerifyResult(True, count)
