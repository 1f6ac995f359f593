"""The samplers a search may use: one table, name -> how to build it and how the search walks it.

``sampler.name`` in a config is a key of ``SAMPLERS``; the config's choices, the study's
sampler and the searcher's handling of a grid all read the entry, so adding a sampler (say
Optuna's ``GPSampler``) is one entry here and a test.  Optuna is imported only when a sampler is
built, so the config (and the CLI's parser) stay light.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Final


@dataclasses.dataclass(frozen=True)
class SamplerEntry:
    """One sampler: ``build(seed, population_size, budget)`` gives the Optuna sampler."""

    name: str
    build: Callable[[int, int | None, int], Any]
    #: the searcher enqueues every spec of the space's grid and stops when they are done (a
    #: union of grids, a list of subspaces, can only be walked this way)
    walks_grid: bool
    about: str


def _nsga2(seed: int, population_size: int | None, budget: int) -> Any:
    import optuna

    # several generations: population 8 beat 4, 16 and 32 at a budget of 128 (benchmarks/search_quality.py)
    population = population_size or max(4, min(50, budget // 16))
    return optuna.samplers.NSGAIISampler(population_size=population, seed=seed)


def _tpe(seed: int, population_size: int | None, budget: int) -> Any:
    import optuna

    return optuna.samplers.TPESampler(seed=seed, multivariate=True, group=True)


def _random(seed: int, population_size: int | None, budget: int) -> Any:
    import optuna

    return optuna.samplers.RandomSampler(seed=seed)


SAMPLERS: Final[dict[str, SamplerEntry]] = {s.name: s for s in (
    # TPE by default: on the 612-spec table of benchmarks/search_quality.py it led at 12-32 trials
    # and stayed within 0.005 of the best sampler's hypervolume share up to 128
    SamplerEntry("tpe", _tpe, False, "Optuna's multivariate TPE (the default)"),
    SamplerEntry("nsga2", _nsga2, False, "Optuna's NSGA-II; population_size defaults to budget/16 within [4, 50]"),
    SamplerEntry("random", _random, False, "uniform random proposals"),
    # the grid's specs are enqueued; random stands behind them for Optuna's own ask()
    SamplerEntry("grid", _random, True, "every spec of the space once, in the grid's order (ablations)"),
)}
