"""A whole province at real scale: every record computed from its position, never held in memory.

``ProvinceScale`` describes the province hub of Guangdong, its 21 cities, its 122 county-level
divisions (real GB/T 2260 codes and names, :mod:`tongban.sandbox.divisions`) and a handful of
provincial departments, each a partner system. Volumes are province totals split evenly over the
systems. A record is a pure function of (seed, system, dataset, index, change round), so a feed
page is computed on demand and memory does not grow with volume; generation is deterministic
by seed (``random.Random`` seeded with strings, never the global generator).

Each system's changes feed of a dataset is its base records (version 1) followed by one block
per change round. Round ``k`` (1, 2, …) gives a new version to the catalog entries and cases whose
index ≡ k − 1 (mod 100): 1 % of them. Events, results and evaluations are facts and never
change. Every record is TBS-1.0-valid by construction:

* catalog — the sandbox's item templates; the sub-item part (positions 10–12) of the item code
  numbers the entries of a template, so implementation codes are distinct within a system;
  the exercise level fits the region shape (TBS-CAT-006); a new version only changes an
  implementation field (a material, TBS-SYNC-009) and a later ``updatedAt``;
* cases — structured numbers (implementation code, date, daily serial; TBS-CODE-009..012),
  ``promisedBy`` present (TBS-CASE-003) and later than ``submittedAt``; a new version extends it
  by a day;
* events — SUBMIT at ``submittedAt``, ACCEPT, review steps, CONCLUDE APPROVED_WITH_CERT: a legal
  walk of §10.3/§10.4 in ascending ``seq`` and time;
* results — a CERTIFICATE of a concluded case; evaluations — 非常满意 first evaluations.

Every business timestamp lies before ``now``; change rounds happen in the day before ``now``.
"""
from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import cached_property
from typing import Any, Callable, Iterator

from tongban.model.canonical import canonical_bytes
from tongban.model.clock import CST, stamp
from tongban.model.datasets import CONSUMER_ROLE, DATASETS, PROVIDER_ROLES, SPECS
from tongban.sandbox.divisions import Division, guangdong_divisions
from tongban.sandbox.identities import gov_uscc, person_name, resident_id
from tongban.sandbox.items import ALL_TEMPLATES, ItemTemplate
from tongban.sandbox.regions import DEPARTMENT_KINDS

__all__ = ["ProvinceScale", "ScaleSystem", "Volumes", "CHANGE_MODULUS"]

CHANGE_MODULUS = 100              # a change round touches one index class in 100: 1 %
MAX_SUB_ITEMS = 999               # positions 10–12 of an item code: 001..999
CASE_DAYS = 360                   # cases are spread over this many submission days
EXTRA_MATERIAL = {"name": "其他需要说明的材料", "required": False, "form": "ELECTRONIC", "originals": 0, "copies": 0}
# Provincial departments with systems of their own (省直部门): kind key and system code.
PROVINCIAL_DEPARTMENTS: tuple[tuple[str, str], ...] = (
    ("public_security", "GDGAT"), ("market", "GDSCJG"), ("hrss", "GDRST"), ("health", "GDWJW"),
    ("civil", "GDMZT"), ("transport", "GDJTT"))
REVIEW_STEPS = ("承办", "审核", "批准", "复核", "签发")
TEMPLATES: tuple[ItemTemplate, ...] = tuple(t for t in ALL_TEMPLATES if t.shadow_of is None)


