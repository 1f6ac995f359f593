"""Several `fusionscope search` processes on one study cooperate (issue: many drivers).

Optuna's documented way to distribute a study is to start the same optimisation on many
machines; here the second driver starts while the first trains.  Neither may mark the other's
live trials interrupted, neither crashes, and no spec is trained twice.
"""

import os
import signal
import subprocess
import sys
import time

import optuna
import pytest
from optuna.trial import TrialState

from trials import record

pytestmark = pytest.mark.slow
FUSIONSCOPE = [sys.executable, "-m", "fusionscope"]


def _trials(url, study):
    try:
        return optuna.load_study(study_name=study, storage=url).get_trials(deepcopy=False)
    except Exception:  # not created yet
        return []


def _wait_for_training(url, study, proc, timeout=240):
    deadline = time.time() + timeout
    while time.time() < deadline:
        assert proc.poll() is None, "the first driver ended before training"
        if any(t.state == TrialState.RUNNING and record.SPEC_KEY in t.user_attrs for t in _trials(url, study)):
            return
        time.sleep(0.3)
    raise AssertionError("the first driver never started training")


def _check_cooperated(url, study, budget, drivers):
    trials = _trials(url, study)
    states = [(t.number, t.state.name, t.user_attrs.get(record.ERROR), t.user_attrs.get(record.DRIVER)) for t in trials]
    assert not [t for t in trials if t.user_attrs.get(record.INTERRUPTED)], states
    assert not [t for t in trials if t.state == TrialState.RUNNING], states
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    keys = [t.user_attrs[record.SPEC_KEY] for t in complete]
    assert len(keys) == len(set(keys)), states  # no spec trained twice
    finished = [t for t in trials if t.state != TrialState.RUNNING and record.DUPLICATE_OF not in t.user_attrs]
    # each driver checks the budget before it asks: together they may overshoot by one per extra driver
    assert budget <= len(finished) <= budget + drivers - 1, states
    assert len({t.user_attrs[record.DRIVER] for t in complete}) == drivers, states  # both really trained


def _two_drivers(config, cwd, url, study, budget, env=None):
    cmd = FUSIONSCOPE + ["search", "--config", str(config), "--no-progress"]
    first = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    _wait_for_training(url, study, first)
    second = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    out2, err2 = second.communicate(timeout=600)
    out1, err1 = first.communicate(timeout=600)
    assert first.returncode == 0, err1[-3000:]
    assert second.returncode == 0, err2[-3000:]
    _check_cooperated(url, study, budget, 2)


def test_two_drivers_on_one_sqlite_study(tiny_config, tmp_path):
    config, url, study = tiny_config(study="two", trials=8, epochs=3,
                                     resources="{cpus_per_trial: 1, concurrent: 1}")
    _two_drivers(config, tmp_path, url, study, 8)


def test_two_drivers_on_one_postgres_study(tiny_config, tmp_path):
    base = os.environ.get("FUSIONSCOPE_TEST_POSTGRES_URL")
    if not base:
        pytest.skip("FUSIONSCOPE_TEST_POSTGRES_URL is not set (source .ci/postgres.sh)")
    study = f"two_pg_{os.getpid()}_{int(time.time())}"
    config, _, _ = tiny_config(study=study, trials=6, epochs=3, resources="{cpus_per_trial: 1, concurrent: 1}")
    config.write_text(config.read_text().replace(f"storage: sqlite:///{tmp_path / (study + '.db')}", f"storage: {base}"))
    _two_drivers(config, tmp_path, base, study, 6)


def test_a_killed_driver_s_trial_is_stale_for_the_survivor_and_re_run(tiny_config, tmp_path):
    config, url, study = tiny_config(study="killed2", trials=5, epochs=6,
                                     resources="{cpus_per_trial: 1, concurrent: 1}")
    cmd = FUSIONSCOPE + ["search", "--config", str(config), "--no-progress"]
    first = subprocess.Popen(cmd, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _wait_for_training(url, study, first)
    survivor = subprocess.Popen(cmd, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(2)
    killed = [t for t in _trials(url, study) if t.state == TrialState.RUNNING
              and t.user_attrs.get(record.DRIVER, "").endswith(f":{first.pid}") and record.SPEC_KEY in t.user_attrs]
    first.send_signal(signal.SIGKILL)
    first.wait()
    assert killed, "the first driver had no trial in training when it was killed"
    out, err = survivor.communicate(timeout=600)
    assert survivor.returncode == 0, err[-3000:]
    trials = _trials(url, study)
    for t in killed:
        stored = next(s for s in trials if s.number == t.number)
        assert stored.state == TrialState.FAIL and stored.user_attrs[record.INTERRUPTED]
        assert any(c.state == TrialState.COMPLETE and c.params == t.params and c.number > t.number for c in trials)
    assert not [t for t in trials if t.state == TrialState.RUNNING]
