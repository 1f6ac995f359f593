"""Hypervolume: hand-computed areas, monotone history, agreement with Optuna's own plot."""

from __future__ import annotations

import numpy as np
import optuna
import pytest

from analysis.hypervolume import hypervolume_figure, hypervolume_history
from analysis.importance import MIN_COMPLETE_TRIALS, param_importances

from analysis_studies import add_complete, cfn_spec, make_study


@pytest.fixture
def three_points(tmp_path) -> optuna.Study:
    """(accuracy, macs): trial 0 (0.7, 20), 1 (0.8, 10) dominates 0, 2 (0.9, 30)."""
    study = make_study(f"sqlite:///{tmp_path / 'hv.db'}", "hv", ["accuracy", "macs"])
    for width, accuracy, macs in ((16, 0.7, 20), (32, 0.8, 10), (64, 0.9, 30)):
        add_complete(study, cfn_spec("plain", width, "none"), [accuracy], 1000, macs)
    return study


def test_hand_computed_2d_areas_with_a_given_reference(three_points):
    history = hypervolume_history(three_points, {"accuracy": 0.5, "macs": 40})
    # trial 0: 0.2 x 20 = 4; trial 1 alone: 0.3 x 30 = 9; with trial 2: 9 + 0.4 x 10 - 0.3 x 10 = 10
    assert history.trial_numbers == (0, 1, 2)
    assert history.values == pytest.approx((4.0, 9.0, 10.0))
    assert history.reference_rule == "given"


def test_data_reference_point_is_worst_seen_plus_ten_percent_of_range(three_points):
    history = hypervolume_history(three_points)
    assert history.reference_point == pytest.approx({"accuracy": 0.68, "macs": 32.0})
    assert "worst value" in history.reference_rule and "10%" in history.reference_rule
    # 0.22 x 2 + 0.12 x 22 - 0.12 x 2 = 2.84; the ideal point is (0.9, 10): box 0.22 x 22
    assert history.final == pytest.approx(2.84)
    assert history.share(history.final) == pytest.approx(2.84 / (0.22 * 22))


def test_history_is_monotone_and_matches_optunas_plot(search_study):
    study = optuna.load_study(study_name=search_study.name, storage=search_study.storage)
    history = hypervolume_history(study)
    assert np.all(np.diff(history.values) >= 0)
    assert history.values[0] > 0
    reference = [history.reference_point[o.name] for o in history.objectives]
    with pytest.warns(optuna.exceptions.ExperimentalWarning):
        optuna_figure = optuna.visualization.plot_hypervolume_history(study, reference)
    assert list(optuna_figure.data[0].x) == list(history.trial_numbers)
    assert list(optuna_figure.data[0].y) == pytest.approx(history.values)
    figure = hypervolume_figure(history)
    assert list(figure.data[0].y) == pytest.approx([history.share(v) for v in history.values])
    assert "reference point: accuracy" in figure.layout.title.text


def test_importance_needs_enough_complete_trials(three_points, search_study):
    too_few = param_importances(three_points)
    assert [i.objective for i in too_few] == ["accuracy", "macs"]
    assert all(i.importances == {} for i in too_few)
    assert too_few[0].note == f"n/a: needs ≥ {MIN_COMPLETE_TRIALS} complete trials (has 3)"

    study = optuna.load_study(study_name=search_study.name, storage=search_study.storage)
    enough = param_importances(study)
    assert [i.objective for i in enough] == ["accuracy", "params", "macs"]
    for importance in enough:
        assert sum(importance.importances.values()) == pytest.approx(1.0)
        assert set(importance.importances) == {"backbone", "width", "fusion", "strategy", "branches"}
