"""The exchange ledger: one hash-chained entry per envelope or changes page received or sent.

Each entry's hash covers its own fields and the previous entry's hash, so editing,
deleting or reordering any entry breaks the chain at a point :func:`verify` names. The
``prev_hash`` column is unique, so two concurrent writers can never fork the chain.

Coverage of stored content: every record a transaction stores is noted (dataset, business
key, sha256 of its canonical JSON) and the entry appended in that transaction lists them in
one ``ledger_record_lists`` row: the canonical JSON text whose SHA-256 (``records_sha256``) is
inside the entry's hash. So
:func:`verify` can prove each stored row is the content some entry stored (or, for a Case,
the last version stored), that no ledgered record was deleted, and that no row's content
differs from its hash.

The chain head (newest seq and hash) carries an HMAC under the bus's ledger key, so a chain
recomputed by someone without the key is detected; :func:`anchor` appends the head to a file
outside the store, so a recomputation by someone holding the key is detected against every
anchor written before it.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from datetime import datetime, timezone
from typing import Any, Iterator

import orjson
from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from tongban.model.canonical import canonical_bytes, sha256_hex
from tongban.store.schema import Base
from tongban.store.locks import serialize_writes
from tongban.store.records import PENDING, key_text
from tongban.store.schema import LedgerEntry, LedgerHead, LedgerRecordList
from tongban.store.store import Store, dumps

GENESIS = "0" * 64
_ENTRIES = LedgerEntry.__table__
# the chain head: a Core statement built once (the ORM's per-execute work is a visible share of a
# page's cost; append runs once per page)
_LAST_HASH = select(_ENTRIES.c.entry_hash).order_by(_ENTRIES.c.seq.desc()).limit(1)
HASHED_FIELDS = ("recorded_at", "direction", "sender", "receiver", "dataset", "binding", "message_id",
                 "envelope_sha256", "record_count", "verdict", "counts", "prev_hash")


def entry_hash(fields: dict[str, Any]) -> str:
    hashed = {k: fields[k] for k in HASHED_FIELDS}
    if fields.get("records_sha256") is not None:  # entries before coverage keep their hash
        hashed["records_sha256"] = fields["records_sha256"]
    return sha256_hex(canonical_bytes(hashed))


def records_text(records: list[tuple[str, str, str]]) -> bytes:
    """The bytes an entry's ``records_sha256`` is the SHA-256 of: ``canonical_bytes([list(r) for r in records])``.

    The members are strings (dataset, business key text, hex digest), which orjson writes
    exactly as the canonical form does (the same escapes, raw UTF-8, no spaces), some twenty
    times faster; anything else goes the canonical way."""
    # The store writes the triples (dataset, key_text(), hex digest): strings by construction, so
    # no per-record type test here.
    try:
        return orjson.dumps(records)
    except TypeError:   # a lone surrogate, say: the canonical path reports it
        return canonical_bytes([list(r) for r in records])


def head_mac(key: bytes, seq: int, entry_hash_: str) -> str:
    return hmac.new(key, f"tongban-ledger-head\n{seq}\n{entry_hash_}".encode(), hashlib.sha256).hexdigest()


def append(session: Session, *, direction: str, sender: str, receiver: str, dataset: str, binding: str,
           envelope_sha256: str, record_count: int, verdict: str, counts: dict[str, int],
           message_id: str | None = None, recorded_at: datetime | None = None) -> LedgerEntry:
    serialize_writes(session)  # the chain head read below is the newest until this transaction ends
    session.flush()   # entries added through the ORM are in the table before the head is read
    last = session.connection().execute(_LAST_HASH).scalar()
    stored = session.info.pop(PENDING, None) or []
    listed = records_text(stored) if stored else None  # hashed and stored: the same bytes, made once
    fields = {
        "recorded_at": (recorded_at or datetime.now(timezone.utc)).isoformat(timespec="microseconds"),
        "direction": direction, "sender": sender, "receiver": receiver, "dataset": dataset,
        "binding": binding, "message_id": message_id, "envelope_sha256": envelope_sha256,
        "record_count": record_count, "verdict": verdict, "counts": dumps(counts),
        "prev_hash": last or GENESIS, "records_sha256": sha256_hex(listed) if listed is not None else None,
    }
    entry = LedgerEntry(**fields, entry_hash=entry_hash(fields))
    session.add(entry)
    session.flush()
    # the list and the head as plain statements: one insert and one update, no unit of work
    conn = session.connection()   # Core on the transaction's connection: no ORM work per statement
    if listed is not None:  # one row per entry, whatever the number of records it stored
        conn.execute(insert(LedgerRecordList.__table__).values(entry_seq=entry.seq, records=listed.decode("utf-8")))
    key = session.info.get("tongban.ledger.key")
    head = {"seq": entry.seq, "entry_hash": entry.entry_hash,
            "mac": head_mac(key, entry.seq, entry.entry_hash) if key else None}
    heads = LedgerHead.__table__
    if conn.execute(update(heads).where(heads.c.id == 1).values(**head)).rowcount == 0:
        conn.execute(insert(heads).values(id=1, **head))
    return entry


def append_per_dataset(session: Session, *, direction: str, sender: str, receiver: str, binding: str,
                       envelope_sha256: str, counts: dict[str, Any], message_id: str | None = None,
                       unit_counts: Any = None) -> list[LedgerEntry]:
    """Ledger a unit of work that carries several datasets (a front-database batch, TBS-LP-030):
    one entry per dataset, in dataset order, each listing the records of its dataset the
    transaction stored. ``counts``: dataset -> :class:`~tongban.sync.outcome.OutcomeCounts`.
    A unit that yielded no record at all (a torn batch, rows all refused before mapping) still
    gets one entry, under the dataset ``binding.lower()``, with ``unit_counts``."""
    stored = session.info.pop(PENDING, None) or []
    datasets = sorted(set(counts) | {d for d, _, _ in stored})
    if not datasets:
        c = unit_counts
        return [append(session, direction=direction, sender=sender, receiver=receiver, dataset=binding.lower()[:16],
                       binding=binding, envelope_sha256=envelope_sha256, record_count=c.received if c else 0,
                       verdict=c.verdict if c else "EMPTY", counts=c.as_dict() if c else {},
                       message_id=message_id)]
    entries = []
    for dataset in datasets:
        session.info[PENDING] = [r for r in stored if r[0] == dataset]
        c = counts.get(dataset)
        entries.append(append(session, direction=direction, sender=sender, receiver=receiver, dataset=dataset,
                              binding=binding, envelope_sha256=envelope_sha256,
                              record_count=c.received if c else 0, verdict=c.verdict if c else "EMPTY",
                              counts=c.as_dict() if c else {}, message_id=message_id))
    return entries


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    entries: int
    first_bad_seq: int | None = None
    problem: str = ""
    records: int = 0  # stored rows checked against the ledger (0 when not asked)
    head: str = "not checked"  # authenticated | not authenticated (no key) | …
    anchors: int = 0
    problems: tuple[str, ...] = field(default_factory=tuple)


def _entries(session: Session, batch: int = 5000) -> Iterator[LedgerEntry]:
    last = 0
    while True:
        rows = session.execute(select(LedgerEntry).where(LedgerEntry.seq > last).order_by(LedgerEntry.seq)
                               .limit(batch)).scalars().all()
        if not rows:
            return
        yield from rows
        last = rows[-1].seq


def _lists(session: Session, batch: int = 100) -> Iterator[tuple[int, str]]:
    """Every ``(entry_seq, list text)`` in ``entry_seq`` order, a batch of lists at a time."""
    last: int | None = None
    while True:
        query = select(LedgerRecordList.entry_seq, LedgerRecordList.records).order_by(LedgerRecordList.entry_seq)
        if last is not None:
            query = query.where(LedgerRecordList.entry_seq > last)
        rows = session.execute(query.limit(batch)).all()
        if not rows:
            return
        yield from ((seq, text) for seq, text in rows)
        last = rows[-1][0]


def _bad(count: int, seq: int | None, problem: str, **kw: Any) -> VerifyResult:
    return VerifyResult(False, count, seq, problem, **kw)


def verify(store: Store, *, key: bytes | None = None, records: bool = False,
           anchors: str | os.PathLike[str] | None = None) -> VerifyResult:
    """Walk the chain in ``seq`` order; stop at the first entry that does not hold.

    ``key``: check the head's HMAC (a recomputed chain is detected). ``records``: check every
    stored row against the per-record hashes of the entries that stored it (their record lists). ``anchors``: check
    every head written to that anchor file is still in the chain.
    """
    prev = GENESIS
    count = 0
    hashes: dict[int, str] = {}
    with store.reading() as s:
        # the record lists, merged with the entries by seq (both streamed in seq order)
        lists = _lists(s)
        pending = next(lists, None)
        orphan: int | None = None  # the first list of an entry not in the chain
        for e in _entries(s):
            count += 1
            fields = {k: getattr(e, k) for k in HASHED_FIELDS}
            fields["records_sha256"] = e.records_sha256
            if e.prev_hash != prev:
                return _bad(count, e.seq, f"entry {e.seq}: prev_hash does not match the entry before"
                            " it (an entry was deleted, inserted or reordered)")
            if entry_hash(fields) != e.entry_hash:
                return _bad(count, e.seq, f"entry {e.seq}: content does not match its hash (the entry was edited)")
            listed: str | None = None
            while pending is not None and pending[0] <= e.seq:
                if pending[0] == e.seq:
                    listed = pending[1]
                elif orphan is None:
                    orphan = pending[0]
                pending = next(lists, None)
            if listed is None and e.records_sha256 is not None:
                return _bad(count, e.seq, f"entry {e.seq}: its list of stored records is missing (the entry's "
                            "row in ledger_record_lists was deleted)")
            if listed is not None and e.records_sha256 is None:
                return _bad(count, e.seq, f"entry {e.seq}: stored no records, yet ledger_record_lists holds a "
                            "list for it (the list was added, or the entry's records_sha256 removed)")
            if listed is not None and sha256_hex(listed.encode("utf-8")) != e.records_sha256:
                return _bad(count, e.seq, f"entry {e.seq}: its list of stored records does not match "
                            "records_sha256 (the list text in ledger_record_lists was edited)")
            prev = e.entry_hash
            hashes[e.seq] = e.entry_hash
        if orphan is None and pending is not None:
            orphan = pending[0]
        if orphan is not None:
            return _bad(count, orphan, f"ledger_record_lists lists records of entry {orphan}, which is not in "
                        "the chain")
        head = s.get(LedgerHead, 1)
        last_seq = max(hashes) if hashes else None
        head_state = "not checked"
        if key is not None:
            if last_seq is None and head is None:
                head_state = "empty ledger"
            elif head is None or head.mac is None:
                return _bad(count, last_seq, "the chain head carries no HMAC under the ledger key (written "
                            "without the key, or stripped)", head="not authenticated")
            elif not hmac.compare_digest(head.mac, head_mac(key, head.seq, head.entry_hash)):
                return _bad(count, head.seq, "the chain head's HMAC does not verify under the ledger key (the "
                            "head was rewritten, e.g. after recomputing the chain)", head="forged")
            elif head.seq != last_seq or hashes.get(head.seq) != head.entry_hash:
                return _bad(count, head.seq, f"the authenticated head (entry {head.seq}) is not the chain's last "
                            f"entry {last_seq} with that hash: the chain was recomputed, truncated or extended",
                            head="mismatch")
            else:
                head_state = "authenticated"
        elif head is not None:
            head_state = "not authenticated (no ledger key given)"
        checked_anchors = 0
        if anchors is not None:
            for n, line in enumerate(Path(anchors).read_text(encoding="utf-8").splitlines(), start=1):
                if not line.strip():
                    continue
                try:
                    a = json.loads(line)
                    seq, h = int(a["seq"]), str(a["entryHash"])
                except (ValueError, KeyError, TypeError):
                    return _bad(count, None, f"{Path(anchors).name}:{n}: not an anchor line", head=head_state)
                if hashes.get(seq) != h:
                    return _bad(count, seq, f"anchor {Path(anchors).name}:{n} (entry {seq}, {h[:16]}…) is not in the "
                                "chain: the chain was rewritten after it was anchored", head=head_state)
                checked_anchors += 1
        checked = 0
        if records:
            checked, problems = _check_records(s)
            if problems:
                return _bad(count, None, problems[0], records=checked, head=head_state, anchors=checked_anchors,
                            problems=tuple(problems))
    return VerifyResult(True, count, records=checked, head=head_state, anchors=checked_anchors)


def _check_records(s: Session, limit: int = 20) -> tuple[int, list[str]]:
    """Every stored row explained by the ledger; every ledgered record still stored.

    One dataset at a time (its ledgered keys are all this holds in memory): the record lists
    are read again for each, and only those naming the dataset are parsed."""
    problems: list[str] = []
    malformed: set[int] = set()
    checked = 0
    from tongban.model.datasets import SPECS
    from tongban.store.records import _key_columns

    for dataset, spec in SPECS.items():
        table, cols = Base.metadata.tables[spec.table], _key_columns(spec)
        latest_only = spec.versioned and not spec.keeps_history  # a Case: its last stored version
        # business key -> its last ledgered digest (a Case), or every ledgered digest (a str for one)
        ledgered: dict[str, Any] = {}
        marker = '[' + json.dumps(dataset) + ','   # how each of its triples opens in a list's canonical text
        for seq, text in _lists(s):
            if marker not in text:
                continue
            try:
                triples = orjson.loads(text)
                for d, k, h in triples:
                    if d != dataset:
                        continue
                    if latest_only:
                        ledgered[k] = h
                        continue
                    seen = ledgered.get(k)
                    if seen is None:
                        ledgered[k] = h
                    elif type(seen) is set:
                        seen.add(h)
                    elif seen != h:
                        ledgered[k] = {seen, h}
            except (orjson.JSONDecodeError, TypeError, ValueError):
                if seq not in malformed:
                    malformed.add(seq)
                    problems.append(f"ledger_record_lists entry {seq}: not a JSON list of [dataset, key, sha256] "
                                    "(the list text was edited)")
        present: set[str] = set()
        columns = [table.c[c] for c in cols]
        for row in s.execute(select(*columns, table.c.content, table.c.sha256)):
            checked += 1
            key = key_text(tuple(row[:len(cols)]))
            content, digest = row[len(cols)], row[len(cols) + 1]
            present.add(key)
            where = f"{table.name} {key}"
            seen = ledgered.get(key)
            if sha256_hex(content.encode("utf-8")) != digest:
                problems.append(f"{where}: content does not match its sha256 (the stored record was edited)")
            elif seen is None:
                problems.append(f"{where}: stored by no ledger entry (inserted outside the ledger)")
            elif (digest != seen) if type(seen) is str else (digest not in seen):
                problems.append(f"{where}: content differs from what the ledger says was stored (edited)")
        for key in ledgered:
            if key not in present:
                problems.append(f"{table.name} {key}: ledgered as stored but missing (deleted)")
        if len(problems) >= limit:
            break
    return checked, problems[:limit]


def anchor(store: Store, path: str | os.PathLike[str]) -> dict[str, Any] | None:
    """Append the chain head to ``path`` (one JSON line; opened for appending only)."""
    with store.reading() as s:
        head = s.execute(select(LedgerEntry.seq, LedgerEntry.entry_hash).order_by(LedgerEntry.seq.desc())
                         .limit(1)).first()
        stored_head = s.get(LedgerHead, 1)
    if head is None:
        return None
    line = {"seq": head.seq, "entryHash": head.entry_hash,
            "mac": stored_head.mac if stored_head is not None and stored_head.seq == head.seq else None,
            "anchoredAt": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o640)
    with os.fdopen(fd, "a", encoding="utf-8") as f:
        f.write(json.dumps(line, separators=(",", ":")) + "\n")
        f.flush()
        os.fsync(f.fileno())
    return line
