"""The sandbox county written as NATIONAL-EXCHANGE legacy rows, and its records as the
profile carries them (TBS-LP-112: the members with no legacy column are absent; a handler's
unit and the issuer are the case's accepting body, TBS-LP-106, -110)."""
from __future__ import annotations

import copy
from collections import defaultdict

from tongban.connectors.frontdb.writer import NationalExchangeWriter

M12 = {"1": "窗口申请", "2": "网上申报", "3": "网上申报", "4": "快递申请"}
ROLES = ["CATALOG_PROVIDER", "CASE_REPORTER", "RESULT_PUBLISHER", "EVALUATION_REPORTER"]


def county_data(seed: int = 7):
    from tongban.sandbox.generate import generate_province

    data = generate_province(seed, cities=1, counties_per_city=1, items_per_county=4, cases_per_county=8)
    return next(s for s in data.systems.values() if s.level == "county"), data.now


def writer_for(county) -> NationalExchangeWriter:
    w = NationalExchangeWriter(prefix="LW", region_code=county.region_code)
    for item in county.records("catalog"):
        w.item(item)
    by_case = _by_case(county)
    for case_no, (versions, events, results) in by_case.items():
        org = _accepting_body(events, results)
        w.case(versions, events, results, org_code=org[0], org_name=org[1])
    w.evaluations(county.records("evaluation"))
    return w


def _by_case(county):
    out = defaultdict(lambda: ([], [], []))
    for c in county.records("case"):
        out[c["caseNo"]][0].append(c)
    for e in county.records("case-event"):
        out[e["caseNo"]][1].append(e)
    for r in county.records("result"):
        out[r["caseNo"]][2].append(r)
    return out


def _accepting_body(events, results):
    """The case's accepting body: the issuer of its Result, else the unit of its CONCLUDE's
    handler, else of its first handler."""
    if results:
        return results[0]["issuer"]["uscc"], results[0]["issuer"]["name"]
    handlers = [e["handler"] for e in events if e.get("handler")]
    conclude = [e["handler"] for e in events if e["type"] == "CONCLUDE" and e.get("handler")]
    unit = (conclude or handlers or [{"deptUscc": None}])[0]["deptUscc"]
    return unit, None


def expected(county) -> dict[str, list[dict]]:
    """The sandbox records with what NATIONAL-EXCHANGE cannot carry removed or fixed."""
    out = {}
    out["catalog"] = []
    for r in _current(county.records("catalog"), "implCode"):
        r = copy.deepcopy(r)
        if r.get("handlingItems"):  # one handling item per implementation item, named as the item (§3.4)
            r["handlingItems"] = [{"code": r["handlingItems"][0]["code"], "name": r["name"]}]
        out["catalog"].append(r)
    cases = _current(county.records("case"), "caseNo")
    out["case"] = cases
    events, results = [], []
    for case_no, (versions, evs, res) in _by_case(county).items():
        unit, name = _accepting_body(evs, res)
        channel = versions[-1].get("channel")
        open_suspend = None
        for e in evs:
            e = copy.deepcopy(e)
            if e.get("handler"):
                e["handler"]["deptUscc"] = unit
            if e["type"] == "SUBMIT":  # §3.6: no handler, the step name by channel (M12)
                e["stepName"] = M12.get(channel, "申请")
                e.pop("handler", None)
            if e["type"] == "ACCEPT":
                e.pop("opinion", None)
            if e["type"] == "SUSPEND":
                open_suspend = e
            if e["type"] == "RESUME":
                e["stepName"] = "特别程序结束"
                if open_suspend and open_suspend.get("handler"):
                    e["handler"] = dict(open_suspend["handler"])
                else:
                    e.pop("handler", None)
            if e["type"] == "CONCLUDE":
                e["stepName"] = "办结"
            events.append(e)
        for r in res:
            r = copy.deepcopy(r)
            r.pop("document", None)
            r.pop("validUntil", None)
            r["issuer"] = {"uscc": unit} if name is None else {"name": name, "uscc": unit}
            results.append(r)
    out["case-event"] = sorted(events, key=lambda e: (e["caseNo"], e["seq"]))
    out["result"] = sorted(results, key=lambda r: (r["caseNo"], r["certNo"]))
    evals = []
    for r in county.records("evaluation"):
        r = copy.deepcopy(r)
        r.pop("dimensions", None)
        evals.append(r)
    out["evaluation"] = sorted(evals, key=lambda r: (r["caseNo"], r["assessNo"]))
    return out


def _current(records, key):
    latest = {}
    for r in records:
        latest[r[key]] = r
    return [latest[k] for k in sorted(latest)]
