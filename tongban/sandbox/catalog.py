"""The sandbox catalog: implementation items per system and their version histories.

TBS-CAT-002..010 hold for every version; exercise level fits the region shape (TBS-CAT-006);
versions only change implementation fields (TBS-SYNC-009), REVOKED is final (TBS-SYNC-010) and
``updatedAt`` increases with ``version`` (TBS-SYNC-011).
"""
from __future__ import annotations

import copy
import random
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from tongban.model.clock import stamp
from tongban.sandbox.items import (CITY_TEMPLATES, COUNTY_TEMPLATES, MANY_NAME_VARIANTS, PROVINCE_TEMPLATES,
                                   TEMPLATES_BY_KEY, ItemTemplate)
from tongban.sandbox.systems import Department, SandboxSystem
from tongban.sandbox.timeline import snap_to_office

if TYPE_CHECKING:
    from tongban.sandbox.generate import ProvinceBuilder

__all__ = ["CORE_ITEMS", "CatalogBuilder", "Item"]

# Items every county implements (when it implements enough): the cases' and the defects' ground.
CORE_ITEMS = ("public_place_hygiene", "food_business", "marriage", "pension_enrol")


@dataclass
class Item:
    """A generated implementation item: its template, department and version history."""

    template: ItemTemplate
    dept: Department
    versions: list[dict]
    plan: str | None = None  # revoke | suspend | suspend_resume

    @property
    def current(self) -> dict:
        return self.versions[-1]

    @property
    def impl_code(self) -> str:
        return self.versions[0]["implCode"]

    @property
    def usable(self) -> bool:
        """Cases are reported only against items that are ACTIVE now."""
        return self.current["status"] == "ACTIVE"



