"""Which test a finding on the SUT's data belongs to.

A finding of the replay (:mod:`.sweep`) counts against a provider test when its rule is one of
the test's requirement ids and, for case-linked records, when the case shows a path the test
is about (§20.2: CR-01 the approval path, CR-02 the non-approval paths, CR-03 the supplement
and suspension paths). A record still held at the end counts only when what it waits for never
appeared in the SUT's data at all; a hold caused by a rejected prerequisite is a consequence
of that rejection, which is reported where it happened.
"""
from __future__ import annotations

from typing import Any, Callable, Iterable

from .results import KitFinding
from .sweep import RecordVerdict, Sweep, case_classes

NON_APPROVAL = frozenset({"not-permitted", "not-accepted"})
DETOURS = frozenset({"supplement-requested", "suspended"})


def case_class_map(sweep: Sweep) -> dict[str, set[str]]:
    events: dict[str, list[dict]] = {}
    for v in sweep.all("case-event"):
        if v.case_no is not None and isinstance(v.record, dict):
            events.setdefault(v.case_no, []).append(v.record)
    out = {case_no: case_classes(evs) for case_no, evs in events.items()}
    for v in sweep.all("case"):
        if v.case_no is not None:
            out.setdefault(v.case_no, set())
    return out


def for_cr01(classes: set[str]) -> bool:
    """CR-01 covers the approval path and every case on no other scripted path."""
    return "approval" in classes or not (classes & (NON_APPROVAL | DETOURS))


def for_cr02(classes: set[str]) -> bool:
    return bool(classes & NON_APPROVAL)


def for_cr03(classes: set[str]) -> bool:
    return bool(classes & DETOURS)


def counts_at_end(v: RecordVerdict) -> bool:
    """An unresolved hold counts only when its prerequisite never appeared (module docstring)."""
    return v.prerequisite_seen is not True


def findings(verdicts: Iterable[RecordVerdict], rules: Iterable[str], *, severities: tuple[str, ...] = ("ERROR",),
             stateless: bool = True, stateful: bool = True,
             case_filter: Callable[[str | None], bool] | None = None) -> list[KitFinding]:
    """The findings of ``verdicts`` under ``rules`` and ``severities``, as kit findings with where."""
    wanted = set(rules)
    out: list[KitFinding] = []
    for v in verdicts:
        if case_filter is not None and not case_filter(v.case_no):
            continue
        items = []
        if stateless:
            items += v.stateless.items
        if stateful and (v.prerequisite_seen is None or counts_at_end(v)):
            items += v.state_report.items
        for f in items:
            if f.rule_id in wanted and f.severity.value in severities:
                where = v.fed.where()
                if v.outcome is not None:
                    where["outcome"] = v.outcome.value
                out.append(KitFinding.from_validation(f, **where))
    return out


def stored(v: RecordVerdict) -> bool:
    """The kit's stateful stage STORED the record."""
    return v.outcome is not None and v.outcome.value == "STORED"


def stored_with(verdicts: Iterable[RecordVerdict], member: str, value: Any) -> list[RecordVerdict]:
    """The STORED records whose ``member`` is ``value``."""
    return [v for v in verdicts if stored(v) and isinstance(v.record, dict) and v.record.get(member) == value]


def all_stored(verdicts: Iterable[RecordVerdict]) -> bool:
    vs = list(verdicts)
    return bool(vs) and all(stored(v) for v in vs)


def stored_versions(verdicts: Iterable[RecordVerdict]) -> int:
    """How many distinct versions of one key were STORED."""
    return len({v.record.get("version") for v in verdicts if stored(v) and isinstance(v.record, dict)})
