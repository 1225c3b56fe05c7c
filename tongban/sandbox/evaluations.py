"""Evaluations (好差评) of cases: by citizens' moods, and the evidence a feed must show.

差评 carry details (TBS-EVAL-002), follow-ups are later than the first (TBS-EVAL-005), hall
devices carry ``dimensions`` (TBS-EVAL-009).
"""
from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Callable

from tongban.model.clock import parse_stamp, stamp
from tongban.sandbox import names
from tongban.sandbox.systems import SandboxSystem
from tongban.sandbox.timeline import snap_to_office

if TYPE_CHECKING:
    from tongban.sandbox.cases import CaseWriter
    from tongban.sandbox.generate import ProvinceBuilder

__all__ = ["EvaluationWriter", "ensure_evaluation_evidence"]


class EvaluationWriter:
    """The Evaluation part of a case writer (mixed into ``CaseWriter``)."""

    def _evaluations(self: CaseWriter, case: dict, events: list[dict], conclude: dict | None, channel: str,
                     late: bool) -> None:
        rng, now = self.rng, self.b.now
        if conclude is not None:
            if conclude["conclusionCode"] in ("VOIDED", "TRANSFERRED") or rng.random() > 0.75:
                return
            base = parse_stamp(events[-1]["occurredAt"]) + timedelta(minutes=rng.randint(5, 2 * 1440))
            mood = "bad" if late or conclude["conclusionCode"] != "APPROVED_WITH_CERT" else "good"
        elif channel == "1" and any(e["type"] == "ACCEPT" for e in events) and \
                not any(e["type"] == "WITHDRAW" for e in events) and rng.random() < 0.3:
            accept = next(e for e in events if e["type"] == "ACCEPT")
            base = parse_stamp(accept["occurredAt"]) + timedelta(minutes=rng.randint(1, 10))   # 一次一评 at the window
            mood = "good"
        else:
            return
        ev_channel = self._eval_channel(channel, conclude is None)
        if ev_channel in ("HALL_PAD", "HALL_OTHER"):   # hall devices are used while the hall is open
            base = snap_to_office(base)
        if base >= now:
            return
        first = self._evaluation(case, 1, ev_channel, base, mood)
        self.system._add("evaluation", first["assessedAt"], (case["caseNo"], 1), first)
        if conclude is not None and rng.random() < 0.15:
            later = base + timedelta(days=rng.uniform(1, 20))
            if later < now:
                second = self._evaluation(case, 2, rng.choice(("PC", "MOBILE", "PHONE")), later, "follow-up")
                self.system._add("evaluation", second["assessedAt"], (case["caseNo"], 2), second)

    def _eval_channel(self: CaseWriter, channel: str, at_window: bool) -> str:
        rng = self.rng
        if at_window:
            return "HALL_PAD"
        options = {"1": (("HALL_PAD", 50), ("HALL_OTHER", 15), ("QRCODE", 15), ("SMS", 10), ("PHONE", 10)),
                   "2": (("PC", 80), ("SMS", 10), ("PHONE", 10)),
                   "3": (("MOBILE", 80), ("QRCODE", 10), ("SMS", 10)),
                   "4": (("PHONE", 50), ("SMS", 50))}.get(channel, (("PC", 1),))
        return rng.choices([c for c, _ in options], weights=[w for _, w in options])[0]

    def went_well(self: CaseWriter) -> bool:
        """Approved in time: the citizen's mood is good."""
        return self.conclude is not None and self.conclude["conclusionCode"] == "APPROVED_WITH_CERT" and \
            self.late is None

    def room_for_follow_up(self: CaseWriter, first: dict) -> bool:
        """Whether a follow-up of ``first`` fits strictly between it and ``now``."""
        return self.b.now - parse_stamp(first["assessedAt"]) >= timedelta(hours=2)

    def follow_up_time(self: CaseWriter, first: dict, rng: random.Random) -> datetime:
        """When a follow-up of ``first`` is given: 1–20 days later, always before ``now``
        (TBS-ENV-011) and strictly after the first (TBS-EVAL-005, given ``room_for_follow_up``)."""
        start, now = parse_stamp(first["assessedAt"]), self.b.now
        later = start + timedelta(days=rng.uniform(1, 20))
        return later if later < now else start + (now - start) / 2

    def evidence_evaluation(self: CaseWriter, assess_no: int, satisfaction: int | None, rng: random.Random, *,
                            first: dict | None = None, hall_wanted: bool = False) -> dict:
        """Add an evaluation of this concluded case with ``satisfaction`` (drawn when None):
        a first one after the last event, or a follow-up of ``first`` (see
        ``ProvinceBuilder._ensure_evaluation_evidence``)."""
        self.rng = rng   # the case is written; evidence draws come from their own generator
        now = self.b.now
        if assess_no == 2 and first is not None:
            at = self.follow_up_time(first, rng)
            channel, mood = rng.choice(("PC", "MOBILE", "PHONE")), "follow-up"
        else:
            last = parse_stamp(self.events[-1]["occurredAt"])
            channel = "HALL_PAD" if hall_wanted and self.channel == "1" else self._eval_channel(self.channel, False)
            at = last + timedelta(minutes=rng.randint(5, 2 * 1440))
            if channel in ("HALL_PAD", "HALL_OTHER"):
                at = snap_to_office(at)
            if at >= now - timedelta(hours=3):   # no room before now: soon after the last event, online
                channel, at = "PC", min(last + timedelta(minutes=5), last + (now - last) / 2)
            mood = "good" if self.went_well() else "bad"
        ev = self._evaluation(self.case, assess_no, channel, at, mood, satisfaction)
        self.system._add("evaluation", ev["assessedAt"], (self.case["caseNo"], assess_no), ev)
        return ev

    def _evaluation(self: CaseWriter, case: dict, assess_no: int, channel: str, at: datetime, mood: str,
                    satisfaction: int | None = None) -> dict:
        rng = self.rng
        weights = {"good": (3, 5, 8, 22, 62), "bad": (15, 20, 20, 22, 23), "follow-up": (35, 40, 10, 10, 5)}[mood]
        if satisfaction is None:
            satisfaction = rng.choices((1, 2, 3, 4, 5), weights=weights)[0]
        ev: dict[str, Any] = {"caseNo": case["caseNo"], "assessNo": assess_no, "channel": channel,
                              "satisfaction": satisfaction}
        if channel in ("HALL_PAD", "HALL_OTHER") or rng.random() < 0.25:   # TBS-EVAL-009
            ev["dimensions"] = {d: min(5, max(1, satisfaction + rng.choice((-1, 0, 0, 1))))
                                for d in ("quality", "efficiency", "attitude")}
        if satisfaction < 3:   # TBS-EVAL-002: 差评 carry details or text
            with_codes = rng.random() < 0.7
            if with_codes:
                ev["detailCodes"] = sorted(rng.sample(names.EVAL_DETAIL_CODES, rng.randint(1, 3)))
            if not with_codes or rng.random() < 0.7:
                ev["text"] = rng.choice(names.EVAL_NEGATIVE)
        elif satisfaction >= 4 and rng.random() < 0.3:
            ev["text"] = rng.choice(names.EVAL_POSITIVE)
        ev["assessedAt"] = stamp(at.replace(microsecond=0))
        return ev


