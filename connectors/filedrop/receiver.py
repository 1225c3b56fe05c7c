"""The receiving side of the file-drop binding (TBS-FILE-001..009).

One :class:`FileDropReceiver` watches one drop root, the one provisioned for one sender
(its *owner*, the identity the SFTP account authenticates, TBS-SEC-001/-002). Each scan:

1. lists ``inbox/{dataset}/`` with ``os.scandir`` and ignores every entry TBS-FILE-002 tells
   it to ignore: names outside ``^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$``, ``.part`` names,
   sub-directories, symbolic links and anything that is not a batch file;
2. takes the complete batches (manifest present, TBS-FILE-005) in order of the manifest's
   ``sentAt``, then ``batchId`` (TBS-FILE-009);
3. checks what belongs to the binding (TBS-FILE-003..006, -008, TBS-ENV-024 against the
   directory, TBS-SEC-009), hands the logical envelope to the
   :class:`~tongban.connectors.base.SystemService`, and files the batch with its
   acknowledgement under ``archive/`` or ``rejected/`` (TBS-FILE-007);
4. moves a data file whose manifest has not come within ``orphan_max_age`` to ``rejected/``.

Paths are only ever built from names that passed the pattern (no ``/``, no leading dot),
joined to the resolved dataset directory and checked to stay there; files are opened with
``O_NOFOLLOW`` and must be regular files, so a link swapped in after the listing is refused.
"""
from __future__ import annotations

import hashlib
import logging
import os
import stat
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Iterable, Protocol, runtime_checkable

from tongban.connectors.base import ReceivedBody, ServiceError, SystemService
from tongban.model.datasets import DATASETS
from tongban.validators.parsing import request_hash as tbs_request_hash
from tongban.validators.report import Finding, Severity, render_value

from .acks import ack_version, rejection_ack, write_json_atomic
from .batch import data_line_texts, logical_envelope, refused_envelope
from .names import (ACK_SUFFIX, ARCHIVE, DROP_NAME_RE, INBOX, MAX_DATA_BYTES, MAX_MANIFEST_BYTES,
                    PART_SUFFIX, REJECTED, ack_name, batch_id_of, data_name, manifest_name, report_name)
from tongban.validators.parsing import JsonParseError, parse_json_strict

__all__ = ["FileDropReceiver", "ProcessedBatches", "InMemoryProcessedBatches", "ScanStats"]

log = logging.getLogger(__name__)

DEFAULT_ORPHAN_MAX_AGE = 24 * 3600.0  # TBS-FILE-005: a data file without manifest for 24 h


@runtime_checkable
class ProcessedBatches(Protocol):
    """Which ``batchId``s were already processed, per (sender, dataset) (TBS-FILE-008).

    The receiver never imports the store; the sync engine passes a store-backed
    implementation, tests use :class:`InMemoryProcessedBatches`.
    """

    def is_processed(self, sender: str, dataset: str, batch_id: str) -> bool: ...

    def mark_processed(self, sender: str, dataset: str, batch_id: str) -> None: ...


class InMemoryProcessedBatches:
    def __init__(self) -> None:
        self._seen: set[tuple[str, str, str]] = set()
        self._lock = threading.Lock()

    def is_processed(self, sender: str, dataset: str, batch_id: str) -> bool:
        with self._lock:
            return (sender, dataset, batch_id) in self._seen

    def mark_processed(self, sender: str, dataset: str, batch_id: str) -> None:
        with self._lock:
            self._seen.add((sender, dataset, batch_id))


@dataclass
class ScanStats:
    """What one scan (or, summed, a receiver's life) did and refused, and why.

    ``ignored`` counts sightings per reason (an entry left in the inbox is counted again by
    the next scan): ``name`` (TBS-FILE-002 pattern), ``part``, ``directory``, ``symlink``,
    ``not-regular`` and ``not-a-batch-file``. ``rejected_rules`` counts the rule ids of the
    findings that sent batches to ``rejected/``.
    """

    archived: int = 0
    rejected: int = 0          # includes the orphans
    orphans_rejected: int = 0
    incomplete: int = 0   # data files still waiting for their manifest
    deferred: int = 0     # the service failed transiently; the batch stays for the next scan
    ignored: Counter[str] = field(default_factory=Counter)
    rejected_rules: Counter[str] = field(default_factory=Counter)
    processed_order: list[str] = field(default_factory=list)  # "{dataset}/{batchId}"

    def add(self, other: "ScanStats") -> None:
        self.archived += other.archived
        self.rejected += other.rejected
        self.orphans_rejected += other.orphans_rejected
        self.incomplete += other.incomplete
        self.deferred += other.deferred
        self.ignored.update(other.ignored)
        self.rejected_rules.update(other.rejected_rules)
        self.processed_order.extend(other.processed_order)


