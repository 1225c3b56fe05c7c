"""The near-duplicate name check scores only the pairs of names that can reach the threshold;
its findings must equal those of comparing every (itemCode, name) entry with every other,
which this test computes itself the slow way."""
from __future__ import annotations

import random

import pytest
from rapidfuzz import fuzz, process, utils

from tongban.monitoring.consistency import NEAR_DUPLICATE_THRESHOLD, near_duplicates

HANZI = "许可证登记备案核发变更注销审批申请经营食品药品卫生公共场所建筑工程施工城市垃圾处置养老保险参保失业保险金最低生活保障认定结婚内地居民户口迁移出生医疗机构执业道路运输危险化学品特种设备"
ASCII = "abcdefghijklmnopqrstuvwxyz"


def all_pairs(records: list[dict], threshold: float) -> list[tuple[tuple[str, str], tuple[str, str], float, list[str]]]:
    """Every entry against every other: the definition of the check."""
    impls = sorted({(r["itemCode"], r["implCode"], r["name"]) for r in records})
    entries = sorted({(code, name) for code, _impl, name in impls})
    best: dict[tuple[str, str], tuple[float, tuple[str, str]]] = {}
    for i, (code_a, name_a) in enumerate(entries):
        for j, (code_b, name_b) in enumerate(entries):
            if code_a >= code_b:
                continue
            score = fuzz.ratio(utils.default_process(name_a), utils.default_process(name_b))
            if score < threshold:
                continue
            # the best score per code pair; ties: the first name of the lower code, then of the higher
            if (code_a, code_b) not in best or score > best[(code_a, code_b)][0]:
                best[(code_a, code_b)] = (score, (name_a, name_b))
    return [((a, b), pair, round(score, 1), [impl for code, impl, _n in impls if code in (a, b)])
            for (a, b), (score, pair) in sorted(best.items(), key=lambda kv: (-kv[1][0], kv[0]))]


def generated_catalog(rng: random.Random, n_codes: int) -> list[dict]:
    """Item names of several alphabets and lengths, with planted near and exact duplicates,
    several names per code, case and punctuation variants and names that process to nothing."""
    records = []
    made: list[str] = []

    def fresh() -> str:
        alphabet = HANZI if rng.random() < 0.7 else ASCII + " "
        return "".join(rng.choice(alphabet) for _ in range(rng.choice((1, 2, 3, 5, 8, 12, 16, 24, 40))))

    def variant(name: str) -> str:
        chars = list(name)
        for _ in range(rng.choice((0, 1, 1, 2, 3))):
            op = rng.random()
            pos = rng.randrange(len(chars) + 1)
            if op < 0.4 and chars:
                chars.pop(min(pos, len(chars) - 1))
            elif op < 0.7:
                chars.insert(pos, rng.choice(HANZI))
            elif chars:
                chars[min(pos, len(chars) - 1)] = rng.choice(HANZI)
        out = "".join(chars)
        roll = rng.random()
        if roll < 0.1:
            out = out.upper()
        elif roll < 0.2:
            out = f"（{out}）"
        elif roll < 0.25:
            out = out + "!"
        return out

    for k in range(n_codes):
        code = f"{rng.randrange(10**11, 10**12)}"
        for m in range(rng.choice((1, 1, 1, 2, 3))):
            roll = rng.random()
            if roll < 0.03:
                name = rng.choice(("", "!!", " - ", "（）"))        # nothing left after processing
            elif made and roll < 0.15:
                name = rng.choice(made)                              # the same name under another code
            elif made and roll < 0.55:
                name = variant(rng.choice(made))                     # a near duplicate, or not quite
            else:
                name = fresh()
            made.append(name)
            records.append({"implCode": f"{code}-{k}-{m}", "itemCode": code, "name": name, "version": 1,
                            "regionCode": "370000", "status": "ACTIVE"})
    return records


@pytest.mark.parametrize("seed,threshold", [(1, NEAR_DUPLICATE_THRESHOLD), (2, NEAR_DUPLICATE_THRESHOLD),
                                            (3, 70.0), (4, 95.0), (5, 100.0)])
def test_pruned_check_equals_all_pairs(seed, threshold):
    records = generated_catalog(random.Random(seed), 1500)
    expected = all_pairs(records, threshold)
    found = near_duplicates({"store": records}, threshold=threshold)
    got = [(n.item_codes, n.names, n.score, [i.impl_code for i in n.implementations]) for n in found]
    assert len(expected) > 50            # the generator plants enough to compare
    assert got == expected


def test_all_pairs_definition_matches_the_former_extract_loop():
    """The brute force above is the check as it was written before pruning (process.extract over
    every name), so the comparison is with the old definition, tie order included."""
    records = generated_catalog(random.Random(9), 400)
    entries = sorted({(r["itemCode"], r["name"]) for r in records})
    names = [n for _, n in entries]
    best: dict[tuple[str, str], tuple[float, tuple[str, str]]] = {}
    for i, (code_a, name_a) in enumerate(entries):
        for _name, score, j in process.extract(name_a, names, scorer=fuzz.ratio, processor=utils.default_process,
                                               score_cutoff=NEAR_DUPLICATE_THRESHOLD, limit=None):
            code_b, name_b = entries[j]
            if code_a >= code_b:
                continue
            if (code_a, code_b) not in best or score > best[(code_a, code_b)][0]:
                best[(code_a, code_b)] = (float(score), (name_a, name_b))
    old = [((a, b), pair, round(score, 1)) for (a, b), (score, pair) in
           sorted(best.items(), key=lambda kv: (-kv[1][0], kv[0]))]
    assert old and old == [row[:3] for row in all_pairs(records, NEAR_DUPLICATE_THRESHOLD)]
