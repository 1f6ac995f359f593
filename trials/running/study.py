"""The Optuna study: the record of a search, reachable by storage URL + study name.

SQLite is opened in WAL mode with a long busy timeout so a reader (the dashboard, a report)
can sit on the file while the search writes: WAL lets readers and one writer proceed
together, and the timeout turns the remaining writer/writer overlaps into waits instead of
``database is locked``.
"""

from __future__ import annotations

import datetime
import json
import os
import socket
import threading
import time
import warnings
from collections.abc import Collection
from typing import Any, Callable

import optuna
import sqlalchemy

from search_space.errors import FusionscopeError
from trials import record
from trials.record.objectives import directions as objective_directions
from trials.config.samplers import SAMPLERS
from trials.config import SearchConfig
from trials.record.storage import GRACE_S, HEARTBEAT_S, StudyError, make_storage, mask_url  # noqa: F401  (re-exported)

optuna.logging.set_verbosity(optuna.logging.WARNING)
# Optuna warns that heartbeats are "supposed to be used with Study.optimize"; an ask/tell driver
# beats them itself (``Heartbeats``), which is what Optuna's own optimize loop does.
warnings.filterwarnings("ignore", message="Heartbeat of storage is supposed to be used with Study.optimize")


INTERRUPTED_REASON = "interrupted: the search stopped while it ran"


def make_sampler(config: SearchConfig) -> optuna.samplers.BaseSampler:
    """The config's sampler, built by its entry in the sampler table (``trials/config/samplers.py``)."""
    s = config.sampler
    return SAMPLERS[s.name].build(s.seed, s.population_size, config.budget.trials)


#: the parts of a config that decide what a trial's numbers mean; two drivers (or a resume) on one
#: study must agree on all of them.  The budget's size, sampler, resources and storage may differ.
MEANING_SECTIONS = ("space", "data", "training")
MEANING_KEYS = ("objectives", "budget.epochs")
#: keys of those sections that say how a trial runs or what is kept, not what its numbers mean;
#: ``training.seed`` and ``training.replicates`` say which seeds a driver trains: replicates of the
#: same designs (``ablate --until-clear`` adds them in rounds; the searcher never trains a seed twice)
HOW_NOT_WHAT = frozenset({"training.save_weights", "training.replicates_mode", "training.seed",
                          "training.replicates"})
#: how long a driver waits for the study attrs of a study another driver has just created
ATTRS_WAIT_S = 10.0