@dataclass
class _Batch:
    batch_id: str
    manifest_bytes: bytes
    manifest: dict[str, Any] | None   # the parsed manifest when it is a JSON object

    @property
    def order_key(self) -> tuple[int, float, str]:
        """TBS-FILE-009: ``sentAt`` as an instant, then ``batchId``; unreadable ones first."""
        sent_at = (self.manifest or {}).get("sentAt")
        if isinstance(sent_at, str):
            try:
                instant = datetime.fromisoformat(sent_at)
                if instant.tzinfo is not None:
                    return (1, instant.timestamp(), self.batch_id)
            except ValueError:
                pass
        return (0, 0.0, self.batch_id)


def _finding(rule_id: str, location: str, zh: str, en: str, value: Any = None) -> Finding:
    return Finding(Severity.ERROR, rule_id, location, zh, en, None if value is None else render_value(value))


# Service refusals without a rule id of their own, by HTTP status (TBS-REST-008 semantics).
_STATUS_RULES: dict[int, tuple[str, str]] = {
    401: ("TBS-SEC-002", "/sender"),
    403: ("TBS-SEC-002", "/sender"),
    409: ("TBS-SEC-005", "/messageId"),
    413: ("TBS-SEC-009", ""),
}


def _read_regular(path: Path, limit: int) -> bytes | None:
    """At most ``limit + 1`` bytes of a regular file, or ``None`` when there is none.

    ``O_NOFOLLOW`` refuses a symbolic link; ``O_NONBLOCK`` keeps a FIFO swapped in for a
    batch file from blocking the scan (opening a FIFO for reading waits for a writer);
    ``fstat`` then refuses anything that is not a regular file (directory, FIFO, device)
    before a byte is read. Reading one byte beyond the limit lets the caller detect the
    oversize (TBS-SEC-009) without loading an arbitrarily large file.
    """
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except OSError:  # gone, ELOOP (a symbolic link), ENXIO, EACCES …
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        os.set_blocking(fd, True)
        chunks, left = [], limit + 1
        while left > 0 and (chunk := os.read(fd, min(left, 1 << 20))):
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def _not_regular(path: Path) -> str | None:
    """What occupies ``path`` when it is something other than a regular file (never followed)."""
    try:
        mode = os.lstat(path).st_mode
    except OSError:
        return None
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    return "not a regular file"


