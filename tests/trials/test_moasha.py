"""MOASHA: successive halving that promotes by non-dominated sorting of (accuracy, cost)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from trials.running.moasha import CONTINUE, STOP, MOASHARungs, nondominated_fronts, rank, rung_levels


def test_rungs_are_grace_times_powers_of_the_reduction_factor_below_max_t():
    assert rung_levels(1, 8, 3) == [1, 3]
    assert rung_levels(1, 27, 3) == [1, 3, 9]
    assert rung_levels(2, 16, 2) == [2, 4, 8]


def test_fronts_and_rank_put_the_extremes_of_a_front_first():
    pts = [(-0.9, 10), (-0.8, 1), (-0.85, 5), (-0.7, 8), (-0.6, 20)]  # (-accuracy, cost)
    assert nondominated_fronts(pts) == [[0, 1, 2], [3], [4]]
    assert rank(pts)[:2] in ([0, 1], [1, 0]) and rank(pts)[2:] == [2, 3, 4]


def test_a_cheap_slow_starter_survives_the_rung_where_asha_would_stop_it():
    rungs = MOASHARungs(grace_period=1, max_t=8, reduction_factor=3)
    # two accurate, expensive designs arrive first, then a cheap one with lower accuracy at epoch 1
    assert rungs.decide("big", 1, 0.80, [100.0]) == CONTINUE
    assert rungs.decide("bigger", 1, 0.78, [120.0]) == STOP  # dominated by "big"
    assert rungs.decide("worse", 1, 0.55, [6.0]) == STOP  # 3 recorded: only the first of the front goes on
    # 4 recorded, 2 go on: ASHA would keep the two most accurate ("big", "bigger"); the cheap one is on
    # the (accuracy, cost) front with "big", so MOASHA keeps it
    assert rungs.decide("cheap", 1, 0.60, [5.0]) == CONTINUE
    # between milestones a trial goes on; at a milestone already passed nothing is recorded twice
    assert rungs.decide("cheap", 2, 0.61, [5.0]) == CONTINUE
    assert len(rungs.recorded[1]) == 4
    assert rungs.decide("cheap", 3, 0.70, [5.0]) == CONTINUE  # first at rung 3
    assert set(rungs.recorded[3]) == {"cheap"}


def test_keeps_the_top_fraction_of_a_rung_like_asha_on_one_objective():
    rungs = MOASHARungs(1, 9, 3)
    # with one objective (equal costs) MOASHA reduces to ASHA: continue iff in the top ceil(n/3)
    answers = [rungs.decide(i, 1, acc, [1.0]) for i, acc in enumerate([0.5, 0.6, 0.4, 0.7, 0.3, 0.65])]
    assert answers == [CONTINUE, CONTINUE, STOP, CONTINUE, STOP, CONTINUE]


def test_bad_rung_settings_are_rejected():
    with pytest.raises(ValueError):
        MOASHARungs(grace_period=4, max_t=2)
    with pytest.raises(ValueError):
        MOASHARungs(reduction_factor=1)


def test_the_core_imports_without_ray():
    code = "import sys, trials.running.moasha; assert 'ray' not in sys.modules; print('ok')"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == "ok", out.stderr


def test_the_tune_scheduler_stops_a_dominated_trial_and_keeps_a_cheap_one():
    from ray.tune.schedulers import FIFOScheduler, TrialScheduler

    from trials.running.moasha import MOASHAScheduler

    class Trial:  # what the scheduler reads from Tune's Trial: its id and config
        def __init__(self, trial_id, macs):
            self.trial_id, self.config = trial_id, {"macs": macs}

    sched = MOASHAScheduler(max_t=8, grace_period=1, reduction_factor=3, cost_fn=lambda c: [c["macs"]])
    assert isinstance(sched, FIFOScheduler)
    big, bigger, worse, cheap = Trial("a", 100), Trial("b", 120), Trial("d", 6), Trial("c", 5)
    assert sched.on_trial_result(None, big, {"epoch": 1, "accuracy": 0.8}) == TrialScheduler.CONTINUE
    assert sched.on_trial_result(None, bigger, {"epoch": 1, "accuracy": 0.7}) == TrialScheduler.STOP
    assert sched.on_trial_result(None, worse, {"epoch": 1, "accuracy": 0.45}) == TrialScheduler.STOP
    assert sched.on_trial_result(None, cheap, {"epoch": 1, "accuracy": 0.5}) == TrialScheduler.CONTINUE
    assert sched.on_trial_result(None, cheap, {"epoch": 8, "accuracy": 0.8}) == TrialScheduler.STOP  # max_t
    # cost from the result keys when no cost_fn is given
    by_key = MOASHAScheduler(max_t=8, cost_keys=("macs",))
    assert by_key.on_trial_result(None, Trial("x", 0), {"epoch": 1, "accuracy": 0.5, "macs": 7}) == "CONTINUE"
    assert "2 stopped" in sched.debug_string()
