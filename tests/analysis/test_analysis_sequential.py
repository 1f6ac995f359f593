"""The until-clear rule and its corrected intervals, on simulated ablations with a known truth.

Each simulated ablation is a cfn-fusion-like preset: a reference and three levels whose true
effects are 0, +2 and −2 points, seed sd 1.3 points (the preset budget's, issue 18), 3 seeds per
design in round 1 and 3 more a round up to 12 (four looks).  The rule is run exactly as
``ablate --until-clear`` runs it (``trials.running.until_clear``'s schedule and allocation, the analysis'
``look_rows`` and ``judge``, the real effect model), once with the intervals corrected for the four
looks (Bonferroni, 1 − 0.05/4) and once with plain 95 % intervals, both deciding and reporting
with their own intervals.  The corrected intervals must cover the truth in ≥ 93 % of contrasts.
"""

from __future__ import annotations

import numpy as np
import pytest

from analysis.load import TrialRow
from analysis.sequential import (
    EFFECT_DOWN,
    EFFECT_UP,
    EQUIVALENT,
    NEEDS_DESIGNS,
    UNRESOLVED,
    corrected_confidence,
    judge,
    look_rows,
    resolution,
    seeds_to_resolve,
)
from trials import record
from trials.running.until_clear import DEFAULT_MARGIN, next_allocation, schedule, seeds_at

LEVELS = ("none", "sum", "conv", "lc")
TRUTH = {"none": 0.0, "sum": 0.0, "conv": 2.0, "lc": -2.0}
SPACE = {"fusion": list(LEVELS)}
SEED_SD = 1.3
N_ABLATIONS = 150


def simulate(rng: np.random.Generator, corrected: bool, looks: list[int]) -> list[tuple[str, float, float, str, int]]:
    """One ablation under the rule: per contrast (level, low, high, status, seeds of the level)."""
    # every seed a design could get, drawn up front: seed j of a design is the same number whenever it is trained
    draws = {lv: 80.0 + TRUTH[lv] + rng.normal(0.0, SEED_SD, looks[-1]) for lv in LEVELS}
    allocations = [{lv: list(range(looks[0])) for lv in LEVELS}]
    k = len(looks) if corrected else 1
    rows: list[TrialRow] = []
    for look in range(1, len(looks) + 1):
        for lv, seeds in allocations[look - 1].items():
            rows.append(TrialRow(len(rows), "COMPLETE", {"fusion": lv}, {},
                                 {record.SPEC_KEY: lv, record.SEEDS: seeds,
                                  record.ACCURACY_REPLICATES: [draws[lv][s] / 100 for s in seeds]}))
        verdict = judge(look_rows(rows, seeds_at(allocations, look)), SPACE, DEFAULT_MARGIN, k, look)
        if look == len(looks):
            break
        nxt = next_allocation(seeds_at(allocations, look), verdict.designs_needing_seeds, looks[look], 0)
        if not nxt:
            break
        allocations.append(nxt)
    return [(c.level, c.contrast.ci_low, c.contrast.ci_high, c.status, c.seeds[c.level]) for c in verdict.contrasts]


def coverage(corrected: bool) -> dict[str, float]:
    rng = np.random.default_rng(20261202)
    looks = schedule(3, 12)
    hits: dict[str, list[bool]] = {}
    seeds: list[int] = []
    resolved: list[bool] = []
    for _ in range(N_ABLATIONS):
        for level, low, high, status, n in simulate(rng, corrected, looks):
            hits.setdefault(level, []).append(low <= TRUTH[level] <= high)
            seeds.append(n)
            resolved.append(status != UNRESOLVED)
            assert n <= looks[-1]
    out = {level: float(np.mean(h)) for level, h in hits.items()}
    out["resolved"] = float(np.mean(resolved))
    out["all"] = float(np.mean([x for h in hits.values() for x in h]))
    out["mean_seeds"] = float(np.mean(seeds))
    return out


