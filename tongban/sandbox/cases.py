"""Case histories: Case versions and CaseEvents for one scenario each.

``promisedBy`` comes from the item's promise limit (TBS-CASE-005), with a new version when it is
recomputed at acceptance; SUBMIT at ``submittedAt`` (TBS-EVT-010); every history is a legal walk
of the §10.3/§10.4 state machine with the required and forbidden members of each type
(TBS-EVT-002..006), in ascending ``seq`` and time.
"""
from __future__ import annotations

import copy
import math
import random
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from tongban.model.clock import parse_stamp, stamp
from tongban.model.overdue import overdue_seconds
from tongban.sandbox import names
from tongban.sandbox.catalog import Item
from tongban.sandbox.evaluations import EvaluationWriter
from tongban.sandbox.identities import business_uscc, person_name, resident_id
from tongban.sandbox.regions import GUANGDONG, MIGRANT_ADDRESS_CODES, county_full_name
from tongban.sandbox.results import ResultWriter
from tongban.sandbox.systems import Department, SandboxSystem
from tongban.sandbox.timeline import add_office_minutes, deadline, office_minutes_of

if TYPE_CHECKING:
    from tongban.sandbox.generate import ProvinceBuilder

__all__ = ["CaseWriter", "write_cases"]

# Case paths (scenarios) and their weights once each has appeared at least once.
_SCENARIOS: tuple[tuple[str, int], ...] = (
    ("approved", 30), ("not_permitted", 6), ("not_accepted", 5), ("supplement_approved", 7),
    ("supplement_returned", 3), ("suspend_resume", 6), ("withdrawn", 5), ("voided", 1), ("transferred", 1),
    ("late", 4), ("open_submitted", 4), ("open_accepted", 3), ("open_in_review", 6), ("open_suspended", 2),
    ("open_supplement", 2), ("overdue_open", 3),
)
# The case paths §20.2 CR-01..CR-03 search a pull-only reporter's feeds for: every system with
# at least this many cases reports each of them, whatever its size.
_EVIDENCE_SCENARIOS = ("approved", "not_permitted", "not_accepted", "supplement_approved", "suspend_resume")
_NEEDS_PROMISE = {"suspend_resume", "late", "open_suspended", "overdue_open"}
_OPEN = {"open_submitted", "open_accepted", "open_in_review", "open_suspended", "open_supplement", "overdue_open"}


def write_cases(b: ProvinceBuilder, system: SandboxSystem, count: int) -> None:
    """Write ``count`` cases of ``system`` against its usable items, every scenario once when
    there is room."""
    items = [it for it in b.items.get(system.system_id, []) if it.usable]
    if not items or count == 0:
        return
    rng = b.rng("cases", system.system_id)
    names_ = [s for s, _ in _SCENARIOS]
    weights = [w for _, w in _SCENARIOS]
    # every scenario once when there is room, else at least the evidence paths (CR-01..CR-03)
    plan = list(names_) if count >= len(names_) else list(_EVIDENCE_SCENARIOS)
    rng.shuffle(plan)
    while len(plan) < count:
        plan.append(rng.choices(names_, weights=weights)[0])
    with_promise = [it for it in items if it.current["caseType"] == "2" and it.current["promiseLimit"]["value"] > 0]
    delivering = [it for it in items if it.template.delivers]
    seen: set[str] = set()
    for i, scenario in enumerate(plan[:count]):
        pool = with_promise if scenario in _NEEDS_PROMISE and with_promise else items
        if scenario == "approved" and scenario not in seen and delivering:
            pool = delivering   # CR-01: one approval runs SUBMIT … CONCLUDE … DELIVER
        seen.add(scenario)
        item = pool[rng.randrange(len(pool))]
        CaseWriter(b, system, item, scenario, b.rng("case", system.system_id, i)).write()


