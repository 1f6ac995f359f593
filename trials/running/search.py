"""Running a search: Optuna proposes from the driver, Ray Tune trains on the workers.

A small ask/tell searcher of our own (rather than Ray's OptunaSearch) keeps the Optuna
storage the complete record: cost figures are written when a trial is asked, before any
training; a dead driver's RUNNING trials are found and re-run on resume; the budget counts
what the storage holds, so a resumed search neither loses nor repeats a finished trial.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os
import signal
import sys
import warnings
from pathlib import Path
from typing import Collection, Iterator

import optuna
from optuna.trial import TrialState

from search_space.errors import FusionscopeError
from trials import record
from trials.config import SearchConfig
from trials.data import load_data
from trials.record.versions import library_versions
from trials.record.storage import STORAGE_ERRORS, check_writable, storage_cause
from trials.running import interrupts
from trials.running.study import (INTERRUPTED_REASON, Heartbeats, StudyError, finished_count, mask_url, open_study,
                          recover_interrupted)


class SearchInterrupted(FusionscopeError):
    """SIGINT or SIGTERM stopped the search; its exit code is the shell's 128 + signal number."""

    def __init__(self, signum: int) -> None:
        self.exit_code = 128 + signum
        super().__init__(f"stopped by {signal.Signals(signum).name}; finished trials are kept and the trials "
                         "it was training are marked interrupted, to be trained first when the search resumes")


class _SignalStop:
    """SIGINT/SIGTERM ask Tune to stop (its ``Stopper.stop_all``), so ``tuner.fit()`` returns within
    a step of the controller loop; raising from the handler instead can land inside Ray's C++
    wait and surface as a SystemError.  Tune's own SIGINT handler is off (see ``_quiet``)."""

    def __init__(self, searcher) -> None:
        self.searcher = searcher
        self.signum: int | None = None

    def __call__(self, trial_id: str, result: dict) -> bool:
        return self.searcher.stopping

    def stop_all(self) -> bool:  # a signal, or the searcher giving up on a broken storage
        return self.searcher.stopping

    @contextlib.contextmanager
    def installed(self) -> Iterator[None]:
        def handler(signum, frame):
            self.signum = signum
            self.searcher.stopping = True

        previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
        if interrupts.take():  # a Ctrl-C before now that Python could not raise: stop as for one now
            handler(signal.SIGINT, None)
        try:
            yield
        finally:
            for sig, old in previous.items():
                signal.signal(sig, old)


def _quiet(verbose: bool, local: bool) -> None:
    """A search prints its own lines only: no Tune configuration box, result-folder or
    TensorBoard hints, no token-auth banner, no Optuna experimental-feature warnings, Ray's
    loggers at error level, unless ``verbose``.  These env vars are Ray's public settings and
    must be set before Ray reads them; Tune's JSON logger stays (it prints nothing)."""
    os.environ.setdefault("TUNE_DISABLE_SIGINT_HANDLER", "1")  # ours stops the search (_SignalStop)
    if verbose:
        return
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")  # the old reporter honours verbose=0: no box, no hints
    # token auth is what a new local Ray does anyway; saying so explicitly silences its banner.  Ray
    # reads it when imported: set after that (a notebook that imported Ray first), the driver and the
    # GCS it starts disagree and Ray fails to start ("Failed to start GCS"), so then it is left alone
    if local and "ray" not in sys.modules:
        os.environ.setdefault("RAY_AUTH_MODE", "token")
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    import logging

    import ray  # noqa: F401 - its import sets up the "ray" logger, so the levels go after it

    for name in ("ray", "ray.tune", "ray.train", "ray.air"):
        logging.getLogger(name).setLevel(logging.ERROR)
    # Tune's own error reports of what the search records itself: a trial whose worker died ("The
    # actor is dead ...", retried, then FAIL with the reason) and TensorboardX failing on an odd
    # hparam value (TensorBoard files are not the record); --verbose shows them
    for name in ("ray.tune.execution", "ray.tune.logger", "ray.tune.logger.tensorboardx", "ray.air.execution"):
        logging.getLogger(name).setLevel(logging.CRITICAL)


