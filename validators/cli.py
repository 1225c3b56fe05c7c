"""``tongban validate``: stand-alone stateless validation (TBS-1.0 §19, TBS-RPT-009).

Inputs: JSON envelope files; SOAP/XML files holding a ``PushBatch`` (mapped per
TBS-SOAP-003); file-drop batches given by their manifest (``{batchId}.manifest.json``, the
``.jsonl`` beside it); and, with ``--dataset``, bare records (one JSON object, a JSON array
of objects, or JSONL). A directory stands for every file in it (a batch's ``.jsonl`` is
validated through its manifest, not on its own).

Exit status: 0 when no input has an ERROR, 1 when any has, 2 on a usage error or an
unreadable path.
"""
from __future__ import annotations

import base64
import json
from dataclasses import dataclass, replace
from datetime import datetime
from importlib import import_module
from pathlib import Path
from typing import Any, Iterable

import click

from tongban import __version__
from tongban.model.clock import CST
from tongban.model.datasets import DATASETS
from tongban.validators.context import REFERENCE_ALLOWLIST, ValidationContext
from tongban.validators.engine import compiled_spec, validate_envelope, validate_record, validation_version
from tongban.validators.parsing import JsonParseError, parse_json_strict
from tongban.validators.report import Report
from tongban.validators.rules import make_finding

MANIFEST_SUFFIX = ".manifest.json"


class UsageProblem(Exception):
    """A problem with how the command was called or with a path: exit status 2."""


@dataclass
class Outcome:
    path: str
    report: Report


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise UsageProblem(f"{path}: cannot read ({exc.strerror or exc})") from None


def load_keys(path: Path) -> dict[tuple[str, str], tuple[str, bytes]]:
    """A key file: a JSON array of ``{sender, keyId, alg?, key | keyBase64 | keyHex}``."""
    try:
        entries = json.loads(_read(path))
        keys = {}
        for entry in entries:
            if "key" in entry:
                secret = entry["key"].encode("utf-8")
            elif "keyBase64" in entry:
                secret = base64.b64decode(entry["keyBase64"], validate=True)
            else:
                secret = bytes.fromhex(entry["keyHex"])
            keys[(entry["sender"], entry["keyId"])] = (entry.get("alg", "HMAC-SHA256"), secret)
        return keys
    except UsageProblem:
        raise
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise UsageProblem(f"{path}: not a key file ({exc}); expected a JSON array of "
                           '{"sender", "keyId", "alg", "key" | "keyBase64" | "keyHex"}') from None


def load_allowlist(path: Path) -> frozenset[str]:
    """One code per line (``#`` starts a comment), or a JSON array of codes."""
    text = _read(path).decode("utf-8", "replace")
    if text.lstrip().startswith("["):
        try:
            return frozenset(json.loads(text))
        except ValueError as exc:
            raise UsageProblem(f"{path}: not a JSON array ({exc})") from None
    return frozenset(line.split("#", 1)[0].strip() for line in text.splitlines()) - {""}


def expand(paths: Iterable[str]) -> list[Path]:
    """Files to validate, in order; a directory contributes its files (not sub-directories)."""
    out: list[Path] = []
    for name in paths:
        path = Path(name)
        if path.is_dir():
            try:
                files = sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith("."))
            except OSError as exc:
                raise UsageProblem(f"{path}: cannot list ({exc.strerror or exc})") from None
            batches = {p.name[: -len(MANIFEST_SUFFIX)] for p in files if p.name.endswith(MANIFEST_SUFFIX)}
            out.extend(p for p in files if not (p.suffix == ".jsonl" and p.stem in batches))
        elif path.is_file():
            out.append(path)
        else:
            raise UsageProblem(f"{path}: no such file or directory")
    return out


def _records_report(dataset: str, records: list[Any], context: ValidationContext) -> Report:
    """Bare records, wrapped as ``/records/i`` of an envelope (no envelope-level rules)."""
    report = Report()
    if not records:
        report.add(make_finding("TBS-ENV-025", "/records", "no records", "没有记录", spec=context.spec))
    for i, record in enumerate(records):
        report.extend(validate_record(dataset, record, index=i, writer=None, context=context).items)
    return report


