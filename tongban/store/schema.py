"""SQLAlchemy 2 tables of the tongban store.

Records are kept as their canonical JSON text (RFC 8785) with its SHA-256, so "identical
content" (TBS-ENV-012) is a string comparison and exports are byte-exact. A few members
are lifted into columns for keys, joins and metrics.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, DateTime, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


def _id() -> Mapped[int]:
    return mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)


class StoredRecord:
    """The columns every dataset's record table has after its query columns: who sent the record
    (partner id), its canonical text, that text's SHA-256 and the spec version it was validated under."""

    source: Mapped[str] = mapped_column(String(64), sort_order=1)
    content: Mapped[str] = mapped_column(Text, sort_order=1)
    sha256: Mapped[str] = mapped_column(String(64), sort_order=1)
    spec_version: Mapped[str] = mapped_column(String(16), server_default="TBS-1.0", sort_order=1)  # TBS-SYNC-015 (a)


class Partner(Base):
    """A partner system of the registry (partners.yaml), mirrored for joins and status."""

    __tablename__ = "partners"
    system_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    level: Mapped[str] = mapped_column(String(16))
    region_code: Mapped[str] = mapped_column(String(6))
    parent: Mapped[str | None] = mapped_column(String(64))
    transport: Mapped[str] = mapped_column(String(16))
    endpoint: Mapped[str] = mapped_column(Text)
    roles: Mapped[str] = mapped_column(Text)  # JSON list
    spec_version: Mapped[str] = mapped_column(String(16))
    config: Mapped[str] = mapped_column(Text)  # canonical JSON of the registry entry
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class SyncCursor(Base):
    """The committed position of one (partner, dataset) changes feed (TBS-SYNC-012)."""

    __tablename__ = "sync_cursors"
    partner_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    dataset: Mapped[str] = mapped_column(String(16), primary_key=True)
    cursor: Mapped[str | None] = mapped_column(Text)
    records_seen: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # the version the feed is read in (TBS-1.1 TBS-REST-012: another version restarts the feed)
    spec_version: Mapped[str] = mapped_column(String(16), server_default="TBS-1.0")


class CatalogItemVersion(StoredRecord, Base):
    """Every stored ServiceItem version; the current one per implCode has is_current."""

    __tablename__ = "catalog_item_versions"
    impl_code: Mapped[str] = mapped_column(String(31), primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    item_code: Mapped[str] = mapped_column(String(12), index=True)
    region_code: Mapped[str] = mapped_column(String(6), index=True)
    name: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16))
    online_depth: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[str] = mapped_column(String(40))
    is_current: Mapped[bool] = mapped_column(Boolean, default=True)
    __table_args__ = (Index("ix_catalog_current", "impl_code", "is_current"),)


class CaseRecord(StoredRecord, Base):
    """The current version of each Case (versioned on ``version``)."""

    __tablename__ = "cases"
    case_no: Mapped[str] = mapped_column(String(50), primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger)
    impl_code: Mapped[str] = mapped_column(String(31), index=True)
    region_code: Mapped[str] = mapped_column(String(6), index=True)
    case_type: Mapped[str] = mapped_column(String(2))
    channel: Mapped[str] = mapped_column(String(2))
    submitted_at: Mapped[str] = mapped_column(String(40))
    promised_by: Mapped[str | None] = mapped_column(String(40))


