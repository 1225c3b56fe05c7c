"""Dataset records in the store: the reads stage S5 needs (it satisfies the validators'
``StateView`` protocol structurally) and the writes a receiver performs.

One write path for every dataset, driven by the dataset table (:data:`tongban.model.datasets.SPECS`):
the state a page needs is read in a few set-based queries (:meth:`RecordStore.prefetch`),
reads and writes go to an in-memory overlay, and :meth:`RecordStore.flush` writes everything
with executemany inserts. Works inside one session, so writes made for earlier records of a
page are visible to the later ones (TBS-SYNC-003); call :meth:`~RecordStore.flush` before the
transaction commits.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, fields
from functools import lru_cache
from datetime import datetime
from operator import itemgetter
from typing import Any, Iterator

import orjson
from sqlalchemy import Column, Table, delete, func, select, update
from sqlalchemy.orm import Session

from tongban.model.canonical import canonical_bytes_validated, sha256_hex
from tongban.model.datasets import RELEASE_ORDER, SPECS, DatasetSpec
from tongban.store.locks import serialize_writes
from tongban.store.schema import Base, HeldRecord, QuarantineEntry
from tongban.store.store import utcnow
from tongban.store.totals import TotalsDelta

CHUNK = 500  # keys per IN (...) query


def key_text(key: tuple[Any, ...]) -> str:
    """A business key as compact JSON text (non-ASCII kept), as stored in ``record_key`` columns."""
    try:
        # orjson writes the same text as json.dumps(ensure_ascii=False, compact) for the strings
        # and integers business keys hold, at a fraction of the cost (one call per stored record)
        return orjson.dumps(key).decode()
    except TypeError:   # an integer beyond 64 bits, say: the standard library's text
        return json.dumps(list(key), ensure_ascii=False, separators=(",", ":"))


@dataclass
class HeldEntry:
    """A held record as the ingestor sees it (staged or stored)."""

    partner_id: str
    dataset: str
    record_key: str
    waits_for: str
    rule_id: str
    location: str
    content: str
    sha256: str
    writer: str
    held_at: datetime
    expires_at: datetime
    id: int | None = None  # None while only staged


_HELD = HeldRecord.__table__
# a HeldEntry's fields in order: held records load as plain rows (no ORM objects per prefetch)
_HELD_COLUMNS = [_HELD.c[f.name] for f in fields(HeldEntry)]

# session.info key: the records this transaction stored, (dataset, key text, sha256) each, for the
# ledger entry it appends (the entry's coverage of stored content)
PENDING = "tongban.ledger.pending"


def _loads(text: str) -> Any:
    """Our own stored canonical JSON: trusted, so the fast parser will do."""
    return orjson.loads(text)


def _validated_text(record: Any) -> tuple[str, str]:
    data = canonical_bytes_validated(record)
    return data.decode("utf-8"), sha256_hex(data)


def _spec(dataset: str) -> DatasetSpec:
    try:
        return SPECS[dataset]
    except KeyError:
        raise ValueError(f"unknown dataset {dataset!r}") from None


def _placeholder(dialect: Any) -> str:
    """The driver's positional parameter marker (statements sent with exec_driver_sql)."""
    return "?" if dialect.paramstyle == "qmark" else "%s"


@lru_cache(maxsize=64)
def _result_processors(dialect: Any, columns: tuple[Column[Any], ...]) -> list[Any]:
    """Per column, what its type does to a value the driver returns (None: nothing), per dialect."""
    return [c.type.dialect_impl(dialect).result_processor(dialect, None) for c in columns]


def _table(spec: DatasetSpec) -> Table:
    return Base.metadata.tables[spec.table]


def _key_columns(spec: DatasetSpec) -> list[str]:
    """The table columns holding the business-key members, in key order."""
    by_member = {path: column for column, path in spec.columns}
    return [by_member[(m,)] for m in spec.key]


