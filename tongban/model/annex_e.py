"""Writing a record in another version of the standard (TBS-1.1 Annex E) and comparing records
across versions (TBS-ENV-012 as TBS-1.1 words it).

* :func:`downgrade` — E.1, TBS-1.1 → TBS-1.0: members TBS-1.0 cannot carry are dropped or mapped
  to a coarser value; a record E.1 marks *not representable* raises :class:`NotRepresentable`
  (a relay must then not send it in TBS-1.0, TBS-SYNC-015 (b)).
* :func:`upgrade` — E.2, TBS-1.0 → TBS-1.1: renames and the ``dimensions`` array. The result must
  still pass TBS-1.1 (a TBS-1.0 catalog item without ``onSiteVisits`` does not); checking that is
  the validator's job, not this module's.
* :func:`carry_forward` — E.3 / TBS-SYNC-015 (e): members a TBS-1.0 record cannot carry, copied
  from the stored current record of its key.
* :func:`identical_content` — TBS-ENV-012: both records in the incoming record's version, Case
  ``channel`` read as ``applyChannel``, carry-forward applied to the incoming record.

Records are plain JSON values; nothing here changes its arguments.
"""
from __future__ import annotations

import copy
from typing import Any

from tongban.model.canonical import canonical_bytes

V10, V11 = "TBS-1.0", "TBS-1.1"
# A.13 as listed in TBS-1.1 (an open table: other values pass TBS-1.1 with a WARNING, TBS-EVAL-011).
A13_TBS_1_0 = ("PC", "MOBILE", "QRCODE", "HALL_PAD", "HALL_OTHER", "PHONE", "SMS")
DIMENSION_INDICATORS = {"ATTITUDE": "attitude", "EFFICIENCY": "efficiency", "QUALITY": "quality"}
CERT_NO_MAX_TBS_1_0 = 50


class NotRepresentable(ValueError):
    """Annex E.1: the record has no form in the older version (what and where)."""

    def __init__(self, dataset: str, member: str, reason: str) -> None:
        super().__init__(f"{dataset} record not representable in TBS-1.0 at {member}: {reason}")
        self.dataset, self.member, self.reason = dataset, member, reason


def _renamed(record: dict[str, Any], old: str, new: str) -> dict[str, Any]:
    """``record`` with member ``old`` renamed ``new`` at the same position."""
    return {(new if k == old else k): v for k, v in record.items()}


def downgrade(dataset: str, record: dict[str, Any]) -> dict[str, Any]:
    """Annex E.1: the TBS-1.0 form of a TBS-1.1 record."""
    out = copy.deepcopy(record)
    if dataset == "catalog":
        out.pop("crossRegionScope", None)
        out.pop("accessibility", None)
    elif dataset == "case":
        if "applyChannel" in out and "channel" not in out:
            out = _renamed(out, "applyChannel", "channel")
        for place in ("applicant", "agent"):
            party = out.get(place)
            if not isinstance(party, dict):
                continue
            if place == "agent" and "idType" not in party and "idNo" not in party:
                raise NotRepresentable(dataset, "agent", "an agent without idType and idNo")
            if party.get("idType") == "HMTRP":
                party["idType"] = "990"
    elif dataset == "result":
        cert_no = out.get("certNo")
        if isinstance(cert_no, str) and len(cert_no) > CERT_NO_MAX_TBS_1_0:
            raise NotRepresentable(dataset, "certNo", f"{len(cert_no)} characters, more than {CERT_NO_MAX_TBS_1_0}")
    elif dataset == "evaluation":
        channel = out.get("channel")
        if channel == "SELF_SERVICE":
            out["channel"] = "HALL_OTHER"
        elif isinstance(channel, str) and channel not in A13_TBS_1_0:
            raise NotRepresentable(dataset, "channel", f"{channel} is not listed in A.13")
        if "dimensions" in out:
            out["dimensions"] = _dimensions_object(out["dimensions"])
    return out


