"""The Optuna study: the record of a search, reachable by storage URL + study name.

Opening storages (and masking their URLs) lives in ``trials.storage``; both are re-exported
here for the code that imported them from this module.
"""

from __future__ import annotations

from typing import Any

import optuna
import sqlalchemy

from trials import record
from trials.config import SearchConfig
from trials.storage import StudyError, make_storage, mask_url  # noqa: F401  (re-exported)

optuna.logging.set_verbosity(optuna.logging.WARNING)


def make_sampler(config: SearchConfig) -> optuna.samplers.BaseSampler:
    s = config.sampler
    if s.name == "nsga2":
        # several generations: population 8 beat 4, 16 and 32 at a budget of 128 (benchmarks/search_quality.py)
        population = s.population_size or max(4, min(50, config.budget.trials // 16))
        return optuna.samplers.NSGAIISampler(population_size=population, seed=s.seed)
    if s.name == "tpe":
        return optuna.samplers.TPESampler(seed=s.seed, multivariate=True, group=True)
    # random, and grid: the grid's specs are enqueued; random fills in only if the grid is done
    return optuna.samplers.RandomSampler(seed=s.seed)


def open_study(config: SearchConfig, storage_url: str | None = None) -> optuna.Study:
    """Create the study, or load it when it exists with the same objectives."""
    url = storage_url or config.storage_url
    storage = make_storage(url)
    directions = [record.OBJECTIVES[o] for o in config.objectives]
    try:
        existing = {s.study_name: s for s in optuna.get_all_study_summaries(storage, include_best_trial=False)}
    except sqlalchemy.exc.SQLAlchemyError as err:
        raise StudyError(f"cannot read storage {mask_url(url)}: {type(err).__name__}") from None
    if config.study in existing:
        have = existing[config.study].user_attrs.get(record.STUDY_OBJECTIVES)
        if have is not None and list(have) != list(config.objectives):
            raise StudyError(
                f"study {config.study!r} in {mask_url(url)} exists with objectives {list(have)}, but the config "
                f"asks for {list(config.objectives)}; use another study name or the same objectives")
    study = optuna.create_study(study_name=config.study, storage=storage, directions=directions,
                                sampler=make_sampler(config), load_if_exists=True)
    if config.study not in existing:
        study.set_user_attr(record.STUDY_OBJECTIVES, list(config.objectives))
        recorded = config.to_dict()
        recorded["storage"] = mask_url(url)  # a password never lands in the study
        study.set_user_attr(record.STUDY_CONFIG, recorded)
    return study


def recover_interrupted(study: optuna.Study) -> list[dict[str, Any]]:
    """Trials left RUNNING by a driver that died: mark them FAIL (interrupted) and return
    the params of those whose spec was fully sampled, so the search re-runs them first.
    Completed trials are untouched."""
    rerun = []
    for t in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
        study._storage.set_trial_user_attr(t._trial_id, record.ERROR, "interrupted: the search stopped while it ran")
        study._storage.set_trial_user_attr(t._trial_id, record.INTERRUPTED, True)
        study._storage.set_trial_state_values(t._trial_id, optuna.trial.TrialState.FAIL)
        if record.SPEC_KEY in t.user_attrs:  # else it died while being sampled: nothing to re-run
            rerun.append(dict(t.params))
    return rerun


def finished_count(study: optuna.Study) -> int:
    """Trials that count towards the budget: every ending except an interruption."""
    states = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED, optuna.trial.TrialState.FAIL)
    return sum(1 for t in study.get_trials(deepcopy=False, states=states)
               if not t.user_attrs.get(record.INTERRUPTED) and record.DUPLICATE_OF not in t.user_attrs)
