"""From a batch on disk to the logical envelope of TBS-FILE-004, with the file-level faults.

A batch is ``{batchId}.jsonl`` plus ``{batchId}.manifest.json``. The manifest carries every
envelope member except ``records``, plus ``file: {name, size, count, sha256}``. The logical
envelope is the manifest without ``file`` and with ``records`` set to the parsed lines; all
ENV and SEC rules then apply to it as to any other envelope. This module checks only what
belongs to the file binding: the framing of the lines (TBS-FILE-003), the manifest's
``batch`` and ``file`` members (TBS-FILE-004, -006), the data file's presence
(TBS-FILE-005) and the size limits (TBS-SEC-009). Every finding here is an envelope-level
ERROR, so any of them rejects the batch.
"""
from __future__ import annotations

import hashlib
import re
from typing import Any

from tongban.validators.report import Finding, Report, Severity, render_value

from .names import DATA_SUFFIX, MANIFEST_SUFFIX, MAX_DATA_BYTES, MAX_MANIFEST_BYTES
from tongban.validators.parsing import JsonParseError, parse_json_strict

__all__ = ["logical_envelope", "parse_data_lines", "refused_envelope", "MAX_LINES"]

MAX_LINES = 1000
_BOM = b"\xef\xbb\xbf"
_SHA256_HEX_RE = re.compile(r"^[0-9a-f]{64}$")
_FILE_MEMBERS: dict[str, type] = {"name": str, "size": int, "count": int, "sha256": str}


def _error(rule_id: str, location: str, zh: str, en: str, value: Any = None) -> Finding:
    return Finding(Severity.ERROR, rule_id, location, zh, en,
                   None if value is None else render_value(value))


def _pointer_token(name: str) -> str:
    """RFC 6901 escaping of one member name."""
    return name.replace("~", "~0").replace("/", "~1")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _member_present(report: Report, obj: dict[str, Any], name: str, location: str,
                    expected: type) -> bool:
    """TBS-ENV-004/-005 for one mandatory member; True when it can be checked further."""
    if name not in obj:
        report.add(_error("TBS-ENV-005", location, "缺少必填成员", "mandatory member is missing"))
        return False
    value = obj[name]
    if value is None:
        report.add(_error("TBS-ENV-004", location, "不允许使用 null", "null is not allowed"))
        return False
    ok = _is_int(value) if expected is int else isinstance(value, expected)
    if not ok:
        report.add(_error("TBS-ENV-005", location, "成员类型错误", "member has the wrong JSON type", value))
        return False
    return True


