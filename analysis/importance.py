"""Which params mattered for each objective: Optuna's PED-ANOVA importance, per objective.

PED-ANOVA compares where the best trials sit with where all trials sit.  Architecture searches
on a CPU are small, so the "best" share is a quarter (Optuna's default is a tenth): with the
minimum of 8 complete trials that is 2 trials, the fewest a Parzen estimate means anything on.
PED-ANOVA also handles conditional params (e.g. ``strategy`` exists only with a fusion op).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Mapping

import optuna
from optuna.importance import PedAnovaImportanceEvaluator, get_param_importances
from optuna.trial import FrozenTrial, TrialState

from analysis.load import study_objectives

TARGET_QUANTILE = 0.25
MIN_TOP_TRIALS = 2
MIN_COMPLETE_TRIALS = math.ceil(MIN_TOP_TRIALS / TARGET_QUANTILE)


@dataclass(frozen=True)
class Importance:
    """Normalized importances (sum 1, largest first) of one objective, or why there are none."""

    objective: str
    importances: Mapping[str, float]
    note: str


def param_importances(study: optuna.Study) -> tuple[Importance, ...]:
    """One ``Importance`` per objective over the params that varied among complete trials;
    "n/a" notes when there are too few complete trials."""
    objectives = study_objectives(study)
    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    n_complete = len(complete)
    if n_complete < MIN_COMPLETE_TRIALS:
        note = f"n/a: needs ≥ {MIN_COMPLETE_TRIALS} complete trials (has {n_complete})"
        return tuple(Importance(o.name, {}, note) for o in objectives)
    values: dict[str, set] = {}
    for trial in complete:
        for name, value in trial.params.items():
            values.setdefault(name, set()).add(value)
    varied = [name for name, seen in values.items() if len(seen) >= 2]  # fixed params score 0
    results = []
    for index, objective in enumerate(objectives):
        sign = objective.sign  # PED-ANOVA treats lower targets as better

        def target(trial: FrozenTrial, index: int = index, sign: float = sign) -> float:
            return sign * trial.values[index]

        with warnings.catch_warnings():
            # Optuna warns that a custom target is taken as lower-is-better: handled by `sign`.
            warnings.simplefilter("ignore")
            importances = get_param_importances(
                study,
                evaluator=PedAnovaImportanceEvaluator(target_quantile=TARGET_QUANTILE),
                params=varied,
                target=target,
            )
        note = f"PED-ANOVA, best {TARGET_QUANTILE:.0%} of {n_complete} complete trials vs all"
        results.append(Importance(objective.name, importances, note))
    return tuple(results)
