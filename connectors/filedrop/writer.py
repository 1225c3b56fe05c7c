"""The sending side of the file-drop binding (TBS-FILE-001..007).

A sender writes only in ``inbox/{dataset}/`` of the drop root the receiver provisioned for
it: first ``{batchId}.jsonl`` (one JCS record per line), then ``{batchId}.manifest.json``,
each under a ``.part`` name renamed when complete, so the receiver never sees a half-written
batch. It then reads the receiver's verdict from ``archive/{dataset}/{batchId}.ack.json``
or ``rejected/{dataset}/{batchId}.report.json``.
"""
from __future__ import annotations

import hashlib
import json
import re
import time
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path, PurePath, PurePosixPath
from typing import Any

from tongban.model.canonical import canonical_bytes, canonical_sha256, records_sha256
from tongban.model.clock import CST
from tongban.model.datasets import DATASETS

from .acks import now_rfc3339
from .dropfiles import DropFiles, LocalDropFiles
from .names import (ACK_SUFFIX, ARCHIVE, INBOX, REJECTED, REPORT_SUFFIX, ack_name, data_name,
                    is_drop_name, manifest_name, report_name)
from .signing import sign_envelope

__all__ = ["FileDropWriter", "WrittenBatch", "BATCH_ID_RE"]

BATCH_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")  # TBS-ENV-026


@dataclass(frozen=True)
class WrittenBatch:
    """What was dropped: the logical envelope and its ``requestHash`` (TBS-ENV-031)."""

    dataset: str
    batch_id: str
    message_id: str
    envelope: dict[str, Any]
    request_hash: str
    data_path: PurePath      # a Path for a local drop root
    manifest_path: PurePath