@dataclasses.dataclass
class SearchSummary:
    study: str
    storage: str  # password masked
    complete: int
    pruned: int
    failed: int
    front_size: int
    exhausted: int | None = None  # the space's size, when every design of it was tried before the budget ran out
    budget: int | None = None


def summarize(study: optuna.Study, storage_url: str, exhausted: int | None = None,
              budget: int | None = None) -> SearchSummary:
    trials = study.get_trials(deepcopy=False)
    count = lambda state: sum(1 for t in trials if t.state == state)  # noqa: E731
    front = len(study.best_trials) if count(TrialState.COMPLETE) else 0
    return SearchSummary(study.study_name, mask_url(storage_url), count(TrialState.COMPLETE),
                         count(TrialState.PRUNED), count(TrialState.FAIL), front, exhausted, budget)


# what every trial's worker imports: torch alone takes ~1.4 s here, Tune's trainable ~0.9 s
WORKER_PRELOAD = ("torch", "ray.tune.trainable.function_trainable", "trials.running.worker")


def _use_prestarted_workers() -> None:
    """Let a trial's actor start on one of the workers Ray prestarts (one per CPU), not a new one.

    Ray Tune registers every trainable with ``runtime_env={"env_vars": {"PL_DISABLE_FORK": "1"}}``,
    a PyTorch Lightning workaround (ray#28197); any runtime env keeps an actor off the prestarted
    workers, so the first trial of each worker paid a fresh Python + Ray start (~0.8 s measured
    here, ``benchmarks/overhead.py``).  Our trainables never run Lightning.  Env vars a user
    asks Tune to propagate (AWS keys, ...) still go through as before.
    """
    from ray.tune.execution import class_cache

    class_cache.DEFAULT_ENV_VARS.pop("PL_DISABLE_FORK", None)


def _check_reachable(address: str, timeout: float = 5.0) -> None:
    """Fail in seconds, not minutes (ray.init retries), when nothing listens at the address."""
    import socket

    host, _, port = address.replace("ray://", "").rpartition(":")
    try:
        socket.create_connection((host or "127.0.0.1", int(port)), timeout=timeout).close()
    except (OSError, ValueError) as err:
        raise StudyError(f"cannot reach the Ray cluster at {address!r}: {err}") from None


def _drivers_dir() -> Path:
    """Where a driver records the Ray processes it started (one small JSON file per driver)."""
    import tempfile

    return Path(tempfile.gettempdir()) / f"fusionscope-ray-drivers-{os.getuid()}"


def _record_ray_processes() -> None:
    """Write down the processes of the local Ray this driver just started (gcs, raylet, the
    dashboard and runtime-env agents, prestarted workers), with their start times, so that if
    this driver is SIGKILLed the next search on this machine can stop exactly these; removed
    again when the driver ends any other way."""
    import atexit
    import json

    import psutil

    me = psutil.Process()
    procs = [(p.pid, p.create_time()) for p in me.children(recursive=True)]
    folder = _drivers_dir()
    with contextlib.suppress(OSError):
        folder.mkdir(mode=0o700, exist_ok=True)
        path = folder / f"{me.pid}.json"
        path.write_text(json.dumps({"driver": [me.pid, me.create_time()], "processes": procs}))
        atexit.register(lambda: path.unlink(missing_ok=True))


def reap_orphaned_ray() -> int:
    """Stop the Ray processes recorded by drivers of this user that were killed (their process is
    gone, or its pid now belongs to another process): only the recorded pids whose start time
    still matches, so another driver's Ray, running or not, is never touched.  Returns how many."""
    import json

    import psutil

    stopped = 0
    folder = _drivers_dir()
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            facts = json.loads(path.read_text())
            pid, started = facts["driver"]
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if _alive(pid, started):
            continue  # a live driver: its Ray is in use
        victims = []
        for pid_, started_ in facts.get("processes", []):
            if _alive(pid_, started_):
                with contextlib.suppress(psutil.Error):
                    victims.append(psutil.Process(pid_))
        for proc in victims:
            with contextlib.suppress(psutil.Error):
                proc.terminate()
        _gone, alive = psutil.wait_procs(victims, timeout=5)
        for proc in alive:
            with contextlib.suppress(psutil.Error):
                proc.kill()
        stopped += len(victims)
        path.unlink(missing_ok=True)
    return stopped


