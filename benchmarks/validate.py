"""Validation throughput on 10 000 realistic CaseEvent payloads (all valid, every event type).

Three validators see the same payloads:

* ``jsonschema``: ``Draft202012Validator`` on ``case-event.schema.json`` (refs via a registry);
* ``fastjsonschema``: the same schema bundled into one draft-07 document and compiled;
* ``tongban``: ``validate_record`` — schema, TBS-ENV-006 string rules, date validity, check
  characters and the S3 record rules (TBS-ENV-011, TBS-EVT-002..004), producing a Report.

Prints payloads/s for each (best of five interleaved timed passes after a warm-up), the tracemalloc peak
of a separate 1 000-payload pass, and the ratios on dict input.

Payloads arrive as bytes, so a second comparison starts from the raw envelope: the same payloads
in envelopes of ``--per-envelope`` records (canonical JSON bytes, a province writer as sender):

* ``fastjsonschema (bytes)``: ``orjson.loads`` of the bytes, the bundled envelope schema on the
  envelope, the bundled case-event schema on each record;
* ``tongban (bytes)``: ``validate_envelope`` on the bytes — strict parse (TBS-ENV-001),
  request hash, envelope schema and rules (integrity hash of the records included), then every
  record as above.

Last line: ``ratios (bytes in): tongban/fastjsonschema=X.XX`` (records/s against records/s).

    python benchmarks/validate.py [--count 10000] [--per-envelope 100]
"""
from __future__ import annotations

import argparse
import copy
import hashlib
import json
import random
import resource
import time
import tracemalloc
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

import fastjsonschema
import orjson
from jsonschema import Draft202012Validator
from referencing import Registry, Resource

from tongban.model.codes import uscc_check_char
from tongban.specs import spec_dir
from tongban.model.canonical import canonical_bytes
from tongban.validators import ValidationContext, validate_envelope, validate_record
from tongban.validators.parsing import jcs_bytes

CST = timezone(timedelta(hours=8))
SCHEMAS = spec_dir("TBS-1.0") / "schemas"
USCC_BODY = "0123456789ABCDEFGHJKLMNPQRTUWXY"
NAMES = ["王五", "赵六", "孙七", "周八", "吴九", "郑十", "钱一", "陈二"]
OPINIONS = ["材料齐全，符合要求，同意。", "经现场核查，符合卫生要求。", "申请材料不符合法定形式，请补正。",
            "申请人主动撤回申请。", "经审查不符合许可条件，不予许可。", "依法转报上级机关办理。"]

# Paths through the §10.3 state machine: (type, extra members) per step.
PATHS: list[list[tuple[str, dict[str, Any]]]] = [
    [("SUBMIT", {}), ("ACCEPT", {}), ("REVIEW_STEP", {"action": "APPROVE"}), ("REVIEW_STEP", {"action": "APPROVE"}),
     ("CONCLUDE", {"conclusionCode": "APPROVED_WITH_CERT"}), ("DELIVER", {})],
    [("SUBMIT", {}), ("REQUEST_SUPPLEMENT", {"opinion": True}), ("SUPPLEMENT", {}), ("ACCEPT", {}),
     ("SUSPEND", {"specialProcedure": True}), ("RESUME", {}), ("REVIEW_STEP", {"action": "RETURN"}),
     ("CONCLUDE", {"conclusionCode": "NOT_PERMITTED", "opinion": True}), ("DELIVER", {})],
    [("SUBMIT", {}), ("REJECT_ACCEPTANCE", {"opinion": True}), ("CONCLUDE", {"conclusionCode": "NOT_ACCEPTED", "opinion": True}),
     ("DELIVER", {})],
    [("SUBMIT", {}), ("ACCEPT", {}), ("REVIEW_STEP", {"action": "OTHER", "opinion": True}), ("WITHDRAW", {})],
    [("SUBMIT", {}), ("ACCEPT", {}), ("CONCLUDE", {"conclusionCode": "TRANSFERRED", "opinion": True})],
]
STEP_NAMES = {"SUBMIT": "网上申报", "REQUEST_SUPPLEMENT": "补齐补正告知", "SUPPLEMENT": "补正材料提交", "ACCEPT": "受理",
              "REJECT_ACCEPTANCE": "不予受理决定", "REVIEW_STEP": "审核", "SUSPEND": "专家评审", "RESUME": "评审结束",
              "CONCLUDE": "办结", "DELIVER": "证照送达（邮寄）", "WITHDRAW": "撤回申请"}


