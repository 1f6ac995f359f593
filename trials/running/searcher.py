"""The Ray Tune searcher that asks Optuna and records into its storage (imports Ray).

A module-level class whose pickled state leaves out the study: Ray Tune pickles its searcher
into the experiment folder, and the study's storage holds the URL, password included.
Nothing is lost by that: a resumed search reads the Optuna storage, not Ray's pickle.
"""

from __future__ import annotations

import random
import sys
import time
from collections import deque
from typing import Any, Callable, Collection

import optuna
from optuna.trial import TrialState
from ray.tune.search import Searcher

from search_space.cost import spec_cost
from search_space.space import SearchSpace
from search_space.spec import ArchSpec, SpecError
from trials.config import constraints
from trials import record
from trials.record.objectives import trial_values
from trials.config.samplers import SAMPLERS
from trials.config import SearchConfig
from trials.running.protocol import FINAL_RECORDED, WHERE_RECORDED, TrialJob, TrialReport
from trials.record.storage import STORAGE_ERRORS, STORAGE_RETRY_S, StorageWatch, disk_full, mask_url, storage_cause
from trials.running.study import GRACE_S, INTERRUPTED_REASON, driver_id, fail_stale, finished_count, interrupted_to_rerun

MAX_DUPLICATES_IN_A_ROW = 200
#: how long a trial waits for the lower-numbered running trials to write their spec keys (``_spec_done``)
CLAIM_WAIT_S = 5.0
#: repeated proposals in a row after which the searcher looks at what is left of the space itself:
#: it queues a design nobody has tried, or, when none is left, says the space is exhausted and stops
REPEATS_BEFORE_LOOKING = 3


