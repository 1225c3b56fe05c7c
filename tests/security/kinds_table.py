"""Print the table of bad-input kinds the security suite sends, read from its case tables.

    .venv/bin/python tests/security/kinds_table.py [--format markdown|json]

One row per parametrised kind of ``test_rest_kinds``, ``test_soap_kinds``, ``test_filedrop_kinds``,
``test_mqtt_kinds`` and ``test_validator_kinds``: the binding, the expected answer (HTTP status,
SOAP fault, file-drop outcome or MQTT outcome) with its TBS rule id, and the numbered finding of
the attack report a kind covers; then the counts per binding. Nothing here is hand-copied: change
a case table and the printed table changes with it.
"""
from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]  # security_support, tbs_examples

import test_filedrop_kinds  # noqa: E402
import test_mqtt_kinds  # noqa: E402
import test_rest_kinds  # noqa: E402
import test_soap_kinds  # noqa: E402
import test_validator_kinds  # noqa: E402


def _rest(kind) -> str:
    if kind.code is not None:
        return f"{kind.status} `{kind.code}`"
    where = "envelope report" if kind.ack == "envelope" else "record report"
    return f"{kind.status} ack REJECTED ({where})"


def _soap(kind) -> str:
    if kind.code is not None:
        return f"500 `soap:Client` fault `{kind.code}`"
    return "200 PushBatchResponse, ack REJECTED"


def _filedrop(kind) -> str:
    outcome = "rejected/ + report REJECTED"
    return outcome + (", ledgered and counted" if kind.ledgered else ", not ledgered (no envelope)")


MQTT_COUNTERS = {"oversize": "dropped, counted `oversize`", "unparsable": "dropped, counted `unparsable`",
                 "not_addressed": "ignored, counted `not_addressed`"}


def _mqtt(kind) -> tuple[str, str]:
    if kind.expect.startswith("TBS-"):
        return "ack REJECTED on the ack topic", kind.expect
    if kind.expect == "squat":
        return "junk refused, the victim's real envelope then ACCEPTED", "TBS-SEC-005"
    return MQTT_COUNTERS[kind.expect], "—"


def rows() -> list[dict[str, str]]:
    out = []
    for k in test_rest_kinds.KINDS:
        out.append({"kind": k.id, "binding": "REST", "answer": _rest(k), "rule": k.rule_id, "finding": k.finding})
    for k in test_soap_kinds.KINDS:
        out.append({"kind": k.id, "binding": "SOAP", "answer": _soap(k), "rule": k.rule_id, "finding": k.finding})
    for k in test_filedrop_kinds.KINDS:
        out.append({"kind": k.id, "binding": "FILE", "answer": _filedrop(k), "rule": k.rule_id,
                    "finding": k.finding})
    for k in test_mqtt_kinds.KINDS:
        answer, rule = _mqtt(k)
        out.append({"kind": k.id, "binding": "MQTT", "answer": answer, "rule": rule, "finding": k.finding})
    for k in test_validator_kinds.KINDS:
        rules = sorted({rule for _, rule, _ in k.findings})
        where = sorted({loc or '""' for _, _, loc in k.findings})
        out.append({"kind": k.id, "binding": "validator (any binding)",
                    "answer": f"ERROR at {', '.join(where)}", "rule": ", ".join(rules), "finding": ""})
    return out


def markdown(table: list[dict[str, str]]) -> str:
    lines = ["| kind | binding | expected answer | rule id | finding |", "|---|---|---|---|---|"]
    for r in table:
        lines.append(f"| {r['kind']} | {r['binding']} | {r['answer']} | {r['rule']} | {r['finding']} |")
    counts = Counter(r["binding"] for r in table)
    lines += ["", "| binding | kinds |", "|---|---|"]
    lines += [f"| {b} | {n} |" for b, n in counts.items()]
    lines.append(f"| all | {len(table)} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--format", choices=["markdown", "json"], default="markdown")
    args = parser.parse_args(argv)
    table = rows()
    print(json.dumps(table, ensure_ascii=False, indent=1) if args.format == "json" else markdown(table))
    return 0


if __name__ == "__main__":
    sys.exit(main())
