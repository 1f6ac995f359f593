"""The objective table is the one place an objective is described; every reader follows it."""

from __future__ import annotations

import pytest

from analysis.formatting import format_objective, objective_label
from analysis.pareto import LIMIT_OBJECTIVES
from trials import record
from trials.config import ConfigError, SearchConfig
from trials.config.constraints import LIMITS, Constraints
from trials.record.objectives import BY_LIMIT, OBJECTIVES, directions, trial_values


def test_every_objective_is_accepted_by_the_config_with_its_direction():
    for name, entry in OBJECTIVES.items():
        other = "accuracy" if name != "accuracy" else "macs"
        config = SearchConfig(objectives=(other, name))
        assert directions(config.objectives)[1] == entry.direction
    with pytest.raises(ConfigError, match="energy.*choose from accuracy, params, macs, latency"):
        SearchConfig(objectives=("accuracy", "energy"))


def test_each_limit_bounds_the_figure_its_objective_records():
    for limit, entry in BY_LIMIT.items():
        assert LIMITS[limit] == entry.record_key  # the constraint reads the recorded figure
        assert LIMIT_OBJECTIVES[limit] == entry.name  # the Pareto plot draws it on that axis
        figures = {key: 1.0 for key in LIMITS.values()}
        figures[entry.record_key] = 10.0
        assert Constraints(**{limit: 5.0}).violations(figures) == {limit: 5.0}
    assert set(BY_LIMIT) == {"max_params", "max_macs", "max_latency_ms"}
    assert not OBJECTIVES["accuracy"].limit and not OBJECTIVES["accuracy"].cost


def test_values_told_to_optuna_come_from_the_recorded_figures():
    attrs = {record.PARAMS: 1234, record.MACS: 56789, record.LATENCY_MS: 1.5}
    assert trial_values(["accuracy", "macs", "latency"], 0.91, attrs) == [0.91, 56789, 1.5]
    assert trial_values(["params", "accuracy"], 0.5, attrs) == [1234, 0.5]


def test_labels_and_units_come_from_the_table():
    assert format_objective("accuracy", 0.9123) == "91.23%"
    assert format_objective("params", 1_287_850) == "1.29M"
    assert format_objective("latency", 2.345) == "2.35 ms"
    for name, entry in OBJECTIVES.items():
        assert objective_label(name) == entry.label
    assert objective_label("energy") == "energy"  # an objective of a foreign study, shown as named


def test_the_constraints_section_has_one_field_per_limit_of_the_table_checked_like_any_section():
    import dataclasses

    assert [f.name for f in dataclasses.fields(Constraints)] == list(BY_LIMIT)
    for bad, why in ((-1, r"-1.0: must be greater than 0"), (float("inf"), "inf: expected a finite number"),
                     ("many", "'many': expected float"), (True, "True: expected float")):
        with pytest.raises(ConfigError, match=f"constraints.max_macs={why}"):
            Constraints(max_macs=bad)
    with pytest.raises(ConfigError, match="unknown key constraints.max_energy; allowed keys in constraints: "
                                          "max_params, max_macs, max_latency_ms"):
        Constraints.from_dict({"max_energy": 3})
    assert Constraints.from_dict({"max_macs": "2e6"}).max_macs == 2e6  # YAML 1.1 reads 2e6 as a string