class CaseEventRecord(StoredRecord, Base):
    """One immutable case event, keyed by (caseNo, seq) (TBS-1.0 §13.1)."""

    __tablename__ = "case_events"
    case_no: Mapped[str] = mapped_column(String(50), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    type: Mapped[str] = mapped_column(String(24))
    occurred_at: Mapped[str] = mapped_column(String(40))
    conclusion_code: Mapped[str | None] = mapped_column(String(24))


class ResultRecord(StoredRecord, Base):
    __tablename__ = "results"
    case_no: Mapped[str] = mapped_column(String(50), primary_key=True)
    cert_no: Mapped[str] = mapped_column(String(100), primary_key=True)
    result_type: Mapped[str] = mapped_column(String(16))
    issued_at: Mapped[str] = mapped_column(String(40))
    document_sha256: Mapped[str | None] = mapped_column(String(64))
    document_verified: Mapped[bool | None] = mapped_column(Boolean)


class EvaluationRecord(StoredRecord, Base):
    __tablename__ = "evaluations"
    case_no: Mapped[str] = mapped_column(String(50), primary_key=True)
    assess_no: Mapped[int] = mapped_column(Integer, primary_key=True)
    satisfaction: Mapped[int] = mapped_column(Integer)
    channel: Mapped[str] = mapped_column(String(16))
    assessed_at: Mapped[str] = mapped_column(String(40))


class HeldRecord(Base):
    """A record waiting for a prerequisite (TBS-SYNC-007)."""

    __tablename__ = "held_records"
    id: Mapped[int] = _id()
    partner_id: Mapped[str] = mapped_column(String(64), index=True)
    dataset: Mapped[str] = mapped_column(String(16))
    record_key: Mapped[str] = mapped_column(Text)  # canonical JSON of the business key
    waits_for: Mapped[str] = mapped_column(Text, index=True)  # canonical JSON of the prerequisite key
    rule_id: Mapped[str] = mapped_column(String(16))  # the dependency rule that will reject on timeout
    location: Mapped[str] = mapped_column(Text)
    content: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))
    writer: Mapped[str] = mapped_column(String(64))
    held_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    __table_args__ = (UniqueConstraint("dataset", "record_key", name="uq_held_key"),)


class QuarantineEntry(Base):
    """A rejected record kept verbatim with its findings, until replayed or dismissed."""

    __tablename__ = "quarantine"
    id: Mapped[int] = _id()
    partner_id: Mapped[str] = mapped_column(String(64), index=True)
    dataset: Mapped[str] = mapped_column(String(16), index=True)
    record_key: Mapped[str | None] = mapped_column(Text)
    raw: Mapped[str] = mapped_column(Text)  # the record exactly as received (JSON text)
    report: Mapped[str] = mapped_column(Text)  # the §19.1 report, JSON
    rule_ids: Mapped[str] = mapped_column(Text)  # space-separated, for filtering
    envelope_sha256: Mapped[str | None] = mapped_column(String(64))
    location: Mapped[str | None] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    status: Mapped[str] = mapped_column(String(16), default="OPEN")  # OPEN | RELEASED | DISMISSED
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class LedgerEntry(Base):
    """Hash-chained record of every envelope or changes page received or sent."""

    __tablename__ = "ledger_entries"
    seq: Mapped[int] = _id()
    recorded_at: Mapped[str] = mapped_column(String(40))
    direction: Mapped[str] = mapped_column(String(8))  # IN | OUT
    sender: Mapped[str] = mapped_column(String(64))
    receiver: Mapped[str] = mapped_column(String(64))
    dataset: Mapped[str] = mapped_column(String(16))
    binding: Mapped[str] = mapped_column(String(8))
    message_id: Mapped[str | None] = mapped_column(String(64))
    envelope_sha256: Mapped[str] = mapped_column(String(64))
    record_count: Mapped[int] = mapped_column(Integer)
    verdict: Mapped[str] = mapped_column(String(16))
    counts: Mapped[str] = mapped_column(Text)  # canonical JSON of the outcome counts
    # sha256 of the (dataset, business key, record sha256) list this entry stored, in order:
    # what ties stored content to the chain (NULL: the entry stored nothing, or predates it)
    records_sha256: Mapped[str | None] = mapped_column(String(64))
    # unique: two writers chaining onto the same predecessor cannot both commit (no forks)
    prev_hash: Mapped[str] = mapped_column(String(64), unique=True)
    entry_hash: Mapped[str] = mapped_column(String(64), unique=True)


