"""Ablation tables against a recomputation with numpy/scipy from the stored trials."""

from __future__ import annotations

import numpy as np
import optuna
import pytest
from optuna.trial import TrialState
from scipy import stats

from analysis.ablation import ablation_tables, ordered_levels
from analysis.load import trial_rows
from trials import record


def load(search_study):
    study = optuna.load_study(study_name=search_study.name, storage=search_study.storage)
    complete = study.get_trials(states=(TrialState.COMPLETE,))
    return {t.factor: t for t in ablation_tables(trial_rows(study))}, complete


def replicates(trials) -> np.ndarray:
    return np.concatenate([t.user_attrs[record.ACCURACY_REPLICATES] for t in trials])


def test_factors_and_levels_in_the_papers_order(search_study):
    tables, _ = load(search_study)
    # fusion, width, ... took ≥2 values; every param of these designs did
    assert list(tables) == ["backbone", "width", "fusion", "strategy", "branches"]  # the vocabulary's order
    assert [level.level for level in tables["fusion"].levels] == ["none", "sum", "conv", "lc"]
    assert tables["fusion"].reference == "none"
    assert tables["width"].reference == 16


def test_level_statistics_match_numpy_and_scipy(search_study):
    tables, complete = load(search_study)
    checked = 0
    for factor, table in tables.items():
        for level in table.levels:
            group = [t for t in complete if factor in t.params and t.params[factor] == level.level]
            samples = replicates(group)
            assert level.n_trials == len(group)
            assert level.n_replicates == len(samples)
            assert level.accuracy_mean == pytest.approx(samples.mean())
            assert level.params_mean == pytest.approx(np.mean([t.user_attrs[record.PARAMS] for t in group]))
            assert level.macs_mean == pytest.approx(np.mean([t.user_attrs[record.MACS] for t in group]))
            if len(samples) < 2:
                assert level.accuracy_sd is None and level.accuracy_interval is None
                continue
            assert level.accuracy_sd == pytest.approx(samples.std(ddof=1))
            expected = stats.t.interval(0.95, len(samples) - 1, loc=samples.mean(), scale=stats.sem(samples))
            assert level.accuracy_interval == pytest.approx(expected)
            checked += 1
    assert checked >= 10


def mean_accuracy(complete, *numbers) -> float:
    return replicates([t for t in complete if t.number in numbers]).mean()


def test_paired_difference_over_designs_that_differ_only_in_the_factor(search_study):
    tables, complete = load(search_study)
    n = search_study.numbers
    lc = next(level for level in tables["fusion"].levels if level.level == "lc")
    none16 = (n["none16"], n["none16_again"])  # the same design run twice: one design
    # lc16_eplf is not paired with none16: strategy exists only under a fusion op, and the model's
    # fusion effect is at strategy's reference (eflp); an eplf pair would measure lc + eplf (issue #18, 5)
    expected_pairs = {
        ((n["lc16"],), none16),
        ((n["lc32"],), (n["none32"],)),
    }
    assert {(p.level_trials, p.reference_trials) for p in lc.difference.pairs} == expected_pairs
    differences = [
        mean_accuracy(complete, *level) - mean_accuracy(complete, *reference)
        for level, reference in expected_pairs
    ]
    assert lc.difference.mean == pytest.approx(np.mean(differences))
    expected = stats.ttest_1samp(differences, 0.0).confidence_interval(0.95)
    assert lc.difference.interval == pytest.approx((expected.low, expected.high))
    assert lc.difference.method == "paired t, 2 pairs at branches=1,2, strategy=eflp"


def test_one_pair_uses_a_welch_interval_from_the_replicates(search_study):
    tables, complete = load(search_study)
    n = search_study.numbers
    (eplf,) = [level for level in tables["strategy"].levels if level.level == "eplf"]
    (pair,) = eplf.difference.pairs
    assert (pair.level_trials, pair.reference_trials) == ((n["lc16_eplf"],), (n["lc16"],))
    a = replicates([t for t in complete if t.number == n["lc16_eplf"]])
    b = replicates([t for t in complete if t.number == n["lc16"]])
    expected = stats.ttest_ind(a, b, equal_var=False).confidence_interval(0.95)
    assert eplf.difference.mean == pytest.approx(a.mean() - b.mean())
    assert eplf.difference.interval == pytest.approx((expected.low, expected.high))
    assert eplf.difference.method == "Welch t, 1 pair"


def test_no_interval_with_one_replicate_and_no_difference_without_a_pair(search_study):
    tables, complete = load(search_study)
    n = search_study.numbers
    (single_seed,) = [level for level in tables["branches"].levels if level.level == "2"]
    assert single_seed.difference.interval is None
    assert single_seed.difference.mean == pytest.approx(0.815 - mean_accuracy(complete, n["sum16"]))
    (resnet,) = [level for level in tables["backbone"].levels if level.level == "resnet"]
    assert resnet.difference.mean is None and resnet.difference.pairs == ()
    assert tables["fusion"].levels[0].difference is None  # the reference row


def test_level_order_puts_the_paper_baseline_first():
    assert ordered_levels("fusion", {"lc", "none", "concat", "sum"}) == ["none", "sum", "lc", "concat"]
    assert ordered_levels("alpha", {8, 1, 4, 2}) == [1, 2, 4, 8]
    assert ordered_levels("detach", {True, False}) == [False, True]
    assert ordered_levels("combination", {"cl", "avg", "single"}) == ["single", "avg", "cl"]
    assert ordered_levels("backbone", {"tv:resnet18", "vgg", "plain"}) == ["plain", "vgg", "tv:resnet18"]
