"""The shared statistical facts agree with scipy and statsmodels, and are the ones the modules use."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as scipy_stats

from analysis import effects, stats


def test_one_confidence_level_for_every_module():
    assert stats.CONFIDENCE == 0.95 and stats.ALPHA == pytest.approx(0.05)
    assert effects.CONFIDENCE is stats.CONFIDENCE and effects.holm is stats.holm  # old names still import


def test_t_and_welch_intervals_match_scipy():
    rng = np.random.default_rng(0)
    a, b = rng.normal(1, 1, 5), rng.normal(0, 3, 4)
    low, high = stats.t_interval(a)
    ref = scipy_stats.t.interval(0.95, len(a) - 1, loc=a.mean(), scale=scipy_stats.sem(a))
    assert (low, high) == pytest.approx(ref)
    assert stats.t_interval([1.0]) is None
    welch = scipy_stats.ttest_ind(a, b, equal_var=False).confidence_interval(0.95)
    assert stats.welch_interval(a, b) == pytest.approx((welch.low, welch.high))


def test_satterthwaite_of_a_difference_is_welchs_df():
    rng = np.random.default_rng(1)
    a, b = rng.normal(0, 1, 3), rng.normal(0, 2, 6)
    variance, df = stats.satterthwaite([1, -1], [a.var(ddof=1), b.var(ddof=1)], [3, 6])
    va, vb = a.var(ddof=1) / 3, b.var(ddof=1) / 6
    assert variance == pytest.approx(va + vb)
    assert df == pytest.approx((va + vb) ** 2 / (va**2 / 2 + vb**2 / 5))


def test_designs_are_identical_params_in_first_seen_order():
    params = [{"a": 1, "b": 2}, {"b": 2, "a": 1}, {"a": 2}, {"a": 1, "b": 2}]
    assert stats.design_index(params) == [0, 0, 1, 0]


def test_seeds_needed_resolves_the_effect_with_the_stated_power():
    n = stats.seeds_needed(2.0, 1.3)
    # simulate two designs with n seeds each: the effect is significant in >= 80 % of draws, not with n-1
    rng = np.random.default_rng(2)

    def power(k: int) -> float:
        a, b = rng.normal(2.0, 1.3, (4000, k)), rng.normal(0.0, 1.3, (4000, k))
        return float(np.mean(scipy_stats.ttest_ind(a, b, axis=1).pvalue < 0.05))

    assert power(n) >= 0.78 and power(n - 1) < 0.80
    assert stats.seeds_needed(0.0, 1.0) is None and stats.seeds_needed(0.01, 5.0, cap=50) is None