class LedgerRecordList(Base):
    """The records a ledger entry stored, as one text: the canonical JSON list of
    ``[dataset, business key, content sha256]`` whose SHA-256 is the entry's ``records_sha256``
    (migration 0012: one row per entry, where ``ledger_records`` had one row per stored record)."""

    __tablename__ = "ledger_record_lists"
    # the entry's seq (an INTEGER PRIMARY KEY on SQLite: the rowid itself, no second b-tree)
    entry_seq: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
                                           autoincrement=False)
    records: Mapped[str] = mapped_column(Text)


class SourceTotal(Base):
    """Per (source partner, dataset): stored records and the newest business time among them
    (fixed-width UTC text), kept by the store's write path for ``tongban status``
    (:mod:`tongban.store.totals`; migration 0011)."""

    __tablename__ = "source_totals"
    source: Mapped[str] = mapped_column(String(64), primary_key=True)
    dataset: Mapped[str] = mapped_column(String(16), primary_key=True)
    stored: Mapped[int] = mapped_column(BigInteger)
    newest_at: Mapped[str | None] = mapped_column(String(40))


class LedgerHead(Base):
    """The newest entry of the chain with an HMAC under the bus's ledger key (one row)."""

    __tablename__ = "ledger_head"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger)
    entry_hash: Mapped[str] = mapped_column(String(64))
    mac: Mapped[str | None] = mapped_column(String(64))


class SyncRun(Base):
    """One run of one (partner, dataset) sync, for data teams (issue: monitoring)."""

    __tablename__ = "sync_runs"
    id: Mapped[int] = _id()
    partner_id: Mapped[str] = mapped_column(String(64), index=True)
    dataset: Mapped[str] = mapped_column(String(16))
    trigger: Mapped[str] = mapped_column(String(16))  # cli | airflow | demo | test
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    status: Mapped[str] = mapped_column(String(16))  # RUNNING | SUCCESS | FAILED
    pages: Mapped[int] = mapped_column(Integer, default=0)
    pulled: Mapped[int] = mapped_column(Integer, default=0)
    stored: Mapped[int] = mapped_column(Integer, default=0)
    duplicate: Mapped[int] = mapped_column(Integer, default=0)
    stale: Mapped[int] = mapped_column(Integer, default=0)
    held: Mapped[int] = mapped_column(Integer, default=0)
    rejected: Mapped[int] = mapped_column(Integer, default=0)
    cursor_before: Mapped[str | None] = mapped_column(Text)
    cursor_after: Mapped[str | None] = mapped_column(Text)
    newest_source_at: Mapped[str | None] = mapped_column(String(40))
    error: Mapped[str | None] = mapped_column(Text)
    error_code: Mapped[str | None] = mapped_column(String(32))
    error_hop: Mapped[str | None] = mapped_column(String(16))  # connector | validation | store


class OutboxEvent(Base):
    """Transactional outbox: written in the same transaction as the data it announces."""

    __tablename__ = "outbox"
    id: Mapped[int] = _id()
    topic: Mapped[str] = mapped_column(Text)
    dataset: Mapped[str] = mapped_column(String(16))
    message_id: Mapped[str] = mapped_column(String(36), unique=True)
    envelope: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)


class SeenMessage(Base):
    """Processed messageIds with their requestHash and acknowledgement (TBS-SEC-005)."""

    __tablename__ = "seen_messages"
    message_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    sender: Mapped[str] = mapped_column(String(64))
    request_hash: Mapped[str] = mapped_column(String(64))
    ack: Mapped[str] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