class RecordStore:
    """The store's one record API for receivers (see the module docstring)."""

    def __init__(self, session: Session) -> None:
        self.session = session
        # per dataset: business key → record (None: looked up, absent); the overlay S5 reads
        self._records: dict[str, dict[tuple[Any, ...], dict[str, Any] | None]] = {d: {} for d in SPECS}
        # per dataset: first key members (caseNo, implCode) whose rows are loaded
        self._loaded: dict[str, set[Any]] = {d: set() for d in SPECS}
        # per dataset with a two-member key: first member → second members present
        self._seconds: dict[str, dict[Any, set[Any]]] = {d: {} for d in SPECS}
        self._ordered: dict[str, list[dict[str, Any]]] = {}  # events by seq, cached until the next store
        self.state_memo: dict[tuple[str, int], Any] = {}  # case state after seq (S5, STORED verdicts only)
        self.read_version = "TBS-1.0"   # the version S5's reads are written in (set per record by ingest)
        self._in_db: dict[str, set[tuple[Any, ...]]] = {d: set() for d in SPECS}  # keys with a stored row
        # held records by case number, then by (dataset, business key as a tuple)
        self._held: dict[str, dict[tuple[str, tuple[Any, ...]], HeldEntry]] = {}
        self._held_counts: dict[str, int] = {}
        self._new: dict[str, list[dict[str, Any]]] = {d: [] for d in SPECS}   # rows to insert
        self._latest: dict[str, dict[tuple[Any, ...], dict[str, Any]]] = {d: {} for d in SPECS}  # upserts
        self._current_new: dict[tuple[str, tuple[Any, ...]], dict[str, Any]] = {}   # keeps_history: its current new row
        self._superseded: dict[str, set[tuple[Any, ...]]] = {d: set() for d in SPECS}  # stored current versions
        self._held_deleted: list[int] = []
        # per dataset: business key → received version of the stored record, when not TBS-1.0
        self._versions: dict[str, dict[tuple[Any, ...], str]] = {d: {} for d in SPECS}
        # per versioned dataset: business key → source of the stored (current) row, which a new
        # version takes over in the per-source totals
        self._sources: dict[str, dict[tuple[Any, ...], str]] = {d: {} for d in SPECS if SPECS[d].versioned}
        # per latest-only dataset: rows a later version replaced before the flush (their time counts)
        self._replaced: dict[str, list[dict[str, Any]]] = {d: [] for d in SPECS}

    # -- loading --------------------------------------------------------------------------
    def prefetch(self, dataset: str, records: list[Any]) -> None:
        """Load what S5 reads for ``records``: their own dataset's rows and, for case-linked
        records, their Case, its events and what is held for it."""
        spec = _spec(dataset)
        first = spec.key[0]
        firsts = {r[first] for r in records if isinstance(r, dict) and isinstance(r.get(first), str)}
        if first == "caseNo":
            self._load_cases(firsts)
        self._load(dataset, firsts)

    def _chunks(self, keys: set[Any]) -> Iterator[list[Any]]:
        ordered = sorted(keys)
        for i in range(0, len(ordered), CHUNK):
            yield ordered[i:i + CHUNK]

    def _load(self, dataset: str, firsts: set[Any]) -> None:
        """Rows of ``dataset`` whose first key member is one of ``firsts`` (current versions)."""
        firsts = firsts - self._loaded[dataset]
        if not firsts:
            return
        spec = _spec(dataset)
        table = _table(spec)
        key_cols = [table.c[c] for c in _key_columns(spec)]
        for chunk in self._chunks(firsts):
            for f in chunk:
                self._loaded[dataset].add(f)
                if len(spec.key) == 1:
                    self._records[dataset][(f,)] = None
                else:
                    self._seconds[dataset].setdefault(f, set())
            sources = self._sources.get(dataset)
            rows = self._rows_in([*key_cols, table.c.content, table.c.spec_version, table.c.source], key_cols[0],
                                 chunk, " AND is_current" if spec.keeps_history else "")
            for *key, content, version, source in rows:
                key = tuple(key)
                self._remember(dataset, key, _loads(content))
                self._in_db[dataset].add(key)
                if version != "TBS-1.0":
                    self._versions[dataset][key] = version
                if sources is not None:
                    sources[key] = source

    def _load_cases(self, case_nos: set[str]) -> None:
        """The Cases, their events and their held records."""
        new = case_nos - self._loaded["case"]
        if not new:   # the common case on the hot path: a Case loads with its events and holds
            return
        self._load("case", new)
        self._load("case-event", new)
        for chunk in self._chunks(new):
            for c in chunk:
                self._held.setdefault(c, {})
            for row in self._rows_in(_HELD_COLUMNS, _HELD.c.waits_for, chunk):
                entry = HeldEntry(*row)
                self._held[entry.waits_for][(entry.dataset, tuple(json.loads(entry.record_key)))] = entry

    def _rows_in(self, columns: list[Column[Any]], where: Column[Any], keys: list[Any], extra: str = "") -> list[Any]:
        """``columns`` of the rows whose ``where`` column is one of ``keys`` (at most :data:`CHUNK`;
        ``extra``: more SQL conditions), through the driver itself: SQLAlchemy's expanding IN costs
        about a millisecond per 500 keys to render and bind, and a page's prefetch sends several.
        No ORM object is pending for these tables (the store writes them with Core statements
        only), so nothing needs flushing first; values a column type converts on the way out
        (a SQLite DateTime) go through that type's result processor."""
        conn = self.session.connection()
        dialect = conn.dialect
        names = ", ".join(c.name for c in columns)
        if dialect.name == "postgresql":   # one array parameter, planned like IN (...)
            sql = f"SELECT {names} FROM {where.table.name} WHERE {where.name} = ANY(%s){extra}"
            params: tuple[Any, ...] = (list(keys),)
        else:
            marks = ", ".join([_placeholder(dialect)] * len(keys))
            sql = f"SELECT {names} FROM {where.table.name} WHERE {where.name} IN ({marks}){extra}"
            params = tuple(keys)
        rows = conn.exec_driver_sql(sql, params).all()
        processors = _result_processors(dialect, tuple(columns))
        if not rows or not any(processors):
            return rows
        return [tuple(v if f is None else f(v) for f, v in zip(processors, row)) for row in rows]

    def _remember(self, dataset: str, key: tuple[Any, ...], record: dict[str, Any]) -> None:
        self._records[dataset][key] = record
        if len(key) == 2:   # once per stored or loaded record: no set built when the first member has one
            seconds = self._seconds[dataset].get(key[0])
            if seconds is None:
                self._seconds[dataset][key[0]] = {key[1]}
            else:
                seconds.add(key[1])

    def _get(self, dataset: str, key: tuple[Any, ...]) -> dict[str, Any] | None:
        first = key[0]
        if first not in self._loaded[dataset]:
            if SPECS[dataset].key[0] == "caseNo":
                self._load_cases({first})
            self._load(dataset, {first})
        return self._records[dataset].get(key)

    def version_of(self, dataset: str, key: tuple[Any, ...]) -> str:
        """The received version of the stored record under ``key`` (TBS-1.1 TBS-SYNC-015 (a))."""
        self._get(dataset, key)
        return self._versions[dataset].get(tuple(key), "TBS-1.0")

    def current(self, dataset: str, key: tuple[Any, ...]) -> dict[str, Any] | None:
        """The stored current record of ``dataset`` under its business ``key``, as stored."""
        return self._get(dataset, key)

    # -- reads (StateView) ----------------------------------------------------------------
    # S5 of a record received in ``read_version`` reads the stored records in that version
    # (TBS-1.1 TBS-ENV-012, TBS-SYNC-015 (a)/(e)): one received in another version is written in
    # it by Annex E (for TBS-1.0 with the members E.3 carries forward from it); one with no form
    # in it is read as stored, so it differs from every incoming record. The common case — a
    # TBS-1.0 record, nothing of the dataset loaded in another version — returns the record as
    # stored after one dict test: these reads run several times per ingested record.
    def _read(self, dataset: str, key: tuple[Any, ...]) -> dict[str, Any] | None:
        stored = (self._records[dataset].get(key) if key[0] in self._loaded[dataset]   # _get, inline
                  else self._get(dataset, key))
        if stored is None:
            return None
        versions = self._versions[dataset]
        if not versions and self.read_version == "TBS-1.0":
            return stored
        received = versions.get(key, "TBS-1.0")
        if received == self.read_version:
            return stored
        from tongban.model.annex_e import NotRepresentable, carry_forward, convert

        try:
            form = convert(dataset, stored, received, self.read_version)
        except NotRepresentable:
            return stored
        return carry_forward(dataset, form, stored) if self.read_version == "TBS-1.0" else form

    def catalog_current(self, impl_code: str) -> dict[str, Any] | None:
        return self._read("catalog", (impl_code,))

    def case(self, case_no: str) -> dict[str, Any] | None:
        return self._read("case", (case_no,))

    def case_events(self, case_no: str) -> list[dict[str, Any]]:
        ordered = self._ordered.get(case_no)
        if ordered is None:
            if case_no not in self._loaded["case"]:
                self._load_cases({case_no})
            events = self._records["case-event"]
            ordered = self._ordered[case_no] = [events[(case_no, s)]  # type: ignore[misc]
                                                for s in sorted(self._seconds["case-event"].get(case_no, ()))]
        return ordered

    def case_event(self, case_no: str, seq: int) -> dict[str, Any] | None:
        return self._read("case-event", (case_no, seq))

    def result(self, case_no: str, cert_no: str) -> dict[str, Any] | None:
        return self._read("result", (case_no, cert_no))

    def evaluation(self, case_no: str, assess_no: int) -> dict[str, Any] | None:
        return self._read("evaluation", (case_no, assess_no))

    def held(self, dataset: str, key: tuple[Any, ...]) -> dict[str, Any] | None:
        case_no = key[0]
        if not isinstance(case_no, str):
            return None
        if case_no not in self._loaded["case"]:   # asked once per case-linked record: no set built
            self._load_cases({case_no})
        entry = self._held[case_no].get((dataset, key))
        return json.loads(entry.content) if entry else None

    def held_for_case(self, case_no: str) -> list[HeldEntry]:
        """Held records waiting for ``case_no``, in release order (TBS-SYNC-007)."""
        if case_no not in self._loaded["case"]:   # asked after every stored case-linked record
            self._load_cases({case_no})
        held = self._held[case_no]
        if not held:
            return []
        return [held[k] for k in sorted(held, key=lambda k: (RELEASE_ORDER.get(k[0], 9), k[1]))]

    def held_count(self, partner_id: str) -> int:
        if partner_id not in self._held_counts:
            self._held_counts[partner_id] = self.session.execute(
                select(func.count()).select_from(HeldRecord).where(HeldRecord.partner_id == partner_id)).scalar_one()
        return self._held_counts[partner_id]

    def expired_holds(self, now: datetime, *, partner_id: str | None = None, limit: int = 1000) -> list[HeldRecord]:
        query = select(HeldRecord).where(HeldRecord.expires_at <= now)
        if partner_id is not None:
            query = query.where(HeldRecord.partner_id == partner_id)
        return list(self.session.execute(query.order_by(HeldRecord.id).limit(limit)).scalars())

    # -- writes ---------------------------------------------------------------------------
    def store(self, dataset: str, record: dict[str, Any], *, source: str, version: str = "TBS-1.0") -> None:
        """Store ``record`` as received from ``source`` in ``version`` (its received version,
        TBS-1.1 TBS-SYNC-015 (a))."""
        spec = _spec(dataset)
        content, digest = _validated_text(record)
        key = spec.key_of(record)
        self.session.info.setdefault(PENDING, []).append((dataset, key_text(key), digest))   # for the ledger
        if key[0] not in self._loaded[dataset]:
            self._get(dataset, key)   # loads what is stored under the key
        row = spec.stored_row(record, source, content, digest, version)
        if spec.keeps_history:   # every version a row; the newest one current
            if self._records[dataset].get(key) is not None:
                self._superseded[dataset].add(key)
            earlier = self._current_new.get((dataset, key))   # a version stored earlier in this page
            if earlier is not None:
                earlier["is_current"] = False
            row["is_current"] = True
            self._current_new[(dataset, key)] = row
            self._new[dataset].append(row)
        elif spec.versioned:     # the latest version only
            replaced = self._latest[dataset].get(key)
            if replaced is not None:   # stored earlier in this page: its time still counts for its source
                self._replaced[dataset].append(replaced)
            self._latest[dataset][key] = row
        else:
            self._new[dataset].append(row)
        self._remember(dataset, key, record)
        versions = self._versions[dataset]
        if version != "TBS-1.0":
            versions[key] = version
        elif versions:
            versions.pop(key, None)
        if dataset == "case-event":
            self._ordered.pop(key[0], None)

    def hold(self, *, partner_id: str, dataset: str, key: tuple[Any, ...], record: dict[str, Any], case_no: str,
             rule_id: str, location: str, writer: str, expires_at: datetime) -> None:
        content, digest = _validated_text(record)
        self._load_cases({case_no})
        entry = HeldEntry(partner_id, dataset, key_text(key), case_no, rule_id, location, content, digest, writer,
                          utcnow(), expires_at)
        self._held[case_no][(dataset, tuple(key))] = entry
        self.held_count(partner_id)
        self._held_counts[partner_id] += 1

    def release(self, row: HeldEntry | HeldRecord) -> None:
        self._held.get(row.waits_for, {}).pop((row.dataset, tuple(json.loads(row.record_key))), None)
        if row.id is not None:
            self._held_deleted.append(row.id)
        if row.partner_id in self._held_counts:
            self._held_counts[row.partner_id] -= 1

    def quarantine(self, *, partner_id: str, dataset: str, raw: str, report: dict[str, Any], rule_ids: list[str],
                   envelope_sha256: str | None, location: str | None, key: tuple[Any, ...] | None) -> QuarantineEntry:
        entry = QuarantineEntry(partner_id=partner_id, dataset=dataset, raw=raw,
                                report=json.dumps(report, ensure_ascii=False), rule_ids=" ".join(sorted(set(rule_ids))),
                                envelope_sha256=envelope_sha256, location=location,
                                record_key=key_text(key) if key else None, received_at=utcnow(), status="OPEN")
        self.session.add(entry)
        self.session.flush()
        return entry

    # -- writing out ----------------------------------------------------------------------
    def _insert_many(self, table: str, rows: list[dict[str, Any]]) -> None:
        """The driver's own executemany: these rows hold only text, integers, booleans and
        NULLs, so SQLAlchemy's per-row parameter processing buys nothing on the hot path."""
        if not rows:
            return
        conn = self.session.connection()
        mark = _placeholder(conn.dialect)
        cols = list(rows[0])
        sql = f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join([mark] * len(cols))})"
        # itemgetter of two or more names returns the tuple itself: no generator per row
        params = list(map(itemgetter(*cols), rows)) if len(cols) > 1 else [(r[cols[0]],) for r in rows]
        conn.exec_driver_sql(sql, params)

    def _add_totals(self, totals: TotalsDelta, dataset: str, spec: DatasetSpec,
                    inserted: list[dict[str, Any]]) -> None:
        """This flush's difference to the per-source totals of ``dataset`` (stored count,
        newest business time): every new row counts for its source, except a catalog version
        that is not current; a row that replaces a stored one (a newer Case version, a catalog
        version superseding the current one) moves the count from the stored row's source.
        Every row stored counts for the newest time, also a Case version replaced since."""
        column = spec.timestamp_column
        sources = self._sources.get(dataset, {})
        in_db = self._in_db[dataset]
        stamps: dict[str, list[Any]] = {}
        for row in inserted:
            stamps.setdefault(row["source"], []).append(row[column])
        if spec.keeps_history:
            for row in inserted:
                if row["is_current"]:
                    totals.count(row["source"], dataset, 1)
            for key in self._superseded[dataset]:
                if key in in_db and key in sources:
                    totals.count(sources[key], dataset, -1)
        else:
            for source, times in stamps.items():
                totals.count(source, dataset, len(times))
            for key, row in self._latest[dataset].items():
                if key in in_db:
                    stamps.setdefault(row["source"], []).append(row[column])
                    if sources.get(key) != row["source"]:
                        totals.count(row["source"], dataset, 1)
                        if key in sources:
                            totals.count(sources[key], dataset, -1)
            for row in self._replaced[dataset]:
                stamps.setdefault(row["source"], []).append(row[column])
        for source, times in stamps.items():
            totals.stored(source, dataset, times)

    def flush(self) -> None:
        s = self.session
        if self._held_deleted:
            for chunk in self._chunks(set(self._held_deleted)):
                s.execute(delete(HeldRecord).where(HeldRecord.id.in_(chunk)))
        totals = TotalsDelta()
        for dataset, spec in SPECS.items():
            table = _table(spec)
            key_cols = [table.c[c] for c in _key_columns(spec)]
            if self._superseded[dataset]:   # the stored current version stops being current
                for chunk in self._chunks({k[0] for k in self._superseded[dataset]}):
                    s.execute(update(table).where(key_cols[0].in_(chunk), table.c.is_current.is_(True))
                              .values(is_current=False))
            latest = self._latest[dataset]
            in_db = self._in_db[dataset]
            inserted = self._new[dataset] + [r for k, r in latest.items() if k not in in_db]
            self._insert_many(spec.table, inserted)
            for k, r in latest.items():
                if k in in_db:
                    s.execute(update(table).where(*(c == v for c, v in zip(key_cols, k))).values(**r))
            self._add_totals(totals, dataset, spec, inserted)
        if totals:
            serialize_writes(s)   # every writer of source_totals holds the write lock first: no deadlock
            totals.write(s.connection())
        new_held = [e for by_case in self._held.values() for e in by_case.values() if e.id is None]
        if new_held:
            s.execute(HeldRecord.__table__.insert(), [dict(
                partner_id=e.partner_id, dataset=e.dataset, record_key=e.record_key, waits_for=e.waits_for,
                rule_id=e.rule_id, location=e.location, content=e.content, sha256=e.sha256, writer=e.writer,
                held_at=e.held_at, expires_at=e.expires_at) for e in new_held])
        s.flush()
        # Everything is in the database now: further work in this transaction starts afresh.
        self.__init__(s)  # type: ignore[misc]
