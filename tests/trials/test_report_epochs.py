"""A trial reports to Tune only where a scheduler decides (and after its first epoch), and the
decisions are exactly those of a report after every epoch.

Each report holds the training until Tune's controller has taken it (function trainables report
synchronously), so a report per epoch cost ~0.2 s an epoch on 2 cores (``benchmarks/overhead.py``).
"""

from __future__ import annotations

import random

import pytest

from tests.trials.tiny import tiny_mapping
from trials import config as config_mod
from trials.running.moasha import STOP, MOASHARungs
from trials.running.search import report_epochs


def _config(**budget):
    return config_mod.from_dict(tiny_mapping(budget=budget))


def test_without_early_stopping_only_the_first_epoch_reports_before_the_end():
    assert report_epochs(_config(epochs=10)) == [1]
    assert report_epochs(_config(epochs=1)) == []  # the final report is the only one


@pytest.mark.parametrize("grace, epochs, rf", [(1, 8, 2), (1, 27, 3), (2, 20, 2), (3, 10, 4), (1, 10, 3)])
def test_asha_decides_the_same_on_the_reported_epochs_as_on_every_epoch(grace, epochs, rf):
    from ray.tune.schedulers import ASHAScheduler

    class Trial:  # what ASHAScheduler reads of a trial
        def __init__(self, i: int) -> None:
            self.trial_id, self.config = str(i), {}

    reported = set(report_epochs(_config(epochs=epochs, early_stopping="asha", grace_epochs=grace,
                                         reduction_factor=rf))) | {epochs}
    assert 1 in reported and len(reported) < epochs

    def stops(at: set[int]) -> list[tuple[str, int]]:
        scheduler = ASHAScheduler(time_attr="epochs_done", metric="accuracy", mode="max", max_t=epochs,
                                  grace_period=grace, reduction_factor=rf)
        rnd, out = random.Random(epochs * rf), []
        trials = [Trial(i) for i in range(20)]
        for t in trials:
            scheduler.on_trial_add(None, t)
        for t in trials:
            curve = [rnd.random() for _ in range(epochs)]
            for e in sorted(at):
                if scheduler.on_trial_result(None, t, {"epochs_done": e, "accuracy": curve[e - 1]}) == "STOP":
                    out.append((t.trial_id, e))
                    break
        return out

    every = stops(set(range(1, epochs + 1)))
    assert [e for _, e in every if e < epochs], "ASHA stopped nothing early: the comparison proves nothing"
    assert stops(reported) == every


@pytest.mark.parametrize("grace, epochs, rf", [(1, 8, 2), (1, 9, 3), (2, 20, 2)])
def test_moasha_decides_the_same_on_the_reported_epochs_as_on_every_epoch(grace, epochs, rf):
    reported = set(report_epochs(_config(epochs=epochs, early_stopping="moasha", grace_epochs=grace,
                                         reduction_factor=rf))) | {epochs}

    def stops(at: set[int]) -> list[tuple[int, int]]:
        rungs, rnd, out = MOASHARungs(grace, epochs, rf), random.Random(epochs), []
        for i in range(20):
            curve, cost = [rnd.random() for _ in range(epochs)], [rnd.random()]
            for e in sorted(at):
                if rungs.decide(i, e, curve[e - 1], cost) == STOP:
                    out.append((i, e))
                    break
        return out

    every = stops(set(range(1, epochs + 1)))
    assert every, "MOASHA stopped nothing: the comparison proves nothing"
    assert stops(reported) == every