class CertificateRecord(Base):
    """One role of a conformance certificate (TBS-CONF-006): what admission reads (TBS-CONF-008).

    A certificate covering several roles is one row per role; ``certificate`` keeps the whole
    certificate as canonical JSON, ``recorded_at`` orders certificates issued on the same day.
    """

    __tablename__ = "certificates"
    certificate_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    role: Mapped[str] = mapped_column(String(32), primary_key=True)
    system_id: Mapped[str] = mapped_column(String(64))
    verdict: Mapped[str] = mapped_column(String(16))
    bindings: Mapped[str] = mapped_column(Text)  # JSON list
    spec_version: Mapped[str] = mapped_column(String(16))
    suite_version: Mapped[str] = mapped_column(String(16))
    issued_on: Mapped[str] = mapped_column(String(10))  # RFC 3339 full-date
    issuer: Mapped[str] = mapped_column(String(64))
    report_sha256: Mapped[str] = mapped_column(String(64))
    certificate: Mapped[str] = mapped_column(Text)
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (Index("ix_certificates_current", "system_id", "role", "spec_version", "recorded_at"),)


class Publication(Base):
    """What the bus has delivered downward: per consumer, the version of each record it
    acknowledged (the basic catalog flowing province → city → county)."""

    __tablename__ = "publications"
    partner_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    dataset: Mapped[str] = mapped_column(String(16), primary_key=True)
    record_key: Mapped[str] = mapped_column(String(128), primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64))
    message_id: Mapped[str] = mapped_column(String(36))
    acknowledged_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class FrontdbRow(Base):
    """The mirror of a front database (TBS-LP-038): the last accepted state of every
    logical row, with its profile-level hold (TBS-LP-045) when it waits for a parent."""

    __tablename__ = "frontdb_rows"
    partner_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    table_name: Mapped[str] = mapped_column(String(64), primary_key=True)
    row_guid: Mapped[str] = mapped_column(String(50), primary_key=True)
    entity: Mapped[str | None] = mapped_column(String(64))  # the entity key's read value
    cd_time: Mapped[str] = mapped_column(String(19))
    cd_batch: Mapped[str] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(Text)  # JSON of read values (digest form) plus cd_operation/cd_time
    digest: Mapped[str] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(10))
    held_since: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    __table_args__ = (Index("ix_frontdb_rows_entity", "partner_id", "table_name", "entity"),)


class FrontdbBatch(Base):
    """Processed batches (TBS-LP-026: remembered at least L + 7 days)."""

    __tablename__ = "frontdb_batches"
    partner_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    cd_batch: Mapped[str] = mapped_column(String(32), primary_key=True)
    processed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class FrontdbOrigin(Base):
    """Event origins (TBS-LP-109) and, with part ``SOURCE``, the case source row of a case
    (TBS-LP-106, keyed by the case number)."""

    __tablename__ = "frontdb_origins"
    partner_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    table_name: Mapped[str] = mapped_column(String(64), primary_key=True)
    row_guid: Mapped[str] = mapped_column(String(64), primary_key=True)
    part: Mapped[str] = mapped_column(String(20), primary_key=True)
    case_no: Mapped[str] = mapped_column(String(64))
    seq: Mapped[int | None] = mapped_column(Integer)
    source_row: Mapped[str] = mapped_column(Text)


class FrontdbReceipt(Base):
    """Receipts committed with their batch and written to ``tb_receipt`` after it
    (TBS-LP-048, -052); ``written`` is false until the front database has them."""

    __tablename__ = "frontdb_receipts"
    partner_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    table_name: Mapped[str] = mapped_column(String(64), primary_key=True)
    row_guid: Mapped[str] = mapped_column(String(50), primary_key=True)
    row_cd_time: Mapped[str] = mapped_column(String(32), primary_key=True)
    cd_batch: Mapped[str] = mapped_column(String(32), primary_key=True)
    outcome: Mapped[str] = mapped_column(String(10))
    rule_ids: Mapped[str] = mapped_column(String(1000))
    message: Mapped[str] = mapped_column(String(2000))
    findings: Mapped[str] = mapped_column(Text)
    processed_at: Mapped[str] = mapped_column(String(19))
    written: Mapped[bool] = mapped_column(Boolean, default=False)
