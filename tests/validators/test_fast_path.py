"""The compiled fast path and the reporting walk reach the same verdicts (TBS-RPT-010).

Every member of every Annex B record is mutated in turn (removed, nulled, retyped, padded,
lengthened, re-cased, replaced by a neighbouring code...). For each mutant, the findings with
the fast path enabled must equal the findings of the full walk, item for item.
"""
from __future__ import annotations

import copy
import random
import re
from datetime import timedelta
from typing import Any, Iterator

import pytest

from tbs_examples import load_example
from tongban.validators import ValidationContext, validate_record
from tongban.validators.checks import parse_date, parse_date_time
from tongban.validators.engine import compiled_spec
from tongban.validators.fast import DATE_PATTERN, DATE_TIME_PATTERN
from tongban.validators.nodes import Collector

EXAMPLES = ["B.1", "B.2", "B.3", "B.4", "B.5"]


def _paths(value: Any, prefix: tuple = ()) -> Iterator[tuple]:
    if isinstance(value, dict):
        for k, v in value.items():
            yield prefix + (k,)
            yield from _paths(v, prefix + (k,))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield prefix + (i,)
            yield from _paths(v, prefix + (i,))


_DELETE = object()


def _variants(value: Any) -> list[Any]:
    out: list[Any] = [_DELETE, None, 5.0, True, "x", [], {}, 0, -1, 2**60, {"a": 1}, ["1"]]
    if isinstance(value, str):
        out += [" " + value, value + "\n", value + "\t", "", value.lower(), value.upper(), value[:-1], value + "0",
                value * 30, value.replace("0", "O"), value[::-1], "\u3000", value + "\u0007",
                "2026-02-29T10:00:00+08:00", "2026-11-02T24:00:00+08:00", "2026-11-02T10:00:00-00:00", "2028-02-29",
                "91350211M0000XUF46", "11010519491231002X", "110105194912310021", "1", "2", "9", "USCC", "111",
                "CONCLUDE", "APPROVE"]
    if isinstance(value, int) and not isinstance(value, bool):
        out += [value + 1, value - 1, 1, 2, 3, 4, 99999, 2147483648, 104857601]
    if isinstance(value, list):
        out += [value + value, list(reversed(value)), value[:0]]
    if isinstance(value, dict):
        out += [dict(value, extra=1), dict(value, ext={"a": None})]
    return out


def _set(record: dict, path: tuple, value: Any) -> dict:
    mutant = copy.deepcopy(record)
    target: Any = mutant
    for token in path[:-1]:
        target = target[token]
    if value is _DELETE:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return mutant


def _mutants(example: str) -> Iterator[tuple[str, dict, str, int]]:
    envelope = load_example(example)
    writer = envelope.get("origin", envelope["sender"])
    for index, record in enumerate(envelope["records"]):
        for path in _paths(record):
            target: Any = record
            for token in path:
                target = target[token]
            for variant in _variants(target):
                yield envelope["dataset"], _set(record, path, variant), writer, index


def _identities(report) -> list[tuple]:
    return [(f.severity.value, f.rule_id, f.location, f.value) for f in report.items]


@pytest.mark.parametrize("example", EXAMPLES)
def test_fast_path_agrees_with_the_walk(example: str) -> None:
    envelope = load_example(example)
    context = ValidationContext()
    compared = fast_hits = 0
    for dataset, mutant, writer, index in _mutants(example):
        fast = validate_record(dataset, mutant, index=index, writer=writer, context=context, sent_at=envelope["sentAt"])
        walk = validate_record(dataset, mutant, index=index, writer=writer, context=context, sent_at=envelope["sentAt"],
                               fast=False)
        assert sorted(_identities(fast)) == sorted(_identities(walk)), mutant
        compared += 1
        fast_hits += not walk.items
    assert compared > 300 and fast_hits > 0


@pytest.mark.parametrize("example", EXAMPLES)
def test_fast_check_is_never_more_lenient_than_the_walk(example: str) -> None:
    """If the fast check passes a record, the walk finds nothing at S1–S2 either."""
    spec = compiled_spec("TBS-1.0")
    for dataset, mutant, writer, index in _mutants(example):
        node = spec.datasets[dataset]
        if node.fast.passes(mutant, frozenset()):
            found: list = []
            node.node.walk(mutant, "", Collector(lambda *a: found.append(a), frozenset()))
            assert found == [], mutant


def test_calendar_patterns_equal_the_python_checks() -> None:
    """The fast schema's date-time/date patterns accept exactly what the walk accepts."""
    date_time, date = re.compile(DATE_TIME_PATTERN), re.compile(DATE_PATTERN)
    rng = random.Random(7)
    for _ in range(50_000):
        y = rng.choice(["0000", "0001", "1900", "2000", "2024", "2026", "2100", "2400", "9999"])
        mo, d = f"{rng.randrange(0, 14):02d}", f"{rng.randrange(0, 33):02d}"
        t = f"{rng.randrange(0, 25):02d}:{rng.randrange(0, 61):02d}:{rng.randrange(0, 61):02d}"
        frac = rng.choice(["", ".1", ".123", ".1234"])
        off = rng.choice(["Z", "+08:00", "-00:00", "+00:00", "+14:00", "+14:01", "-13:59", "+13:60", "-00:01", "+15:00"])
        value = f"{y}-{mo}-{d}T{t}{frac}{off}"
        assert bool(date_time.fullmatch(value)) == (parse_date_time(value) is not None), value
        assert bool(date.fullmatch(f"{y}-{mo}-{d}")) == (parse_date(f"{y}-{mo}-{d}") is not None), value


@pytest.mark.parametrize("occurred", ["2026-11-06T09:40:00+08:00", "2026-11-06T09:40:01+08:00", "2026-11-06T01:40:00Z",
                                      "2026-11-06T01:40:00.001Z", "2026-11-06T09:39:59.999+08:00",
                                      "2026-11-06T09:40:00.5+08:00"])
@pytest.mark.parametrize("sent_at", ["2026-11-06T09:35:00+08:00", "2026-11-06T09:35:00.5+08:00", "2026-11-06T01:35:00Z"])
def test_env_011_text_shortcut_agrees_with_instants(occurred: str, sent_at: str) -> None:
    record = dict(load_example("B.3")["records"][0], occurredAt=occurred)
    report = validate_record("case-event", record, index=0, writer=None, sent_at=sent_at)
    later = parse_date_time(occurred) > parse_date_time(sent_at) + timedelta(seconds=300)
    assert [f.rule_id for f in report.items] == (["TBS-ENV-011"] if later else [])