def _bare_records(data: bytes, path: Path, dataset: str, context: ValidationContext) -> Report:
    if path.suffix == ".jsonl":
        records = []
        for number, line in enumerate(data.split(b"\n"), start=1):
            if not line.strip():
                continue
            try:
                records.append(parse_json_strict(line))
            except JsonParseError as exc:
                report = Report()
                report.add(make_finding("TBS-ENV-001", "", f"line {number}: {exc.reason}", f"第 {number} 行：{exc.reason_zh}",
                                        spec=context.spec))
                return report
        return _records_report(dataset, records, context)
    try:
        value = parse_json_strict(data)
    except JsonParseError as exc:
        report = Report()
        report.add(make_finding("TBS-ENV-001", "", exc.reason, exc.reason_zh, spec=context.spec))
        return report
    if isinstance(value, dict) and "specVersion" in value and "records" in value:
        return validate_envelope(value, context=replace(context, binding_dataset=dataset)).report
    return _records_report(dataset, value if isinstance(value, list) else [value], context)


def _soap(data: bytes, context: ValidationContext) -> Report:
    try:
        mapping = import_module("tongban.connectors.soap.mapping")
        push_batch_to_envelope = mapping.push_batch_to_envelope
    except (ImportError, AttributeError):
        raise UsageProblem("SOAP mapping unavailable: tongban.connectors.soap.mapping is not installed") from None
    envelope, findings = push_batch_to_envelope(data)
    if envelope is None:
        report = Report()
        report.extend(findings)
        return report
    return validate_envelope(envelope, context=replace(context, binding="SOAP"), binding_findings=findings).report


def _file_drop(path: Path, data: bytes, context: ValidationContext) -> Report:
    try:
        batch = import_module("tongban.connectors.filedrop.batch")
        logical_envelope = batch.logical_envelope
    except (ImportError, AttributeError):
        raise UsageProblem("file-drop support unavailable: tongban.connectors.filedrop.batch is not installed") from None
    jsonl_path = path.with_name(path.name[: -len(MANIFEST_SUFFIX)] + ".jsonl")
    jsonl = _read(jsonl_path) if jsonl_path.exists() else None
    envelope, findings = logical_envelope(data, jsonl, manifest_name=path.name)
    # The drop directory inbox/{dataset}/ implies the dataset (TBS-ENV-024).
    implied = path.resolve().parent.name if path.resolve().parent.name in DATASETS else None
    file_context = replace(context, binding="FILE", binding_dataset=implied)
    if envelope is None:
        report = Report()
        report.extend(findings)
        return report
    return validate_envelope(envelope, context=file_context, binding_findings=findings).report


def validate_path(path: Path, context: ValidationContext, dataset: str | None) -> Report:
    data = _read(path)
    if path.name.endswith(MANIFEST_SUFFIX):
        return _file_drop(path, data, context)
    if path.suffix.lower() == ".xml" or data.lstrip()[:1] == b"<":
        return _soap(data, context)
    if dataset is not None:
        return _bare_records(data, path, dataset, context)
    if path.suffix == ".jsonl":
        raise UsageProblem(f"{path}: JSONL holds bare records; say which dataset with --dataset")
    return validate_envelope(data, context=context).report


# Members that tell the datasets apart, most specific first: what a bare record most likely is.
_DATASET_MARKERS = (("case-event", ("seq", "type", "caseNo")), ("evaluation", ("assessNo", "caseNo")),
                    ("result", ("certNo", "caseNo")), ("case", ("caseNo", "applicant")),
                    ("catalog", ("implCode", "itemCode")))


def hints(path: Path, context: ValidationContext, dataset: str | None) -> list[str]:
    """What the reader probably wants to know beside the findings: a bare record validated as
    an envelope (say --dataset), a signature that was not checked (no key given)."""
    if path.suffix.lower() == ".xml":
        return []
    try:
        value = parse_json_strict(_read(path))
    except (JsonParseError, UsageProblem):
        return []
    out = []
    first = value[0] if isinstance(value, list) and value and isinstance(value[0], dict) else value
    if dataset is None and isinstance(first, dict) and not ("specVersion" in first and "records" in first) \
            and not path.name.endswith(MANIFEST_SUFFIX):
        guess = next((d for d, members in _DATASET_MARKERS if all(m in first for m in members)), None)
        out.append(f"hint: {path} is not an envelope (no specVersion and records): it was checked as one. "
                   + (f"It looks like a bare {guess} record: tongban validate --dataset {guess} {path}"
                      if guess else f"For bare records say which dataset: --dataset {'|'.join(DATASETS)}"))
    signature = (value.get("integrity") or {}).get("signature") if isinstance(value, dict) and \
        isinstance(value.get("integrity"), dict) else None
    if isinstance(signature, dict):
        sender, key_id = value.get("sender"), signature.get("keyId")
        if (sender, key_id) not in context.keys:
            out.append(f"warning: {path}: the signature ({signature.get('alg')}, keyId {key_id}) was NOT checked: "
                       f"no key for {sender} was given (--key-file); TBS-ENV-028 is evaluated only with the key")
    return out


