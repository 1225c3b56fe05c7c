"""Consistency reports over the service catalog: "two skins", "one item, many names" and
near-duplicate names.

The input is always **records per source system**: a mapping from a source label (a system
id, or ``"store"`` for the province's own store) to ServiceItem records (any versions; the
highest version per implCode counts, TBS-SYNC-002). The same functions therefore work on the
store (:func:`store_sources`), on a partner's changes feed (:func:`feed_records`) and on
fixtures.

* **Two skins (两张皮)**: the same implCode with different content in different systems or
  levels — for example the province's stored record (written by the implementing county) and
  the copy a city relays for that county. Compared field by field in canonical form
  (TBS-ENV-012); with equal versions every member counts, with different versions
  ``version`` and ``updatedAt`` are left out (a newer version is expected to differ there).
* **One item, many names (一事多名)**: implementation items of the same basic ``itemCode``
  named differently across regions. ``name`` is a basic field owned by the province
  (TBS-SYNC-009), so every implementation should carry the basic name.
* **Near-duplicate names (一事多码)**: different basic codes whose names are nearly the same,
  scored with rapidfuzz's normalized Indel similarity (``fuzz.ratio``) on the names.
"""
from __future__ import annotations

import json
import math
from bisect import bisect_left
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Iterable, Iterator, Mapping

from rapidfuzz import fuzz, process, utils
from sqlalchemy import select

from tongban.model.canonical import canonical_bytes
from tongban.store.schema import CatalogItemVersion, QuarantineEntry
from tongban.store.store import Store

Sources = Mapping[str, Iterable[dict[str, Any]]]
STORE = "store"
NEAR_DUPLICATE_THRESHOLD = 85.0
# Quarantined catalog records that another source sent for an item the store already holds
# with different content: same-version conflict and field-authority violations.
CONFLICT_RULES = ("TBS-SYNC-005", "TBS-SYNC-009")


def _canon(value: Any) -> str:
    return canonical_bytes(value).decode("utf-8")