class CaseWriter(ResultWriter, EvaluationWriter):
    """Writes one case: Case versions, CaseEvents, Result and Evaluations, for one scenario."""

    def __init__(self, b: ProvinceBuilder, system: SandboxSystem, item: Item, scenario: str,
                 rng: random.Random) -> None:
        self.b, self.system, self.item, self.scenario, self.rng = b, system, item, scenario, rng
        self.rec = item.current
        self.tmpl = item.template
        self.place = b.places[system.system_id]
        self.instant = self.rec["caseType"] == "1"
        self.steps: list[tuple[datetime, dict]] = []   # (time, event members without caseNo/seq)

    # -- time
    def _advance(self, t: datetime, minutes: int) -> datetime:
        """Office time for ordinary cases; wall-clock minutes for 即办件 so they close the same day."""
        if self.instant:
            return t + timedelta(minutes=max(1, minutes))
        return add_office_minutes(t, minutes)

    def _event(self, t: datetime, type_: str, step: str, handler: dict | None = None, **members: Any) -> datetime:
        ev: dict[str, Any] = {"type": type_}
        if handler is not None:
            ev["handler"] = handler
        ev["stepName"] = step
        ev.update(members)
        if self.steps and t <= self.steps[-1][0]:
            t = self.steps[-1][0] + timedelta(minutes=1)
        self.steps.append((t, ev))
        return t

    def _staff(self, dept: Department | None = None) -> dict:
        d = dept or self.item.dept
        return d.handler(d.staff[self.rng.randrange(len(d.staff))])

    # -- parties
    def _party(self) -> tuple[dict, dict | None]:
        rng, kind = self.rng, self.tmpl.applicants
        org = kind == "org" or (kind == "household" and rng.random() < 0.7) or (kind == "both" and rng.random() < 0.45)
        if not org:
            applicant = self._person()
            agent = self._person() if rng.random() < 0.1 else None
            return applicant, agent
        region = self.place.region if self.place.level == "county" else (
            self.place.city.counties[0].code if self.place.city else GUANGDONG.cities[0].counties[0].code)
        prefix = county_full_name(self.place.city, self.place.county) if self.place.county and self.place.city \
            else (self.place.city.name if self.place.city else "广东")
        if kind == "household":
            owner = person_name(rng, rng.random() < 0.5)
            name = f"{prefix}{owner[0]}记{rng.choice(names.HOUSEHOLD_SHOPS)}"
            applicant = {"kind": "ORG", "name": name, "idType": "USCC", "idNo": business_uscc(rng, region, "92")}
        else:
            line = rng.choice(names.BUSINESS_LINES.get(self.tmpl.key, names.DEFAULT_BUSINESS_LINES))
            name = f"{prefix[:3]}{rng.choice(names.TRADE_NAMES)}{line}{rng.choice(names.ORG_FORMS)}"
            applicant = {"kind": "ORG", "name": name, "idType": "USCC", "idNo": business_uscc(rng, region, "91")}
        agent = self._person() if rng.random() < 0.8 else None
        return applicant, agent

    def _person(self) -> dict:
        rng = self.rng
        male = rng.random() < 0.5
        name = person_name(rng, male)
        roll = rng.random()
        if roll < 0.04:
            return {"kind": "PERSON", "name": name, "idType": "516",
                    "idNo": rng.choice("HM") + "".join(rng.choice("0123456789") for _ in range(8))}
        if roll < 0.06:
            return {"kind": "PERSON", "name": name, "idType": "511",
                    "idNo": "".join(rng.choice("0123456789") for _ in range(8))}
        if roll < 0.07:
            return {"kind": "PERSON", "name": name, "idType": "414",
                    "idNo": "E" + "".join(rng.choice("0123456789") for _ in range(8))}
        if roll < 0.6 and self.place.level == "county":
            address = self.place.region
        elif roll < 0.8:
            counties = [c.code for city in GUANGDONG.cities for c in city.counties]
            address = counties[rng.randrange(len(counties))]
        else:
            address = MIGRANT_ADDRESS_CODES[rng.randrange(len(MIGRANT_ADDRESS_CODES))]
        born = date(1950, 1, 1) + timedelta(days=rng.randrange((date(2004, 12, 31) - date(1950, 1, 1)).days))
        return {"kind": "PERSON", "name": name, "idType": "111", "idNo": resident_id(rng, address, born, male)}

    def _channel(self) -> str:
        forms = self.rec["handlingForms"]
        if self.rec["onlineDepth"] < 3:
            return "1" if "1" in forms else forms[0]
        weights = {"1": 3, "2": 4, "3": 4, "4": 1, "9": 0}
        choices = [f for f in forms if weights.get(f, 0) > 0]
        return self.rng.choices(choices, weights=[weights[f] for f in choices])[0]

    # -- the history
    def write(self) -> None:
        rng, scenario = self.rng, self.scenario
        applicant, agent = self._party()
        channel = self._channel()
        if scenario == "overdue_open":
            start = self.b.now - timedelta(days=rng.uniform(55, 80))
        elif scenario in _OPEN:
            start = self.b.now - timedelta(days=rng.uniform(0.3, 6))
        else:
            start = self.b.now - timedelta(days=rng.uniform(20, 80))
        if channel in ("1", "4"):
            submitted = add_office_minutes(start, rng.randint(1, 60))
        else:
            submitted = (start.replace(second=0, microsecond=0) + timedelta(seconds=rng.randint(0, 59)))
        self._history(submitted, channel)

        # Shift whole weeks back until the history ends before now (keeps weekdays and hours).
        last = self.steps[-1][0]
        limit = self.b.now - timedelta(minutes=5)
        if last > limit:
            weeks = math.ceil((last - limit) / timedelta(days=7))
            self.steps = [(t - timedelta(days=7 * weeks), ev) for t, ev in self.steps]
        self._emit(applicant, agent, channel)

    def _history(self, t: datetime, channel: str) -> None:
        rng, s = self.rng, self.scenario
        window = channel in ("1", "4")
        submit_handler = self._staff(self.system.departments.get("gov_service")) if channel == "1" and rng.random() < 0.5 else None
        t = self._event(t, "SUBMIT", names.SUBMIT_STEP[channel], submit_handler)
        if s == "open_submitted":
            return
        if s in ("not_accepted",):
            t = self._advance(t, rng.randint(20, 400))
            t = self._event(t, "REJECT_ACCEPTANCE", "不予受理", self._staff(),
                            opinion=rng.choice(names.REJECT_ACCEPTANCE))
            t = self._advance(t, rng.randint(5, 60))
            t = self._event(t, "CONCLUDE", "办结", self._staff(), conclusionCode="NOT_ACCEPTED",
                            opinion=rng.choice(names.NOT_ACCEPTED))
            if rng.random() < 0.6:
                t = self._advance(t, rng.randint(30, 900))
                self._event(t, "DELIVER", names.DELIVER_STEP["decision"], self._staff())
            return
        if s in ("supplement_approved", "supplement_returned", "open_supplement"):
            t = self._advance(t, rng.randint(30, 600))
            t = self._event(t, "REQUEST_SUPPLEMENT", "补齐补正告知", self._staff(),
                            opinion=rng.choice(names.SUPPLEMENT_NOTICE))
            if s == "open_supplement":
                return
            if s == "supplement_returned":
                t = add_office_minutes(t, rng.randint(10, 20) * 420)
                self._event(t, "CONCLUDE", "办结", self._staff(), conclusionCode="RETURNED",
                            opinion=names.RETURNED[0])
                return
            t = t + timedelta(minutes=rng.randint(600, 4 * 1440))   # the applicant answers any time
            t = self._event(t, "SUPPLEMENT", "补正材料提交")
        accept_handler = self._staff(self.system.departments.get("gov_service")) \
            if window and rng.random() < 0.4 else self._staff()
        t = self._advance(t, rng.randint(5, 40) if window else rng.randint(30, 600))
        t = self._event(t, "ACCEPT", "受理", accept_handler)
        if s == "open_accepted":
            return
        if s == "withdrawn":
            t = self._advance(t, rng.randint(60, 1500))
            members = {"opinion": rng.choice(names.WITHDRAW)} if rng.random() < 0.6 else {}
            self._event(t, "WITHDRAW", "申请人撤回", **members)
            return

        budget = max(60, office_minutes_of(self.rec["promiseLimit"]))
        pace = rng.uniform(1.3, 1.8) if s == "late" else rng.uniform(0.15, 0.6)
        work = budget * pace
        steps = list(self.tmpl.review_steps)
        share = work / (len(steps) + 1)
        outcome = {"not_permitted": "NOT_PERMITTED", "voided": "VOIDED", "transferred": "TRANSFERRED"}.get(
            s, "APPROVED_WITH_CERT")

        # first review step
        t = self._advance(t, int(share * rng.uniform(0.6, 1.4)))
        if outcome == "NOT_PERMITTED":
            t = self._event(t, "REVIEW_STEP", steps[0], self._staff(), action="OTHER",
                            opinion=rng.choice(names.REVIEW_AGAINST))
        else:
            t = self._event(t, "REVIEW_STEP", steps[0], self._staff(), action="APPROVE",
                            opinion=rng.choice(names.REVIEW_APPROVE))
        if s in ("open_in_review", "overdue_open"):
            return
        if s in ("suspend_resume", "open_suspended"):
            t = self._advance(t, rng.randint(30, 600))
            if rng.random() < 0.3:
                sp = {"code": "1", "reason": names.SUSPEND_EXTENSION}
                step = "特别程序（延长审批）"
            else:
                label, reason = names.SUSPEND_OTHER[rng.randrange(len(names.SUSPEND_OTHER))]
                sp = {"code": "2", "reason": reason}
                step = f"特别程序（{label}）"
            t = self._event(t, "SUSPEND", step, self._staff(), specialProcedure=sp)
            if s == "open_suspended":
                return
            t = add_office_minutes(t, rng.randint(2, 10) * 420)
            t = self._event(t, "RESUME", "特别程序结束", self._staff())
        if outcome in ("VOIDED", "TRANSFERRED"):
            t = self._advance(t, rng.randint(30, 600))
            opinion = rng.choice(names.VOIDED if outcome == "VOIDED" else names.TRANSFERRED)
            self._event(t, "CONCLUDE", "办结", self._staff(), conclusionCode=outcome, opinion=opinion)
            return
        if outcome == "APPROVED_WITH_CERT" and len(steps) > 1 and rng.random() < 0.15:
            t = self._advance(t, int(share * 0.5))
            t = self._event(t, "REVIEW_STEP", steps[1], self._staff(), action="RETURN",
                            opinion=rng.choice(names.REVIEW_RETURN))
            t = self._advance(t, int(share * 0.5))
            t = self._event(t, "REVIEW_STEP", steps[0], self._staff(), action="APPROVE",
                            opinion=rng.choice(names.REVIEW_APPROVE))
        for step in steps[1:]:
            t = self._advance(t, int(share * rng.uniform(0.6, 1.4)))
            if outcome == "NOT_PERMITTED":
                t = self._event(t, "REVIEW_STEP", step, self._staff(), action="OTHER", opinion="同意不予许可。")
            else:
                t = self._event(t, "REVIEW_STEP", step, self._staff(), action="APPROVE",
                                opinion=rng.choice(names.REVIEW_APPROVE))
        t = self._advance(t, rng.randint(5, 60))
        if outcome == "NOT_PERMITTED":
            t = self._event(t, "CONCLUDE", "办结", self._staff(), conclusionCode=outcome,
                            opinion=rng.choice(names.NOT_PERMITTED))
            t = self._advance(t, rng.randint(60, 1200))
            self._event(t, "DELIVER", names.DELIVER_STEP["decision"], self._staff())
            return
        t = self._event(t, "CONCLUDE", "办结", self._staff(), conclusionCode=outcome)
        if not self.tmpl.delivers:
            return
        if self.instant or channel == "1":
            t = self._advance(t, rng.randint(5, 30))
            self._event(t, "DELIVER", names.DELIVER_STEP["window"], self._staff())
        elif rng.random() < 0.5:
            t = t + timedelta(minutes=rng.randint(1, 30))
            self._event(t, "DELIVER", names.DELIVER_STEP["electronic"], self._staff())
        else:
            t = self._advance(t, rng.randint(240, 1200))
            self._event(t, "DELIVER", names.DELIVER_STEP["mail"], self._staff())

    # -- records
    def _emit(self, applicant: dict, agent: dict | None, channel: str) -> None:
        b, rng, rec = self.b, self.rng, self.rec
        submitted = self.steps[0][0]
        case_no = b.next_case_no(rec["implCode"], f"{submitted:%Y%m%d}")
        case: dict[str, Any] = {"caseNo": case_no, "implCode": rec["implCode"]}
        if "handlingItems" in rec and rng.random() < 0.7:
            hi = rec["handlingItems"]
            case["handlingItemCode"] = hi[rng.randrange(len(hi))]["code"]
        case.update({"itemName": rec["name"], "caseType": rec["caseType"], "applicant": applicant})
        if agent is not None:
            case["agent"] = agent
        case.update({"channel": channel, "regionCode": rec["regionCode"], "submittedAt": stamp(submitted)})
        if rec["caseType"] == "2":
            case["promisedBy"] = stamp(deadline(submitted, rec["promiseLimit"]))
        case["version"] = 1
        sid = self.system.system_id
        self.system._add("case", case["submittedAt"], (case_no, 1), case)
        latest = case

        events = []
        for seq, (t, ev) in enumerate(self.steps, start=1):
            record = {"caseNo": case_no, "seq": seq, "type": ev.pop("type"), "occurredAt": stamp(t), **ev}
            events.append(record)
            self.system._add("case-event", record["occurredAt"], (case_no, seq), record)

        accept = next((e for e in events if e["type"] == "ACCEPT"), None)
        # the first case that can have a second version always has one (CR-05 evidence), others by chance
        if (accept is not None and rec["caseType"] == "2" and accept["occurredAt"][:10] != case["submittedAt"][:10]
                and (rng.random() < 0.5 or sid not in b.versioned_case_systems)):
            # 承诺办结时间 recomputed from acceptance (TBS-CASE-005): a new Case version
            v2 = copy.deepcopy(case)
            v2["promisedBy"] = stamp(deadline(parse_stamp(accept["occurredAt"]), rec["promiseLimit"]))
            if v2["promisedBy"] != case["promisedBy"]:
                v2["version"] = 2
                b.versioned_case_systems.add(sid)
                self.system._add("case", accept["occurredAt"], (case_no, 2), v2)
                latest = v2

        b.case_paths[case_no] = self.scenario
        late = overdue_seconds(latest, events, b.now)
        if late is not None:
            b.overdue.append({"caseNo": case_no, "systemId": sid, "overdueSeconds": late})

        conclude = next((e for e in events if e["type"] == "CONCLUDE"), None)
        if conclude is not None:
            self._result(case, conclude)
        self._evaluations(case, events, conclude, channel, late is not None)
        self.case, self.events, self.conclude, self.channel, self.late = case, events, conclude, channel, late
        if conclude is not None and conclude["conclusionCode"] not in ("VOIDED", "TRANSFERRED"):
            b.evaluable.setdefault(sid, []).append(self)