def applied_version(path: Path, context: ValidationContext, dataset: str | None) -> str:
    """The version whose rules a stand-alone report applied (§19.1 as TBS-1.1 words it): an
    envelope's or manifest's own version when supported, else the highest supported (whose
    TBS-ENV-021 refused it); bare records and SOAP bodies: the first configured version."""
    if dataset is None and path.suffix.lower() != ".xml":
        try:
            value = parse_json_strict(_read(path))
        except (JsonParseError, UsageProblem):
            return context.spec
        if isinstance(value, dict) and "specVersion" in value:
            return validation_version(value, context)
    return context.spec


def _standalone(report: Report, spec: str) -> dict[str, Any]:
    now = datetime.now(CST).replace(microsecond=0).isoformat()
    return report.to_json(specVersion=spec, validatedAt=now, validator={"name": "tongban", "version": __version__})


@click.command("validate", context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--dataset", type=click.Choice(DATASETS), help="Validate bare records (a JSON record, array or JSONL) of this dataset.")
@click.option("--spec", "specs", multiple=True, default=("TBS-1.0", "TBS-1.1"), show_default=True,
              help="A supported spec version (repeat for several). Each envelope is validated under the version its "
                   "specVersion names (TBS-ENV-029); any other version is TBS-ENV-021. Bare records: the first one.")
@click.option("--key-file", type=click.Path(dir_okay=False, path_type=Path),
              help="JSON array of partner keys {sender, keyId, alg, key|keyBase64|keyHex} for TBS-ENV-028.")
@click.option("--allowlist", type=click.Path(dir_okay=False, path_type=Path),
              help="USCC allowlist (TBS-CODE-015): one code per line or a JSON array. Default: the reference allowlist.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.argument("paths", nargs=-1, required=True)
def validate_command(dataset: str | None, specs: tuple[str, ...], key_file: Path | None, allowlist: Path | None,
                     fmt: str, paths: tuple[str, ...]) -> None:
    """Stateless validation (TBS-1.0 §19, TBS-RPT-009) of envelopes, SOAP PushBatch bodies,
    file-drop batches (a manifest path) and, with --dataset, bare records.

    Exit 0 when no input has an ERROR, 1 when any has, 2 on a usage error or an unreadable path.
    With --format json and one input file, stdout is one report object (§19.1); otherwise one
    JSON object per line: {"path": ..., "report": {...}}.
    """
    try:
        for spec in specs:
            compiled_spec(spec)
    except LookupError as exc:
        raise click.UsageError(str(exc)) from None
    try:
        context = ValidationContext(
            spec=specs[0], spec_versions=tuple(dict.fromkeys(specs)),
            allowlist=load_allowlist(allowlist) if allowlist else REFERENCE_ALLOWLIST,
            keys=load_keys(key_file) if key_file else {},
        )
        files = expand(paths)
    except UsageProblem as exc:
        raise click.UsageError(str(exc)) from None

    single = fmt == "json" and len(paths) == 1 and Path(paths[0]).is_file()
    any_error = unreadable = False
    for path in files:
        try:
            report = validate_path(path, context, dataset)
        except UsageProblem as exc:
            click.echo(f"Error: {exc}", err=True)
            unreadable = True
            continue
        any_error |= report.errors > 0
        if fmt == "json":
            body = _standalone(report, applied_version(path, context, dataset))
            line = body if single else {"path": str(path), "report": body}
            click.echo(json.dumps(line, ensure_ascii=False, separators=(",", ":")))
        else:
            click.echo(report.render_text(title=str(path)))
        for hint in hints(path, context, dataset):
            click.echo(hint, err=True)
    click.get_current_context().exit(2 if unreadable else 1 if any_error else 0)
