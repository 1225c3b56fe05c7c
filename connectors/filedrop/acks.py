"""Acknowledgements a binding writes itself, and atomic file writes (TBS-ENV-030, TBS-FILE-007).

Content verdicts come from the :class:`~tongban.connectors.base.SystemService`. Faults the
binding detects before the service sees an envelope (a torn batch, a manifest that does not
match its data file, a topic region that is not the sender's) are rejected here with an
acknowledgement of status REJECTED whose ``envelopeReport`` holds those findings. The MQTT
binding reuses :func:`rejection_ack` for TBS-MQTT-002 and TBS-SEC-005.
"""
from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path
from typing import Any, Iterable

from tongban.model.clock import CST
from tongban.model.codes import system_id_ok
from tongban.validators.report import Finding, Report

from .names import PART_SUFFIX

__all__ = ["ack_version", "rejection_ack", "now_rfc3339", "write_bytes_atomic", "write_json_atomic"]

SPEC_VERSION = "TBS-1.0"
_UUID_CHARS = set("0123456789abcdef-")


def now_rfc3339() -> str:
    """T_ref as a TBS date-time with the offset +08:00 (TBS-ENV-007, -010)."""
    return datetime.now(CST).isoformat(timespec="milliseconds")


def _is_uuid(value: Any) -> bool:
    return (isinstance(value, str) and len(value) == 36 and set(value) <= _UUID_CHARS
            and [len(p) for p in value.split("-")] == [8, 4, 4, 4, 12])


def ack_version(request: dict[str, Any] | None, versions: Iterable[str] | None) -> str:
    """The version a binding writes its own acknowledgement in (TBS-1.1 TBS-ENV-029): the
    version the request names when the receiver supports it; otherwise the lowest version the
    receiver supports (TBS-1.0 while it supports it, the version every sender still reads
    during the transition: the binding has no partner profile to choose by)."""
    supported = tuple(versions or ()) or (SPEC_VERSION,)
    named = (request or {}).get("specVersion")
    return named if isinstance(named, str) and named in supported else min(supported)


def rejection_ack(findings: Iterable[Finding], *, acknowledger: str, request_hash: str,
                  request: dict[str, Any] | None, received_at: str | None = None,
                  spec_version: str = SPEC_VERSION) -> dict[str, Any]:
    """An acknowledgement with status REJECTED for an envelope-level rejection (TBS-ENV-030).

    ``request`` is the (logical) envelope or the manifest as far as it could be read; its
    ``messageId`` and ``sender`` are echoed only when they are valid, so the acknowledgement
    itself stays valid. When the envelope is rejected at envelope level, ``rejected``
    equals ``received`` and the ``rejected`` array is empty.
    """
    report = Report()
    report.extend(findings)
    if report.ok:
        raise ValueError("a rejection acknowledgement needs at least one ERROR finding")
    request = request or {}
    records = request.get("records")
    received = min(len(records), 1000) if isinstance(records, list) else 0
    ack: dict[str, Any] = {"specVersion": spec_version}
    if _is_uuid(request.get("messageId")):
        ack["requestMessageId"] = request["messageId"]
    ack["requestHash"] = request_hash
    ack["sender"] = acknowledger
    sender = request.get("sender")
    if isinstance(sender, str) and system_id_ok(sender):
        ack["receiver"] = sender
    ack.update({
        "receivedAt": received_at or now_rfc3339(),
        "status": "REJECTED",
        "final": True,
        "envelopeReport": report.to_json(),
        "counts": {"received": received, "stored": 0, "duplicate": 0, "stale": 0, "held": 0,
                   "rejected": received},
        "accepted": 0,
        "rejected": [],
        "notes": [],
    })
    return ack


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` under ``{path}.part``, flush it to disk, then rename it to ``path``
    (TBS-FILE-005, -007): a reader sees either no file or the complete file."""
    temp = path.with_name(path.name + PART_SUFFIX)
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o640)
    try:
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(temp, path)


def write_json_atomic(path: Path, value: Any) -> None:
    """Acknowledgement and report files: UTF-8 JSON without BOM (TBS-ENV-001)."""
    write_bytes_atomic(path, json.dumps(value, ensure_ascii=False, indent=2).encode("utf-8") + b"\n")