def _dimensions_object(dimensions: Any) -> dict[str, int]:
    scores = {d.get("indicator"): d.get("score") for d in dimensions if isinstance(d, dict)} \
        if isinstance(dimensions, list) else {}
    if not isinstance(dimensions, list) or len(dimensions) != 3 or set(scores) != set(DIMENSION_INDICATORS):
        # omitting it would lose the scores without trace (E.1)
        raise NotRepresentable("evaluation", "dimensions", "indicators other than exactly ATTITUDE, EFFICIENCY, QUALITY")
    return {"quality": scores["QUALITY"], "efficiency": scores["EFFICIENCY"], "attitude": scores["ATTITUDE"]}


def upgrade(dataset: str, record: dict[str, Any]) -> dict[str, Any]:
    """Annex E.2: the TBS-1.1 form of a TBS-1.0 record (coarse values such as 990 stay as they are)."""
    out = copy.deepcopy(record)
    if dataset == "case" and "channel" in out and "applyChannel" not in out:
        out = _renamed(out, "channel", "applyChannel")
    elif dataset == "evaluation" and isinstance(out.get("dimensions"), dict):
        d = out["dimensions"]
        out["dimensions"] = [{"indicator": "ATTITUDE", "score": d.get("attitude")},
                             {"indicator": "EFFICIENCY", "score": d.get("efficiency")},
                             {"indicator": "QUALITY", "score": d.get("quality")}]
    return out


def convert(dataset: str, record: dict[str, Any], from_version: str, to_version: str) -> dict[str, Any]:
    if from_version == to_version:
        return copy.deepcopy(record)
    if (from_version, to_version) == (V11, V10):
        return downgrade(dataset, record)
    if (from_version, to_version) == (V10, V11):
        return upgrade(dataset, record)
    raise ValueError(f"no Annex E mapping from {from_version} to {to_version}")


def carry_forward(dataset: str, incoming: dict[str, Any], stored: dict[str, Any] | None) -> dict[str, Any]:
    """Annex E.3 (TBS-SYNC-015 (e)) for a record that arrived in TBS-1.0, whatever the stored
    record's received version; ``stored`` is the stored current record of the same key."""
    out = copy.deepcopy(incoming)
    if not stored:
        return out
    if dataset == "catalog":
        for member in ("crossRegionScope", "accessibility"):
            if member in stored and member not in out:
                out[member] = copy.deepcopy(stored[member])
    elif dataset == "case":
        for place in ("applicant", "agent"):
            mine, theirs = out.get(place), stored.get(place)
            if (isinstance(mine, dict) and isinstance(theirs, dict) and theirs.get("idType") == "HMTRP"
                    and mine.get("idType") == "990" and mine.get("idNo") == theirs.get("idNo")):
                mine["idType"] = "HMTRP"
    return out


def identical_content(dataset: str, incoming: dict[str, Any], incoming_version: str,
                      stored: dict[str, Any], stored_version: str) -> bool:
    """TBS-ENV-012 (TBS-1.1): byte-equal canonical forms once both are written in the incoming
    record's version, ``channel`` is read as ``applyChannel``, and the incoming record (when it
    is TBS-1.0) has the members E.3 carries forward. A stored record with no form in the
    incoming version differs from every incoming record."""
    try:
        theirs = convert(dataset, stored, stored_version, incoming_version)
    except NotRepresentable:
        return False
    mine = copy.deepcopy(incoming)
    if incoming_version == V10:
        # E.3 restores what TBS-1.0 cannot say (HMTRP from 990, crossRegionScope, ...) from the
        # stored record as received, so a TBS-1.0 resend of a TBS-1.1 record is a DUPLICATE.
        mine = carry_forward(dataset, mine, stored)
        theirs = carry_forward(dataset, theirs, stored)
    if dataset == "case":
        mine, theirs = (_renamed(r, "channel", "applyChannel") if "applyChannel" not in r else r
                        for r in (mine, theirs))
    return canonical_bytes(mine) == canonical_bytes(theirs)
