"""Synthetic studies with a known additive truth, written into Optuna the way the search records trials.

A random search over three factors: ``fusion`` (none/sum/lc), ``width`` (16/32, no effect) and
``strategy`` (eflp/eplf, present only when fusion is not ``none``: a nested, conditional param).
Each design's accuracy is base + the sum of its levels' true effects + a per-design random
effect (seeds of one design share it) + independent seed noise.  Accuracies are in [0, 1] in
the storage, as the search writes them; effects are in points.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import optuna
from scipy import stats
from optuna.distributions import CategoricalDistribution
from optuna.trial import create_trial

from analysis.load import TrialRow
from trials import record

optuna.logging.set_verbosity(optuna.logging.WARNING)

SPACE = {"fusion": ["none", "sum", "lc"], "width": [16, 32], "strategy": ["eflp", "eplf"]}
TRUTH = {"fusion": {"sum": 1.5, "lc": -1.0}, "width": {"32": 0.0}, "strategy": {"eplf": 0.8}}
BASE = 80.0
#: An lc effect (points per epoch) whose sign flips in the last quarter of a 10-epoch budget.
LATE_FLIP = [-3.0] * 7 + [-1.0, 1.0, 3.0]


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
    """``learning_curve_study`` (seed 1, an effect that flips sign late: -3 points up to epoch 7, then
    -1, +1, +3) written into ``storage``."""
    import optuna

    study = learning_curve_study(np.random.default_rng(1), LATE_FLIP)
    target = optuna.create_study(storage=storage, study_name=name, directions=study.directions)
    for key, value in study.user_attrs.items():
        target.set_user_attr(key, value)
    target.add_trials(study.trials)


# --- Presets with the README's learning-curve noise (for the stability verdict) -------------------

_RESULTS = Path(__file__).resolve().parents[2] / "benchmarks" / "results"


def readme_epoch_sd() -> np.ndarray:
    """Per-seed sd (points) of validation accuracy at each epoch of a 10-epoch, 3-seed preset.

    Read off the real ``cfn-fusion`` report (``benchmarks/results/cfn_fusion_effects/report.json``):
    each epoch's effect interval there is t(0.975, 8) · sd · sqrt(2/3) wide on each side (a 4-level
    grid, 3 seeds), averaged over its three levels.  Epoch 1 is ±9 points, epochs 6–8 ±1.5–1.8,
    epoch 10 ±0.7.
    """
    report = json.loads((_RESULTS / "cfn_fusion_effects" / "report.json").read_text())
    halves = np.array([[(e["ci_high"] - e["ci_low"]) / 2 for e in level["by_epoch"]]
                       for level in report["effects"]["fusion"].values()])
    return halves.mean(axis=0) / (stats.t.ppf(0.975, 8) * np.sqrt(2 / 3))


def readme_reference_curve() -> np.ndarray:
    """The ``cfn-fusion`` reference's mean validation accuracy (points) over epochs 1–10 (README "Budget")."""
    budget = json.loads((_RESULTS / "preset_budget.json").read_text())
    return 100 * np.asarray(budget["curves"]["none"]["mean_by_epoch"][:10])


def preset_rows(rng: np.random.Generator, effects: dict[str, Sequence[float]], seeds: int = 3,
                sd_by_epoch: Sequence[float] | None = None, persistent_sd: float = 0.4,
                sd_scale: dict[str, float] | None = None) -> list[TrialRow]:
    """A one-factor ``fusion`` preset as ``analysis.load`` reads it back, without a storage.

    ``effects[level]`` is the level's true effect (points) at each epoch; ``none`` is the
    reference.  A seed's curve = the reference curve + the effect + a lasting seed offset
    (``persistent_sd``) + independent per-epoch noise, so that its total sd at each epoch is
    ``sd_by_epoch`` (the README's by default), times ``sd_scale[level]`` for an unstable level.
    """
    sd = np.asarray(readme_epoch_sd() if sd_by_epoch is None else sd_by_epoch, float)
    epoch_sd = np.sqrt(np.maximum(sd**2 - persistent_sd**2, 0.01))
    base = readme_reference_curve()[: len(sd)]
    rows = []
    for number, (level, path) in enumerate({"none": [0.0] * len(sd), **effects}.items()):
        scale = (sd_scale or {}).get(level, 1.0)
        curves = (base + np.asarray(path, float) + scale * (rng.normal(0, persistent_sd, (seeds, 1))
                                                             + rng.normal(0, 1, (seeds, len(sd))) * epoch_sd))
        curves = curves / 100
        rows.append(TrialRow(number, "COMPLETE", {"fusion": level}, {"accuracy": float(curves[:, -1].mean())},
                             {record.ACCURACY_REPLICATES: [float(c) for c in curves[:, -1]],
                              record.VAL_ACCURACY_BY_REPLICATE: curves.tolist()}))
    return rows