def _alive(pid: int, started: float) -> bool:
    import psutil

    try:
        proc = psutil.Process(pid)
        return abs(proc.create_time() - started) < 0.01 and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def start_ray(address: str | None = None) -> None:
    """Start (or join, with ``address``) Ray as searches need it, unless it already runs.

    A Ray started here prestarts one worker per CPU that imports ``WORKER_PRELOAD`` as it
    starts (Ray's ``preload_python_modules``), so a trial's actor starts on a worker that has
    torch and Tune loaded already instead of a new one importing them (~3 s here); with Ray
    running, a one-trial search costs 1.2 s beyond a bare loop (``benchmarks/overhead.py``).
    This needs the trials to land on the prestarted workers, see ``_use_prestarted_workers``;
    a ``worker_process_setup_hook`` did not do it (a runtime env keeps actors off the
    prestarted workers, so it was slower, measured).  For a cluster started with ``ray start``
    the same setting is ``RAY_preload_python_modules`` in the nodes' environment (unmeasured).
    """
    import ray

    if ray.is_initialized():
        return
    os.environ.setdefault("RAY_DEDUP_LOGS", "0")
    try:
        local = {} if address else {"num_cpus": os.cpu_count(),
                                    "_system_config": {"preload_python_modules": list(WORKER_PRELOAD)}}
        if not address:
            stopped = reap_orphaned_ray()
            if stopped:
                print(f"stopped {stopped} Ray processes left behind by an earlier fusionscope search that was killed",
                      file=sys.stderr, flush=True)
        ray.init(address=address, include_dashboard=False, log_to_driver=False, configure_logging=False,
                 **local)
        if not address:
            _record_ray_processes()
    except (ConnectionError, RuntimeError, ValueError) as err:
        if not address:
            raise StudyError(f"cannot start Ray on this machine: {_first(err)} (its memory limit, `ulimit -v`, "
                             "or /tmp/ray may be the cause; --verbose shows Ray's own output)") from None
        raise StudyError(f"cannot join the Ray cluster at {address}: {_first(err)}") from None
    except Exception as err:  # Ray's own start-up errors (a node that timed out, a raylet that died)
        if address:
            raise
        raise StudyError(f"cannot start Ray on this machine: {type(err).__name__}: {_first(err)} (its memory "
                         "limit, `ulimit -v`, or /tmp/ray may be the cause)") from None