class CatalogBuilder:
    """The catalog part of the province builder (mixed into ``ProvinceBuilder``)."""

    def _build_catalog(self: ProvinceBuilder, province: SandboxSystem, counties: list[SandboxSystem]) -> None:
        n = len(counties)
        for k, county in enumerate(counties):
            chosen: list[str] = []

            def want(key: str) -> None:
                if len(chosen) < self.n_items and key not in chosen:
                    chosen.append(key)

            for key in CORE_ITEMS:
                want(key)
            if k == 0 and len(chosen) + 2 <= self.n_items:   # near-duplicate pair inside one county
                want("unemployment")
                want("unemployment_shadow")
            if k == n - 1 and "pension_enrol" in chosen:     # near-duplicate of a core item
                want("pension_enrol_shadow")
            fillers = [t.key for t in COUNTY_TEMPLATES if t.key not in chosen]
            self.rng("fillers", county.region_code).shuffle(fillers)
            planned = list(chosen)
            for key in fillers:
                want(key)
            filler_keys = [key for key in chosen if key not in planned]
            plans = self._county_item_plans(k, chosen, filler_keys)
            for key in chosen:
                tmpl = TEMPLATES_BY_KEY[key]
                level = "5" if key == "pension_enrol" and k == 1 else "4"
                dept = county.departments["street" if level == "5" else tmpl.dept]
                name = None
                for g, (variant_key, variant) in enumerate(MANY_NAME_VARIANTS.items()):
                    if key == variant_key and n >= 2 and k == (1 + g) % n:
                        name = variant
                self._add_item(county, tmpl, level, dept, name=name, plan=plans.get(key))

        for c, city in enumerate(s for s in self.systems.values() if s.level == "city"):
            keys = [t.key for t in CITY_TEMPLATES] + ["eia_report_form"]
            keys = keys[: min(len(keys), max(3, self.n_items // 2))]
            for i, key in enumerate(keys):
                # every city withdraws one item (CP-04 needs a REVOKED tombstone in each feed)
                plan = "revoke" if i == len(keys) - 1 else None
                tmpl = TEMPLATES_BY_KEY[key]
                self._add_item(city, tmpl, "3", city.departments[tmpl.dept], plan=plan)

        for i, tmpl in enumerate((*PROVINCE_TEMPLATES, TEMPLATES_BY_KEY["medical_institution"])):
            # the province's 医疗机构执业登记 was delegated (权限下放) to the cities: a REVOKED tombstone
            plan = {"tour_guide": "suspend_resume", "medical_institution": "revoke"}.get(tmpl.key)
            self._add_item(province, tmpl, "2", province.departments[tmpl.dept], plan=plan)

    def _county_item_plans(self: ProvinceBuilder, k: int, chosen: list[str], filler_keys: list[str]) -> dict[str, str]:
        """Status changes of the ``k``-th county's items (by template key).

        Every county revokes at least one item (TBS-SYNC-010 evidence for CP-04), odd counties
        also suspend one, every third a suspended item is resumed. Only items outside the planted
        defects are changed: never a many-names or near-duplicate item code, never a core item
        unless nothing else is left. Planted clean and two-skins items are chosen later among the
        items without a plan (two skins from the front, clean from the back), so the extra
        revocation of an odd county takes an item from the middle and leaves those choices as
        they were.
        """
        excluded = self._defect_item_codes()
        eligible = [key for key in reversed(filler_keys) if TEMPLATES_BY_KEY[key].item_code not in excluded]
        eligible += [key for key in CORE_ITEMS if key in chosen and TEMPLATES_BY_KEY[key].item_code not in excluded]
        plans: dict[str, str] = {}

        def assign(plan: str) -> None:
            free = [key for key in eligible if key not in plans]
            if free:
                plans[free[0]] = plan

        if filler_keys and k % 2 == 1 and len(eligible) >= 2:
            assign("suspend")
        if len(filler_keys) >= 3 and k % 3 == 1 and filler_keys[-2] not in plans:
            plans[filler_keys[-2]] = "suspend_resume"
        unplanned = [key for key in filler_keys if key in eligible and key not in plans]
        if k % 2 == 1 and len(unplanned) >= 3:
            # neither the first unplanned filler (a two-skins candidate) nor the last (a clean one)
            plans[unplanned[1]] = "revoke"
        else:
            assign("revoke")
        return plans

    def _add_item(self: ProvinceBuilder, system: SandboxSystem, tmpl: ItemTemplate, level: str, dept: Department, *,
                  name: str | None = None, plan: str | None = None) -> None:
        rng = self.rng("item", system.system_id, tmpl.key)
        impl = f"{dept.uscc}{level}{tmpl.item_code}"
        rec: dict[str, Any] = {"itemCode": tmpl.item_code, "implCode": impl}
        if tmpl.handling_items:
            rec["handlingItems"] = [{"code": f"{impl}{i:02d}", "name": n}
                                    for i, n in enumerate(tmpl.handling_items, start=1)]
        rec.update({
            "name": name or tmpl.name, "itemType": tmpl.item_type, "level": level,
            "regionCode": system.region_code, "dept": dept.as_dept(), "legalBasis": tmpl.legal_basis,
        })
        rec.update(tmpl.handling_members())
        rec["status"] = "ACTIVE"
        rec["version"] = 1
        at = snap_to_office(self.now - timedelta(days=rng.uniform(420, 700)))
        rec["updatedAt"] = stamp(at)
        versions = [rec]

        extra = rng.choices((0, 1, 2), weights=(55, 30, 15))[0]
        steps: list[str] = ["revise"] * extra
        if plan == "revoke":
            steps.append("REVOKED")
        elif plan == "suspend":
            steps.append("SUSPENDED")
        elif plan == "suspend_resume":
            steps += ["SUSPENDED", "ACTIVE"]
        for step in steps:
            nxt = copy.deepcopy(versions[-1])
            if step == "revise":
                _revise(nxt, rng)
            else:
                nxt["status"] = step
            at = snap_to_office(at + timedelta(days=rng.uniform(20, 70)))
            nxt["version"] = versions[-1]["version"] + 1
            nxt["updatedAt"] = stamp(at)
            versions.append(nxt)
        item = Item(tmpl, dept, versions, plan)
        self.items.setdefault(system.system_id, []).append(item)
        for v in versions:
            system._add("catalog", v["updatedAt"], (v["implCode"], v["version"]), v)

    def _basic_catalog(self: ProvinceBuilder) -> list[dict]:
        seen: dict[str, dict] = {}
        for items in self.items.values():
            for it in items:
                t = it.template
                seen.setdefault(t.item_code, {"itemCode": t.item_code, "name": t.name, "itemType": t.item_type,
                                              "legalBasis": t.legal_basis})
        return [seen[k] for k in sorted(seen)]


def _revise(rec: dict, rng: random.Random) -> None:
    """One implementation-field change of a new catalog version (TBS-SYNC-009: never a basic field)."""
    options = ["materials"]
    if rec["promiseLimit"]["value"] >= 2:
        options.append("promise")
    if rec["onlineDepth"] >= 3 and "3" not in rec["handlingForms"]:
        options.append("forms")
    choice = options[rng.randrange(len(options))]
    if choice == "promise":  # 压缩承诺时限
        v = rec["promiseLimit"]["value"]
        rec["promiseLimit"]["value"] = v - max(1, v // 3)
    elif choice == "forms":  # 新增移动端办理
        rec["handlingForms"] = sorted({*rec["handlingForms"], "3"})
    else:
        both = [m for m in rec["materials"] if m["form"] == "BOTH"]
        if both:  # 电子化：a paper-or-electronic material becomes electronic only
            both[0].update(form="ELECTRONIC", originals=0, copies=0)
        elif not any(m["name"] == "其他需要说明的材料" for m in rec["materials"]):
            rec["materials"].append({"name": "其他需要说明的材料", "required": False, "form": "ELECTRONIC",
                                     "originals": 0, "copies": 0})
        else:
            rec["materials"] = [m for m in rec["materials"] if m["name"] != "其他需要说明的材料"]
