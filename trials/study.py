"""The Optuna study: the record of a search, reachable by storage URL + study name.

SQLite is opened in WAL mode with a long busy timeout so a reader (the dashboard, a report)
can sit on the file while the search writes: WAL lets readers and one writer proceed
together, and the timeout turns the remaining writer/writer overlaps into waits instead of
``database is locked``.
"""

from __future__ import annotations

import time
from typing import Any

import optuna
import sqlalchemy
from sqlalchemy import event
from sqlalchemy.engine import make_url

from analysis.load import mask_url
from trials import record
from trials.config import SearchConfig

optuna.logging.set_verbosity(optuna.logging.WARNING)


class StudyError(RuntimeError):
    """The storage cannot be reached, or the study there does not fit the config."""


def _sqlite_wal(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=60000")
    cursor.close()


def make_storage(url: str) -> optuna.storages.RDBStorage:
    """An RDBStorage for ``url``; a clear StudyError if it cannot be reached."""
    engine_kwargs: dict[str, Any] = {}
    if url.startswith("sqlite"):
        database = make_url(url).database
        if database:
            from pathlib import Path

            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine_kwargs = {"connect_args": {"timeout": 60}}
    else:
        engine_kwargs = {"pool_pre_ping": True}
    for attempt in range(5):
        try:
            storage = optuna.storages.RDBStorage(url, engine_kwargs=engine_kwargs)
            break
        except sqlalchemy.exc.IntegrityError:  # another process created the tables at the same moment
            time.sleep(0.5 * (attempt + 1))
        except (sqlalchemy.exc.SQLAlchemyError, ImportError, ValueError) as err:
            text = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            raise StudyError(f"cannot open storage {mask_url(url)}: {text.replace(url, mask_url(url))}") from None
    else:
        raise StudyError(f"cannot open storage {mask_url(url)}: its tables could not be created")
    if url.startswith("sqlite"):
        event.listen(storage.engine, "connect", _sqlite_wal)
        storage.engine.dispose()  # reconnect so the pragma applies to every pooled connection
    return storage


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
