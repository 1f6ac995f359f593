"""Effects from any study: honest intervals on synthetic studies with a known truth.

Each study is written into a real (in-memory) Optuna storage the way the search records trials
and read back through ``analysis.load.trial_rows``; the fits run on numpy-sized data.
"""

from __future__ import annotations

import numpy as np
import pytest
from statsmodels.stats.multitest import multipletests

from analysis.effects import SATURATED_METHOD, fit_effects, holm, study_levels
from analysis.load import trial_rows
from analysis.settled import NOT_SETTLED, final_observations, study_effects
from tests.analysis.synthetic_effects import LATE_FLIP, TRUTH, add_trial, learning_curve_study, new_study, random_search_study


def _coverage(studies: int, errors: str, **kwargs) -> tuple[float, float, int]:
    """Share of 95% intervals that cover the truth, share of studies calling width significant."""
    rng = np.random.default_rng(11)
    covered, null_significant, unestimable = [], 0, 0
    for _ in range(studies):
        observations = final_observations(trial_rows(random_search_study(rng, **kwargs)))
        levels, references, _ = study_levels(observations, {"fusion": ["none", "sum", "lc"], "width": [16, 32],
                                                            "strategy": ["eflp", "eplf"]})
        fit = fit_effects(observations, levels, references, errors=errors)
        for factor, truth in TRUTH.items():
            for level, value in truth.items():
                contrast = fit.contrasts[factor][level]
                if contrast.estimate is None:
                    unestimable += 1
                    continue
                covered.append(contrast.ci_low <= value <= contrast.ci_high)
        null_significant += fit.contrasts["width"]["32"].significant
    return float(np.mean(covered)), null_significant / studies, unestimable


def test_intervals_cover_the_truth_at_the_nominal_rate_and_a_null_factor_is_rarely_significant():
    coverage, false_positive, unestimable = _coverage(200, errors="design")
    assert unestimable == 0
    assert 0.90 <= coverage <= 0.98
    assert false_positive <= 0.09  # nominal 5%; 200 studies give a binomial sd of 1.5 points


def test_seeds_sharing_a_design_effect_undercover_naively_but_not_by_design():
    # The design's own deviation dominates the seed noise: three seeds are not three designs.
    shared = dict(sd_design=1.0, sd_seed=0.2, trials=24, seeds=4)
    naive, _, _ = _coverage(60, errors="naive", **shared)
    by_design, _, _ = _coverage(60, errors="design", **shared)
    assert naive < 0.80
    assert 0.90 <= by_design <= 0.98


def test_confounded_and_unobserved_levels_are_not_estimable_with_a_reason():
    rng = np.random.default_rng(3)

    def confounded(rng):  # EPLF only ever with LC, LC only ever with EPLF: the two cannot be told apart
        params = {"fusion": str(rng.choice(["none", "sum", "lc"])), "width": int(rng.choice([16, 32]))}
        if params["fusion"] != "none":
            params["strategy"] = "eplf" if params["fusion"] == "lc" else "eflp"
        return params

    rows = trial_rows(random_search_study(rng, trials=40, draw=confounded))
    effects = study_effects(rows, {"fusion": ["none", "sum", "lc", "conv"], "width": [16, 32],
                                   "strategy": ["eflp", "eplf"]})
    fusion = {level.level: level for level in effects.factor("fusion").levels}
    eplf = next(level for level in effects.factor("strategy").levels if level.level == "eplf")
    assert fusion["lc"].contrast.estimate is None and "confounded with" in fusion["lc"].contrast.reason
    assert "strategy=eplf" in fusion["lc"].contrast.reason
    assert eplf.contrast.estimate is None and "fusion=lc" in eplf.contrast.reason
    assert fusion["conv"].contrast.estimate is None
    assert fusion["conv"].contrast.reason == "never observed among complete trials"
    assert fusion["sum"].contrast.estimate is not None  # the rest of the design still answers


def test_too_few_designs_is_said_not_computed():
    study = new_study()  # three designs, one seed each, three coefficients: nothing left to measure error
    add_trial(study, {"fusion": "none", "width": 16}, [0.80])
    add_trial(study, {"fusion": "sum", "width": 16}, [0.81])
    add_trial(study, {"fusion": "none", "width": 32}, [0.82])
    effects = study_effects(trial_rows(study), {"fusion": ["none", "sum"], "width": [16, 32]})
    contrasts = [lvl.contrast for f in effects.factors for lvl in f.levels if lvl.contrast is not None]
    assert contrasts and all(c.estimate is None for c in contrasts)
    assert any("too few designs" in c.reason for c in contrasts)


def test_nested_param_is_estimated_among_the_designs_that_have_it():
    rng = np.random.default_rng(8)
    rows = trial_rows(random_search_study(rng, trials=60, sd_seed=0.1, sd_design=0.1))
    effects = study_effects(rows, None)
    eplf = next(level for level in effects.factor("strategy").levels if level.level == "eplf")
    assert eplf.contrast.estimate == pytest.approx(0.8, abs=0.2)
    assert effects.factor("fusion").reference == "none"


def test_holm_matches_statsmodels():
    p = [0.01, 0.04, 0.03, 0.5, 0.002]
    assert holm(p) == pytest.approx(list(multipletests(p, method="holm")[1]))


def test_an_effect_that_flips_sign_late_is_not_settled_and_a_stable_one_is():
    rng = np.random.default_rng(2)
    # The sign flips in the last quarter.  (This test's flip was a steady rise from -4 to +4; under the
    # late-change rule its last-quarter move, +1.8 points, is within the margin of "settled".)
    flipping = study_effects(trial_rows(learning_curve_study(rng, LATE_FLIP)))
    stable = study_effects(trial_rows(learning_curve_study(rng, [3.0] * 10)))
    flip_lc = next(level for level in flipping.factor("fusion").levels if level.level == "lc")
    stable_lc = next(level for level in stable.factor("fusion").levels if level.level == "lc")
    assert flipping.epochs == stable.epochs == 10
    assert [e.epoch for e in flip_lc.by_epoch] == list(range(1, 11))
    assert flip_lc.by_epoch[0].contrast.estimate < 0 < flip_lc.by_epoch[-1].contrast.estimate
    assert flip_lc.settled is False and flip_lc.settled_note.startswith(NOT_SETTLED)
    assert stable_lc.settled is True and "positive" in stable_lc.settled_note
    assert stable_lc.contrast.ci_low <= 3.0 <= stable_lc.contrast.ci_high


def test_a_one_factor_grid_uses_the_seeds_as_its_error():
    """A preset: every design its own coefficient, replicates per design; the effect is still estimated."""
    rng = np.random.default_rng(4)
    study = new_study()
    for fusion, effect in (("none", 0.0), ("sum", 1.5), ("lc", -1.0)):
        add_trial(study, {"fusion": fusion, "width": 16}, list((80 + effect + rng.normal(0, 0.3, 3)) / 100))
    effects = study_effects(trial_rows(study), {"fusion": ["none", "sum", "lc"]})
    assert effects.method == SATURATED_METHOD
    levels = {level.level: level.contrast for level in effects.factor("fusion").levels}
    assert levels["sum"].ci_low <= 1.5 <= levels["sum"].ci_high
    assert levels["lc"].ci_low <= -1.0 <= levels["lc"].ci_high