def _flat(value: Any, prefix: str) -> dict[str, Any]:
    if isinstance(value, dict) and value:
        out: dict[str, Any] = {}
        for k, v in value.items():
            out.update(_flat(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    return {prefix: value}


def trial_meaning(config_dict: dict[str, Any]) -> dict[str, Any]:
    """The dotted keys of a config (as ``SearchConfig.to_dict`` writes it) that change what a trial means."""
    plain = json.loads(json.dumps(config_dict, default=str))  # as the storage holds it: lists, not tuples
    flat: dict[str, Any] = {}
    for section in MEANING_SECTIONS:
        flat.update((k, v) for k, v in _flat(plain.get(section), section).items() if k not in HOW_NOT_WHAT)
    for key in MEANING_KEYS:
        head, _, tail = key.partition(".")
        flat[key] = (plain.get(head) or {}).get(tail) if tail else plain.get(head)
    return flat


def config_differences(recorded: dict[str, Any], config: SearchConfig) -> list[str]:
    """The keys on which ``config`` gives a trial another meaning than the study's recorded config.
    The recorded config is read back through ``from_dict`` where it still parses, so defaults
    added since (a key the old record lacks) compare as what that older search ran with."""
    from trials.config import from_dict

    try:
        recorded = from_dict(recorded).to_dict()
    except FusionscopeError:
        pass
    have, want = trial_meaning(recorded), trial_meaning(config.to_dict())
    return sorted(k for k in set(have) | set(want) if have.get(k) != want.get(k))


def _show(value: Any) -> str:
    return json.dumps(value) if value is not None else "(not set)"


def check_study_fits(summary: Any, config: SearchConfig, url: str) -> None:
    """Refuse, before anything is trained, a study this search must not write into: one not made
    by fusionscope (no ``objectives``/``config`` study attrs: plain Optuna's, or another tool's),
    one with other objectives or directions, or one whose recorded config gives a trial another
    meaning (space, data, epochs, training, objectives): its trials and this search's would mix."""
    where = f"study {config.study!r} in {mask_url(url)}"
    attrs = summary.user_attrs
    missing = [k for k in (record.STUDY_OBJECTIVES, record.STUDY_CONFIG) if k not in attrs]
    if missing:
        raise StudyError(f"{where} was not made by fusionscope (no study attr {missing[0]!r}; "
                         f"{summary.n_trials} trials, directions {[d.name.lower() for d in summary.directions]}); "
                         "nothing was trained into it; use another study name")
    have = list(attrs[record.STUDY_OBJECTIVES])
    directions = [d.name.lower() for d in summary.directions]
    expected = objective_directions(config.objectives)
    if have != list(config.objectives) or directions != expected:
        raise StudyError(f"{where} exists with objectives {have} ({directions}), but the config asks for "
                         f"{list(config.objectives)}; use another study name or the same objectives")
    differing = config_differences(attrs[record.STUDY_CONFIG], config)
    if differing:
        recorded = trial_meaning(attrs[record.STUDY_CONFIG])
        now = trial_meaning(config.to_dict())
        shown = "; ".join(f"{k}: {_show(recorded.get(k))} in the study, {_show(now.get(k))} here" for k in differing[:6])
        more = f" (and {len(differing) - 6} more)" if len(differing) > 6 else ""
        raise StudyError(f"{where} was made with another config, and its trials would mix with this search's: "
                         f"{shown}{more}; use another study name (or the study's config)")


def _summaries(storage: optuna.storages.BaseStorage, url: str) -> dict[str, Any]:
    try:
        return {s.study_name: s for s in optuna.get_all_study_summaries(storage, include_best_trial=False)}
    except sqlalchemy.exc.SQLAlchemyError as err:
        raise StudyError(f"cannot read storage {mask_url(url)}: {type(err).__name__}") from None


def open_study(config: SearchConfig, storage_url: str | None = None) -> optuna.Study:
    """Create the study, or load it when it is fusionscope's with the same objectives and a
    config that gives its trials the same meaning (``check_study_fits``)."""
    url = storage_url or config.storage_url
    storage = make_storage(url, heartbeat=True)
    directions = objective_directions(config.objectives)
    existing = _summaries(storage, url)
    if config.study in existing:
        deadline = time.monotonic() + ATTRS_WAIT_S
        # another driver may have created it a moment ago and not yet written its attrs
        while (record.STUDY_CONFIG not in existing[config.study].user_attrs
               and existing[config.study].n_trials == 0 and time.monotonic() < deadline):
            time.sleep(0.25)
            existing = _summaries(storage, url)
        check_study_fits(existing[config.study], config, url)
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


def fail_stale(study: optuna.Study, alive: Collection[int] = ()) -> None:
    """Mark FAIL (interrupted) every running trial whose driver is gone, and no other.

    Optuna's heartbeat decides for trials of a heartbeat-aware driver.  A running trial with no
    ``driver`` attr for longer than the grace period was asked by an older fusionscope without
    heartbeats: nothing can be alive to finish it, so it is stale too.  A live trial of another
    driver is never touched, and ``alive`` (the storage ids the calling driver is running) never:
    a driver whose own heartbeat thread was starved past the grace period on a loaded machine is
    still alive, and failing its own trial would make the result it is about to record unwritable."""
    # Optuna's public ``fail_stale_trials`` sets FAIL first, after which the reason can no longer be
    # written; its stale-trial query is the one we need, so it is called directly.
    for trial_id in study._storage._get_stale_trial_ids(study._study_id):
        if trial_id not in alive:
            _fail_interrupted(study, trial_id)
    old = datetime.datetime.now() - datetime.timedelta(seconds=GRACE_S)
    for t in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
        if record.DRIVER not in t.user_attrs and t.datetime_start is not None and t.datetime_start < old \
                and t._trial_id not in alive:
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
    driver is running, so other drivers on the study know it is alive.  With ``check`` and
    ``on_error`` (a search's searcher) it also watches the storage between trial events: a
    deleted SQLite file or a server that stopped answering is noticed while every slot trains."""

    def __init__(self, storage: optuna.storages.RDBStorage, live: Callable[[], list[int]],
                 check: Callable[[], bool] | None = None, on_error: Callable[[BaseException], bool] | None = None,
                 on_ok: Callable[[], None] | None = None) -> None:
        self.storage, self.live = storage, live
        self.check, self.on_error, self.on_ok = check, on_error, on_ok
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="fusionscope-heartbeat", daemon=True)

    def beat(self, trial_id: int) -> None:
        self.storage.record_heartbeat(trial_id)

    def _run(self) -> None:
        while not self._stop.wait(HEARTBEAT_S):
            if self.check is not None and not self.check():
                continue
            beats = 0
            for trial_id in self.live():
                try:
                    self.beat(trial_id)
                    beats += 1
                except Exception as err:  # a storage hiccup: the next beat retries; ``on_error`` decides when to give up
                    if self.on_error is not None:
                        self.on_error(err)
                    break
            if beats and self.on_ok is not None:
                self.on_ok()

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