class FileDropWriter:
    """Writes batches into one drop root and reads their acknowledgements.

    ``key_id``/``key`` sign every batch with HMAC-SHA256 (TBS-SEC-007 makes the signature
    mandatory for FILE; TBS-ENV-028 defines it). Without a key the envelope is written as
    given, which suits envelopes signed upstream.

    ``spec_version`` is the version the batches are written in: the manifest's ``specVersion``
    is FILE's version signal (TBS-1.1 §3.2, TBS-ENV-034: the highest version both sides
    support, taken from the receiver's partner profile).
    """

    def __init__(self, drop_root: str | Path | DropFiles, *, sender: str | None = None, receiver: str | None = None,
                 key_id: str | None = None, key: bytes | None = None, spec_version: str = "TBS-1.0") -> None:
        if (key_id is None) != (key is None):
            raise ValueError("key_id and key go together")
        # A folder, or a DropFiles such as an SFTP account (tongban.connectors.filedrop.sftp).
        self.files: DropFiles = drop_root if isinstance(drop_root, DropFiles) else LocalDropFiles(drop_root)
        self.drop_root = self.files.root
        self.sender = sender
        self.receiver = receiver
        self.key_id = key_id
        self.key = key
        self.spec_version = spec_version

    # -- building -------------------------------------------------------------------------

    def build_envelope(self, dataset: str, records: list[dict[str, Any]], *, batch_id: str | None = None,
                       message_id: str | None = None, sent_at: str | None = None, origin: str | None = None,
                       cursor: str | None = None, ext: dict[str, Any] | None = None,
                       spec_version: str | None = None) -> dict[str, Any]:
        """A fresh envelope (new ``messageId``, ``sentAt`` now) with the ``batch`` FILE requires,
        in ``spec_version`` (default: the writer's)."""
        if self.sender is None or self.receiver is None:
            raise ValueError("build_envelope needs the writer's sender and receiver")
        batch: dict[str, Any] = {"batchId": batch_id or self.new_batch_id(dataset)}
        if cursor is not None:
            batch["cursor"] = cursor
        envelope: dict[str, Any] = {
            "specVersion": spec_version or self.spec_version,
            "messageId": message_id or str(uuid.uuid4()),
            "sender": self.sender,
            "receiver": self.receiver,
            "dataset": dataset,
            "sentAt": sent_at or now_rfc3339(),
            "batch": batch,
            "records": records,
            "integrity": {"recordsSha256": records_sha256(records)},
        }
        if origin is not None:
            envelope["origin"] = origin
        if ext is not None:
            envelope["ext"] = ext
        return envelope

    @staticmethod
    def new_batch_id(dataset: str) -> str:
        """Readable and unique: dataset, local time and 8 random hex digits."""
        stamp = datetime.now(CST).strftime("%Y%m%dT%H%M%S")
        return f"{dataset}-{stamp}-{uuid.uuid4().hex[:8]}"

    # -- writing --------------------------------------------------------------------------

    def write_batch(self, dataset: str, records: list[dict[str, Any]], **envelope_members: Any) -> WrittenBatch:
        """Build, sign and drop one batch."""
        return self.write_envelope(self.build_envelope(dataset, records, **envelope_members))

    def write_envelope(self, envelope: dict[str, Any]) -> WrittenBatch:
        """Drop ``envelope`` as ``{batchId}.jsonl`` + ``{batchId}.manifest.json`` (TBS-FILE-005).

        Computes ``integrity.recordsSha256`` and, with a key, the signature; the manifest's
        ``file`` member describes the data file exactly (TBS-FILE-006).
        """
        dataset = envelope.get("dataset")
        if dataset not in DATASETS:
            raise ValueError(f"unknown dataset {dataset!r}")
        batch_id = (envelope.get("batch") or {}).get("batchId")
        if not isinstance(batch_id, str) or not BATCH_ID_RE.match(batch_id) or not is_drop_name(batch_id):
            raise ValueError(f"a FILE envelope needs a valid batch.batchId, got {batch_id!r}")
        records = envelope.get("records")
        if not isinstance(records, list) or not 1 <= len(records) <= 1000:
            raise ValueError("records must be a list of 1 to 1000 records")

        if self.key is not None and self.key_id is not None:
            envelope = sign_envelope(envelope, key_id=self.key_id, key=self.key)
        else:
            envelope = dict(envelope)
            integrity = dict(envelope.get("integrity") or {})
            integrity.setdefault("recordsSha256", records_sha256(records))
            envelope["integrity"] = integrity

        data = b"".join(canonical_bytes(record) + b"\n" for record in records)
        manifest = {k: v for k, v in envelope.items() if k != "records"}
        manifest["file"] = {"name": data_name(batch_id), "size": len(data), "count": len(records),
                            "sha256": hashlib.sha256(data).hexdigest()}

        inbox = PurePosixPath(INBOX, dataset)
        if not self.files.is_dir(inbox):
            raise FileNotFoundError(f"the receiver has not provisioned {INBOX}/{dataset}/ in this drop root")
        data_rel, manifest_rel = inbox / data_name(batch_id), inbox / manifest_name(batch_id)
        if self.files.exists(data_rel) or self.files.exists(manifest_rel):
            raise FileExistsError(f"batch {batch_id} is already waiting in the inbox")
        data_path = self.files.write_atomic(data_rel, data)  # the data file is renamed before the manifest
        manifest_path = self.files.write_atomic(manifest_rel, canonical_bytes(manifest))
        return WrittenBatch(dataset=dataset, batch_id=batch_id, message_id=envelope.get("messageId", ""),
                            envelope=envelope, request_hash=canonical_sha256(envelope),
                            data_path=data_path, manifest_path=manifest_path)

    # -- acknowledgements -----------------------------------------------------------------

    def read_ack(self, dataset: str, batch_id: str, *, message_id: str | None = None) -> dict[str, Any] | None:
        """The acknowledgement of a batch, from ``archive/`` or ``rejected/`` (TBS-FILE-007).

        With ``message_id``, an acknowledgement of another envelope that used the same
        ``batchId`` is skipped, and renamed ``-dupN`` acknowledgements are searched too.
        """
        # (path, may the acknowledgement lack requestMessageId?) – an unreadable manifest
        # gives a report without it, which can only be ours under our exact name.
        candidates: list[tuple[PurePosixPath, bool]] = [
            (PurePosixPath(ARCHIVE, dataset, ack_name(batch_id)), True),
            (PurePosixPath(REJECTED, dataset, report_name(batch_id)), True)]
        if message_id is not None:
            for folder, suffix in ((ARCHIVE, ACK_SUFFIX), (REJECTED, REPORT_SUFFIX)):
                renamed = [n for n in self.files.names(PurePosixPath(folder, dataset))
                           if n.startswith(f"{batch_id}-dup") and n.endswith(suffix)]
                candidates.extend((PurePosixPath(folder, dataset, n), False) for n in renamed)
        for path, exact_name in candidates:
            raw = self.files.read(path)  # acknowledgements appear by rename, never torn
            if raw is None:
                continue
            try:
                ack = json.loads(raw)
            except ValueError:
                continue
            if not isinstance(ack, dict):
                continue
            echoed = ack.get("requestMessageId")
            if message_id is None or echoed == message_id or (echoed is None and exact_name):
                return ack
        return None

    def wait_for_ack(self, dataset: str, batch_id: str, *, message_id: str | None = None,
                     timeout: float = 60.0, poll_interval: float = 0.2) -> dict[str, Any] | None:
        """Poll :meth:`read_ack` until an acknowledgement appears or ``timeout`` passes."""
        deadline = time.monotonic() + timeout
        while True:
            ack = self.read_ack(dataset, batch_id, message_id=message_id)
            if ack is not None or time.monotonic() >= deadline:
                return ack
            time.sleep(poll_interval)