def ensure_evaluation_evidence(b: ProvinceBuilder, system: SandboxSystem) -> None:
    """Make the system's evaluation feed show 非常满意 (5), 非常不满意 (1) and a follow-up.

    A pull-only EVALUATION_REPORTER is judged on its feed (§20.2 ER-02, ER-03): where the
    citizens' random moods left one of these out, concluded cases without an evaluation get
    one, or evaluated ones a follow-up (TBS-EVAL-004/005: later than the first, same case).
    A 差评 carries details as always (TBS-EVAL-002).
    """
    writers = b.evaluable.get(system.system_id, [])
    if not writers:
        return
    rng = b.rng("evaluation-evidence", system.system_id)
    evaluated: dict[str, dict[int, dict]] = {}
    for _, ev in system._entries["evaluation"]:
        evaluated.setdefault(ev["caseNo"], {})[ev["assessNo"]] = ev
    values = {ev["satisfaction"] for evs in evaluated.values() for ev in evs.values()}
    hall = any(ev["channel"] in ("HALL_PAD", "HALL_OTHER") for evs in evaluated.values() for ev in evs.values())

    def fresh(prefer: Callable[[EvaluationWriter], bool]) -> EvaluationWriter | None:
        free = [w for w in writers if w.case["caseNo"] not in evaluated]
        liked = [w for w in free if prefer(w)]
        pool = liked or free
        return pool[rng.randrange(len(pool))] if pool else None

    def first_only() -> EvaluationWriter | None:
        pool = [w for w in writers if set(evaluated.get(w.case["caseNo"], {})) == {1}
                and w.room_for_follow_up(evaluated[w.case["caseNo"]][1])]
        return pool[rng.randrange(len(pool))] if pool else None

    def record(w: EvaluationWriter, ev: dict) -> None:
        evaluated.setdefault(w.case["caseNo"], {})[ev["assessNo"]] = ev
        values.add(ev["satisfaction"])

    for wanted, prefer in ((5, EvaluationWriter.went_well), (1, lambda w: not w.went_well())):
        if wanted in values:
            continue
        w = fresh(prefer)
        if w is not None:
            record(w, w.evidence_evaluation(1, wanted, rng, hall_wanted=not hall))
            hall = hall or w.channel == "1"
            continue
        w = first_only()
        if w is not None:
            record(w, w.evidence_evaluation(2, wanted, rng, first=evaluated[w.case["caseNo"]][1]))
    if not any(2 in evs for evs in evaluated.values()):
        w = first_only()
        if w is None and (w := fresh(EvaluationWriter.went_well)) is not None:
            record(w, w.evidence_evaluation(1, None, rng, hall_wanted=not hall))
            hall = hall or w.channel == "1"
            if not w.room_for_follow_up(evaluated[w.case["caseNo"]][1]):
                w = None
        if w is not None:
            record(w, w.evidence_evaluation(2, None, rng, first=evaluated[w.case["caseNo"]][1]))
    if not hall:   # ER-05 (SHOULD): a hall-device evaluation, with dimensions (TBS-EVAL-009)
        window = [w for w in writers if w.channel == "1" and w.case["caseNo"] not in evaluated]
        if window:
            w = window[rng.randrange(len(window))]
            record(w, w.evidence_evaluation(1, None, rng, hall_wanted=True))
