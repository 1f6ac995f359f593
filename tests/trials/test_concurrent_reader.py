"""Reading a SQLite study while a search writes it: no "database is locked", for either side.

trials.running.study opens SQLite in WAL mode with a busy timeout, so readers (a notebook with
``optuna.load_study``, ``fusionscope report``, the dashboard) and the search's writers can
work on the same file at once.  The reader here is deliberately plain: ``optuna.load_study``
on the bare URL, with none of fusionscope's connection settings.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from tests.trials.tiny import write_tiny_config
from trials import record

pytestmark = pytest.mark.slow

LOCKED = "database is locked"




def study_created(db: Path, name: str) -> bool:
    """Whether the search has made the study, asked without opening an Optuna storage.

    Opening an RDBStorage creates Optuna's tables if they are missing; two processes doing that
    at the same moment collide (UNIQUE constraint failed: alembic_version.version_num), so the
    reader starts only once the search has finished setting the file up.
    """
    if not db.exists():
        return False
    try:
        with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)) as con:
            return con.execute("SELECT 1 FROM studies WHERE study_name = ?", (name,)).fetchone() is not None
    except sqlite3.OperationalError:  # no table yet
        return False


def cli_command() -> list[str]:
    script = Path(sys.executable).with_name("fusionscope")
    return [str(script)] if script.exists() else [sys.executable, "-m", "fusionscope"]


def test_reading_a_study_while_the_search_writes_it(tmp_path: Path) -> None:
    study_name = "concurrent"
    db = tmp_path / "runs" / "concurrent.db"
    url = f"sqlite:///{db}"
    # grid: six different specs, none skipped as a repeat, so all six trials train and write
    config = write_tiny_config(tmp_path, study=study_name, budget={"trials": 6, "epochs": 1},
                               sampler={"name": "grid", "seed": 0})
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    env.update(PYTHONUNBUFFERED="1", RAY_USAGE_STATS_ENABLED="0")
    search_log = tmp_path / "search.log"
    with search_log.open("w") as log:
        search = subprocess.Popen([*cli_command(), "search", "--config", str(config), "--storage", url],
                                  cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    reads: list[tuple[int, int]] = []  # (complete, all trials) seen by each read
    errors: list[str] = []
    report = None
    deadline = time.monotonic() + 480
    try:
        while search.poll() is None:
            if time.monotonic() > deadline:
                pytest.fail(f"the search ran past 480 s:\n{search_log.read_text()[-3000:]}")
            time.sleep(0.5)
            if not study_created(db, study_name):
                continue
            try:
                study = optuna.load_study(study_name=study_name, storage=url)
                trials = study.trials
            except Exception as err:  # noqa: BLE001 - every other failure is the finding
                errors.append(f"{type(err).__name__}: {err}")
                continue
            complete = sum(t.state == TrialState.COMPLETE for t in trials)
            reads.append((complete, len(trials)))
            if report is None and 1 <= complete < 6 and search.poll() is None:  # once, mid-run
                report_seen = complete
                report = subprocess.run([*cli_command(), "report", "--storage", url, "--study", study_name,
                                         "-o", str(tmp_path / "report")],
                                        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    finally:
        if search.poll() is None:
            os.killpg(search.pid, signal.SIGKILL)
            search.wait()
    search_output = search_log.read_text()

    assert search.returncode == 0, search_output[-5000:]
    assert errors == []
    assert LOCKED not in search_output
    assert report is not None, f"no read saw the study mid-run: {reads}"
    assert report.returncode == 0, report.stderr[-3000:]
    assert LOCKED not in report.stdout + report.stderr
    assert (tmp_path / "report" / "report.md").is_file() and (tmp_path / "report" / "report.html").is_file()
    assert 1 <= report_seen < 6  # the report started while trials were still to finish
    assert len(reads) >= 5 and any(complete < 6 for complete, _ in reads), reads

    final = optuna.load_study(study_name=study_name, storage=url).trials
    assert [t.state for t in final] == [TrialState.COMPLETE] * 6, [(t.number, t.state) for t in final]
    assert all(record.MACS in t.user_attrs and len(t.values) == 2 for t in final)