def make_uscc(rng: random.Random) -> str:
    body = "11" + f"{rng.choice([440103, 440104, 440105, 440106]):06d}" + "".join(rng.choice(USCC_BODY) for _ in range(9))
    return body + uscc_check_char(body)


def generate(count: int, seed: int = 20261128) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    events: list[dict[str, Any]] = []
    serial = 0
    while len(events) < count:
        serial += 1
        dept = make_uscc(rng)
        day = datetime(2026, 11, 1, 9, 0, tzinfo=CST) + timedelta(days=rng.randrange(25), minutes=rng.randrange(480))
        case_no = f"{dept}4440120012002{day:%Y%m%d}{serial % 10000:04d}"
        at = day
        for seq, (kind, extra) in enumerate(rng.choice(PATHS), start=1):
            event: dict[str, Any] = {"caseNo": case_no, "seq": seq, "type": kind,
                                     "occurredAt": at.isoformat(timespec="seconds"), "stepName": STEP_NAMES[kind]}
            if kind not in ("SUBMIT", "SUPPLEMENT", "WITHDRAW") or rng.random() < 0.3:
                event["handler"] = {"name": rng.choice(NAMES), "deptUscc": dept}
            for member, value in extra.items():
                if member == "opinion":
                    event["opinion"] = rng.choice(OPINIONS)
                elif member == "specialProcedure":
                    event["specialProcedure"] = {"code": rng.choice(["1", "2"]), "reason": "组织专家评审，需延长审批期限。"}
                else:
                    event[member] = value
            if "opinion" not in event and kind == "REVIEW_STEP" and rng.random() < 0.5:
                event["opinion"] = rng.choice(OPINIONS)
            if rng.random() < 0.1:
                event["ext"] = {"sourceNode": f"N{rng.randrange(100)}", "attempt": rng.randrange(3)}
            events.append(event)
            at += timedelta(hours=rng.randrange(1, 72), minutes=rng.randrange(60))
            if len(events) == count:
                break
    return events


def draft07(schema: dict[str, Any], documents: dict[str, dict[str, Any]], base: str) -> Any:
    """The schema with every $ref inlined (draft-07 ignores $ref siblings, so a ref becomes an
    allOf entry) and the x-tbs-* annotations removed."""
    def inline(node: Any, file: str) -> Any:
        if isinstance(node, list):
            return [inline(v, file) for v in node]
        if not isinstance(node, dict):
            return node
        out: dict[str, Any] = {}
        for key, value in node.items():
            if key in ("$schema", "$id", "$defs") or key.startswith("x-tbs-"):
                continue
            if key == "$ref":
                target_file, _, fragment = value.partition("#")
                target_file = target_file or file
                target: Any = documents[target_file]
                for token in filter(None, fragment.split("/")):
                    target = target[token]
                out.setdefault("allOf", []).append(inline(target, target_file))
            elif key in ("enum", "const"):
                out[key] = value
            elif key == "allOf":
                out.setdefault("allOf", []).extend(inline(value, file))
            else:
                out[key] = inline(value, file)
        return out
    bundled = inline(schema, base)
    bundled["$schema"] = "http://json-schema.org/draft-07/schema#"
    return bundled


def best_rates(validators: dict[str, Callable[[dict[str, Any]], Any]], payloads: list[dict[str, Any]],
               passes: int = 5) -> dict[str, float]:
    """Payloads per second of each validator: the best of ``passes`` timed passes.

    The passes of the validators are interleaved, so a change in machine load during the
    run affects all of them alike.
    """
    for validate in validators.values():
        for payload in payloads[:500]:
            validate(payload)  # warm-up (caches, compiled regexes)
    best = dict.fromkeys(validators, 0.0)
    for _ in range(passes):
        for name, validate in validators.items():
            start = time.perf_counter()
            for payload in payloads:
                validate(payload)
            best[name] = max(best[name], len(payloads) / (time.perf_counter() - start))
    return best


