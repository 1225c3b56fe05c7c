"""File names of the drop root (TBS-FILE-001, -002, -007).

Every path the binding touches is built from a name that passed :func:`is_drop_name`, so a
name can never climb out of its directory: the pattern admits no ``/``, no leading dot and
therefore neither ``.`` nor ``..``.
"""
from __future__ import annotations

import re

# TBS-FILE-002: the only names a receiver looks at.
DROP_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")

DATA_SUFFIX = ".jsonl"
MANIFEST_SUFFIX = ".manifest.json"
PART_SUFFIX = ".part"
ACK_SUFFIX = ".ack.json"        # archive/{dataset}/{batchId}.ack.json
REPORT_SUFFIX = ".report.json"  # rejected/{dataset}/{batchId}.report.json

INBOX, ARCHIVE, REJECTED = "inbox", "archive", "rejected"

# TBS-SEC-009 size limits of the file-drop binding.
MAX_DATA_BYTES = 67_108_864
MAX_MANIFEST_BYTES = 65_536


def is_drop_name(name: str) -> bool:
    """TBS-FILE-002: may a receiver look at an entry with this name at all?"""
    return bool(DROP_NAME_RE.match(name)) and not name.endswith(PART_SUFFIX)


def data_name(batch_id: str) -> str:
    return f"{batch_id}{DATA_SUFFIX}"


def manifest_name(batch_id: str) -> str:
    return f"{batch_id}{MANIFEST_SUFFIX}"


def ack_name(batch_id: str) -> str:
    return f"{batch_id}{ACK_SUFFIX}"


def report_name(batch_id: str) -> str:
    return f"{batch_id}{REPORT_SUFFIX}"


def batch_id_of(name: str) -> tuple[str, str] | None:
    """``(batchId, "manifest" | "data")`` for a batch file name, ``None`` for anything else.

    The manifest suffix is tested first: ``X.manifest.json`` never counts as data.
    """
    if name.endswith(MANIFEST_SUFFIX) and len(name) > len(MANIFEST_SUFFIX):
        return name[: -len(MANIFEST_SUFFIX)], "manifest"
    if name.endswith(DATA_SUFFIX) and len(name) > len(DATA_SUFFIX):
        return name[: -len(DATA_SUFFIX)], "data"
    return None
