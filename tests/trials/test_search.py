"""Real searches: Ray Tune trains, the Optuna storage records, resumes lose nothing."""

import json
import os
import signal
import subprocess
import sys
import time

import optuna
import psutil
import pytest
from optuna.trial import TrialState

from search_space.spec import ArchSpec
from trials import record
from trials.config import load
from trials.running.search import run_search
from trials.running.study import finished_count

pytestmark = pytest.mark.slow
FUSIONSCOPE = [sys.executable, "-m", "fusionscope"]


def trials_of(url, study):
    return optuna.load_study(study_name=study, storage=url).get_trials()


def test_real_search_records_every_trial(tiny_config, tmp_path):
    # resources: auto -> one 1-thread trial per core, so at least 2 concurrent on any CI machine
    path, url, study = tiny_config(trials=6, resources="auto")
    summary = run_search(load(path), progress=False, runs_dir=tmp_path / "runs")
    assert summary.complete == 6
    s = optuna.load_study(study_name=study, storage=url)
    assert s.user_attrs[record.STUDY_OBJECTIVES] == ["accuracy", "macs"]
    assert s.best_trials
    for t in s.get_trials(states=(TrialState.COMPLETE,)):
        spec = ArchSpec.from_params(t.params)
        assert t.params == spec.to_params() and t.user_attrs[record.SPEC] == spec.to_dict()
        assert 0 <= t.values[0] <= 1 and t.values[1] == t.user_attrs[record.MACS] > 0
        for key in (record.PARAMS, record.COST_BREAKDOWN, record.LATENCY_MS, record.VAL_ACCURACY_HISTORY,
                    record.TRAIN_TIME_S, record.SEEDS, record.DEVICE, record.VERSIONS, record.NODE_ID,
                    record.ACCURACY_REPLICATES, record.TRAIN_TIMELINE):
            assert t.user_attrs.get(key) is not None, key
        assert os.path.exists(t.user_attrs[record.WEIGHTS_PATH])
    # two concurrent Ray trials: some trial started before another finished
    done = s.get_trials(states=(TrialState.COMPLETE,))
    assert any(a.datetime_start < b.datetime_complete and b.datetime_start < a.datetime_complete
               for a in done for b in done if a.number < b.number)


