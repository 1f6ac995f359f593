"""Ctrl-C and SIGTERM stop a search cleanly: a resume line, nothing falsely marked, no Ray left."""

import signal
import subprocess
import sys
import time

import optuna
import psutil
import pytest
from optuna.trial import TrialState

from trials import record

pytestmark = pytest.mark.slow
FUSIONSCOPE = [sys.executable, "-m", "fusionscope"]


def _trials(url, study):
    try:
        return optuna.load_study(study_name=study, storage=url).get_trials(deepcopy=False)
    except Exception:
        return []


def _ray_processes_of(pid_tree: set[int]) -> list[str]:
    alive = []
    for pid in pid_tree:
        try:
            p = psutil.Process(pid)
            if p.is_running() and p.status() != psutil.STATUS_ZOMBIE:
                alive.append(" ".join(p.cmdline())[:120])
        except psutil.NoSuchProcess:
            continue
    return alive


@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)], ids=["SIGINT", "SIGTERM"])
def test_signal_stops_marks_and_resumes(tiny_config, tmp_path, sig, code):
    config, url, study = tiny_config(study=f"sig{int(sig)}", trials=4, epochs=8,
                                     resources="{cpus_per_trial: 1, concurrent: 1}")
    cmd = FUSIONSCOPE + ["search", "--config", str(config), "--no-progress"]
    proc = subprocess.Popen(cmd, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 480  # generous: CI machines may be loaded
    while time.time() < deadline and not any(
            t.state == TrialState.RUNNING and record.SPEC_KEY in t.user_attrs for t in _trials(url, study)):
        time.sleep(0.3)
    tree = {c.pid for c in psutil.Process(proc.pid).children(recursive=True)}
    assert tree, "Ray did not start"
    running = [t for t in _trials(url, study) if t.state == TrialState.RUNNING]
    assert running, "no trial was training when the signal was sent: the test would prove nothing"
    start = time.time()
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=60)
    assert time.time() - start < 60  # within seconds (a loaded 2-core machine), not after 8 epochs
    assert proc.returncode == code, err[-2000:]
    assert "error: stopped by" in err and "Traceback" not in err and "Tuner.restore" not in err + out
    assert "to resume, run the same command again:" in err and "search --config" in err
    time.sleep(2)
    assert not _ray_processes_of(tree), _ray_processes_of(tree)
    after = {t.number: t for t in _trials(url, study)}
    for t in running:  # what it was training is marked interrupted, to be re-run first
        assert after[t.number].state == TrialState.FAIL and after[t.number].user_attrs[record.INTERRUPTED]
    rerun = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    final = _trials(url, study)
    assert not [t for t in final if t.state == TrialState.RUNNING]
    assert sum(t.state == TrialState.COMPLETE for t in final) == 4
    interrupted = [t for t in running if record.SPEC_KEY in t.user_attrs]
    assert interrupted, "no interrupted trial had a spec: nothing to check was re-run"
    for t in interrupted:
        assert any(c.state == TrialState.COMPLETE and c.params == t.params for c in final)
