"""The Optuna study: the record of a search, reachable by storage URL + study name.

SQLite is opened in WAL mode with a long busy timeout so a reader (the dashboard, a report)
can sit on the file while the search writes: WAL lets readers and one writer proceed
together, and the timeout turns the remaining writer/writer overlaps into waits instead of
``database is locked``.
"""

from __future__ import annotations

import datetime
import os
import socket
import threading
import warnings
from typing import Any, Callable

import optuna
import sqlalchemy

from trials import record
from trials.objectives import directions as objective_directions
from trials.samplers import SAMPLERS
from trials.config import SearchConfig
from trials.storage import GRACE_S, HEARTBEAT_S, StudyError, make_storage, mask_url  # noqa: F401  (re-exported)

optuna.logging.set_verbosity(optuna.logging.WARNING)
# Optuna warns that heartbeats are "supposed to be used with Study.optimize"; an ask/tell driver
# beats them itself (``Heartbeats``), which is what Optuna's own optimize loop does.
warnings.filterwarnings("ignore", message="Heartbeat of storage is supposed to be used with Study.optimize")


INTERRUPTED_REASON = "interrupted: the search stopped while it ran"


def make_sampler(config: SearchConfig) -> optuna.samplers.BaseSampler:
    """The config's sampler, built by its entry in the sampler table (``trials/samplers.py``)."""
    s = config.sampler
    return SAMPLERS[s.name].build(s.seed, s.population_size, config.budget.trials)


def open_study(config: SearchConfig, storage_url: str | None = None) -> optuna.Study:
    """Create the study, or load it when it exists with the same objectives."""
    url = storage_url or config.storage_url
    storage = make_storage(url, heartbeat=True)
    directions = objective_directions(config.objectives)
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


def _fail_interrupted(study: optuna.Study, trial_id: int) -> bool:
    """Write why, then FAIL: a finished trial's attrs can no longer be written.  False when
    another driver (or the trial's own) finished it first."""
    storage = study._storage  # storage-level writes: these trials belong to no Trial object here
    try:
        storage.set_trial_user_attr(trial_id, record.ERROR, INTERRUPTED_REASON)
        storage.set_trial_user_attr(trial_id, record.INTERRUPTED, True)
        return storage.set_trial_state_values(trial_id, optuna.trial.TrialState.FAIL)
    except optuna.exceptions.UpdateFinishedTrialError:
        return False


def driver_id() -> str:
    """Which driver asked a trial: host and process, recorded so a reader can tell drivers apart."""
    return f"{socket.gethostname()}:{os.getpid()}"


def fail_stale(study: optuna.Study) -> None:
    """Mark FAIL (interrupted) every running trial whose driver is gone, and no other.

    Optuna's heartbeat decides for trials of a heartbeat-aware driver.  A running trial with no
    ``driver`` attr for longer than the grace period was asked by an older fusionscope without
    heartbeats: nothing can be alive to finish it, so it is stale too.  A live trial of another driver is never touched."""
    # Optuna's public ``fail_stale_trials`` sets FAIL first, after which the reason can no longer be
    # written; its stale-trial query is the one we need, so it is called directly.
    for trial_id in study._storage._get_stale_trial_ids(study._study_id):
        _fail_interrupted(study, trial_id)
    old = datetime.datetime.now() - datetime.timedelta(seconds=GRACE_S)
    for t in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
        if record.DRIVER not in t.user_attrs and t.datetime_start is not None and t.datetime_start < old:
            _fail_interrupted(study, t._trial_id)


def interrupted_to_rerun(study: optuna.Study) -> list[dict[str, Any]]:
    """The params of interrupted trials whose spec nobody has finished or is training: re-run
    these first.  Idempotent, so every driver on the study may ask; a spec two drivers pick at
    once is trained by one of them (the searcher skips a spec that is running)."""
    trials = study.get_trials(deepcopy=False)
    taken = {t.user_attrs.get(record.SPEC_KEY) for t in trials
             if t.state in (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.RUNNING)}
    rerun, seen = [], set()
    for t in trials:
        key = t.user_attrs.get(record.SPEC_KEY)
        if t.state == optuna.trial.TrialState.FAIL and t.user_attrs.get(record.INTERRUPTED) and key \
                and key not in taken and key not in seen:
            seen.add(key)
            rerun.append(dict(t.params))
    return rerun


def recover_interrupted(study: optuna.Study) -> list[dict[str, Any]]:
    """Stale trials (their driver died) become FAIL (interrupted); returns what to re-run first.
    Completed trials and live trials of other drivers are untouched."""
    fail_stale(study)
    return interrupted_to_rerun(study)


class Heartbeats:
    """A driver's heartbeat thread: every ``HEARTBEAT_S`` it records one for each trial the
    driver is running, so other drivers on the study know it is alive."""

    def __init__(self, storage: optuna.storages.RDBStorage, live: Callable[[], list[int]]) -> None:
        self.storage, self.live = storage, live
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="fusionscope-heartbeat", daemon=True)

    def beat(self, trial_id: int) -> None:
        self.storage.record_heartbeat(trial_id)

    def _run(self) -> None:
        while not self._stop.wait(HEARTBEAT_S):
            for trial_id in self.live():
                try:
                    self.beat(trial_id)
                except Exception:  # a storage hiccup: the next beat retries; a dead storage ends the search anyway
                    pass

    def __enter__(self) -> "Heartbeats":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


def finished_count(study: optuna.Study) -> int:
    """Trials that count towards the budget: every ending except an interruption."""
    states = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED, optuna.trial.TrialState.FAIL)
    return sum(1 for t in study.get_trials(deepcopy=False, states=states)
               if not t.user_attrs.get(record.INTERRUPTED) and record.DUPLICATE_OF not in t.user_attrs)