def envelopes(payloads: list[dict[str, Any]], per_envelope: int) -> list[bytes]:
    """The payloads as raw envelopes of ``per_envelope`` records each (canonical JSON bytes)."""
    out = []
    for n, i in enumerate(range(0, len(payloads), per_envelope)):
        records = payloads[i:i + per_envelope]
        out.append(canonical_bytes({
            "specVersion": "TBS-1.0", "messageId": f"5a2d7e90-3c4b-4d1e-8f2a-{n:012x}",
            "sender": "TB:province:440000:GDZWFW", "receiver": "TB:province:440000:TONGBAN",
            "dataset": "case-event", "sentAt": "2026-12-31T00:00:00+08:00",
            "batch": {"batchId": f"bench-{n:06d}", "part": 1, "parts": 1},
            "records": records, "integrity": {"recordsSha256": hashlib.sha256(jcs_bytes(records)).hexdigest()}}))
    return out


def peak_kib(validate: Callable[[dict[str, Any]], Any], payloads: list[dict[str, Any]]) -> float:
    tracemalloc.start()
    for payload in payloads:
        validate(payload)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--per-envelope", type=int, default=100)
    args = parser.parse_args()

    payloads = generate(args.count)
    documents = {p.name: json.loads(p.read_text(encoding="utf-8")) for p in SCHEMAS.glob("*.schema.json")}
    registry = Registry().with_resources((d["$id"], Resource.from_contents(d)) for d in documents.values())
    reference = Draft202012Validator(documents["case-event.schema.json"], registry=registry)
    fast = fastjsonschema.compile(draft07(documents["case-event.schema.json"], documents, "case-event.schema.json"))
    context = ValidationContext()
    sent_at = datetime(2026, 12, 31, tzinfo=CST)

    def with_jsonschema(p: dict[str, Any]) -> bool:
        return reference.is_valid(p)

    def with_fastjsonschema(p: dict[str, Any]) -> Any:
        return fast(p)

    def with_tongban(p: dict[str, Any]) -> Any:
        return validate_record("case-event", p, index=0, writer=None, context=context, sent_at=sent_at)

    # Every payload is valid for all three (a benchmark of failures would measure something else).
    assert all(reference.is_valid(p) for p in payloads)
    for p in payloads:
        fast(copy.deepcopy(p))
    bad = [r for r in (with_tongban(p) for p in payloads) if r.items]
    assert not bad, bad[0].items
    kinds = sorted({p["type"] for p in payloads})
    print(f"{len(payloads)} CaseEvent payloads, {len(kinds)} event types: {', '.join(kinds)}")

    validators = {"jsonschema": with_jsonschema, "fastjsonschema": with_fastjsonschema, "tongban": with_tongban}
    rates = best_rates(validators, payloads)
    for name, fn in validators.items():
        print(f"{name:<15} {rates[name]:>10,.0f} payloads/s   peak {peak_kib(fn, payloads[:1000]):>8.1f} KiB"
              " (tracemalloc, 1 000 payloads)")
    print(f"process peak RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.1f} MiB (all three, payloads included)")
    print(f"ratios: tongban/jsonschema={rates['tongban'] / rates['jsonschema']:.2f} "
          f"tongban/fastjsonschema={rates['tongban'] / rates['fastjsonschema']:.2f}")

    # bytes in: the same payloads as raw envelopes
    raws = envelopes(payloads, args.per_envelope)
    fast_envelope = fastjsonschema.compile(draft07(documents["envelope.schema.json"], documents,
                                                   "envelope.schema.json"))
    envelope_context = ValidationContext()

    def fastjsonschema_bytes(raw: bytes) -> Any:
        envelope = fast_envelope(orjson.loads(raw))
        for record in envelope["records"]:
            fast(record)
        return envelope

    def tongban_bytes(raw: bytes) -> Any:
        return validate_envelope(raw, context=envelope_context)

    for raw in raws:
        verdict = tongban_bytes(raw)
        assert verdict.ok and not verdict.report.items, verdict.report.items[:3]
        fastjsonschema_bytes(raw)
    from_bytes = {"fastjsonschema (bytes)": fastjsonschema_bytes, "tongban (bytes)": tongban_bytes}
    envelope_rates = best_rates(from_bytes, raws)
    per = args.per_envelope
    print(f"bytes in: {len(raws)} envelopes of {per} records ({sum(map(len, raws)) / len(raws) / 1024:.0f} KiB each)")
    for name in from_bytes:
        print(f"{name:<23} {envelope_rates[name] * per:>10,.0f} records/s")
    print(f"ratios (bytes in): tongban/fastjsonschema="
          f"{envelope_rates['tongban (bytes)'] / envelope_rates['fastjsonschema (bytes)']:.2f}")


if __name__ == "__main__":
    main()