def data_line_texts(data: bytes) -> list[str] | None:
    """The text of each line of a data file (its records as received), as
    :func:`parse_data_lines` splits it; None when the file is not UTF-8."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    lines = text.split("\n")
    if text.endswith("\n"):
        lines.pop()
    return lines


def parse_data_lines(data: bytes, report: Report) -> tuple[list[dict[str, Any]] | None, int | None]:
    """TBS-FILE-003 and the ``.jsonl`` size limit of TBS-SEC-009.

    Returns ``(records, line_count)``. ``records`` is ``None`` when any line is faulty;
    ``line_count`` is ``None`` when the file could not be split into lines at all.
    """
    if len(data) > MAX_DATA_BYTES:
        report.add(_error("TBS-SEC-009", "", "数据文件超过 64 MiB", "data file exceeds 67108864 bytes",
                          len(data)))
        return None, None
    if not data:
        report.add(_error("TBS-FILE-003", "", "数据文件为空", "data file is empty"))
        return None, 0
    if data.startswith(_BOM):
        report.add(_error("TBS-FILE-003", "", "数据文件以字节顺序标记开头", "data file starts with a byte-order mark"))
        return None, None
    terminated = data.endswith(b"\n")
    # LF never occurs inside a multi-byte UTF-8 sequence, so splitting bytes is safe.
    lines = data.split(b"\n")
    if terminated:
        lines.pop()  # the empty remainder after the final LF
    count = len(lines)
    if count > MAX_LINES:
        report.add(_error("TBS-FILE-003", "", "数据文件超过 1000 行", "data file has more than 1000 lines", count))
        return None, count

    records: list[dict[str, Any]] = []
    faulty = False
    for index, line in enumerate(lines):
        location = f"/records/{index}"
        if not line:
            report.add(_error("TBS-FILE-003", location, "不允许空行", "empty line"))
            faulty = True
            continue
        if b"\r" in line:
            report.add(_error("TBS-FILE-003", location, "行内含有回车符 (CR)", "line contains a CR character"))
            faulty = True
            continue
        try:
            value = parse_json_strict(line)
        except JsonParseError as exc:
            report.add(_error("TBS-FILE-003", location, f"该行不是合法的 I-JSON 文本：{exc}",
                              f"line is not an I-JSON text: {exc}"))
            faulty = True
            continue
        if not isinstance(value, dict):
            report.add(_error("TBS-FILE-003", location, "该行不是 JSON 对象", "line is not a JSON object"))
            faulty = True
            continue
        records.append(value)
    if not terminated:
        report.add(_error("TBS-FILE-003", f"/records/{count - 1}", "最后一行没有以换行符 (LF) 结束",
                          "last line is not terminated by LF"))
        faulty = True
    return (None if faulty else records), count


def _check_batch(manifest: dict[str, Any], base: str, report: Report) -> None:
    """TBS-FILE-004: ``batch`` is mandatory and ``batch.batchId`` equals the file base name."""
    if not _member_present(report, manifest, "batch", "/batch", dict):
        return
    batch = manifest["batch"]
    if _member_present(report, batch, "batchId", "/batch/batchId", str) and batch["batchId"] != base:
        report.add(_error("TBS-FILE-004", "/batch/batchId", "batchId 与文件名不一致",
                          f"batchId does not equal the file base name {base!r}", batch["batchId"]))


def _check_file_member(manifest: dict[str, Any], base: str, report: Report) -> dict[str, Any]:
    """TBS-FILE-006 constraints on ``file`` itself; returns the members usable for comparison."""
    if not _member_present(report, manifest, "file", "/file", dict):
        return {}
    file_obj = manifest["file"]
    usable: dict[str, Any] = {}
    for member in file_obj:
        if member not in _FILE_MEMBERS:  # TBS-ENV-002: `file` is a closed object
            report.add(_error("TBS-ENV-002", f"/file/{_pointer_token(member)}", "未定义的成员",
                              "member is not defined for this object"))
    for member, expected in _FILE_MEMBERS.items():
        location = f"/file/{member}"
        if not _member_present(report, file_obj, member, location, expected):
            continue
        value = file_obj[member]
        if member == "name" and value != f"{base}{DATA_SUFFIX}":
            report.add(_error("TBS-FILE-006", location, "file.name 必须为 {batchId}.jsonl",
                              "file.name must be {batchId}.jsonl", value))
        elif member == "size" and not 1 <= value <= MAX_DATA_BYTES:
            report.add(_error("TBS-FILE-006", location, "file.size 超出范围", "file.size is out of range", value))
        elif member == "count" and not 1 <= value <= MAX_LINES:
            report.add(_error("TBS-FILE-006", location, "file.count 超出范围", "file.count is out of range", value))
        elif member == "sha256" and not _SHA256_HEX_RE.match(value):
            report.add(_error("TBS-FILE-006", location, "file.sha256 不是小写十六进制 SHA-256",
                              "file.sha256 is not a lower-case hexadecimal SHA-256", value))
        else:
            usable[member] = value
    return usable


def _compare_file(declared: dict[str, Any], data: bytes, line_count: int | None, report: Report) -> None:
    """TBS-FILE-006: size, count and sha256 must describe the data file actually received."""
    if "size" in declared and declared["size"] != len(data):
        report.add(_error("TBS-FILE-006", "/file/size", f"file.size 与实际字节数 {len(data)} 不符",
                          f"file.size does not equal the byte length {len(data)}", declared["size"]))
    if "count" in declared and line_count is not None and declared["count"] != line_count:
        report.add(_error("TBS-FILE-006", "/file/count", f"file.count 与实际行数 {line_count} 不符",
                          f"file.count does not equal the line count {line_count}", declared["count"]))
    if "sha256" in declared and declared["sha256"] != hashlib.sha256(data).hexdigest():
        report.add(_error("TBS-FILE-006", "/file/sha256", "file.sha256 与数据文件的 SHA-256 不符",
                          "file.sha256 does not equal the SHA-256 of the data file", declared["sha256"]))


def logical_envelope(manifest_bytes: bytes, jsonl_bytes: bytes | None, *,
                     manifest_name: str) -> tuple[dict[str, Any] | None, list[Finding]]:
    """Build the TBS-FILE-004 logical envelope of one batch and report its file-level faults.

    ``manifest_name`` is the manifest's file name (``{batchId}.manifest.json``); the batch
    identifier is taken from it. ``jsonl_bytes`` is ``None`` when the data file is absent.

    Returns ``(envelope, findings)``. The envelope is ``None`` when it cannot be built (the
    manifest is not a JSON object, or a data line is faulty); it is returned together with
    findings when it can be built but the manifest does not match the data file. Every
    finding is an envelope-level ERROR (TBS-FILE-003..006, TBS-SEC-009, TBS-ENV-001/-002/
    -004/-005 on the manifest), so a non-empty list rejects the batch.
    """
    if not manifest_name.endswith(MANIFEST_SUFFIX):
        raise ValueError(f"not a manifest name: {manifest_name!r}")
    base = manifest_name[: -len(MANIFEST_SUFFIX)]
    report = Report()

    if len(manifest_bytes) > MAX_MANIFEST_BYTES:
        report.add(_error("TBS-SEC-009", "", "清单文件超过 64 KiB", "manifest exceeds 65536 bytes",
                          len(manifest_bytes)))
        return None, report.items
    try:
        manifest = parse_json_strict(manifest_bytes)
    except JsonParseError as exc:
        report.add(_error("TBS-ENV-001", "", f"清单不是合法的 I-JSON 文本：{exc}",
                          f"manifest is not an I-JSON text: {exc}"))
        return None, report.items
    if not isinstance(manifest, dict):
        report.add(_error("TBS-FILE-004", "", "清单不是 JSON 对象", "manifest is not a JSON object"))
        return None, report.items

    _check_batch(manifest, base, report)
    declared = _check_file_member(manifest, base, report)
    if "records" in manifest:
        report.add(_error("TBS-FILE-004", "/records", "清单不得包含 records", "the manifest must not contain records"))

    if jsonl_bytes is None:
        report.add(_error("TBS-FILE-005", "", "清单对应的数据文件不存在", "manifest without its data file"))
        return None, report.items

    records, line_count = parse_data_lines(jsonl_bytes, report)
    if line_count is not None:  # not over the size limit
        _compare_file(declared, jsonl_bytes, line_count, report)
    if records is None:
        return None, report.items

    envelope = {k: v for k, v in manifest.items() if k not in ("file", "records")}
    envelope["records"] = records
    return envelope, report.items


def refused_envelope(manifest: Any, jsonl_bytes: bytes | None) -> dict[str, Any] | None:
    """What a batch refused for its data file stands for, so that the refusal is acknowledged,
    ledgered and counted like any other: the manifest's envelope members, with ``records`` read
    from the data file line by line as far as that goes (a byte-order mark dropped, a line that
    is not a JSON object standing as an empty object). A data file that cannot be read at all (a
    FIFO, a link, a directory) or is over the size limit stands as ``file.count`` empty objects
    when the manifest declares a usable count, else one. ``None`` when the manifest is not a
    JSON object.

    It is only ever handed on together with the binding's findings, which reject it at envelope
    level (its records are never stored); the findings located in ``/records`` keep the
    records' own hash check (TBS-ENV-027) from repeating what they already say.
    """
    if not isinstance(manifest, dict):
        return None
    envelope = {k: v for k, v in manifest.items() if k not in ("file", "records")}
    if jsonl_bytes is None or len(jsonl_bytes) > MAX_DATA_BYTES:
        file_obj = manifest.get("file")
        declared = file_obj.get("count") if isinstance(file_obj, dict) else None
        envelope["records"] = [{} for _ in range(declared if _is_int(declared) and 1 <= declared <= MAX_LINES
                                                 else 1)]
        return envelope
    lines = jsonl_bytes.removeprefix(_BOM).split(b"\n")
    if lines and not lines[-1]:
        lines.pop()
    records: list[dict[str, Any]] = []
    for line in lines[:MAX_LINES]:
        try:
            value = parse_json_strict(line)
        except JsonParseError:
            value = None
        records.append(value if isinstance(value, dict) else {})
    envelope["records"] = records or [{}]
    return envelope
