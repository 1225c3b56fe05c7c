"""Planted consistency defects (two skins, many names, near duplicates) and their ground truth.

A city relays its counties' records upward; on a few items the relay copy is made to differ
("two skins"). Everything not listed in the ground truth is consistent.
"""
from __future__ import annotations

import copy
from typing import TYPE_CHECKING

from tongban.model.datasets import DATASETS
from tongban.sandbox.catalog import CORE_ITEMS, Item
from tongban.sandbox.items import MANY_NAME_VARIANTS, SHADOW_TEMPLATES, TEMPLATES_BY_KEY
from tongban.sandbox.regions import DEPARTMENT_KINDS, county_full_name
from tongban.sandbox.systems import Place, SandboxSystem

if TYPE_CHECKING:
    from tongban.sandbox.generate import ProvinceBuilder

__all__ = ["PlantedDefects"]


class PlantedDefects:
    """The relay and ground-truth part of the province builder (mixed into ``ProvinceBuilder``)."""

    def _relay_and_plant_two_skins(self: ProvinceBuilder, counties: list[SandboxSystem]) -> list[dict]:
        for county in counties:
            city = self.systems[county.parent_id or ""]
            for ds in DATASETS:
                city._relayed[ds] += [(k, copy.deepcopy(r)) for k, r in county._entries[ds]]

        excluded_codes = self._defect_item_codes()
        planted: list[dict] = []
        kinds = ["promiseLimit", "dept", "materials"]
        for k, county in enumerate(counties[:3]):
            city = self.systems[county.parent_id or ""]
            for item in self.items[county.system_id]:
                if item.plan or item.template.item_code in excluded_codes or item.template.key in CORE_ITEMS:
                    continue
                latest = item.current
                entry = next(r for _, r in city._relayed["catalog"]
                             if r["implCode"] == latest["implCode"] and r["version"] == latest["version"])
                fields = _skin(entry, kinds[k], item, self.places[county.system_id])
                if not fields:
                    continue
                item.plan = "two_skins"
                planted.append({"implCode": latest["implCode"], "itemCode": latest["itemCode"],
                                "version": latest["version"], "systemIds": [county.system_id, city.system_id],
                                "fields": fields})
                break
        return planted

    def _defect_item_codes(self: ProvinceBuilder) -> set[str]:
        codes = {TEMPLATES_BY_KEY[k].item_code for k in MANY_NAME_VARIANTS}
        for shadow in SHADOW_TEMPLATES:
            codes |= {shadow.item_code, TEMPLATES_BY_KEY[shadow.shadow_of or ""].item_code}
        return codes

    def _implementations(self: ProvinceBuilder, item_code: str) -> list[dict]:
        return sorted(({"systemId": sid, "implCode": it.impl_code, "name": it.current["name"]}
                       for sid, items in self.items.items() for it in items
                       if it.template.item_code == item_code), key=lambda e: (e["systemId"], e["implCode"]))

    def _many_names_truth(self: ProvinceBuilder) -> list[dict]:
        out = []
        for key, variant in MANY_NAME_VARIANTS.items():
            tmpl = TEMPLATES_BY_KEY[key]
            impls = self._implementations(tmpl.item_code)
            if any(e["name"] == variant for e in impls) and any(e["name"] == tmpl.name for e in impls):
                out.append({"itemCode": tmpl.item_code, "basicName": tmpl.name,
                            "names": sorted({e["name"] for e in impls}),
                            "variantSystemIds": sorted(e["systemId"] for e in impls if e["name"] != tmpl.name),
                            "implementations": impls})
        return out

    def _near_duplicates_truth(self: ProvinceBuilder) -> list[dict]:
        out = []
        for shadow in SHADOW_TEMPLATES:
            original = TEMPLATES_BY_KEY[shadow.shadow_of or ""]
            shadow_impls = self._implementations(shadow.item_code)
            original_impls = self._implementations(original.item_code)
            if shadow_impls and original_impls:
                out.append({"itemCodes": [original.item_code, shadow.item_code],
                            "names": [original.name, shadow.name],
                            "implementations": sorted(original_impls + shadow_impls,
                                                      key=lambda e: (e["systemId"], e["implCode"]))})
        return out

    def _clean_truth(self: ProvinceBuilder, counties: list[SandboxSystem], two_skins: list[dict]) -> list[dict]:
        excluded = self._defect_item_codes()
        skinned = {p["implCode"] for p in two_skins}
        clean = []
        for county in counties:
            for item in reversed(self.items[county.system_id]):
                if (item.plan is None and item.template.item_code not in excluded
                        and item.impl_code not in skinned and item.template.key not in CORE_ITEMS):
                    clean.append({"implCode": item.impl_code, "itemCode": item.template.item_code,
                                  "systemId": county.system_id})
                    break
            if len(clean) == 4:
                break
        return clean



def _skin(relay: dict, kind: str, item: Item, place: Place) -> list[str]:
    """Make the relay copy ``relay`` of a county item differ in one field group ("two skins").

    The copy stays valid on its own (TBS-CAT-007..010); returns the differing member names.
    """
    if kind == "dept":
        former = DEPARTMENT_KINDS[item.dept.kind].former_county
        if former and place.city is not None and place.county is not None:
            relay["dept"]["name"] = former.format(county=county_full_name(place.city, place.county))
            return ["dept"]
        kind = "promiseLimit"
    if kind == "promiseLimit":
        value = relay["promiseLimit"]["value"]
        legal = relay.get("legalLimit")
        ceiling = legal["value"] if legal and legal["unit"] == relay["promiseLimit"]["unit"] else value + 10
        new = value + 5 if value + 5 <= ceiling else (value - 1 if value > 1 else None)
        if new is not None and new != value:
            relay["promiseLimit"]["value"] = new
            return ["promiseLimit"]
        kind = "materials"
    # materials: the relay still lists a material the county has dropped from its list
    relay["materials"].append({"name": "申请人认为需要提交的其他材料", "required": False, "form": "BOTH",
                               "originals": 0, "copies": 1})
    return ["materials"]
