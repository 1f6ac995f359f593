"""Synthetic studies with a known additive truth, written into Optuna the way the search records trials.

A random search over three factors: ``fusion`` (none/sum/lc), ``width`` (16/32, no effect) and
``strategy`` (eflp/eplf, present only when fusion is not ``none``: a nested, conditional param).
Each design's accuracy is base + the sum of its levels' true effects + a per-design random
effect (seeds of one design share it) + independent seed noise.  Accuracies are in [0, 1] in
the storage, as the search writes them; effects are in points.
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
import optuna
from optuna.distributions import CategoricalDistribution
from optuna.trial import create_trial

from trials import record

optuna.logging.set_verbosity(optuna.logging.WARNING)

SPACE = {"fusion": ["none", "sum", "lc"], "width": [16, 32], "strategy": ["eflp", "eplf"]}
TRUTH = {"fusion": {"sum": 1.5, "lc": -1.0}, "width": {"32": 0.0}, "strategy": {"eplf": 0.8}}
BASE = 80.0


def draw_params(rng: np.random.Generator) -> dict:
    params = {"fusion": str(rng.choice(SPACE["fusion"])), "width": int(rng.choice(SPACE["width"]))}
    if params["fusion"] != "none":
        params["strategy"] = str(rng.choice(SPACE["strategy"]))
    return params


def true_mean(params: dict) -> float:
    return BASE + sum(TRUTH[k].get(str(v), 0.0) for k, v in params.items())


def add_trial(study: optuna.Study, params: dict, replicates: Sequence[float],
              by_replicate: Sequence[Sequence[float]] | None = None) -> None:
    attrs = {record.ACCURACY_REPLICATES: list(replicates), record.SEEDS: list(range(len(replicates))),
             record.PARAMS: 1000, record.MACS: 10_000}
    if by_replicate is not None:
        attrs[record.VAL_ACCURACY_BY_REPLICATE] = [list(seed) for seed in by_replicate]
    study.add_trial(create_trial(
        params=params,
        distributions={k: CategoricalDistribution(SPACE[k]) for k in params},
        values=[float(np.mean(replicates)), 1000.0],
        user_attrs=attrs,
    ))


def new_study(storage: str | None = None, name: str = "synthetic") -> optuna.Study:
    study = optuna.create_study(storage=storage, study_name=name, directions=["maximize", "minimize"])
    study.set_user_attr(record.STUDY_OBJECTIVES, ["accuracy", "params"])
    study.set_user_attr(record.STUDY_CONFIG, {"space": dict(SPACE)})
    return study


def random_search_study(rng: np.random.Generator, trials: int = 30, seeds: int = 3, sd_design: float = 0.5,
                        sd_seed: float = 0.7, draw: Callable[[np.random.Generator], dict] = draw_params,
                        storage: str | None = None) -> optuna.Study:
    """A study as a random search with ``seeds`` replicates per trial would record it."""
    study = new_study(storage)
    departures: dict[tuple, float] = {}  # a design's own departure from additivity, shared by its repeats
    for _ in range(trials):
        params = draw(rng)
        key = tuple(sorted(params.items()))
        design_mean = true_mean(params) + departures.setdefault(key, rng.normal(0, sd_design))
        add_trial(study, params, list((design_mean + rng.normal(0, sd_seed, seeds)) / 100))
    return study


def learning_curve_study(rng: np.random.Generator, effect_by_epoch: Sequence[float], epochs_designs: int = 24,
                         seeds: int = 3, sd_seed: float = 0.4) -> optuna.Study:
    """A grid-like study whose ``fusion=lc`` effect follows ``effect_by_epoch`` (points) over epochs."""
    study = new_study()
    epochs = len(effect_by_epoch)
    rise = np.linspace(60.0, 80.0, epochs)  # everyone learns; lc's effect rides on top
    for i in range(epochs_designs):
        params = {"fusion": ["none", "lc"][i % 2], "width": [16, 32][(i // 2) % 2]}
        offset = rng.normal(0, 0.3)
        curves = [
            [(rise[e] + offset + (effect_by_epoch[e] if params["fusion"] == "lc" else 0.0)
              + rng.normal(0, sd_seed)) / 100 for e in range(epochs)]
            for _ in range(seeds)
        ]
        add_trial(study, params, [c[-1] for c in curves], curves)
    return study


def stored_learning_curve_study(storage: str, name: str = "curves") -> None:
    """``learning_curve_study`` (seed 1, an effect rising from -4 to +4 points) written into ``storage``."""
    import optuna

    study = learning_curve_study(np.random.default_rng(1), np.linspace(-4, 4, 10))
    target = optuna.create_study(storage=storage, study_name=name, directions=study.directions)
    for key, value in study.user_attrs.items():
        target.set_user_attr(key, value)
    target.add_trials(study.trials)