def latest_by_impl(records: Iterable[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Highest version per implCode (records without both members are skipped)."""
    out: dict[str, dict[str, Any]] = {}
    for r in records:
        if not isinstance(r, dict) or not isinstance(r.get("implCode"), str) or not isinstance(r.get("version"), int):
            continue
        if r["implCode"] not in out or r["version"] > out[r["implCode"]]["version"]:
            out[r["implCode"]] = r
    return out


def diff_paths(a: Any, b: Any, path: str = "") -> list[str]:
    """JSON Pointers (RFC 6901) where ``a`` and ``b`` differ; lists of different length differ as a whole."""
    if isinstance(a, dict) and isinstance(b, dict):
        out: list[str] = []
        for k in sorted(set(a) | set(b)):
            p = f"{path}/{k.replace('~', '~0').replace('/', '~1')}"
            if k not in a or k not in b:
                out.append(p)
            else:
                out += diff_paths(a[k], b[k], p)
        return out
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [p for i, (x, y) in enumerate(zip(a, b)) for p in diff_paths(x, y, f"{path}/{i}")]
    return [] if _canon(a) == _canon(b) else [path or "/"]


# -------------------------------------------------------------------------------- two skins
@dataclass
class TwoSkins:
    """One implCode whose content differs between sources."""

    impl_code: str
    item_code: str
    name: str
    kind: str                       # "content": same version, different content; "version": versions differ too
    versions: dict[str, int]        # source → version it holds
    fields: list[str]               # differing top-level members
    paths: list[str]                # differing JSON Pointers
    values: dict[str, dict[str, Any]] = field(default_factory=dict)  # member → source → value (absent omitted)


@dataclass
class TwoSkinsReport:
    compared: int                   # implCodes held by at least two sources
    findings: list[TwoSkins]

    @property
    def count(self) -> int:
        return len(self.findings)

    def by_field(self) -> dict[str, int]:
        return dict(Counter(f for s in self.findings for f in s.fields))


def two_skins(sources: Sources) -> TwoSkinsReport:
    """Compare every implCode held by two or more sources, field by field."""
    latest = {label: latest_by_impl(records) for label, records in sources.items()}
    impls = sorted({impl for by_impl in latest.values() for impl in by_impl})
    findings: list[TwoSkins] = []
    compared = 0
    for impl in impls:
        held = {label: by_impl[impl] for label, by_impl in latest.items() if impl in by_impl}
        if len(held) < 2:
            continue
        compared += 1
        same_version = len({r["version"] for r in held.values()}) == 1
        ignore = set() if same_version else {"version", "updatedAt"}
        views = {label: {k: v for k, v in r.items() if k not in ignore} for label, r in held.items()}
        if len({_canon(v) for v in views.values()}) == 1:
            continue
        labels = list(views)
        paths: set[str] = set()
        for other in labels[1:]:
            paths |= set(diff_paths(views[labels[0]], views[other]))
            for third in labels[1:]:
                if third != other:
                    paths |= set(diff_paths(views[other], views[third]))
        fields = sorted({p.split("/")[1] for p in paths if p != "/"})
        values = {f: {label: views[label][f] for label in labels if f in views[label]} for f in fields}
        first = held[labels[0]]
        findings.append(TwoSkins(impl, first.get("itemCode", ""), first.get("name", ""),
                                 "content" if same_version else "version",
                                 {label: r["version"] for label, r in held.items()}, fields, sorted(paths), values))
    return TwoSkinsReport(compared, findings)


# ------------------------------------------------------------------------------- many names
@dataclass
class Implementation:
    source: str
    impl_code: str
    item_code: str
    region_code: str
    name: str


@dataclass
class ManyNames:
    item_code: str
    majority_name: str
    names: list[str]
    implementations: list[Implementation]

    @property
    def variants(self) -> list[Implementation]:
        return [i for i in self.implementations if i.name != self.majority_name]


def _implementations(sources: Sources) -> list[Implementation]:
    """Current, non-revoked implementation items, one per implCode (first source wins)."""
    seen: dict[str, Implementation] = {}
    for label, records in sources.items():
        for impl, r in latest_by_impl(records).items():
            if impl in seen or r.get("status") == "REVOKED":   # a tombstone names nothing any more
                continue
            seen[impl] = Implementation(label, impl, r.get("itemCode", ""), r.get("regionCode", ""), r.get("name", ""))
    return sorted(seen.values(), key=lambda i: (i.item_code, i.source, i.impl_code))


def many_names(sources: Sources) -> list[ManyNames]:
    """Basic itemCodes whose implementations carry more than one name."""
    by_code: dict[str, list[Implementation]] = defaultdict(list)
    for impl in _implementations(sources):
        by_code[impl.item_code].append(impl)
    out = []
    for code, impls in sorted(by_code.items()):
        names = Counter(i.name for i in impls)
        if len(names) < 2:
            continue
        # the most used name; ties go to the name of a province-level implementation, then code-point order
        province_names = {i.name for i in impls if i.region_code[2:] == "0000"}
        majority = sorted(names, key=lambda n: (-names[n], n not in province_names, n))[0]
        out.append(ManyNames(code, majority, sorted(names), impls))
    return out


# -------------------------------------------------------------------------- near duplicates
@dataclass
class NearDuplicate:
    item_codes: tuple[str, str]
    names: tuple[str, str]
    score: float
    implementations: list[Implementation]


def near_duplicates(sources: Sources, *, threshold: float = NEAR_DUPLICATE_THRESHOLD) -> list[NearDuplicate]:
    """Pairs of different basic codes with a name similarity ≥ ``threshold`` (0–100).

    Defined over every pair of (itemCode, name) entries: the names are compared after
    ``utils.default_process`` with ``fuzz.ratio``; per pair of codes the best-scoring pair of
    names counts (ties: the code-point-first name of the lower code, then of the higher). Only
    pairs that can reach ``threshold`` are scored (:func:`_similar_pairs`), with the same result.
    """
    impls = _implementations(sources)
    entries = sorted({(i.item_code, i.name) for i in impls})
    if len(entries) < 2:
        return []
    # entries whose processed names are equal are one text
    by_text: dict[str, list[int]] = defaultdict(list)
    for n, (_code, name) in enumerate(entries):
        by_text[utils.default_process(name)].append(n)
    texts = list(by_text)
    groups = [by_text[t] for t in texts]
    best: dict[tuple[str, str], tuple[float, str, str]] = {}

    def offer(i: int, j: int, score: float) -> None:
        (code_a, name_a), (code_b, name_b) = entries[i], entries[j]
        if code_a == code_b:
            return
        if code_a > code_b:
            code_a, name_a, code_b, name_b = code_b, name_b, code_a, name_a
        held = best.get((code_a, code_b))
        if held is None or (-score, name_a, name_b) < (-held[0], held[1], held[2]):
            best[(code_a, code_b)] = (score, name_a, name_b)

    for t, members in enumerate(groups):
        if len(members) > 1:
            same = fuzz.ratio(texts[t], texts[t], score_cutoff=threshold)   # 100, or 0 below an empty text's cutoff
            if same >= threshold:
                for x in range(len(members)):
                    for y in range(x + 1, len(members)):
                        offer(members[x], members[y], float(same))
    for t, u, score in _similar_pairs(texts, threshold):
        for i in groups[t]:
            for j in groups[u]:
                offer(i, j, score)
    by_code: dict[str, list[Implementation]] = defaultdict(list)
    for impl in impls:   # impls are ordered by itemCode: a pair's members are the lower code's, then the higher's
        by_code[impl.item_code].append(impl)
    out = []
    for (a, b), (score, name_a, name_b) in sorted(best.items(), key=lambda kv: (-kv[1][0], kv[0])):
        out.append(NearDuplicate((a, b), (name_a, name_b), round(score, 1), by_code[a] + by_code[b]))
    return out


def _similar_pairs(texts: list[str], threshold: float) -> Iterator[tuple[int, int, float]]:
    """Index pairs ``(i, j)``, ``i < j``, of distinct ``texts`` whose ``fuzz.ratio`` is ≥
    ``threshold``, with that score — the same pairs as comparing every text with every other,
    without doing so.

    ``fuzz.ratio`` is ``200·LCS / (la + lb)``. A pair reaching ``threshold`` = T therefore has
    (1) lengths within a factor T / (200 − T) of each other (LCS ≤ the shorter length) and
    (2) at least ``la·T / (200 − T)`` characters in common, counted with multiplicity (LCS ≤
    that overlap). (2) is used as a prefix filter: each text's characters — the k-th occurrence
    of a character being its own token — are ordered rarest first; two texts whose overlap is
    at least t share a token among the first ``len − t + 1`` of each, so only texts sharing
    such a token are scored, with ``fuzz.ratio`` itself. The bounds are computed in exact
    fractions, so no pair is lost to rounding.
    """
    if threshold <= 0:   # every pair qualifies: nothing to prune
        for i in range(len(texts)):
            for j in range(i + 1, len(texts)):
                yield i, j, float(fuzz.ratio(texts[i], texts[j]))
        return
    cutoff = Fraction(min(threshold, 100.0))   # exact: the bounds below are integer thresholds
    factor = cutoff / (200 - cutoff)           # (1) and (2): 0.739… at 85
    # ranks: texts in length order, so a rank's shorter partners are exactly the lower ranks
    order = sorted(range(len(texts)), key=lambda i: (len(texts[i]), i))
    ranked = [texts[i] for i in order]
    first_of_length: dict[int, int] = {}
    for r, text in enumerate(ranked):
        first_of_length.setdefault(len(text), r)
    tokens: list[list[tuple[str, int]]] = []
    frequency: Counter[tuple[str, int]] = Counter()
    for text in ranked:
        seen: Counter[str] = Counter()
        own = []
        for ch in text:
            own.append((ch, seen[ch]))
            seen[ch] += 1
        tokens.append(own)
        frequency.update(own)
    # prefix token → ranks indexed so far (ascending) and their texts, side by side
    index: dict[tuple[str, int], tuple[list[int], list[str]]] = defaultdict(lambda: ([], []))
    for r, text in enumerate(ranked):
        length = len(text)
        if length == 0:   # the texts are distinct: no other one is empty too, and "" is 0 against the rest
            continue
        required = math.ceil(length * factor)        # overlap with any partner, at least
        prefix = sorted(tokens[r], key=lambda t: (frequency[t], t))[:length - required + 1]
        shortest = math.ceil(length * factor)        # the shortest possible partner
        lowest = next((first_of_length[n] for n in range(shortest, length + 1) if n in first_of_length), r)
        candidates: dict[int, str] = {}
        for token in prefix:
            ranks, their_texts = index[token]
            start = bisect_left(ranks, lowest)
            candidates.update(zip(ranks[start:], their_texts[start:]))
        if candidates:
            for _text, score, c in process.extract(text, candidates, scorer=fuzz.ratio, score_cutoff=threshold,
                                                   limit=None):
                a, b = order[c], order[r]
                yield (a, b, float(score)) if a < b else (b, a, float(score))
        for token in prefix:
            ranks, their_texts = index[token]
            ranks.append(r)
            their_texts.append(text)


# --------------------------------------------------------------------------------- sources
def store_catalog(store: Store) -> list[dict[str, Any]]:
    """The current ServiceItem version per implCode held by the store."""
    with store.reading() as s:
        return [json.loads(c) for c in s.execute(
            select(CatalogItemVersion.content).where(CatalogItemVersion.is_current.is_(True))
            .order_by(CatalogItemVersion.impl_code)).scalars()]


def quarantined_catalog(store: Store, rule_ids: Iterable[str] = CONFLICT_RULES) -> dict[str, list[dict[str, Any]]]:
    """Open quarantined catalog records rejected as conflicting with the stored item, per partner."""
    wanted = set(rule_ids)
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    with store.reading() as s:
        for partner, raw, rules in s.execute(select(QuarantineEntry.partner_id, QuarantineEntry.raw,
                                                    QuarantineEntry.rule_ids)
                                             .where(QuarantineEntry.dataset == "catalog",
                                                    QuarantineEntry.status == "OPEN")):
            if wanted & set((rules or "").split()):
                try:
                    record = json.loads(raw)
                except ValueError:
                    continue
                if isinstance(record, dict):
                    out[partner].append(record)
    return dict(out)


def store_sources(store: Store, *, label: str = STORE) -> dict[str, list[dict[str, Any]]]:
    """The store's current catalog (under ``label``) plus, per partner, the catalog records it
    sent that were quarantined as conflicts: what each source says about an item."""
    return {label: store_catalog(store), **quarantined_catalog(store)}


def feed_records(registry: Any, partner_id: str, dataset: str = "catalog", *,
                 max_pages: int = 10_000) -> list[dict[str, Any]]:
    """Every record a partner's changes feed serves now, read from the start (nothing is stored)."""
    from tongban.sync.connect import open_connector

    partner = registry.get(partner_id)
    connector = open_connector(partner, registry.bus.system_id)
    records: list[dict[str, Any]] = []
    cursor = None
    try:
        for _ in range(max_pages):
            page = connector.fetch_changes(dataset, cursor, partner.page_size)
            records += [r for r in page.records if isinstance(r, dict)]
            cursor = page.next_cursor
            if not page.has_more or not page.records:
                break
    finally:
        connector.close()
    return records


# ---------------------------------------------------------------------------------- report
@dataclass
class ConsistencyReport:
    two_skins: TwoSkinsReport
    many_names: list[ManyNames]
    near_duplicates: list[NearDuplicate]
    sources: list[str]

    def as_dict(self) -> dict[str, Any]:
        def impl_dict(i: Implementation) -> dict[str, Any]:
            return {"source": i.source, "implCode": i.impl_code, "itemCode": i.item_code, "regionCode": i.region_code,
                    "name": i.name}

        return {
            "sources": self.sources,
            "twoSkins": {"compared": self.two_skins.compared, "count": self.two_skins.count,
                         "byField": self.two_skins.by_field(),
                         "findings": [{"implCode": f.impl_code, "itemCode": f.item_code, "name": f.name,
                                       "kind": f.kind, "versions": f.versions, "fields": f.fields, "paths": f.paths,
                                       "values": f.values} for f in self.two_skins.findings]},
            "manyNames": {"count": len(self.many_names), "findings": [
                {"itemCode": m.item_code, "majorityName": m.majority_name, "names": m.names,
                 "implementations": [impl_dict(i) for i in m.implementations]} for m in self.many_names]},
            "nearDuplicates": {"count": len(self.near_duplicates), "threshold": NEAR_DUPLICATE_THRESHOLD, "findings": [
                {"itemCodes": list(n.item_codes), "names": list(n.names), "score": n.score,
                 "implementations": [impl_dict(i) for i in n.implementations]} for n in self.near_duplicates]},
        }


def consistency_report(sources: Sources, *, threshold: float = NEAR_DUPLICATE_THRESHOLD) -> ConsistencyReport:
    materialized = {label: list(records) for label, records in sources.items()}
    return ConsistencyReport(two_skins(materialized), many_names(materialized),
                             near_duplicates(materialized, threshold=threshold), sorted(materialized))