class FileDropReceiver:
    """Processes the batches of one drop root (one sender → this receiver).

    ``own_id`` is the receiver's system identifier (the acknowledging ``sender``);
    ``owner`` is the sender the drop root belongs to, passed to the service as the
    authenticated identity (TBS-SEC-002).
    """

    binding = "FILE"

    def __init__(self, drop_root: str | Path, service: SystemService, *, own_id: str, owner: str,
                 processed: ProcessedBatches | None = None,
                 orphan_max_age: float = DEFAULT_ORPHAN_MAX_AGE,
                 datasets: Iterable[str] = DATASETS,
                 clock: Callable[[], float] = time.time) -> None:
        self.drop_root = Path(drop_root).resolve()
        self.service = service
        self.own_id = own_id
        self.owner = owner
        self.processed = processed if processed is not None else InMemoryProcessedBatches()
        self.orphan_max_age = orphan_max_age
        self.datasets = tuple(datasets)
        unknown = set(self.datasets) - set(DATASETS)
        if unknown:
            raise ValueError(f"unknown datasets {sorted(unknown)}")
        self.clock = clock
        self.totals = ScanStats()
        self._lock = threading.Lock()

    # -- provisioning (TBS-FILE-001) ------------------------------------------------------

    def provision(self) -> None:
        """Create ``inbox/``, ``archive/`` and ``rejected/`` with one folder per dataset."""
        for folder in (INBOX, ARCHIVE, REJECTED):
            for dataset in self.datasets:
                (self.drop_root / folder / dataset).mkdir(parents=True, exist_ok=True)

    # -- scanning -------------------------------------------------------------------------

    def scan_once(self) -> ScanStats:
        """Process every complete batch now in the inbox; return what this scan did."""
        with self._lock:  # one scan at a time: moves and FILE-008 bookkeeping are not reentrant
            stats = ScanStats()
            for dataset in self.datasets:
                self._scan_dataset(dataset, stats)
            self.totals.add(stats)
            return stats

    def serve(self, stop: threading.Event, interval: float = 5.0) -> None:
        """Scan every ``interval`` seconds until ``stop`` is set (TBS-FILE-009: within 5 min)."""
        while not stop.is_set():
            try:
                self.scan_once()
            except OSError:
                log.exception("file-drop scan of %s failed", self.drop_root)
            stop.wait(interval)

    def _folder(self, folder: str, dataset: str) -> Path:
        return self.drop_root / folder / dataset

    def _inside(self, directory: Path, name: str) -> Path:
        """Join a checked name to a directory and prove the result stays in it."""
        if not DROP_NAME_RE.match(name):
            raise ValueError(f"refusing unchecked name {name!r}")
        path = directory / name
        # The last component is never resolved: a symbolic link planted under a good name is
        # itself the entry (refused by O_NOFOLLOW and moved aside), not where it points.
        if Path(os.path.normpath(path)).parent != directory:
            raise ValueError(f"{name!r} escapes {directory}")
        return path

    def _scan_dataset(self, dataset: str, stats: ScanStats) -> None:
        inbox = self._folder(INBOX, dataset)
        if inbox.is_symlink() or not inbox.is_dir():
            return
        manifests: set[str] = set()
        data_files: dict[str, float] = {}  # batchId -> mtime
        with os.scandir(inbox) as entries:
            for entry in entries:
                name = entry.name
                if not DROP_NAME_RE.match(name):
                    stats.ignored["name"] += 1
                elif name.endswith(PART_SUFFIX):
                    stats.ignored["part"] += 1
                elif entry.is_symlink():
                    stats.ignored["symlink"] += 1
                elif entry.is_dir(follow_symlinks=False):
                    stats.ignored["directory"] += 1
                elif not entry.is_file(follow_symlinks=False):
                    stats.ignored["not-regular"] += 1
                elif (kind := batch_id_of(name)) is None:
                    stats.ignored["not-a-batch-file"] += 1
                elif kind[1] == "manifest":
                    manifests.add(kind[0])
                else:
                    try:
                        data_files[kind[0]] = entry.stat(follow_symlinks=False).st_mtime
                    except FileNotFoundError:  # the sender withdrew it since the listing
                        continue

        batches = []
        for batch_id in manifests:
            raw = _read_regular(self._inside(inbox, manifest_name(batch_id)), MAX_MANIFEST_BYTES)
            if raw is None:  # vanished or swapped for a link since the listing
                continue
            batches.append(_Batch(batch_id, raw, self._peek(raw)))
        for batch in sorted(batches, key=lambda b: b.order_key):
            self._process(dataset, batch, stats)

        now = self.clock()
        for batch_id, mtime in sorted(data_files.items()):
            if batch_id in manifests:
                continue
            if now - mtime >= self.orphan_max_age:
                self._reject_orphan(dataset, batch_id, stats)
            else:
                stats.incomplete += 1

    @staticmethod
    def _peek(manifest_bytes: bytes) -> dict[str, Any] | None:
        if len(manifest_bytes) > MAX_MANIFEST_BYTES:
            return None
        try:
            value = parse_json_strict(manifest_bytes)
        except JsonParseError:
            return None
        return value if isinstance(value, dict) else None

    # -- one batch ------------------------------------------------------------------------

    def _process(self, dataset: str, batch: _Batch, stats: ScanStats) -> None:
        inbox = self._folder(INBOX, dataset)
        data_path = self._inside(inbox, data_name(batch.batch_id))
        data = _read_regular(data_path, MAX_DATA_BYTES)
        envelope, findings = logical_envelope(batch.manifest_bytes, data,
                                              manifest_name=manifest_name(batch.batch_id))
        manifest = batch.manifest or {}
        declared = manifest.get("dataset")
        if "dataset" in manifest and declared != dataset:  # TBS-ENV-024: the directory is the binding
            findings.append(_finding("TBS-ENV-024", "/dataset", "dataset 与投递目录不一致",
                                     f"dataset does not equal the drop directory {dataset!r}", declared))
        if self.processed.is_processed(self.owner, dataset, batch.batch_id):
            findings.append(_finding("TBS-FILE-008", "/batch/batchId", "batchId 已被使用过",
                                     "batchId was already used by a processed batch", batch.batch_id))

        # TBS-ENV-031: JCS of the logical envelope; when there is none, the raw request bytes
        # (the manifest followed by the data file).
        request_hash = tbs_request_hash(envelope, batch.manifest_bytes + (data or b""))

        files = [self._inside(inbox, manifest_name(batch.batch_id))]
        not_regular = None
        if data is not None:
            files.insert(0, data_path)
        elif (not_regular := _not_regular(data_path)) is not None:
            # Moved aside with its batch (the link itself, never its target), so the
            # entry cannot stop the feed's later batches. Located at /records: the records
            # of the logical envelope are what the data file should have held.
            files.insert(0, data_path)
            findings.append(_finding("TBS-FILE-005", "/records", "数据文件不是普通文件",
                                     f"the data file is {not_regular}, not a regular file; the batch is refused",
                                     data_name(batch.batch_id)))
        if any(f.severity is Severity.ERROR for f in findings):
            # A batch refused for its data file still stands for an envelope when its manifest
            # is a JSON object: refused, ledgered and counted like any other (not so a manifest
            # whose data file has not arrived at all).
            stand_in = envelope
            if stand_in is None and (data is not None or not_regular is not None):
                stand_in = refused_envelope(batch.manifest, data)
            ack = self._binding_rejection(stand_in, findings, dataset, request_hash) or rejection_ack(
                findings, acknowledger=self.own_id, request_hash=request_hash, request=envelope or batch.manifest,
                spec_version=self._ack_version(envelope or batch.manifest))
            self._file_away(dataset, batch.batch_id, files, REJECTED, ack, stats)
            return

        assert envelope is not None  # no ERROR means the envelope was built
        try:
            ack = self.service.receive(envelope, binding="FILE", request_hash=request_hash,
                                       authenticated_sender=self.owner, binding_dataset=dataset,
                                       received=ReceivedBody(data or b"", data_line_texts))
        except ServiceError as exc:
            if exc.status >= 500:
                log.warning("service deferred batch %s/%s: %s", dataset, batch.batch_id, exc.code)
                stats.deferred += 1
                return
            rule_id, location = (exc.rule_id, "") if exc.rule_id else _STATUS_RULES.get(
                exc.status, ("TBS-FILE-004", ""))
            ack = rejection_ack([_finding(rule_id, location, exc.message, exc.message)],
                                acknowledger=self.own_id, request_hash=request_hash, request=envelope,
                                spec_version=self._ack_version(envelope))
        except Exception:  # noqa: BLE001 – a failing service must not lose the batch
            log.exception("service failed on batch %s/%s; left in the inbox", dataset, batch.batch_id)
            stats.deferred += 1
            return

        rejected_at_envelope_level = (ack.get("envelopeReport") or {}).get("result") == "FAILURE"
        if rejected_at_envelope_level:
            self._file_away(dataset, batch.batch_id, files, REJECTED, ack, stats)
        else:
            self._file_away(dataset, batch.batch_id, files, ARCHIVE, ack, stats)
            # Marked after the move: a crash before it re-offers the batch, which the
            # service answers from its replay memory (TBS-SEC-005) instead of refusing it.
            self.processed.mark_processed(self.owner, dataset, batch.batch_id)

    def _ack_version(self, request: dict[str, Any] | None) -> str:
        """TBS-1.1 TBS-ENV-029: the manifest's version when the receiving service supports it."""
        return ack_version(request, getattr(self.service, "spec_versions", None))

    def _binding_rejection(self, envelope: dict[str, Any] | None, findings: list[Finding], dataset: str,
                           request_hash: str) -> dict[str, Any] | None:
        """A batch refused at the binding level whose envelope could still be built is handed to
        the service with the binding's findings, so the refusal is ledgered and counted like any
        other; None when there is no envelope or the service did not reject it."""
        if envelope is None:
            return None
        try:
            ack = self.service.receive(envelope, binding="FILE", request_hash=request_hash,
                                       authenticated_sender=self.owner, binding_dataset=dataset,
                                       binding_findings=tuple(findings))
        except Exception:  # noqa: BLE001 - the binding's own report still rejects the batch
            log.warning("service did not take the binding-level rejection of a %s batch", dataset)
            return None
        report = ack.get("envelopeReport") or {}
        reported = {item.get("ruleId") for item in report.get("items") or []}
        if report.get("result") != "FAILURE" or not {f.rule_id for f in findings} <= reported:
            return None  # a service that ignored the binding's findings: its own report stands
        return ack

    def _reject_orphan(self, dataset: str, batch_id: str, stats: ScanStats) -> None:
        """TBS-FILE-005: a data file without its manifest for too long goes to ``rejected/``."""
        path = self._inside(self._folder(INBOX, dataset), data_name(batch_id))
        data = _read_regular(path, MAX_DATA_BYTES)
        if data is None:
            return
        finding = _finding("TBS-FILE-005", "", "数据文件长时间没有清单", "data file without a manifest past the age limit")
        ack = rejection_ack([finding], acknowledger=self.own_id,
                            request_hash=hashlib.sha256(data).hexdigest(), request=None,
                            spec_version=self._ack_version(None))
        self._file_away(dataset, batch_id, [path], REJECTED, ack, stats)
        stats.orphans_rejected += 1

    # -- filing (TBS-FILE-007) ------------------------------------------------------------

    def _free_batch_id(self, target: Path, batch_id: str, suffixes: list[str]) -> str:
        """``batchId``, or ``batchId-dupN`` when the target directory already holds that name."""
        candidate, n = batch_id, 0
        while any((target / f"{candidate}{suffix}").exists() for suffix in suffixes):
            n += 1
            candidate = f"{batch_id}-dup{n}"
        return candidate

    def _file_away(self, dataset: str, batch_id: str, files: list[Path], folder: str,
                   ack: dict[str, Any], stats: ScanStats) -> None:
        target = self._folder(folder, dataset)
        target.mkdir(parents=True, exist_ok=True)
        ack_file = ack_name if folder == ARCHIVE else report_name
        suffixes = [f.name[len(batch_id):] for f in files] + [ack_file("")]
        final_id = self._free_batch_id(target, batch_id, suffixes)
        for path in files:
            os.replace(path, target / (final_id + path.name[len(batch_id):]))
        self._write_ack(target / ack_file(final_id), ack, archived=folder == ARCHIVE)
        stats.processed_order.append(f"{dataset}/{batch_id}")
        if folder == ARCHIVE:
            stats.archived += 1
        else:
            stats.rejected += 1
            stats.rejected_rules.update(item["ruleId"] for item in ack["envelopeReport"]["items"]
                                        if item.get("severity") == "ERROR")

    def _write_ack(self, path: Path, ack: dict[str, Any], *, archived: bool) -> None:
        """Make a batch's acknowledgement (``archived``) or rejection report visible to the
        sender. The conformance kit's collector withholds one acknowledgement here, before the
        sender can have read it (COM-05)."""
        write_json_atomic(path, ack)

    def update_ack(self, dataset: str, batch_id: str, ack: dict[str, Any]) -> Path:
        """Rewrite an archived acknowledgement, e.g. when held records resolve (TBS-FILE-007).

        Finds ``{batchId}.ack.json`` or its ``-dupN`` variant whose ``requestMessageId``
        matches the new acknowledgement's.
        """
        archive = self._folder(ARCHIVE, dataset)
        wanted = ack.get("requestMessageId")
        names = [ack_name(batch_id)] + sorted(p.name for p in archive.glob(f"{batch_id}-dup*{ACK_SUFFIX}"))
        for name in names:
            path = self._inside(archive, name)
            try:
                current = parse_json_strict(path.read_bytes())
            except (FileNotFoundError, JsonParseError):
                continue
            if isinstance(current, dict) and current.get("requestMessageId") == wanted:
                write_json_atomic(path, ack)
                return path
        raise FileNotFoundError(f"no archived acknowledgement of {dataset}/{batch_id} for {wanted}")