def test_sigkill_then_resume_loses_and_repeats_nothing(tiny_config, tmp_path):
    path, url, study = tiny_config(study="killed", trials=6, epochs=12)  # trials of several seconds
    cmd = FUSIONSCOPE + ["search", "--config", str(path), "--no-progress"]
    proc = subprocess.Popen(cmd, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 240
    before = []
    while time.time() < deadline:
        time.sleep(0.3)
        try:
            before = [t for t in trials_of(url, study) if t.state == TrialState.COMPLETE]
            # training, not still being sampled: a spec key is written once sampling is done
            running = [t for t in trials_of(url, study)
                       if t.state == TrialState.RUNNING and record.SPEC_KEY in t.user_attrs]
        except Exception:  # the study is not created yet
            continue
        if len(before) >= 2 and running:
            break
    assert len(before) >= 2 and running, "search did not get going"
    proc.send_signal(signal.SIGKILL)  # the driver dies mid-trial
    proc.wait()
    before = {t.number: t.values for t in trials_of(url, study) if t.state == TrialState.COMPLETE}
    interrupted = [t for t in trials_of(url, study) if t.state == TrialState.RUNNING]
    assert interrupted

    out = subprocess.run(cmd + ["--resume"], cwd=tmp_path, capture_output=True, text=True, timeout=400)
    assert out.returncode == 0, out.stderr[-2000:]
    after = trials_of(url, study)
    complete = [t for t in after if t.state == TrialState.COMPLETE]
    assert {n: v for n, v in before.items()} == {t.number: t.values for t in complete if t.number in before}
    states = [(t.number, t.state.name, t.user_attrs.get(record.ERROR), t.user_attrs.get(record.DUPLICATE_OF)) for t in after]
    assert len(complete) == 6 == finished_count(optuna.load_study(study_name=study, storage=url)), (states, out.stderr[-3000:])
    keys = [t.user_attrs[record.SPEC_KEY] for t in complete]
    assert len(keys) == len(set(keys))  # nothing trained twice
    sampled = [t for t in interrupted if record.SPEC_KEY in t.user_attrs]
    assert sampled, states  # the kill came while a trial trained
    for t in interrupted:  # marked FAIL as interrupted, and not counted towards the budget
        stored = next(a for a in after if a.number == t.number)
        assert stored.state == TrialState.FAIL and stored.user_attrs[record.INTERRUPTED]
    for t in sampled:  # re-run with the same params (one killed mid-sampling has no spec to re-run)
        assert any(c.params == t.params for c in complete), (t.number, t.params, states)


def test_failing_candidates_are_recorded_and_the_search_goes_on(tiny_config, tmp_path):
    path, url, study = tiny_config(study="fails", trials=4, extra="")
    text = path.read_text().replace("backbone: plain", "backbone: [plain, 'tv:nosuchnet']")
    path.write_text(text)
    run_search(load(path), progress=False, runs_dir=tmp_path / "runs")
    trials = trials_of(url, study)
    failed = [t for t in trials if t.state == TrialState.FAIL]
    assert failed and all("nosuchnet" in t.user_attrs[record.ERROR] for t in failed)
    assert sum(t.state == TrialState.COMPLETE for t in trials) == 4 - len(failed)

    path, url, study = tiny_config(study="nan", trials=2, lr=1e12)
    run_search(load(path), progress=False, runs_dir=tmp_path / "runs")
    trials = trials_of(url, study)
    assert [t.state for t in trials] == [TrialState.FAIL] * 2
    for t in trials:
        assert "non-finite" in t.user_attrs[record.ERROR]
        assert t.user_attrs[record.MACS] > 0  # cost was recorded before training


def _descendants_named(pid, word):
    try:
        return [p for p in psutil.Process(pid).children(recursive=True) if word in " ".join(p.cmdline())]
    except psutil.Error:
        return []


def test_killed_ray_worker_is_retried(tiny_config, tmp_path):
    path, url, study = tiny_config(study="workerkill", trials=3, epochs=3)
    proc = subprocess.Popen(FUSIONSCOPE + ["search", "--config", str(path), "--no-progress"], cwd=tmp_path,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    killed, deadline = None, time.time() + 180
    while killed is None and time.time() < deadline and proc.poll() is None:
        time.sleep(0.5)
        try:
            running = [t for t in trials_of(url, study) if t.state == TrialState.RUNNING]
        except Exception:
            continue
        workers = _descendants_named(proc.pid, "ImplicitFunc")
        if running and workers:
            killed = workers[0].pid
            os.kill(killed, signal.SIGKILL)
    assert killed, "no Ray worker to kill"
    _, err = proc.communicate(timeout=400)
    assert proc.returncode == 0, err[-2000:]
    trials = trials_of(url, study)
    assert sum(t.state == TrialState.COMPLETE for t in trials) == 3  # the killed trial was retried
    # the search's own lines only (issue #20 item 13): no "The actor is dead" or (raylet) traceback
    assert "Traceback" not in err and "actor" not in err.lower() and "(raylet)" not in err, err[-3000:]


def test_relative_data_root_reaches_the_ray_workers(tmp_path, monkeypatch):
    """Ray runs each trial in a directory of its own: a relative data.root must still be found."""
    from pathlib import Path

    from tests.trials.tiny import TINY, write_tiny_config

    data = tmp_path / "fmnist"
    data.mkdir()
    for f in Path("/usr/share/datasets/fashion-mnist").glob("*-ubyte.gz"):
        (data / f.name).symlink_to(f)
    monkeypatch.chdir(tmp_path)
    path = write_tiny_config(tmp_path, study="relroot", storage=f"sqlite:///{tmp_path}/relroot.db",
                             data={**TINY["data"], "root": "fmnist"}, budget={"trials": 1, "epochs": 1})
    summary = run_search(load(path), progress=False, runs_dir=tmp_path / "runs")
    trial = trials_of(f"sqlite:///{tmp_path}/relroot.db", "relroot")[0]
    assert summary.complete == 1, trial.user_attrs.get(record.ERROR)


PRESTART_PROBE = """
import json, sys, time
import psutil
from trials.config import load
from trials.running.search import run_search, start_ray

start_ray()
deadline, idle, steady_since = time.time() + 60, [], time.time()
while time.time() < deadline and not (idle and time.time() - steady_since > 2):  # one per CPU, all at once
    time.sleep(0.2)
    now = [p.pid for p in psutil.process_iter(["name"]) if p.info["name"] == "ray::IDLE"]
    if now != idle:
        idle, steady_since = now, time.time()
run_search(load(sys.argv[1]), progress=False, runs_dir=sys.argv[2])
print(json.dumps(idle))
"""


def test_trials_start_on_workers_ray_prestarted(tiny_config, tmp_path):
    # a trial on a fresh worker pays its Python, Ray, torch and Tune imports; the prestarted
    # workers have them loaded (benchmarks/overhead.py), but only an actor without a runtime
    # env may take one, and Tune gives its trainables one unless told otherwise
    path, url, study = tiny_config(study="prestart", trials=1, resources="{cpus_per_trial: 1, concurrent: 1}")
    env = dict(os.environ, RAY_ADDRESS="")
    out = subprocess.run([sys.executable, "-c", PRESTART_PROBE, str(path), str(tmp_path / "runs")], cwd=tmp_path,
                         capture_output=True, text=True, timeout=300, env=env)
    assert out.returncode == 0, out.stderr[-3000:]
    prestarted = json.loads(out.stdout.strip().splitlines()[-1])
    assert prestarted
    results = list((tmp_path / "runs" / "ray" / study).glob("*/result.json"))
    assert len(results) == 1
    pids = {json.loads(line)["pid"] for line in results[0].read_text().splitlines() if line.strip()}
    assert pids and pids <= set(prestarted), (pids, prestarted)



def test_a_default_search_prints_only_its_own_lines(tiny_config, tmp_path):
    """No Ray token banner, Tune configuration box, result-folder or TensorBoard hints, no Optuna warnings."""
    path, url, study = tiny_config(study="quiet", trials=2)
    out = subprocess.run(FUSIONSCOPE + ["search", "--config", str(path)], cwd=tmp_path, capture_output=True,
                         text=True, timeout=400, env=dict(os.environ, RAY_ADDRESS=""))
    assert out.returncode == 0, out.stderr[-3000:]
    ours = ("search quiet", "study 'quiet'", "next: ")  # the progress bar, the summary, the next step
    lines = [line.strip() for line in (out.stdout + out.stderr).replace("\r", "\n").splitlines() if line.strip()]
    assert lines and all(line.startswith(ours) for line in lines), lines
    assert "complete=2" in out.stderr  # the progress line really was printed


def test_run_search_works_after_ray_was_imported(tiny_config, tmp_path):
    """A notebook that imported Ray (or Tune) before calling ``run_search``: Ray reads its auth mode
    at import, so setting it later made the GCS fail to start ("Failed to start GCS")."""
    path, url, study = tiny_config(study="imported", trials=1, resources="{cpus_per_trial: 1, concurrent: 1}")
    code = ("import sys, ray.tune\n"
            "from trials.config import load\nfrom trials.running.search import run_search\n"
            "summary = run_search(load(sys.argv[1]), progress=False, runs_dir=sys.argv[2])\n"
            "print('complete', summary.complete)")
    env = {k: v for k, v in os.environ.items() if k != "RAY_AUTH_MODE"}
    out = subprocess.run([sys.executable, "-c", code, str(path), str(tmp_path / "runs")], cwd=tmp_path,
                         capture_output=True, text=True, timeout=300, env={**env, "RAY_ADDRESS": ""})
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.strip().splitlines()[-1] == "complete 1"
