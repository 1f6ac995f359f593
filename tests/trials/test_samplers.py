"""The sampler table is the one place a sampler is described; the config and the study follow it."""

from __future__ import annotations

import optuna
import pytest

from trials.config import ConfigError, SamplerConfig, SearchConfig, from_dict
from trials.config.samplers import SAMPLERS
from trials.running.study import make_sampler

EXPECTED = {"tpe": optuna.samplers.TPESampler, "nsga2": optuna.samplers.NSGAIISampler,
            "random": optuna.samplers.RandomSampler, "grid": optuna.samplers.RandomSampler}


def test_every_table_entry_is_a_config_choice_and_builds_its_sampler():
    assert set(SAMPLERS) == set(EXPECTED)
    for name in SAMPLERS:
        config = SearchConfig(sampler=SamplerConfig(name=name, seed=3))
        assert isinstance(make_sampler(config), EXPECTED[name])
    with pytest.raises(ConfigError, match="sampler.name='gp'.*'tpe', 'nsga2', 'random', 'grid'"):
        SamplerConfig(name="gp")


def test_nsga2_population_follows_the_budget_rule():
    for trials, population in ((16, 4), (320, 20), (10_000, 50)):
        raw = {"sampler": "nsga2", "budget": {"trials": trials}}
        assert make_sampler(from_dict(raw))._population_size == population  # private: the rule's only witness


def test_only_a_grid_walking_sampler_takes_a_union_of_grids():
    union = [{"fusion": "none"}, {"fusion": "lc"}]
    assert from_dict({"space": union, "sampler": "grid"}).sampler.name == "grid"
    for name in (n for n, e in SAMPLERS.items() if not e.walks_grid):
        with pytest.raises(ConfigError, match="union of grids"):
            from_dict({"space": union, "sampler": name})