def test_corrected_intervals_cover_the_truth_under_the_stopping_rule_and_plain_ones_fall_short() -> None:
    fixed = coverage(corrected=True)
    plain = coverage(corrected=False)
    print(f"corrected: {fixed}\nuncorrected: {plain}")
    assert fixed["all"] >= 0.93 and min(fixed[lv] for lv in ("sum", "conv", "lc")) >= 0.93, fixed
    # the uncorrected 95 % interval under the same rule: a null effect stopped as soon as it looks
    # like one falls below its nominal level
    assert plain["sum"] < 0.95 and plain["all"] < fixed["all"], plain


def test_resolution_reads_the_interval_against_zero_and_the_margin() -> None:
    assert resolution(0.1, 3.0, 2.0) == EFFECT_UP
    assert resolution(-3.0, -0.1, 2.0) == EFFECT_DOWN
    assert resolution(-1.5, 1.9, 2.0) == EQUIVALENT
    assert resolution(-1.5, 2.1, 2.0) == UNRESOLVED
    assert resolution(None, None, 2.0) == UNRESOLVED
    assert corrected_confidence(4) == pytest.approx(1 - 0.05 / 4)


def test_seeds_to_resolve_takes_the_cheaper_of_significance_and_equivalence() -> None:
    conf = corrected_confidence(4)
    big = seeds_to_resolve(3.0, 1.3, 2.0, conf)
    assert big is not None and big <= seeds_to_resolve(1.5, 1.3, 2.0, conf)
    # a null effect can only be resolved as equivalent: seeds for the interval to fit inside ±2
    assert seeds_to_resolve(0.0, 1.3, 2.0, conf) is not None
    assert seeds_to_resolve(0.0, 1.3, 2.0, conf) < seeds_to_resolve(0.0, 1.3, 1.0, conf)


def _row(number: int, params: dict, key: str, seeds: list[int], accuracies: list[float]) -> TrialRow:
    return TrialRow(number, "COMPLETE", params, {}, {record.SPEC_KEY: key, record.SEEDS: seeds,
                                                      record.ACCURACY_REPLICATES: accuracies})


def test_only_the_unresolved_contrasts_designs_get_seeds_and_a_look_sees_only_its_seeds() -> None:
    rows = [_row(0, {"fusion": "none"}, "n", [0, 1, 2], [0.800, 0.801, 0.799]),
            _row(1, {"fusion": "sum"}, "s", [0, 1, 2], [0.900, 0.901, 0.899]),  # +10 points: clear
            _row(2, {"fusion": "lc"}, "l", [0, 1, 2], [0.78, 0.83, 0.80]),  # noisy: unresolved
            _row(3, {"fusion": "lc"}, "l", [3, 4, 5], [0.79, 0.81, 0.80])]
    first = judge(look_rows(rows, {"n": [0, 1, 2], "s": [0, 1, 2], "l": [0, 1, 2]}), SPACE, 2.0, 4)
    status = {c.level: c.status for c in first.contrasts}
    # conv never completed: seeds for the reference alone would not help it
    assert status == {"sum": EFFECT_UP, "conv": NEEDS_DESIGNS, "lc": UNRESOLVED}
    lc = next(c for c in first.contrasts if c.level == "lc")
    assert first.designs_needing_seeds == {"n", "l"} and lc.seeds == {"n": 3, "l": 3}
    later = judge(look_rows(rows, {"n": [0, 1, 2], "s": [0, 1, 2], "l": list(range(6))}), SPACE, 2.0, 4)
    assert next(c for c in later.contrasts if c.level == "lc").seeds == {"n": 3, "l": 6}


def test_a_contrast_that_needs_designs_gets_no_seeds() -> None:
    """Two factors over three designs: the model has nothing to measure its error with; seeds cannot help."""
    rows = [_row(0, {"fusion": "none", "width": 8}, "a", [0, 1], [0.80, 0.81]),
            _row(1, {"fusion": "lc", "width": 8}, "b", [0, 1], [0.79, 0.80]),
            _row(2, {"fusion": "none", "width": 16}, "c", [0, 1], [0.82, 0.83])]
    look = judge(rows, {"fusion": ["none", "lc"], "width": [8, 16]}, 2.0, 4)
    assert look.contrasts and all(c.status == NEEDS_DESIGNS for c in look.contrasts)
    assert look.designs_needing_seeds == frozenset()