def _first(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


def check_placeable(res) -> None:
    """Refuse resources no node of the cluster can give one trial: Tune would wait for them
    forever, one trial RUNNING and nothing printed."""
    import ray

    nodes = [n.get("Resources", {}) for n in ray.nodes() if n.get("Alive")]
    cpus = max((n.get("CPU", 0) for n in nodes), default=0)
    gpus = max((n.get("GPU", 0) for n in nodes), default=0)
    if res.cpus_per_trial > cpus:
        raise StudyError(f"resources.cpus_per_trial={res.cpus_per_trial:g}: the largest node of the Ray cluster has "
                         f"{cpus:g} CPUs, so no trial could start; ask for at most {cpus:g}")
    if res.gpus_per_trial > gpus:
        raise StudyError(f"resources.gpus_per_trial={res.gpus_per_trial:g}: the largest node of the Ray cluster has "
                         f"{gpus:g} GPUs, so no trial could start" + ("" if gpus else "; set it to 0 for CPU training"))


def run_search(config: SearchConfig, storage_url: str | None = None, address: str | None = None,
               progress: bool = True, runs_dir: str | Path = "runs", verbose: bool = False,
               designs: Collection[str] | None = None) -> SearchSummary:
    """Run (or continue) the search until the storage holds ``budget.trials`` finished trials.

    Several drivers may run this on one study at once (one machine or many, SQLite or
    PostgreSQL): each beats a heartbeat for the trials it runs, and only trials whose heartbeat
    stopped are failed (interrupted) and re-run; see ``trials/running/study.py``.  ``designs`` (spec keys)
    restricts a grid walk to those designs (``ablate --until-clear``: seeds for some designs only)."""
    _quiet(verbose, local=address is None)
    url = storage_url or config.storage_url
    if address:
        _check_reachable(address)
    data = load_data(config.data)  # bad data fails here, before the study or Ray is touched
    check_writable(url)  # an unwritable SQLite file: refused before anything starts
    study = open_study(config, url)
    rerun = recover_interrupted(study)
    if config.budget.trials - finished_count(study) <= 0:
        return summarize(study, url)
    study.set_user_attr(record.STUDY_DATA_SHAPE, [data.num_classes, data.in_channels, data.image_size])
    import ray

    # Ray first, then the driver's own imports of Tune and the trainable (~1.5 s here): the workers
    # Ray prestarts import torch and Tune meanwhile, and the first trial waits for one of them
    start_ray(address)
    from ray import tune

    from trials.running.progress import SearchProgress
    from trials.running.searcher import StudySearcher
    from trials.running.worker import run_trial, share_data

    res = config.resources.resolve(ray.cluster_resources().get("CPU", 1), ray.cluster_resources().get("GPU", 0),
                                   config.training.batch_size)
    if res.auto and progress:
        print(f"resources: auto -> {res.describe()}", file=sys.stderr, flush=True)
    try:
        check_placeable(res)
    except StudyError:
        if not address:
            _shutdown_ray()
        raise
    config = dataclasses.replace(config, resources=res)
    runs_dir = Path(runs_dir).resolve()
    job = {"training": dataclasses.asdict(config.training),
           "epochs": config.budget.epochs, "cpus_per_trial": res.cpus_per_trial,
           "gpus_per_trial": res.gpus_per_trial, "latency_batch": res.latency_batch,
           "weights_dir": str(runs_dir / config.study / "weights") if config.training.save_weights else None,
           "report_epochs": report_epochs(config)}
    bar = SearchProgress(study, config.budget.trials, enabled=progress)
    searcher = StudySearcher(study, config, config.search_space(), rerun,
                             (data.num_classes, data.in_channels, data.image_size), job, library_versions(), bar.update,
                             storage_url=url, designs=designs)
    scheduler = _scheduler(config)
    # the driver's data go to the workers through Ray's object store (one copy per node): no
    # data load in the worker, and nodes need neither the files nor the driver's working directory;
    # a trial gets a handle, and each worker fetches the data once and keeps them on its device
    trainable = tune.with_resources(tune.with_parameters(run_trial, data=share_data(config.data, data)),
                                    {"cpu": res.cpus_per_trial, "gpu": res.gpus_per_trial})
    _use_prestarted_workers()
    stopper = type("SignalStop", (_SignalStop, tune.Stopper), {})(searcher)  # Tune wants its Stopper class
    tuner = tune.Tuner(
        trainable,
        tune_config=tune.TuneConfig(search_alg=searcher, scheduler=scheduler, num_samples=-1,
                                    max_concurrent_trials=res.concurrent, reuse_actors=True,
                                    metric="accuracy", mode="max"),
        run_config=tune.RunConfig(name=config.study, storage_path=str(runs_dir / "ray"), verbose=0, stop=stopper,
                                  failure_config=tune.FailureConfig(max_failures=res.retries),
                                  checkpoint_config=tune.CheckpointConfig(checkpoint_at_end=False)),
    )
    try:
        with Heartbeats(study._storage, searcher.live_trial_ids, searcher.check_storage, searcher.storage_failed,
                        searcher.storage_ok), stopper.installed():
            tuner.fit()
    except STORAGE_ERRORS as err:  # a storage call outside the searcher's guards (Tune's own, Optuna's)
        searcher.fail(f"cannot write the storage {mask_url(url)}: {storage_cause(url, err)}")
    finally:
        with contextlib.suppress(*STORAGE_ERRORS):
            bar.close()
    if searcher.failure is not None:
        _shutdown_ray()
        live = len(searcher.live)
        left = (f"; the {live} trial(s) it was training stay RUNNING there and are re-run when the search resumes"
                if live and searcher.resumable else "")
        raise StudyError(searcher.failure + left)
    if stopper.signum is not None:
        _mark_live_interrupted(study, searcher)
        _shutdown_ray()
        raise SearchInterrupted(stopper.signum)
    return summarize(study, url, searcher.exhausted, config.budget.trials)


def _shutdown_ray() -> None:
    """Stop the Ray this driver started, and wait for its processes (workers linger as ray::IDLE
    for a moment after ``ray.shutdown()``), so a stopped search leaves nothing running."""
    import psutil
    import ray

    mine = psutil.Process().children(recursive=True)
    with contextlib.suppress(Exception):
        ray.shutdown()
    gone, alive = psutil.wait_procs(mine, timeout=10)
    for proc in alive:
        with contextlib.suppress(psutil.NoSuchProcess):
            proc.kill()


def report_epochs(config: SearchConfig) -> list[int]:
    """The epochs before the last after which a trial reports to Tune: the first (it records where
    the trial trains, for a reader watching the study) and, with early stopping, the rungs at which
    ASHA or MOASHA decide; both act only at their milestones, so their decisions are those of a report
    after every epoch.  Fewer reports because each one holds the training: Tune's function trainables
    report synchronously (the training thread waits until the controller has taken the result and
    called the trainable again), a round trip of about 0.2 s on 2 cores (``benchmarks/overhead.py``)."""
    from trials.running.moasha import rung_levels

    b, epochs = config.budget, {1}
    if b.scheduler == "moasha":
        epochs |= set(rung_levels(b.grace_epochs, b.epochs, b.reduction_factor))
    elif b.scheduler == "asha":  # Ray's milestones (``_Bracket``), reached at the first whole epoch past them
        rungs = int(math.log(b.epochs / b.grace_epochs) / math.log(b.reduction_factor) + 1)
        epochs |= {math.ceil(b.grace_epochs * b.reduction_factor ** k) for k in range(rungs)}
    return sorted(e for e in epochs if e < b.epochs)


def _scheduler(config: SearchConfig):
    """``budget.early_stopping``: none, ASHA on accuracy, or MOASHA on accuracy and the study's costs."""
    kind = config.budget.scheduler
    if kind == "none":
        return None
    if kind == "asha":
        from ray.tune.schedulers import ASHAScheduler

        return ASHAScheduler(time_attr="epochs_done", max_t=config.budget.epochs,
                             grace_period=config.budget.grace_epochs, reduction_factor=config.budget.reduction_factor)
    from trials.running.moasha import MOASHAScheduler

    from trials.record.objectives import OBJECTIVES

    # the study's costs known before training; latency is measured in the trial, so MACs stand in
    costs = [o for o in config.objectives if OBJECTIVES[o].cost] or ["macs"]
    return MOASHAScheduler(time_attr="epochs_done", metric="accuracy", max_t=config.budget.epochs,
                           grace_period=config.budget.grace_epochs, reduction_factor=config.budget.reduction_factor,
                           cost_fn=lambda job: [job["cost"][c] for c in costs])


def _mark_live_interrupted(study: optuna.Study, searcher) -> None:
    """The trials this driver was training: FAIL (interrupted), so any driver re-runs them first."""
    for trial in list(searcher.live.values()):
        with contextlib.suppress(optuna.exceptions.UpdateFinishedTrialError):
            trial.set_user_attr(record.ERROR, INTERRUPTED_REASON)
            trial.set_user_attr(record.INTERRUPTED, True)
            study.tell(trial, state=TrialState.FAIL)