class StudySearcher(Searcher):
    def __init__(self, study: optuna.Study, config: SearchConfig, space: SearchSpace, rerun: list[dict],
                 data_shape: tuple[int, int, int], job: dict[str, Any], versions: dict[str, str],
                 on_finish: Callable[[], None], storage_url: str | None = None,
                 designs: Collection[str] | None = None) -> None:
        super().__init__()
        self.study, self.config, self.space, self.job = study, config, space, job
        self.data_shape, self.versions, self.on_finish = data_shape, versions, on_finish
        self.budget = config.budget.trials
        self.seeds = config.training.seeds
        # ``designs``: spec keys this search may train (``ablate --until-clear`` adds seeds to some); None: all
        self.designs = None if designs is None else frozenset(designs)
        self.pending: deque[dict] = deque(p for p in rerun if self._wanted(p))
        self.walks_grid = SAMPLERS[config.sampler.name].walks_grid
        if self.walks_grid:
            done = {t.user_attrs.get(record.SPEC_KEY) for t in study.get_trials(deepcopy=False)
                    if t.state in (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)
                    and not t.user_attrs.get(record.INTERRUPTED) and self._same_seeds(t)}
            self.pending.extend(s.to_params() for s in space.grid()
                                if s.key() not in done and (self.designs is None or s.key() in self.designs))
        self.live: dict[str, optuna.trial.Trial] = {}
        self.driver = driver_id()
        self.stopping = False  # a signal asked the search to stop: unfinished trials are interrupted
        self._last_stale_check = time.monotonic()
        self.url = storage_url
        self.watch = StorageWatch(storage_url) if storage_url else None
        self.failure: str | None = None  # the storage broke: the search stops and says this
        self._down_since: float | None = None
        self.resumable = True
        self._grid: list | None = None  # the space's designs, enumerated only once the sampler repeats itself
        self.exhausted: int | None = None  # the space's size, once every design of it is done

    def _same_seeds(self, trial: Any) -> bool:
        """Whether ``trial`` trained any of this search's seeds: a spec is trained once per seed, and
        a trial with other seeds is another replicate of its design, not a repeat (``ablate
        --until-clear`` adds seeds in rounds).  A trial without the record counts as the same seeds."""
        seeds = trial.user_attrs.get(record.SEEDS)
        return seeds is None or bool(set(seeds) & set(self.seeds))

    def _wanted(self, params: dict) -> bool:
        if self.designs is None:
            return True
        try:
            return ArchSpec.from_params(params).key() in self.designs
        except SpecError:
            return False

    # --- the storage breaking under the search ------------------------------------------------
    def fail(self, message: str) -> None:
        """Stop the search because of its storage: Tune's stopper sees ``stopping``; nothing more
        is written (the trials running here stay RUNNING, to be failed as stale and re-run on resume)."""
        if self.failure is None:
            self.failure = message
        self.stopping = True

    def check_storage(self) -> bool:
        """False (and the search stopping) when the storage file vanished or changed."""
        problem = self.watch.problem() if self.watch is not None else None
        if problem:
            self.resumable = False  # the file is gone or another one: there is nothing to resume into
            self.fail(problem)
        return self.failure is None

    def storage_ok(self) -> None:
        self._down_since = None

    def storage_failed(self, err: BaseException) -> bool:
        """A storage call failed: True while it is worth retrying (up to ``STORAGE_RETRY_S``), False
        once the search has been told to stop (a full disk stops at once: retrying cannot help)."""
        masked = mask_url(self.url) if self.url else "the storage"
        if disk_full(err):
            self.fail(f"no space left on the device for the storage {masked}: {storage_cause(self.url or '', err)}; "
                      "free some and run the same command again to resume")
            return False
        if not self.check_storage():
            return False
        now = time.monotonic()
        if self._down_since is None:
            self._down_since = now
            print(f"the storage {masked} stopped answering ({storage_cause(self.url or '', err)}); retrying for "
                  f"up to {STORAGE_RETRY_S} s", file=sys.stderr, flush=True)
        if now - self._down_since >= STORAGE_RETRY_S or self.stopping:
            self.fail(f"lost the storage {masked} for {STORAGE_RETRY_S} s: {storage_cause(self.url or '', err)}")
            return False
        return True

    def _left_in_space(self) -> list[dict]:
        """The params of every design of the space no trial has finished (other than interrupted) or
        is running; read past Optuna's cache (see ``_spec_done``)."""
        if self._grid is None:
            self._grid = self.space.grid()
        storage = getattr(self.study._storage, "_backend", self.study._storage)
        done = {t.user_attrs.get(record.SPEC_KEY)
                for t in storage.get_all_trials(self.study._study_id, deepcopy=False)
                if record.DUPLICATE_OF not in t.user_attrs and not t.user_attrs.get(record.INTERRUPTED)
                and t.state != TrialState.WAITING and self._same_seeds(t)}
        return [spec.to_params() for spec in self._grid if spec.key() not in done
                and (self.designs is None or spec.key() in self.designs)]

    def live_trial_ids(self) -> list[int]:
        """Storage ids of the trials this driver runs (the heartbeat thread beats for them)."""
        return [t._trial_id for t in list(self.live.values())]

    def _recover_others(self) -> None:
        """Now and then, while waiting: fail the trials of drivers that died, and queue their specs."""
        if time.monotonic() - self._last_stale_check < GRACE_S / 2:
            return
        self._last_stale_check = time.monotonic()
        fail_stale(self.study, alive=self.live_trial_ids())
        queued = {tuple(sorted(p.items())) for p in self.pending}
        self.pending.extend(p for p in interrupted_to_rerun(self.study)
                            if tuple(sorted(p.items())) not in queued and self._wanted(p))

    def __getstate__(self) -> dict:
        return {}  # no storage URL on disk; see the module docstring

    def save(self, checkpoint_path: str) -> None:
        """Nothing to save: the Optuna storage is the searcher's whole state."""

    def restore(self, checkpoint_path: str) -> None:
        """Nothing to restore: resuming reads the Optuna storage."""

    def _spec_done(self, key: str, asking: int) -> int | None:
        """A trial that already has this spec and one of these seeds: finished, or running (here or in
        another driver).

        The claim is made atomic by an order, not a lock: every trial writes its spec key before
        it checks, and of two running trials with one key the lower number keeps the spec.  That
        rule holds only if the lower one's key is visible when the higher one checks, so the check
        waits (at most ``CLAIM_WAIT_S``) until every lower-numbered running trial has written its
        key: sampling takes milliseconds; a driver that died mid-sample is not waited for longer.
        (Four drivers once trained one spec twice: trial 17 checked before trial 15 had written
        its key, and 15 then saw 17 as the higher number and kept the spec too.)  The trials are
        read from the RDB storage itself, past the study's cache (``_CachedStorage._backend``,
        private: the cache only re-reads trials newer than the last finished one it saw, so a
        slow driver's earlier trial can stay invisible to it)."""
        storage = getattr(self.study._storage, "_backend", self.study._storage)
        states = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING)
        deadline = time.monotonic() + CLAIM_WAIT_S
        while True:
            unsampled = False
            for t in storage.get_all_trials(self.study._study_id, deepcopy=False, states=states):
                if t.number == asking or record.DUPLICATE_OF in t.user_attrs:
                    continue
                have = t.user_attrs.get(record.SPEC_KEY)
                if have is None:
                    unsampled |= t.state == TrialState.RUNNING and t.number < asking
                    continue
                if have == key and self._same_seeds(t) and (t.state != TrialState.RUNNING or t.number < asking):
                    return t.number
            if not unsampled or time.monotonic() >= deadline:
                return None
            time.sleep(0.05)

    def _over_limits(self, trial: optuna.trial.Trial, spec: Any, cost: Any) -> bool:
        """``constraints:``: tell the sampler this design's constraint values (Optuna's
        ``Trial.set_constraint``), and never train one over a limit: it is recorded PRUNED with its
        cost and the reason, and TPE counts it among the infeasible proposals it steers away from."""
        limits = self.config.constraints
        if not limits.active:
            return False
        figures = {"params": cost.params, "macs": cost.macs, "latency_ms": None}
        if limits.needs_latency:  # measured once, before training, on the driver (see README)
            from search_space.cost import spec_cost

            figures["latency_ms"] = spec_cost(spec, *self.data_shape, latency=True,
                                              latency_batch=self.job["latency_batch"]).latency_ms
            trial.set_user_attr(record.LATENCY_MS, figures["latency_ms"])
        violations = constraints.record(trial, limits, figures)
        if not violations:
            return False
        trial.set_user_attr(record.INFEASIBLE, limits.describe(figures))
        trial.set_user_attr(record.TRAIN_TIME_S, 0.0)
        self._tell(trial, state=TrialState.PRUNED)
        self.on_finish()
        return True

    def _tell(self, trial: optuna.trial.Trial, values: Any = None, state: TrialState | None = None) -> None:
        """Tell, unless the trial was finished elsewhere meanwhile (failed as stale by another driver
        after this one stalled past the grace period): then keep the record as it is and say so."""
        try:
            self.study.tell(trial, values, state=state)
        except optuna.exceptions.UpdateFinishedTrialError:
            self._ended_elsewhere(trial)

    @staticmethod
    def _ended_elsewhere(trial: optuna.trial.Trial) -> None:
        print(f"trial {trial.number} was ended by another driver while it ran here (its heartbeat "
              f"lapsed for over {GRACE_S} s); keeping that record", file=sys.stderr, flush=True)

    def suggest(self, trial_id: str):
        if self.stopping or not self.check_storage():
            return Searcher.FINISHED
        try:
            job = self._suggest(trial_id)
            if isinstance(job, dict):
                self.on_finish()  # the progress line counts the trial that starts now as running
        except STORAGE_ERRORS as err:  # None: Tune asks again in a moment
            return None if self.storage_failed(err) else Searcher.FINISHED
        self.storage_ok()
        return job

    def _suggest(self, trial_id: str):
        self._recover_others()
        repeats = 0
        for _ in range(MAX_DUPLICATES_IN_A_ROW):
            running = len(self.study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)))
            if finished_count(self.study) + running >= self.budget:
                # wait for the running ones: one may still fail as interrupted and need a re-run
                return Searcher.FINISHED if running == 0 else None
            if repeats >= REPEATS_BEFORE_LOOKING and not self.pending:
                left = self._left_in_space()
                if not left:  # every design of the space is done or running: stop asking
                    if running == 0:
                        self.exhausted = len(self._grid or ())
                        return Searcher.FINISHED
                    return None
                self.pending.append(random.Random(f"{self.config.sampler.seed}:{len(left)}").choice(left))
            from_queue = bool(self.pending)
            if self.walks_grid and not from_queue:
                if running == 0 and not self._left_in_space():
                    self.exhausted = len(self._grid or ())
                return Searcher.FINISHED
            if from_queue:
                self.study.enqueue_trial(self.pending.popleft())
            trial = self.study.ask()
            trial.set_user_attr(record.DRIVER, self.driver)
            self.study._storage.record_heartbeat(trial._trial_id)  # alive from the start (RDBStorage's public
            try:  # heartbeat API; Study has no ask-side hook for it)
                spec = self.space.sample(trial)
            except SpecError as err:
                trial.set_user_attr(record.ERROR, f"SpecError: {err}")
                self._tell(trial, state=TrialState.FAIL)
                continue
            key = spec.key()
            trial.set_user_attr(record.SPEC, spec.to_dict())
            trial.set_user_attr(record.SPEC_KEY, key)
            trial.set_user_attr(record.SEEDS, self.seeds)  # before the check: another driver compares them
            earlier = self._spec_done(key, trial.number)
            if earlier is not None:  # the sampler repeated a finished or running spec: skip it
                trial.set_user_attr(record.DUPLICATE_OF, earlier)
                self._tell(trial, state=TrialState.PRUNED)
                repeats += 1
                continue
            trial.set_user_attr(record.VERSIONS, self.versions)
            try:  # cost before training, so a trial that fails later still has it
                cost = spec_cost(spec, *self.data_shape)
            except (SpecError, RuntimeError, ValueError) as err:
                trial.set_user_attr(record.ERROR, f"{type(err).__name__}: {err}")
                self._tell(trial, state=TrialState.FAIL)
                self.on_finish()
                continue
            trial.set_user_attr(record.PARAMS, cost.params)
            trial.set_user_attr(record.MACS, cost.macs)
            trial.set_user_attr(record.COST_BREAKDOWN, {"params": cost.params_by_part, "macs": cost.macs_by_part})
            if self._over_limits(trial, spec, cost):
                continue
            self.live[trial_id] = trial
            return TrialJob(number=trial.number, params=dict(trial.params),
                            cost={"params": cost.params, "macs": cost.macs}, **self.job).to_dict()
        return Searcher.FINISHED

    def on_trial_result(self, trial_id: str, result: dict) -> None:
        if self.failure is not None:
            return
        try:  # intermediate figures: written again when the trial completes, so a failure here can wait
            self._on_result(trial_id, result)
        except STORAGE_ERRORS as err:
            self.storage_failed(err)
        except optuna.exceptions.UpdateFinishedTrialError:  # its record stands; nothing more is written
            self._ended_elsewhere(self.live.pop(trial_id))

    def _on_result(self, trial_id: str, result: dict) -> None:
        trial = self.live.get(trial_id)
        if trial is not None and record.LATENCY_MS not in trial.user_attrs:
            report = TrialReport.from_result(result)
            for key in WHERE_RECORDED:
                trial.set_user_attr(key, getattr(report, key))

    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False) -> None:
        """Record the trial; while the storage is down, keep retrying (the trained result is not
        dropped) until it answers or ``STORAGE_RETRY_S`` passed; then the search stops."""
        while self.failure is None and self.check_storage():
            try:
                self._complete(trial_id, result, error)
            except optuna.exceptions.UpdateFinishedTrialError:
                self._ended_elsewhere(self.live[trial_id])
            except STORAGE_ERRORS as err:
                if not self.storage_failed(err):
                    break
                time.sleep(1.0)
                continue
            self.storage_ok()
            self.live.pop(trial_id, None)
            try:
                self.on_finish()
            except STORAGE_ERRORS:
                pass  # the progress line only
            return

    def _complete(self, trial_id: str, result: dict | None, error: bool) -> None:
        trial = self.live.get(trial_id)
        if trial is None:
            return
        report = TrialReport.from_result(result) if result else None  # a renamed field fails here, loudly
        if report is not None:
            for key in WHERE_RECORDED:
                trial.set_user_attr(key, getattr(report, key))
        if self.stopping and (report is None or not report.final):  # stopped by a signal, not by ASHA or an error
            trial.set_user_attr(record.ERROR, INTERRUPTED_REASON)
            trial.set_user_attr(record.INTERRUPTED, True)
            self._tell(trial, state=TrialState.FAIL)
            return
        if error or report is None:
            trial.set_user_attr(record.ERROR, f"the Ray worker died and {self.config.resources.retries} "
                                              "retries did not finish it (killed, or out of host memory)")
            self._tell(trial, state=TrialState.FAIL)
        elif report.error:
            trial.set_user_attr(record.ERROR, report.error)
            self._tell(trial, state=TrialState.FAIL)
        else:
            trial.set_user_attr(record.EPOCHS_DONE, report.epochs_done)
            if not report.final:  # the scheduler (ASHA, MOASHA) stopped it early
                trial.set_user_attr(record.VAL_ACCURACY_HISTORY, [report.accuracy])
                self._tell(trial, state=TrialState.PRUNED)
            else:
                for key in FINAL_RECORDED:
                    trial.set_user_attr(key, getattr(report, key))
                self._tell(trial, trial_values(self.config.objectives, report.accuracy, trial.user_attrs))
