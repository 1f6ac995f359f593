"""The ``fusionscope`` command ends without the interpreter's teardown (``fusionscope.cli.run``), and
nothing a user relies on is lost by it: exit handlers run, output arrives, the exit code is kept,
and a search leaves no Ray process behind."""

import subprocess
import sys
import time

import optuna
import psutil
import pytest
from optuna.trial import TrialState

from tests.trials.tiny import write_tiny_config

# a command run through ``run`` the way the console script runs it, with an exit handler of its own
# registered first (so it runs last, after Ray's and logging's) and a finaliser that the skipped
# teardown must not reach
THROUGH_RUN = (
    "import atexit, sys\n"
    "atexit.register(lambda: print('exit handler ran', flush=True))\n"
    "class Teardown:\n"
    "    def __del__(self):\n"
    "        print('module teardown ran', flush=True)\n"
    "keep = Teardown()\n"
    "sys.argv = ['fusionscope'] + sys.argv[1:]\n"
    "from fusionscope.cli import run\n"
    "run()\n"
)


def _through_run(*args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", THROUGH_RUN, *args], capture_output=True, text=True,
                          timeout=timeout)


def test_a_command_prints_runs_its_exit_handlers_and_skips_the_teardown():
    done = _through_run("cost", "backbone=plain", "fusion=lc", "branches=1,2")
    assert done.returncode == 0, done.stderr[-2000:]
    assert "params" in done.stdout.lower() and "macs" in done.stdout.lower(), done.stdout
    assert done.stdout.rstrip().endswith("exit handler ran"), done.stdout  # after the command's output
    assert "module teardown ran" not in done.stdout  # the 0.8-3 s of teardown is what run skips


def test_bad_input_keeps_its_error_line_and_exit_code():
    done = _through_run("cost", "fusion=nonsense")
    assert done.returncode == 2, (done.returncode, done.stderr[-2000:])
    assert done.stderr.startswith("error:") and "fusion" in done.stderr, done.stderr
    assert "exit handler ran" in done.stdout


def test_the_console_script_and_python_m_go_through_run():
    from importlib.metadata import entry_points

    (script,) = [e for e in entry_points(group="console_scripts") if e.name == "fusionscope"]
    assert script.value == "fusionscope.cli:run"
    done = subprocess.run([sys.executable, "-m", "fusionscope", "cost", "fusion=nonsense"], capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 2 and done.stderr.startswith("error:"), done.stderr


@pytest.mark.slow
def test_a_search_ends_recorded_with_its_ray_stopped(tmp_path):
    path = write_tiny_config(tmp_path, study="exit", storage=f"sqlite:///{tmp_path}/exit.db",
                             budget={"trials": 1, "epochs": 1}, resources={"cpus_per_trial": 1, "concurrent": 1})
    proc = subprocess.Popen([sys.executable, "-c", THROUGH_RUN, "search", "--config", str(path), "--no-progress"],
                            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    tree: set[int] = set()
    while proc.poll() is None:  # the processes Ray starts for this search, seen while it runs
        try:
            tree |= {c.pid for c in psutil.Process(proc.pid).children(recursive=True)}
        except psutil.NoSuchProcess:
            break
        time.sleep(0.2)
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err[-3000:]
    assert tree, "Ray never started: the test would prove nothing"
    assert "1 complete" in out and out.rstrip().endswith("exit handler ran"), out
    (trial,) = optuna.load_study(study_name="exit", storage=f"sqlite:///{tmp_path}/exit.db").get_trials()
    assert trial.state == TrialState.COMPLETE
    time.sleep(2)
    alive = []
    for pid in tree:
        try:
            p = psutil.Process(pid)
            if p.is_running() and p.status() != psutil.STATUS_ZOMBIE:
                alive.append(" ".join(p.cmdline())[:120])
        except psutil.NoSuchProcess:
            continue
    assert not alive, alive
