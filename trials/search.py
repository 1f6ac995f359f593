"""Running a search: Optuna proposes from the driver, Ray Tune trains on the workers.

A small ask/tell searcher of our own (rather than Ray's OptunaSearch) keeps the Optuna
storage the complete record: cost figures are written when a trial is asked, before any
training; a dead driver's RUNNING trials are found and re-run on resume; the budget counts
what the storage holds, so a resumed search neither loses nor repeats a finished trial.
"""

from __future__ import annotations

import dataclasses
import os
from collections import deque
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import TrialState

from search_space.cost import spec_cost
from search_space.spec import ArchSpec, SpecError
from trials import record
from trials.config import SearchConfig
from trials.data import load_data
from trials.study import finished_count, mask_url, open_study, recover_interrupted

MAX_DUPLICATES_IN_A_ROW = 200


@dataclasses.dataclass
class SearchSummary:
    study: str
    storage: str  # password masked
    complete: int
    pruned: int
    failed: int
    front_size: int


def summarize(study: optuna.Study, storage_url: str) -> SearchSummary:
    trials = study.get_trials(deepcopy=False)
    count = lambda state: sum(1 for t in trials if t.state == state)  # noqa: E731
    front = len(study.best_trials) if count(TrialState.COMPLETE) else 0
    return SearchSummary(study.study_name, mask_url(storage_url), count(TrialState.COMPLETE),
                         count(TrialState.PRUNED), count(TrialState.FAIL), front)


def _versions() -> dict[str, str]:
    import ray
    import torch

    from importlib.metadata import version
    return {"torch": torch.__version__, "optuna": optuna.__version__, "ray": ray.__version__,
            "fusionscope": version("fusionscope")}


def _make_searcher(study: optuna.Study, config: SearchConfig, rerun: list[dict], data_shape: tuple[int, int, int],
                   job: dict[str, Any], on_finish):
    """Built inside a function so that importing this module does not import Ray."""
    from ray.tune.search import Searcher

    space = config.search_space()
    num_classes, in_channels, image_size = data_shape
    budget = config.budget.trials
    pending: deque[dict] = deque(rerun)
    if config.sampler.name == "grid":
        done = {t.user_attrs.get(record.SPEC_KEY) for t in study.get_trials(deepcopy=False)
                if t.state in (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)
                and not t.user_attrs.get(record.INTERRUPTED)}
        pending.extend(s.to_params() for s in space.grid() if s.key() not in done)
    seeds = [config.training.seed + r for r in range(config.training.replicates)]
    versions = _versions()

    class StudySearcher(Searcher):
        def __init__(self) -> None:
            super().__init__()
            self.live: dict[str, optuna.trial.Trial] = {}

        def save(self, checkpoint_path: str) -> None:
            """Nothing to save: the Optuna storage is the searcher's whole state."""

        def restore(self, checkpoint_path: str) -> None:
            """Nothing to restore: resuming reads the Optuna storage."""

        def _spec_done(self, key: str, asking: int) -> int | None:
            states = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING)  # running: being trained now
            for t in study.get_trials(deepcopy=False, states=states):
                if t.number != asking and t.user_attrs.get(record.SPEC_KEY) == key \
                        and not t.user_attrs.get(record.DUPLICATE_OF):
                    return t.number
            return None

        def suggest(self, trial_id: str):
            for _ in range(MAX_DUPLICATES_IN_A_ROW):
                running = len(study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)))
                if finished_count(study) + running >= budget:
                    # wait for the running ones: one may still fail as interrupted and need a re-run
                    return Searcher.FINISHED if running == 0 else None
                from_queue = bool(pending)
                if config.sampler.name == "grid" and not from_queue:
                    return Searcher.FINISHED
                if from_queue:
                    study.enqueue_trial(pending.popleft())
                trial = study.ask()
                try:
                    spec = space.sample(trial)
                except SpecError as err:
                    trial.set_user_attr(record.ERROR, f"SpecError: {err}")
                    study.tell(trial, state=TrialState.FAIL)
                    continue
                key = spec.key()
                trial.set_user_attr(record.SPEC, spec.to_dict())
                trial.set_user_attr(record.SPEC_KEY, key)
                earlier = self._spec_done(key, trial.number)
                if earlier is not None:  # the sampler repeated a finished or running spec: skip it
                    trial.set_user_attr(record.DUPLICATE_OF, earlier)
                    study.tell(trial, state=TrialState.PRUNED)
                    continue
                trial.set_user_attr(record.SEEDS, seeds)
                trial.set_user_attr(record.VERSIONS, versions)
                try:  # cost before training, so a trial that fails later still has it
                    cost = spec_cost(spec, num_classes, in_channels, image_size)
                except (SpecError, RuntimeError, ValueError) as err:
                    trial.set_user_attr(record.ERROR, f"{type(err).__name__}: {err}")
                    study.tell(trial, state=TrialState.FAIL)
                    on_finish()
                    continue
                trial.set_user_attr(record.PARAMS, cost.params)
                trial.set_user_attr(record.MACS, cost.macs)
                trial.set_user_attr(record.COST_BREAKDOWN, {"params": cost.params_by_part, "macs": cost.macs_by_part})
                self.live[trial_id] = trial
                return {"number": trial.number, "params": dict(trial.params), "job": job}
            return Searcher.FINISHED

        def on_trial_result(self, trial_id: str, result: dict) -> None:
            trial = self.live.get(trial_id)
            if trial is not None and "latency_ms" in result and record.LATENCY_MS not in trial.user_attrs:
                for key in (record.LATENCY_MS, record.NODE_ID, record.HOSTNAME, record.DEVICE):
                    trial.set_user_attr(key, result.get(key))

        def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False) -> None:
            trial = self.live.pop(trial_id, None)
            if trial is None:
                return
            result = result or {}
            for key in (record.LATENCY_MS, record.NODE_ID, record.HOSTNAME, record.DEVICE):
                if key in result:
                    trial.set_user_attr(key, result[key])
            if error or not result:
                trial.set_user_attr(record.ERROR, f"the Ray worker died and {config.resources.retries} "
                                                  "retries did not finish it (killed, or out of host memory)")
                study.tell(trial, state=TrialState.FAIL)
            elif result.get("error"):
                trial.set_user_attr(record.ERROR, result["error"])
                study.tell(trial, state=TrialState.FAIL)
            else:
                trial.set_user_attr(record.VAL_ACCURACY_HISTORY, result.get("history") or [result["accuracy"]])
                trial.set_user_attr(record.EPOCHS_DONE, result["epoch"])
                if not result.get("final"):  # ASHA stopped it early
                    study.tell(trial, state=TrialState.PRUNED)
                else:
                    for key, name in ((record.ACCURACY_REPLICATES, "accuracy_replicates"),
                                      (record.TRAIN_TIME_S, "train_time_s"), (record.IMAGES_PER_S, "images_per_s"),
                                      (record.WEIGHTS_PATH, "weights_path")):
                        trial.set_user_attr(key, result.get(name))
                    attrs = trial.user_attrs
                    values = {"accuracy": result["accuracy"], "params": attrs[record.PARAMS],
                              "macs": attrs[record.MACS], "latency": result.get("latency_ms")}
                    study.tell(trial, [values[o] for o in config.objectives])
            on_finish()

    return StudySearcher()


