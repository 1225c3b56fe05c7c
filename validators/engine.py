"""The stateless validator of TBS-1.0 §19.3 (stages S0–S4, TBS-RPT-009 stateless mode).

Everything structural comes from the spec folder (``tongban.specs.spec_dir``): the JSON
Schemas and their ``x-tbs-*`` annotations are compiled once per spec version into reporting
nodes, a compiled ``jsonschema_rs`` fast path, and the lists of registered S0/S3/S4 rules
that apply. A new spec version is a new folder; only new rules need new Python.

Record validation is a pipeline of stages (:data:`RECORD_STAGES`). The stateful layer appends
its S5 stage: ``validate_record(..., stages=RECORD_STAGES + (s5,))``. A stage receives the
:class:`RecordRun`; S5 must run only when ``run.report.errors == 0`` (§19.3).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Callable, Iterable, Sequence

from tongban.validators.checks import parse_date_time
from tongban.validators.context import ValidationContext
from tongban.validators.envelope_rules import ENVELOPE_RULES, EnvelopeCheck
from tongban.validators.fast import FastRecordCheck
from tongban.validators.nodes import Collector, ObjectNode
from tongban.model.canonical import canonical_bytes_validated
from tongban.validators.parsing import JsonParseError, jcs_bytes, parse_json_strict_jcs, request_hash
from tongban.validators.record_rules import BUSINESS_TIMESTAMPS, RecordCheck, RecordRule, event_member_sets, \
    rule_for
from tongban.validators.report import Finding, Report, Severity
from tongban.validators.rules import MISSING, make_finding, rule_catalog
from tongban.validators.schema_model import Compiler, SchemaError, schema_set


@dataclass
class DatasetSpec:
    name: str
    file: str
    node: ObjectNode
    fast: FastRecordCheck
    rules: tuple[tuple[str, RecordRule], ...]  # S3 then S4, in schema order
    annotations: dict[str, Any]

    def __post_init__(self) -> None:
        self.rule_functions = tuple(fn for _, fn in self.rules)


@dataclass
class CompiledSpec:
    spec: str
    envelope: ObjectNode
    envelope_rules: tuple[tuple[str, Callable[[EnvelopeCheck], None]], ...]
    datasets: dict[str, DatasetSpec]
    record_bytes: int
    body_bytes: dict[str, int]


def _registered(ids: Iterable[str], registry: dict[str, Any], where: str) -> tuple[tuple[str, Any], ...]:
    missing = [i for i in ids if i not in registry]
    if missing:
        raise SchemaError(f"{where}: no registered implementation for {missing}")
    return tuple((i, registry[i]) for i in ids)


def _record_rules(ids: Iterable[str], spec: str, where: str) -> tuple[tuple[str, RecordRule], ...]:
    """The S3/S4 implementations of ``spec``: a requirement whose text the version changed has its own."""
    found = {i: rule_for(spec, i) for i in ids}
    missing = [i for i, fn in found.items() if fn is None]
    if missing:
        raise SchemaError(f"{where}: no registered implementation for {missing}")
    return tuple((i, fn) for i, fn in found.items() if fn is not None)


def _deprecated(schemas: Any, doc: dict[str, Any], file: str) -> tuple[tuple[str, tuple[str, ...] | None], ...]:
    """Members marked deprecated, and members with deprecated code values (TBS-ENV-013), in schema
    order, as (path, None) or (path, values); objects are followed, arrays are not."""
    out: list[tuple[str, tuple[str, ...] | None]] = []

    def walk(node: dict[str, Any], base: str, prefix: str, depth: int) -> None:
        merged, base = schemas.merged(node, base)
        for name, sub in merged.get("properties", {}).items():
            child, child_base = schemas.merged(sub, base)
            path = f"{prefix}{name}"
            if child.get("x-tbs-deprecated"):
                out.append((path, None))
            if child.get("x-tbs-deprecated-values"):
                out.append((path, tuple(child["x-tbs-deprecated-values"])))
            if child.get("type") == "object" and depth < 4:
                walk(sub, base, f"{path}/", depth + 1)

    walk(doc, file, "", 0)
    return tuple(out)


_COMPILED: dict[str, CompiledSpec] = {}


def compiled_spec(spec: str = "TBS-1.0") -> CompiledSpec:
    """The compiled form of a spec version, built once (thread-safe enough: building twice is harmless)."""
    compiled = _COMPILED.get(spec)
    if compiled is None:
        compiled = _COMPILED[spec] = _compile(spec)
    return compiled


def _compile(spec: str) -> CompiledSpec:
    schemas = schema_set(spec)
    compiler = Compiler(schemas)
    env_doc = schemas.documents["envelope.schema.json"]
    envelope = compiler.compile(env_doc, "envelope.schema.json", "TBS-ENV-005", "envelope")
    assert isinstance(envelope, ObjectNode)
    datasets: dict[str, DatasetSpec] = {}
    limits = env_doc["x-tbs-limits"]
    for name, file in env_doc["x-tbs-datasets"].items():
        doc = schemas.documents[file]
        node = compiler.compile(doc, file, doc["x-tbs-record-rule"], file)
        assert isinstance(node, ObjectNode)
        node.type_rule = "TBS-ENV-025"  # a record that is not an object (TBS-ENV-025)
        rule_ids = list(doc.get("x-tbs-cross-field", ())) + list(doc.get("x-tbs-authorization", ()))
        annotations = {k: v for k, v in doc.items() if k.startswith("x-tbs-")}
        # Derived once here, read per record by the rules:
        annotations["timestamps"] = tuple(m for m in BUSINESS_TIMESTAMPS if m in node.properties)
        annotations["event-member-sets"] = event_member_sets(annotations)
        annotations["deprecated"] = _deprecated(schemas, doc, file)
        datasets[name] = DatasetSpec(name, file, node, FastRecordCheck(schemas, file, node, limits["recordBytes"]),
                                     _record_rules(rule_ids, spec, file), annotations)
    return CompiledSpec(spec=spec, envelope=envelope,
                        envelope_rules=_registered(env_doc.get("x-tbs-envelope-rules", ()), ENVELOPE_RULES,
                                                   "envelope.schema.json"),
                        datasets=datasets, record_bytes=limits["recordBytes"], body_bytes=limits["bodyBytes"])


def _emitter(report: Report, spec: str) -> Callable[..., bool]:
    def emit(rule_id: str, location: str, en: str = "", zh: str = "", value: Any = MISSING, mask: bool = False) -> bool:
        return report.add(make_finding(rule_id, location, en, zh, value, mask=mask, spec=spec))
    return emit


# ----------------------------------------------------------------------------- records

@dataclass
class RecordRun:
    """One record going through the stages."""

    spec: CompiledSpec
    dataset: DatasetSpec
    record: Any
    index: int
    writer: str | None
    context: ValidationContext
    reference_time: datetime | None
    report: Report = field(default_factory=Report)
    errors: set[str] = field(default_factory=set)   # locations with an ERROR from S1–S2
    stopped: bool = False
    fast: bool = True
    fast_passed: bool = False   # the compiled fast path found nothing to report at S1–S2

    @property
    def base(self) -> str:
        return f"/records/{self.index}"

    def emit(self, rule_id: str, location: str, en: str = "", zh: str = "", value: Any = MISSING,
             mask: bool = False) -> bool:
        return self.report.add(make_finding(rule_id, location, en, zh, value, mask=mask, spec=self.spec.spec))


def record_size_over(record: Any, limit: int) -> int | None:
    """The JCS size of ``record`` when it exceeds ``limit`` bytes (TBS-SEC-009), else None."""
    try:
        text = json.dumps(record, ensure_ascii=False, separators=(",", ":"))
    except (TypeError, ValueError):
        text = None
    # A JCS byte count is at most 5 × the json.dumps length (UTF-8 ≤ 4 bytes a code point;
    # a float such as 1e+20 grows to 21 digits): short texts cannot be over the limit.
    if text is not None and len(text) * 5 <= limit:
        return None
    try:
        size = len(jcs_bytes(record))
    except (ValueError, OverflowError):
        size = len(text.encode("utf-8", "surrogatepass")) if text is not None else 0
    return size if size > limit else None


def stage_size(run: RecordRun) -> None:
    """S1, first: TBS-SEC-009; an oversized record gets one finding and no other checks.

    The fast path runs here: a record it accepts needs no size check when the schema bounds
    every accepted record below the limit.
    """
    if type(run.record) is not dict:
        run.emit("TBS-ENV-025", run.base, "a record must be a JSON object", "记录必须是 JSON 对象", run.record)
        run.errors.add(run.base)
        run.stopped = True
        return
    fast = run.dataset.fast
    if run.fast and fast.passes(run.record, run.context.allowlist):
        run.fast_passed = True
        if fast.size_bounded:
            return
    size = record_size_over(run.record, run.spec.record_bytes)
    if size is not None:
        run.emit("TBS-SEC-009", run.base, f"record is {size} bytes (JCS), more than {run.spec.record_bytes}",
                 f"记录为 {size} 字节（JCS），超过 {run.spec.record_bytes}")
        run.errors.add(run.base)
        run.stopped = True


def stage_members(run: RecordRun) -> None:
    """S1 (TBS-ENV-002/004/005) and S2 (TBS-ENV-006..008, Rule column, check characters)."""
    if run.fast_passed:
        return  # the walk would report nothing
    collector = Collector(run.emit, run.context.allowlist)
    run.dataset.node.walk(run.record, run.base, collector)
    run.errors |= collector.error_locations


def stage_rules(run: RecordRun) -> None:
    """S3 cross-field rules, then S4 authorization (the dataset schema lists which)."""
    check = RecordCheck(run.record, run.base, run.errors, run.report, run.spec.spec, run.dataset.name, run.writer,
                        run.reference_time, run.dataset.annotations)
    for _, rule in run.dataset.rules:
        rule(check)


RecordStage = Callable[[RecordRun], None]
RECORD_STAGES: tuple[RecordStage, ...] = (stage_size, stage_members, stage_rules)
_NO_ERRORS: frozenset[str] = frozenset()
_RECORD_BASES = tuple(f"/records/{i}" for i in range(1000))


def _as_instant(value: str | datetime | None) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    return parse_date_time(value)


def _rules_only(ds: DatasetSpec, record: dict[str, Any], index: int, writer: str | None,
                reference: datetime | None, spec: str) -> Report:
    """S3 and S4 of a record in which S1–S2 found nothing."""
    report = Report()
    base = _RECORD_BASES[index] if 0 <= index < 1000 else f"/records/{index}"
    check = RecordCheck(record, base, _NO_ERRORS, report, spec, ds.name, writer, reference, ds.annotations)
    for rule in ds.rule_functions:
        rule(check)
    return report


def validate_record(dataset: str, record: Any, *, index: int, writer: str | None,
                    context: ValidationContext = ValidationContext(), sent_at: str | datetime | None = None,
                    stages: Sequence[RecordStage] = RECORD_STAGES, fast: bool = True) -> Report:
    """Stateless S1–S4 of one record; locations are rooted at ``/records/{index}``.

    ``writer`` is ``origin`` or else ``sender`` (TBS-SEC-003). The TBS-ENV-011 limit is
    ``sent_at`` + 300 s for pushed records, else ``context.received_at`` + 300 s (pulled
    records); with neither, TBS-ENV-011 is not evaluated. ``fast=False`` forces the reporting
    walk (the tests compare both paths).
    """
    spec = _COMPILED.get(context.spec) or compiled_spec(context.spec)
    ds = spec.datasets.get(dataset)
    if ds is None:
        raise ValueError(f"unknown dataset {dataset!r}; expected one of {sorted(spec.datasets)}")
    reference = (sent_at if isinstance(sent_at, datetime) else _as_instant(sent_at)) or context.received_at
    checker = ds.fast
    unrolled = fast and stages is RECORD_STAGES and type(record) is dict and checker.size_bounded
    if unrolled:
        # The common case, unrolled (FastRecordCheck.passes inline): when the compiled schema
        # and the plan find nothing at S1–S2, only S3–S4 remain.
        try:
            clean = checker.is_valid(record)
        except (ValueError, TypeError, OverflowError):  # e.g. an integer beyond 64 bits
            clean = False
        plan = checker.plan
        if clean and (plan is None or plan(record, context.allowlist)):
            return _rules_only(ds, record, index, writer, reference, spec.spec)
    # After a failed unrolled fast check the record goes straight to the reporting walk.
    run = RecordRun(spec, ds, record, index, writer, context, reference, fast=fast and not unrolled)
    for stage in stages:
        if run.stopped:
            break
        stage(run)
    return run.report


# ----------------------------------------------------------------------------- envelopes

@dataclass
class EnvelopeVerdict:
    envelope: dict[str, Any] | None
    report: Report                   # every finding, envelope- and record-level
    envelope_report: Report          # envelope-level findings only
    record_reports: list[Report]     # one per record; empty after an envelope-level ERROR
    request_hash: str                # TBS-ENV-031
    spec_version: str = ""           # the version whose rules were applied (TBS-ENV-029), once the envelope parsed

    @property
    def ok(self) -> bool:
        return self.report.ok

    @property
    def envelope_rejected(self) -> bool:
        return self.envelope_report.errors > 0


def _is_record_location(location: str) -> int | None:
    if location.startswith("/records/"):
        token = location[9:].split("/", 1)[0]
        if token.isdigit():
            return int(token)
    return None


def validate_envelope(data: bytes | str | dict[str, Any], *, context: ValidationContext = ValidationContext(),
                      binding_findings: Iterable[Finding] = (), fast: bool = True) -> EnvelopeVerdict:
    """Stages S0–S4 of one envelope (TBS-1.0 §19.3, stateless mode of TBS-RPT-009).

    ``data`` is the raw text (bytes or str) or an already parsed envelope (for SOAP, the
    TBS-SOAP-003 mapping; for a file drop, the logical envelope of TBS-FILE-004).
    ``binding_findings`` are the findings of that mapping, rooted at the envelope; those at
    record locations join that record's report, the others are envelope-level.
    """
    spec = compiled_spec(context.spec)
    env_report = Report()
    emit = _emitter(env_report, spec.spec)
    record_prior: dict[int, list[Finding]] = {}
    for finding in binding_findings:
        index = _is_record_location(finding.location)
        if index is not None and rule_catalog(spec.spec)[finding.rule_id]["scope"] != "envelope":
            record_prior.setdefault(index, []).append(finding)
        else:  # includes verdicts marked (env) located at /records/i, e.g. TBS-FILE-003
            env_report.add(finding)

    raw: bytes | None = None
    envelope: Any
    if isinstance(data, (bytes, bytearray, memoryview, str)):
        raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else bytes(data)
        limit = spec.body_bytes.get(context.binding or "")
        if limit is not None and len(raw) > limit:
            emit("TBS-SEC-009", "", f"{len(raw)} bytes exceed the {context.binding} limit of {limit}",
                 f"{len(raw)} 字节，超过 {context.binding} 限制 {limit}")
            return EnvelopeVerdict(None, _copy(env_report), env_report, [], request_hash(None, raw))
        try:
            envelope, plain = parse_json_strict_jcs(data)
        except JsonParseError as exc:
            emit("TBS-ENV-001", "", exc.reason, exc.reason_zh)
            return EnvelopeVerdict(None, _copy(env_report), env_report, [], request_hash(None, raw))
        # a plain text's JCS is sorted-key compact JSON: the fast writer, no scan of the value
        jcs = canonical_bytes_validated if plain else jcs_bytes
    else:
        envelope, jcs = data, jcs_bytes
    digest = request_hash(envelope, raw, jcs=jcs)
    if type(envelope) is not dict:
        emit("TBS-ENV-005", "", "an envelope must be a JSON object", "信封必须是 JSON 对象", envelope)
        return EnvelopeVerdict(None, _copy(env_report), env_report, [], digest)

    chosen = validation_version(envelope, context)
    if chosen != spec.spec:
        # TBS-ENV-029: S0–S4 of the envelope and its records under the version it names
        context = replace(context, spec=chosen)
        spec = compiled_spec(chosen)
        emit = _emitter(env_report, spec.spec)
    collector = Collector(emit, context.allowlist)
    spec.envelope.walk(envelope, "", collector)
    errors = collector.error_locations | {f.location for f in env_report.items if f.severity is Severity.ERROR}
    check = EnvelopeCheck(envelope, errors, env_report, spec.spec, context, jcs=jcs)
    for _, rule in spec.envelope_rules:
        rule(check)
    if env_report.errors:
        return EnvelopeVerdict(envelope, _copy(env_report), env_report, [], digest, spec.spec)

    dataset = envelope["dataset"]
    writer = envelope.get("origin", envelope["sender"])
    sent_at = parse_date_time(envelope["sentAt"])  # valid: no envelope-level ERROR
    record_reports = []
    for i, record in enumerate(envelope["records"]):
        rep = validate_record(dataset, record, index=i, writer=writer, context=context, sent_at=sent_at, fast=fast)
        prior = record_prior.get(i)
        if prior:
            merged = Report()
            merged.extend(prior)
            merged.extend(rep.items)
            rep = merged
        record_reports.append(rep)
    full = _copy(env_report)
    for rep in record_reports:
        full.extend(rep.items)
    return EnvelopeVerdict(envelope, full, env_report, record_reports, digest, spec.spec)


def _version_key(version: str) -> tuple[int, ...]:
    digits = version.rpartition("-")[2]
    try:
        return tuple(int(part) for part in digits.split("."))
    except ValueError:
        return (-1,)


def validation_version(envelope: dict[str, Any], context: ValidationContext) -> str:
    """The version whose rules apply to ``envelope`` (TBS-ENV-029): the one its ``specVersion``
    names when the validating system supports it, otherwise the highest supported version,
    under which TBS-ENV-021 rejects the envelope."""
    supported = context.supported_versions
    named = envelope.get("specVersion")
    if type(named) is str and named in supported:
        return named
    return max(supported, key=_version_key)


def _copy(report: Report) -> Report:
    return Report(list(report.items))


__all__ = ["CompiledSpec", "EnvelopeVerdict", "RECORD_STAGES", "RecordRun", "RecordStage", "compiled_spec",
           "validate_envelope", "validate_record", "validation_version"]
