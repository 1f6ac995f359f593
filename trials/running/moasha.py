"""Multi-objective asynchronous successive halving (MOASHA), for Ray Tune and for simulations.

ASHA judges a trial at each rung on accuracy alone, so it stops cheap designs that start slowly,
the very designs an accuracy-vs-cost front wants.  A candidate's cost (params, MACs) is known
before it trains, so MOASHA (Syne Tune's ``MOASHA``, Schmucker et al. 2021) ranks the trials
recorded at a rung by non-dominated sorting of (accuracy at the rung, cost) instead, and lets a
trial continue iff it is among the best ``ceil(n / reduction_factor)`` of the ``n`` recorded there
(itself included), as ASHA's quantile cut does for one metric.  Within the front that straddles
the cut, the NSGA-II crowding distance orders (extremes first, so the cheapest and the most
accurate design of a front are always kept), then accuracy.

``MOASHARungs`` is the pure, Ray-free core (the simulator in ``benchmarks/early_stopping.py``
replays it on the learning-curve table); ``MOASHAScheduler`` wraps it as a Ray Tune scheduler
with ASHA's rung bookkeeping (one bracket; see ``ray/tune/schedulers/async_hyperband.py``), built
on first access so that importing this module does not import Ray.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

CONTINUE, STOP = "continue", "stop"


def rung_levels(grace_period: int, max_t: int, reduction_factor: float) -> list[int]:
    """Rung milestones ``grace * rf**k`` below ``max_t`` (a trial reaching max_t simply ends)."""
    levels, k = [], 0
    while True:
        level = int(round(grace_period * reduction_factor ** k))
        if level >= max_t:
            return levels
        levels.append(level)
        k += 1


def nondominated_fronts(points: Sequence[Sequence[float]]) -> list[list[int]]:
    """Indices of ``points`` (all objectives minimised) sorted into successive Pareto fronts."""
    n = len(points)
    dominated_by = [0] * n
    dominates: list[list[int]] = [[] for _ in range(n)]
    for i in range(n):
        for j in range(i + 1, n):
            if _dominates(points[i], points[j]):
                dominates[i].append(j)
                dominated_by[j] += 1
            elif _dominates(points[j], points[i]):
                dominates[j].append(i)
                dominated_by[i] += 1
    fronts, current = [], [i for i in range(n) if dominated_by[i] == 0]
    while current:
        fronts.append(current)
        nxt = []
        for i in current:
            for j in dominates[i]:
                dominated_by[j] -= 1
                if dominated_by[j] == 0:
                    nxt.append(j)
        current = sorted(nxt)
    return fronts


def _dominates(a: Sequence[float], b: Sequence[float]) -> bool:
    return all(x <= y for x, y in zip(a, b)) and any(x < y for x, y in zip(a, b))


def crowding_distance(points: Sequence[Sequence[float]]) -> list[float]:
    """NSGA-II crowding distance of each point within its front (extremes: infinity)."""
    n = len(points)
    if n <= 2:
        return [math.inf] * n
    dist = [0.0] * n
    for m in range(len(points[0])):
        order = sorted(range(n), key=lambda i: points[i][m])
        lo, hi = points[order[0]][m], points[order[-1]][m]
        dist[order[0]] = dist[order[-1]] = math.inf
        if hi == lo:
            continue
        for k in range(1, n - 1):
            dist[order[k]] += (points[order[k + 1]][m] - points[order[k - 1]][m]) / (hi - lo)
    return dist


def rank(points: Sequence[Sequence[float]]) -> list[int]:
    """Indices of ``points`` best first: front by front, within a front by crowding, then objective 0."""
    order: list[int] = []
    for front in nondominated_fronts(points):
        crowd = crowding_distance([points[i] for i in front])
        order.extend(i for _, i in sorted(zip(crowd, front), key=lambda ci: (-ci[0], points[ci[1]][0], ci[1])))
    return order


class MOASHARungs:
    """The rung bookkeeping and promotion rule of MOASHA, without Ray.

    ``decide(trial_id, t, accuracy, cost)`` is called with a trial's result after ``t`` epochs;
    at a rung milestone the trial is recorded there (once) and the answer is ``"stop"`` unless it
    is in the top ``ceil(n / reduction_factor)`` by non-dominated sorting of
    ``(-accuracy, *cost)`` among the ``n`` trials recorded at that rung.  Between milestones the
    answer is ``"continue"``.
    """

    def __init__(self, grace_period: int = 1, max_t: int = 8, reduction_factor: float = 3):
        if grace_period < 1 or max_t < grace_period or reduction_factor <= 1:
            raise ValueError(f"need 1 <= grace_period <= max_t and reduction_factor > 1, got "
                             f"{grace_period}, {max_t}, {reduction_factor}")
        self.reduction_factor = reduction_factor
        self.levels = rung_levels(grace_period, max_t, reduction_factor)
        self.recorded: dict[int, dict[Any, tuple[float, ...]]] = {level: {} for level in self.levels}

    def decide(self, trial_id: Any, t: int, accuracy: float, cost: Sequence[float]) -> str:
        for level in reversed(self.levels):  # the highest milestone reached, as ASHA
            if t < level:
                continue
            rung = self.recorded[level]
            if trial_id in rung:
                return CONTINUE
            rung[trial_id] = (-float(accuracy), *(float(c) for c in cost))
            ids = list(rung)
            keep = math.ceil(len(ids) / self.reduction_factor)
            best = {ids[i] for i in rank([rung[k] for k in ids])[:keep]}
            return CONTINUE if trial_id in best else STOP
        return CONTINUE


def __getattr__(name: str) -> Any:
    """``MOASHAScheduler`` is built on first use, so the core above imports without Ray."""
    if name == "MOASHAScheduler":
        globals()[name] = _scheduler_class()
        return globals()[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _scheduler_class() -> type:
    from ray.tune.schedulers import FIFOScheduler, TrialScheduler

    class MOASHAScheduler(FIFOScheduler):
        """Ray Tune scheduler: ``MOASHARungs`` over the results a trial reports.

        ``metric`` (maximised, e.g. ``"accuracy"``) and ``time_attr`` (e.g. ``"epoch"``) are read from
        each result; the cost vector (minimised) from the result keys ``cost_keys`` or, when given,
        from ``cost_fn(trial.config)`` once per trial (a design's cost is known before it trains:
        the driver can pass ``lambda config: [spec_cost(ArchSpec.from_params(config["params"])).macs]``).
        """

        def __init__(self, time_attr: str = "epoch", metric: str = "accuracy", max_t: int = 8,
                     grace_period: int = 1, reduction_factor: float = 3,
                     cost_keys: Sequence[str] = ("macs",),
                     cost_fn: Callable[[Mapping[str, Any]], Sequence[float]] | None = None):
            super().__init__()
            self._rungs = MOASHARungs(grace_period, max_t, reduction_factor)
            self._time_attr, self._metric, self._max_t = time_attr, metric, max_t
            self._cost_keys, self._cost_fn = tuple(cost_keys), cost_fn
            self._costs: dict[str, tuple[float, ...]] = {}
            self.num_stopped = 0

        def set_search_properties(self, metric: str | None, mode: str | None, **spec) -> bool:
            # the metric is fixed at construction (it is maximised); Tune's single metric/mode is not ours
            return True

        def _cost(self, trial: Any, result: Mapping[str, Any]) -> tuple[float, ...] | None:
            if trial.trial_id not in self._costs:
                if self._cost_fn is not None:
                    self._costs[trial.trial_id] = tuple(float(c) for c in self._cost_fn(trial.config))
                elif all(k in result for k in self._cost_keys):
                    self._costs[trial.trial_id] = tuple(float(result[k]) for k in self._cost_keys)
                else:
                    return None
            return self._costs[trial.trial_id]

        def on_trial_result(self, tune_controller: Any, trial: Any, result: dict) -> str:
            if self._time_attr not in result or self._metric not in result or result.get("final"):
                return TrialScheduler.CONTINUE
            if result[self._time_attr] >= self._max_t:
                return TrialScheduler.STOP
            cost = self._cost(trial, result)
            if cost is None:  # no cost yet: judge nothing rather than judge on accuracy alone
                return TrialScheduler.CONTINUE
            if self._rungs.decide(trial.trial_id, int(result[self._time_attr]), result[self._metric], cost) == STOP:
                self.num_stopped += 1
                return TrialScheduler.STOP
            return TrialScheduler.CONTINUE

        def debug_string(self) -> str:
            sizes = ", ".join(f"{level}: {len(r)}" for level, r in self._rungs.recorded.items())
            return f"MOASHA: {self.num_stopped} stopped; trials recorded per rung {{{sizes}}}"

    MOASHAScheduler.__module__ = __name__
    return MOASHAScheduler