@dataclass(frozen=True)
class Volumes:
    """Province totals, split evenly over the systems."""

    catalog: int = 2_000
    cases: int = 1_000
    events_per_case: int = 5      # SUBMIT, ACCEPT, n review steps, CONCLUDE: 3..8
    results: int = 500
    evaluations: int = 500

    def __post_init__(self) -> None:
        if not 3 <= self.events_per_case <= 3 + len(REVIEW_STEPS):
            raise ValueError(f"events_per_case must be within 3..{3 + len(REVIEW_STEPS)}")
        for name in ("catalog", "cases", "results", "evaluations"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative")
        if self.cases and not self.catalog:
            raise ValueError("cases need catalog entries to be reported against")

    @property
    def events(self) -> int:
        return self.cases * self.events_per_case


def _share(total: int, n: int, k: int) -> int:
    return total // n + (1 if k < total % n else 0)


@dataclass
class ScaleSystem:
    """One partner system of the province and its share of the volumes."""

    system_id: str
    level: str                # province | city | county | department
    region_code: str
    name: str
    parent_id: str | None
    roles: tuple[str, ...]
    counts: dict[str, int]    # base records per dataset
    body: str                 # official prefix of its bodies (广州市荔湾区) or the department's name
    exercise_level: str       # A.2: 2 province, 3 city, 4 county
    seed: int
    now: datetime
    events_per_case: int
    depts: dict[str, dict[str, str]] = field(default_factory=dict, repr=False)
    _events_of: tuple[int, list[dict[str, Any]]] | None = field(default=None, repr=False)

    @property
    def code(self) -> str:
        return self.system_id.rsplit(":", 1)[1]

    @property
    def provides(self) -> tuple[str, ...]:
        return DATASETS

    @property
    def accepts(self) -> tuple[str, ...]:
        return ()

    @property
    def datasets(self) -> tuple[str, ...]:
        return tuple(sorted(DATASETS))

    # -- feed arithmetic ---------------------------------------------------------------------
    def round_count(self, dataset: str, k: int) -> int:
        """Records changed in round ``k`` (≥ 1): only versioned datasets change."""
        if not SPECS[dataset].versioned:
            return 0
        n, r = self.counts[dataset], (k - 1) % CHANGE_MODULUS
        return len(range(r, n, CHANGE_MODULUS))

    def feed_length(self, dataset: str, rounds: int) -> int:
        return self.counts[dataset] + sum(self.round_count(dataset, k) for k in range(1, rounds + 1))

    def feed(self, dataset: str, start: int, stop: int, rounds: int) -> Iterator[dict[str, Any]]:
        """Feed entries at positions ``start`` (0-based) up to ``stop`` after ``rounds`` rounds."""
        n = self.counts[dataset]
        stop = min(stop, self.feed_length(dataset, rounds))
        p = start
        while p < min(stop, n):
            yield self.record(dataset, p, 0)
            p += 1
        offset = n
        for k in range(1, rounds + 1):
            c = self.round_count(dataset, k)
            while offset <= p < min(stop, offset + c):
                yield self.record(dataset, (k - 1) % CHANGE_MODULUS + CHANGE_MODULUS * (p - offset), k)
                p += 1
            offset += c
            if p >= stop:
                return

    def changed_in(self, dataset: str, k: int) -> Iterator[dict[str, Any]]:
        """The records round ``k`` changes, as the feed appends them."""
        for i in range((k - 1) % CHANGE_MODULUS, self.counts[dataset] if SPECS[dataset].versioned else 0,
                       CHANGE_MODULUS):
            yield self.record(dataset, i, k)

    def current(self, dataset: str, rounds: int) -> Iterator[dict[str, Any]]:
        """The latest version of every record after ``rounds`` rounds, by index."""
        for i in range(self.counts[dataset]):
            yield self.record(dataset, i, rounds)

    @staticmethod
    def version_at(index: int, rounds: int) -> int:
        """1 + the number of rounds up to ``rounds`` that changed ``index``."""
        r = index % CHANGE_MODULUS
        return 1 + (0 if rounds - 1 < r else (rounds - 1 - r) // CHANGE_MODULUS + 1)

    def change_time(self, k: int) -> datetime:
        return self.now - timedelta(days=1) + timedelta(minutes=k)

    # -- records ---------------------------------------------------------------------------
    def record(self, dataset: str, index: int, rounds: int) -> dict[str, Any]:
        """Record ``index`` of ``dataset`` after ``rounds`` rounds: a versioned dataset's (the dataset
        table says which) at the version those rounds gave it, any other's as it was made."""
        if dataset not in SPECS:
            raise KeyError(f"unknown dataset {dataset!r}")
        make = self.builders[dataset]
        return make(index, self.version_at(index, rounds)) if SPECS[dataset].versioned else make(index)

    @cached_property
    def builders(self) -> dict[str, Callable[..., dict[str, Any]]]:
        """dataset → the method computing its record ``index`` (with the version, when versioned)."""
        return {"catalog": self.catalog_entry, "case": self.case, "case-event": self.event,
                "result": self.result, "evaluation": self.evaluation}

    def _rng(self, *parts: object) -> random.Random:
        return random.Random(":".join(["tongban-scale", str(self.seed), self.system_id, *map(str, parts)]))

    def dept(self, kind: str) -> dict[str, str]:
        """The body implementing items of ``kind`` here (the system's own for a department)."""
        if self.level == "department":
            kind = "own"
        if kind not in self.depts:
            resolved = kind
            if self.level == "department":
                name = self.body
            else:
                at = "county" if self.level == "county" else self.level
                pattern = getattr(DEPARTMENT_KINDS[kind], at)
                if pattern is None or "{" in pattern.replace("{" + at + "}", ""):
                    resolved = "gov_service"  # no such body here, or one named after another level's body
                    pattern = getattr(DEPARTMENT_KINDS[resolved], at)
                name = pattern.format(**{at: self.body})
            # seeded by the body alone: the same body has the same USCC whatever was asked before
            rng = random.Random(f"tongban-sandbox:uscc:{self.region_code}:{resolved}:{self.code}")
            self.depts[kind] = {"name": name, "uscc": gov_uscc(rng, self.region_code), "nature": "1"}
        return self.depts[kind]

    def _template(self, index: int) -> tuple[ItemTemplate, str]:
        tmpl = TEMPLATES[index % len(TEMPLATES)]
        sub = index // len(TEMPLATES) + 1
        return tmpl, f"{tmpl.region_part}{tmpl.item_type}{tmpl.main}{sub:03d}"

    def catalog_entry(self, index: int, version: int = 1) -> dict[str, Any]:
        tmpl, item_code = self._template(index)
        dept = self.dept(tmpl.dept)
        impl = f"{dept['uscc']}{self.exercise_level}{item_code}"
        rec: dict[str, Any] = {"itemCode": item_code, "implCode": impl, "name": tmpl.name,
                               "itemType": tmpl.item_type, "level": self.exercise_level,
                               "regionCode": self.region_code, "dept": dict(dept), "legalBasis": tmpl.legal_basis}
        rec.update(tmpl.handling_members())
        if version % 2 == 0:  # each new version adds or drops an optional material (an implementation field)
            rec["materials"].append(dict(EXTRA_MATERIAL))
        rec["status"] = "ACTIVE"
        rec["version"] = version
        if version == 1:
            minutes = self._rng("item", index).randrange(0, 8 * 60)
            at = datetime.combine(self.now.date() - timedelta(days=420 + index % 200), time(9, 0), CST)
            at += timedelta(minutes=minutes)
        else:
            at = self.change_time((version - 2) * CHANGE_MODULUS + index % CHANGE_MODULUS + 1)
        rec["updatedAt"] = stamp(at)
        return rec

    def _case_basics(self, index: int) -> tuple[dict[str, Any], datetime]:
        n_cat = self.counts["catalog"]
        entry = self.catalog_entry(index % n_cat)
        day_no, serial = (index // n_cat) % CASE_DAYS, index // (n_cat * CASE_DAYS) + 1
        day = self.now.date() - timedelta(days=45 + day_no)
        submitted = datetime.combine(day, time(9, 0), CST) + timedelta(seconds=(index * 7919) % (7 * 3600))
        return entry, submitted.replace(microsecond=0)

    def case(self, index: int, version: int = 1) -> dict[str, Any]:
        entry, submitted = self._case_basics(index)
        n_cat = self.counts["catalog"]
        serial = index // (n_cat * CASE_DAYS) + 1
        rng = self._rng("case", index)
        male = rng.random() < 0.5
        born = date(1950 + rng.randrange(50), 1 + rng.randrange(12), 1 + rng.randrange(28))
        address = self.region_code if self.level == "county" else "440103"
        applicant = {"kind": "PERSON", "name": person_name(rng, male), "idType": "111",
                     "idNo": resident_id(rng, address, born, male)}
        promised = datetime.combine(submitted.date() + timedelta(days=20 + version - 1), time(17, 0), CST)
        return {"caseNo": f"{entry['implCode']}{submitted:%Y%m%d}{serial:04d}", "implCode": entry["implCode"],
                "itemName": entry["name"], "caseType": entry["caseType"], "applicant": applicant,
                "channel": "1", "regionCode": self.region_code, "submittedAt": stamp(submitted),
                "promisedBy": stamp(promised), "version": version}

    def event(self, index: int) -> dict[str, Any]:
        return self.events(index // self.events_per_case)[index % self.events_per_case]

    def events(self, case_index: int) -> list[dict[str, Any]]:
        """The events of one case (the last case's are kept: a feed page asks for them in turn)."""
        if self._events_of is not None and self._events_of[0] == case_index:
            return [dict(e) for e in self._events_of[1]]
        events = self._events(case_index)
        self._events_of = (case_index, events)
        return [dict(e) for e in events]

    def _events(self, case_index: int) -> list[dict[str, Any]]:
        case = self.case(case_index)
        _, submitted = self._case_basics(case_index)
        staff = self._rng("staff").choice(["陈杰", "何嘉欣", "刘辉", "武子豪", "李娜"])
        handler = {"name": staff, "deptUscc": case["implCode"][:18]}
        no = case["caseNo"]
        out = [{"caseNo": no, "seq": 1, "type": "SUBMIT", "occurredAt": case["submittedAt"], "stepName": "网上申报"}]
        t = submitted + timedelta(hours=1)
        out.append({"caseNo": no, "seq": 2, "type": "ACCEPT", "occurredAt": stamp(t), "handler": handler,
                    "stepName": "受理"})
        for step in REVIEW_STEPS[: self.events_per_case - 3]:
            t += timedelta(days=1)
            out.append({"caseNo": no, "seq": len(out) + 1, "type": "REVIEW_STEP", "occurredAt": stamp(t),
                        "handler": handler, "stepName": step, "action": "APPROVE", "opinion": "同意。"})
        t += timedelta(days=1)
        out.append({"caseNo": no, "seq": len(out) + 1, "type": "CONCLUDE", "occurredAt": stamp(t),
                    "handler": handler, "stepName": "办结", "conclusionCode": "APPROVED_WITH_CERT"})
        return out

    def result(self, index: int) -> dict[str, Any]:
        conclude = self.events(index)[-1]
        case = self.case(index)
        dept = self.dept(TEMPLATES[(index % self.counts["catalog"]) % len(TEMPLATES)].dept)
        return {"caseNo": case["caseNo"], "resultType": "CERTIFICATE", "certName": f"{case['itemName']}证明",
                "certNo": f"{self.region_code}-{index:010d}", "issuer": {"name": dept["name"], "uscc": dept["uscc"]},
                "issuedAt": conclude["occurredAt"]}

    def evaluation(self, index: int) -> dict[str, Any]:
        conclude = self.events(index)[-1]
        at = datetime.fromisoformat(conclude["occurredAt"]) + timedelta(hours=2)
        return {"caseNo": self.case(index)["caseNo"], "assessNo": 1, "channel": "SMS", "satisfaction": 5,
                "assessedAt": stamp(at)}


@dataclass
class ProvinceScale:
    """Every system of the province with its share of ``volumes`` (see the module text)."""

    seed: int = 7
    volumes: Volumes = field(default_factory=Volumes)
    now: datetime | None = None
    limit: int | None = None   # only the first ``limit`` systems (hub, then cities each with its counties …)

    def __post_init__(self) -> None:
        if self.now is None:
            from tongban.sandbox.generate import default_now

            self.now = default_now()
        elif self.now.tzinfo is None:
            self.now = self.now.replace(tzinfo=CST)

    @cached_property
    def systems(self) -> list[ScaleSystem]:
        divisions = guangdong_divisions()
        names = {d.code: d.name for d in divisions}
        shapes: list[tuple[str, str, str, str, str | None, str, str]] = []   # level, region, code, name, parent, body, lvl
        hub = divisions[0]
        hub_id = f"TB:province:{hub.code}:GDZWFW"
        shapes.append(("province", hub.code, "GDZWFW", hub.name, None, hub.name, "2"))
        for kind, code in PROVINCIAL_DEPARTMENTS:
            dept_name = DEPARTMENT_KINDS[kind].province.replace("{province}", hub.name)
            shapes.append(("department", hub.code, code, dept_name, hub_id, dept_name, "2"))
        for d in divisions[1:]:
            parent = f"TB:province:{hub.code}:GDZWFW" if d.level == "city" else f"TB:city:{d.parent}:ZWFW{d.parent}"
            shapes.append((d.level, d.code, f"ZWFW{d.code}", d.name, parent, _body(d, names), "3" if d.level == "city" else "4"))
        if self.limit is not None:
            if not 1 <= self.limit <= len(shapes):
                raise ValueError(f"the province has {len(shapes)} systems: limit must be within 1..{len(shapes)}")
            shapes = shapes[: self.limit]
        n, v = len(shapes), self.volumes
        systems = []
        for k, (level, region, code, name, parent, body, lvl) in enumerate(shapes):
            cases = _share(v.cases, n, k)
            n_cat = max(_share(v.catalog, n, k), 1 if cases else 0)
            if n_cat > MAX_SUB_ITEMS * len(TEMPLATES):
                raise ValueError(f"at most {MAX_SUB_ITEMS * len(TEMPLATES)} catalog entries per system")
            if cases > n_cat * CASE_DAYS * 9999:
                raise ValueError("too many cases per catalog entry (daily serials run out)")
            counts = {"catalog": n_cat, "case": cases, "case-event": cases * v.events_per_case,
                      "result": min(_share(v.results, n, k), cases),
                      "evaluation": min(_share(v.evaluations, n, k), cases)}
            roles = tuple(sorted(PROVIDER_ROLES if level in ("county", "department")
                                 else (*PROVIDER_ROLES, CONSUMER_ROLE)))
            systems.append(ScaleSystem(f"TB:{level}:{region}:{code}", level, region, f"{body}一体化政务服务平台"
                                       if level != "department" else f"{name}业务系统", parent, roles, counts, body,
                                       lvl, self.seed, self.now, v.events_per_case))
        return systems

    def system(self, system_id: str) -> ScaleSystem:
        for s in self.systems:
            if s.system_id == system_id:
                return s
        raise KeyError(system_id)

    def content_digest(self, dataset: str, rounds: int, systems: list[ScaleSystem] | None = None) -> str:
        """SHA-256 over the sorted digests of the current records of ``dataset`` (every system, or
        those given): equal for any two holders of the same records, in any order."""
        return digest_of(canonical_bytes(r) for s in (systems or self.systems) for r in s.current(dataset, rounds))


def digest_of(contents: Iterator[bytes]) -> str:
    """Order-independent digest of a collection of canonical record contents: the sum modulo
    2**256 of their SHA-256 values, with the count (constant memory, any order)."""
    total, count = 0, 0
    for c in contents:
        total = (total + int.from_bytes(hashlib.sha256(c).digest(), "big")) % (1 << 256)
        count += 1
    return f"{count}:{total:064x}"


def _body(d: Division, names: dict[str, str]) -> str:
    """Official prefix of a division's bodies: districts carry the city name (广州市荔湾区), counties
    and county-level cities do not (博罗县, 台山市)."""
    if d.level == "county" and d.name.endswith("区"):
        return names[d.parent] + d.name
    return d.name