def run_search(config: SearchConfig, storage_url: str | None = None, address: str | None = None,
               progress: bool = True, runs_dir: str | Path = "runs") -> SearchSummary:
    """Run (or continue) the search until the storage holds ``budget.trials`` finished trials."""
    url = storage_url or config.storage_url
    data = load_data(config.data)  # bad data fails here, before the study or Ray is touched
    study = open_study(config, url)
    rerun = recover_interrupted(study)
    if config.budget.trials - finished_count(study) <= 0:
        return summarize(study, url)
    study.set_user_attr(record.STUDY_DATA_SHAPE, [data.num_classes, data.in_channels, data.image_size])
    import ray
    from ray import tune

    from trials.progress import SearchProgress
    from trials.worker import run_trial

    runs_dir = Path(runs_dir).resolve()
    res = config.resources
    job = {"data": dataclasses.asdict(config.data), "training": dataclasses.asdict(config.training),
           "epochs": config.budget.epochs, "cpus_per_trial": res.cpus_per_trial,
           "gpus_per_trial": res.gpus_per_trial, "latency_batch": res.latency_batch,
           "weights_dir": str(runs_dir / config.study / "weights") if config.training.save_weights else None}
    bar = SearchProgress(study, config.budget.trials, enabled=progress)
    searcher = _make_searcher(study, config, rerun, (data.num_classes, data.in_channels, data.image_size),
                              job, bar.update)
    if not ray.is_initialized():
        os.environ.setdefault("RAY_DEDUP_LOGS", "0")
        ray.init(address=address, include_dashboard=False, log_to_driver=False, configure_logging=False,
                 **({} if address else {"num_cpus": os.cpu_count()}))
    scheduler = None
    if config.budget.asha:
        from ray.tune.schedulers import ASHAScheduler

        scheduler = ASHAScheduler(time_attr="epoch", max_t=config.budget.epochs,
                                  grace_period=config.budget.grace_epochs, reduction_factor=2)
    trainable = tune.with_resources(run_trial, {"cpu": res.cpus_per_trial, "gpu": res.gpus_per_trial})
    tuner = tune.Tuner(
        trainable,
        tune_config=tune.TuneConfig(search_alg=searcher, scheduler=scheduler, num_samples=-1,
                                    max_concurrent_trials=res.concurrent, reuse_actors=True,
                                    metric="accuracy", mode="max"),
        run_config=tune.RunConfig(name=config.study, storage_path=str(runs_dir / "ray"), verbose=0,
                                  failure_config=tune.FailureConfig(max_failures=res.retries),
                                  checkpoint_config=tune.CheckpointConfig(checkpoint_at_end=False)),
    )
    try:
        tuner.fit()
    finally:
        bar.close()
    return summarize(study, url)
