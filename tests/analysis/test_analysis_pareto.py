"""Pareto membership against a brute-force dominance check over the stored values."""

from __future__ import annotations

import optuna
import plotly.graph_objects as go
import pytest
from optuna.trial import TrialState

from analysis.pareto import UnknownObjectiveError, non_dominated, pareto_figure, pareto_info


def brute_force_front(values: dict[int, list[float]], maximize: list[bool]) -> set[int]:
    """Trial numbers no other trial dominates, straight from the definition."""

    def no_worse(a, b, i):
        return a[i] >= b[i] if maximize[i] else a[i] <= b[i]

    def better(a, b, i):
        return a[i] > b[i] if maximize[i] else a[i] < b[i]

    def dominates(a, b):
        dims = range(len(maximize))
        return all(no_worse(a, b, i) for i in dims) and any(better(a, b, i) for i in dims)

    return {n for n, v in values.items() if not any(dominates(w, v) for m, w in values.items() if m != n)}


def stored_values(storage: str, name: str) -> dict[int, list[float]]:
    study = optuna.load_study(study_name=name, storage=storage)
    return {t.number: list(t.values) for t in study.get_trials(states=(TrialState.COMPLETE,))}


def test_front_over_all_objectives_matches_brute_force(search_study):
    study = optuna.load_study(study_name=search_study.name, storage=search_study.storage)
    info = pareto_info(study)
    values = stored_values(search_study.storage, search_study.name)
    assert {p.number for p in info.points} == set(values)
    assert {p.number for p in info.front} == brute_force_front(values, [True, False, False])
    # three objectives: one panel per pair, accuracy (maximized) last so it is on y
    assert info.axes == ("params", "macs", "accuracy")
    assert info.panels == [("params", "macs"), ("params", "accuracy"), ("macs", "accuracy")]
    # a dominated trial is really dominated: lc16_eplf is worse than lc16 on every objective
    assert search_study.numbers["lc16_eplf"] not in {p.number for p in info.front}


def test_join_line_is_the_2d_front_of_the_axes_in_x_order(search_study):
    study = optuna.load_study(study_name=search_study.name, storage=search_study.storage)
    info = pareto_info(study, x="params", y="accuracy")
    values = stored_values(search_study.storage, search_study.name)
    two_d = {n: [v[1], v[0]] for n, v in values.items()}  # (params, accuracy)
    expected = sorted(brute_force_front(two_d, [False, True]), key=lambda n: tuple(two_d[n]))
    assert info.panels == [("params", "accuracy")]
    assert list(info.join_lines[("params", "accuracy")]) == expected
    # in the default grid, the same panel joins the same trials
    grid = pareto_info(study)
    assert grid.join_lines[("params", "accuracy")] == info.join_lines[("params", "accuracy")]
    # none16, run twice, is cheapest on both costs: ties are both on the front
    n = search_study.numbers
    assert grid.join_lines[("params", "macs")] == (n["none16"], n["none16_again"])
    # the full 3-objective front still decides the highlighted points
    assert {p.number for p in info.front} == brute_force_front(values, [True, False, False])


def test_default_axes_of_two_objectives_put_accuracy_against_cost(two_objective_study):
    study = optuna.load_study(study_name=two_objective_study.name, storage=two_objective_study.storage)
    info = pareto_info(study)
    assert info.axes == ("macs", "accuracy")
    values = stored_values(two_objective_study.storage, two_objective_study.name)
    front = brute_force_front(values, [True, False])
    assert set(info.join_lines[("macs", "accuracy")]) == front == {p.number for p in info.front}


def test_hover_shows_spec_and_objectives(search_study):
    study = optuna.load_study(study_name=search_study.name, storage=search_study.storage)
    point = next(p for p in pareto_info(study).points if p.number == search_study.numbers["lc16"])
    assert "fusion=lc" in point.hover and "strategy=eflp" in point.hover
    assert "accuracy: 83.47%" in point.hover and "macs: 9.1M" in point.hover
    assert "seeds: 3" in point.hover


def test_unknown_axis_names_it_and_lists_the_objectives(search_study):
    study = optuna.load_study(study_name=search_study.name, storage=search_study.storage)
    with pytest.raises(UnknownObjectiveError) as error:
        pareto_info(study, x="flops")
    assert "'flops'" in str(error.value) and "accuracy, params, macs" in str(error.value)


def test_figures_draw_every_point_and_the_joined_front(search_study, two_objective_study):
    study2 = optuna.load_study(study_name=two_objective_study.name, storage=two_objective_study.storage)
    info2 = pareto_info(study2)
    fig2 = pareto_figure(info2)
    line, dominated, front = fig2.data
    assert line.mode == "lines" and len(line.x) == len(info2.join_lines[("macs", "accuracy")])
    assert len(dominated.x) + len(front.x) == len(info2.points)
    assert list(front.y) == [p.values["accuracy"] for p in info2.front]

    study3 = optuna.load_study(study_name=search_study.name, storage=search_study.storage)
    info3 = pareto_info(study3)
    fig3 = pareto_figure(info3)
    # SVG scatters only (no WebGL Splom/3-D): three traces in each of three panels
    assert [type(t) for t in fig3.data] == [go.Scatter] * 9
    bottom_left = fig3.data[3:6]  # panel (params, accuracy)
    assert list(bottom_left[0].x) == [
        next(p for p in info3.points if p.number == n).values["params"]
        for n in info3.join_lines[("params", "accuracy")]
    ]
    assert len(bottom_left[2].x) == len(info3.front)
    assert fig3.layout.yaxis3.title.text.startswith("accuracy")


def test_non_dominated_keeps_ties_and_drops_dominated():
    losses = [[1, 2], [1, 2], [2, 1], [2, 2], [0, 3]]
    assert non_dominated(losses).tolist() == [True, True, True, False, True]


def test_the_search_s_cost_limits_are_drawn(tmp_path):
    """A search run under ``constraints:`` shows its limits on the Pareto plot."""
    import optuna

    from analysis.pareto import pareto_figure, pareto_info
    from trials import record

    study = optuna.create_study(directions=["maximize", "minimize"], storage=f"sqlite:///{tmp_path / 'c.db'}",
                                study_name="limits")
    study.set_user_attr(record.STUDY_OBJECTIVES, ["accuracy", "macs"])
    study.set_user_attr(record.STUDY_CONFIG, {"constraints": {"max_macs": 5e5, "max_params": None}})
    for acc, macs in ((0.8, 1e5), (0.85, 3e5)):
        trial = study.ask()
        trial.set_user_attr(record.SPEC, {"backbone": "plain"})
        study.tell(trial, [acc, macs])
    info = pareto_info(study)
    assert info.limits == {"macs": 5e5}
    shapes = pareto_figure(info).layout.shapes
    assert any(s.x0 == 5e5 and s.x1 == 5e5 for s in shapes)
