"""Issue #20: storage faults, foreign studies and studies shared by two configs.

The refusals here all happen before Ray starts or anything trains: each test runs the real
command in-process and checks the one ``error:`` line, the exit code and that the storage
holds exactly what it held before.
"""

from __future__ import annotations

import optuna
import pytest
import yaml
from optuna.trial import TrialState

from fusionscope.cli import main
from tests.disks import small_tmpfs
from tests.trials.tiny import TINY, write_tiny_config
from trials import config as config_mod
from trials import record
from trials.running.study import open_study


def error_line(capsys) -> str:
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1, err
    return err


def trial_states(url: str, study: str) -> list[str]:
    return [t.state.name for t in optuna.load_study(study_name=study, storage=url).get_trials()]


def tiny(tmp_path, **changes):
    path = write_tiny_config(tmp_path, storage=f"sqlite:///{tmp_path / 'x.db'}", **changes)
    return path, f"sqlite:///{tmp_path / 'x.db'}"


# --- 2: a study fusionscope did not make ----------------------------------------------------
@pytest.mark.parametrize("directions", [["maximize"], ["maximize", "minimize"]])
def test_a_search_into_a_plain_optuna_study_is_refused_before_training(tmp_path, capsys, directions) -> None:
    path, url = tiny(tmp_path)
    study = optuna.create_study(study_name="tiny", storage=url, directions=directions)
    for x in (0.1, 0.2):
        study.add_trial(optuna.trial.create_trial(values=[x] * len(directions), params={},
                                                  distributions={}))
    assert main(["search", "--config", str(path), "--no-progress"]) == 2
    err = error_line(capsys)
    assert "study 'tiny' in sqlite:///" in err and "was not made by fusionscope" in err, err
    assert trial_states(url, "tiny") == ["COMPLETE", "COMPLETE"]
    # --resume counts nothing foreign either: refused the same way
    assert main(["search", "--config", str(path), "--resume", "--no-progress"]) == 2
    assert "was not made by fusionscope" in error_line(capsys)
    assert trial_states(url, "tiny") == ["COMPLETE", "COMPLETE"]


def test_a_fusionscope_study_with_other_directions_is_refused(tmp_path, capsys) -> None:
    path, url = tiny(tmp_path)
    study = optuna.create_study(study_name="tiny", storage=url, directions=["minimize", "minimize"])
    study.set_user_attr(record.STUDY_OBJECTIVES, ["accuracy", "macs"])
    study.set_user_attr(record.STUDY_CONFIG, config_mod.load(path).to_dict())
    assert main(["search", "--config", str(path), "--no-progress"]) == 2
    assert "exists with objectives ['accuracy', 'macs'] (['minimize', 'minimize'])" in error_line(capsys)
    assert trial_states(url, "tiny") == []


# --- 3: two configs on one study --------------------------------------------------------------
def test_a_second_config_that_changes_what_a_trial_means_is_refused_naming_the_keys(tmp_path, capsys) -> None:
    path, url = tiny(tmp_path)
    open_study(config_mod.load(path), url)  # the study as the first driver made it
    other = tmp_path / "other.yaml"
    raw = yaml.safe_load(path.read_text())
    raw["budget"]["epochs"] = 3
    raw["space"]["fusion"] = ["none", "conv"]
    raw["training"]["lr"] = 0.1
    other.write_text(yaml.safe_dump(raw))
    assert main(["search", "--config", str(other), "--no-progress"]) == 2
    err = error_line(capsys)
    assert "was made with another config" in err, err
    for key in ("budget.epochs: 1 in the study, 3 here", "space.fusion", "training.lr: 0.05 in the study, 0.1 here"):
        assert key in err, err
    assert trial_states(url, "tiny") == []


def test_the_same_config_with_a_larger_budget_or_other_resources_is_accepted(tmp_path) -> None:
    path, url = tiny(tmp_path)
    first = config_mod.load(path)
    open_study(first, url)
    raw = yaml.safe_load(path.read_text())
    raw["budget"]["trials"] = 40
    raw["resources"] = {"cpus_per_trial": 2, "concurrent": 1}
    raw["sampler"] = {"name": "tpe", "seed": 3}
    again = open_study(config_mod.from_dict(raw), url)
    assert again.user_attrs[record.STUDY_CONFIG]["budget"]["trials"] == TINY["budget"]["trials"]


# --- faults injected for real while a search runs (slow: Ray and training) ------------------------
import errno  # noqa: E402
import os  # noqa: E402
import shutil  # noqa: E402
import signal  # noqa: E402
import sqlite3  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

FUSIONSCOPE = [sys.executable, "-m", "fusionscope"]


def complete_count(db: Path, study: str = "tiny") -> int:
    """COMPLETE trials in an SQLite study, read through SQLite's read-only mode (changes nothing)."""
    try:
        conn = sqlite3.connect(f"{db.resolve().as_uri()}?mode=ro", uri=True, timeout=5)
        try:
            return conn.execute("SELECT count(*) FROM trials t JOIN studies s ON s.study_id = t.study_id "
                                "WHERE s.study_name = ? AND t.state = 'COMPLETE'", (study,)).fetchone()[0]
        finally:
            conn.close()
    except sqlite3.Error:
        return 0


def start_search(config: Path, cwd: Path, **env: str) -> subprocess.Popen:
    return subprocess.Popen([*FUSIONSCOPE, "search", "--config", str(config), "--no-progress"], cwd=cwd,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1", "RAY_USAGE_STATS_ENABLED": "0", **env})


def wait_for_complete(proc: subprocess.Popen, db: Path, n: int = 1, timeout: float = 480) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline and complete_count(db) < n:
        if proc.poll() is not None:
            out, err = proc.communicate()
            pytest.fail(f"the search ended early ({proc.returncode}):\n{err[-3000:]}")
        time.sleep(0.3)
    assert complete_count(db) >= n, "no trial completed in time"


def finish(proc: subprocess.Popen, timeout: float = 180) -> tuple[int, str, str]:
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        pytest.fail(f"the search did not stop within {timeout} s of the fault:\n{err[-3000:]}")
    return proc.returncode, out, err


def own_lines_only(err: str) -> None:
    assert "Traceback" not in err and "(raylet)" not in err and "Error stopping trial" not in err, err[-3000:]
    assert err.count("error: ") == 1, err[-3000:]


@pytest.mark.slow
def test_a_storage_file_deleted_mid_search_stops_it_with_an_error(tmp_path) -> None:
    """Issue #20 item 1: the search used to go on into the unlinked file and exit 0 claiming 8 complete."""
    db = tmp_path / "x.db"
    path, _url = tiny(tmp_path, budget={"trials": 8, "epochs": 2})
    proc = start_search(path, tmp_path)
    wait_for_complete(proc, db)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    code, out, err = finish(proc)
    assert code == 2, err[-3000:]
    assert "error: the SQLite storage file" in err and "was deleted while the search ran" in err, err[-3000:]
    assert "complete" not in out and "next: fusionscope report" not in out, out
    own_lines_only(err)


@pytest.fixture
def tiny_tmpfs(tmp_path):
    """8 MiB: room for the study until the test fills it."""
    with small_tmpfs(tmp_path / "small", "8m") as mount:
        yield mount


@pytest.mark.slow
def test_sqlite_on_a_disk_that_fills_mid_search_is_one_line_and_keeps_what_was_recorded(tmp_path, tiny_tmpfs) -> None:
    db = tiny_tmpfs / "x.db"
    path = write_tiny_config(tmp_path, storage=f"sqlite:///{db}", budget={"trials": 8, "epochs": 2})
    proc = start_search(path, tmp_path)
    wait_for_complete(proc, db)
    try:  # fill what is left of the disk
        filler = open(tiny_tmpfs / "filler", "wb", buffering=0)  # unbuffered: closing has nothing left to fail on
    except OSError as err:  # the search's own writes filled it first: full either way
        assert err.errno == errno.ENOSPC, err
    else:
        with filler, pytest.raises(OSError):
            while True:
                filler.write(b"\0" * 65536)
    code, out, err = finish(proc)
    assert code == 2, err[-3000:]
    assert "error: no space left on the device" in err, err[-3000:]
    own_lines_only(err)
    (tiny_tmpfs / "filler").unlink(missing_ok=True)
    kept = optuna.load_study(study_name="tiny", storage=f"sqlite:///{db}").get_trials()
    assert sum(t.state == TrialState.COMPLETE for t in kept) >= 1
    assert not [t for t in kept if t.state == TrialState.FAIL and not t.user_attrs.get(record.INTERRUPTED)]


def test_a_full_disk_under_optunas_storage_error_is_one_line(tmp_path, capsys, monkeypatch) -> None:
    """The cause sits under Optuna's StorageInternalError: ``main`` looks through the chain."""
    import sqlalchemy

    def full(*_a, **_k):
        try:
            try:
                raise sqlite3.OperationalError("database or disk is full")
            except sqlite3.OperationalError as inner:
                raise sqlalchemy.exc.OperationalError("INSERT ...", {}, inner) from inner
        except sqlalchemy.exc.OperationalError as outer:
            raise optuna.exceptions.StorageInternalError("An exception is raised during the commit.") from outer

    monkeypatch.setattr("trials.running.study.open_study", full)
    monkeypatch.setattr("trials.running.search.open_study", full)
    path, _url = tiny(tmp_path)
    assert main(["search", "--config", str(path), "--no-progress"]) == 2
    assert "no space left on the device" in error_line(capsys)


@pytest.mark.skipif(shutil.which("chattr") is None or os.geteuid() != 0, reason="needs chattr and root")
def test_an_immutable_storage_is_refused_before_anything_starts(tmp_path, capsys) -> None:
    path, url = tiny(tmp_path)
    open_study(config_mod.load(path), url)
    db = tmp_path / "x.db"
    made = subprocess.run(["chattr", "+i", str(db)], capture_output=True, text=True)
    if made.returncode != 0:
        pytest.skip(f"chattr +i is not supported here: {made.stderr.strip()}")
    try:
        assert main(["search", "--config", str(path), "--no-progress"]) == 2
        err = error_line(capsys)
        assert "is not writable" in err and "immutable" in err, err
    finally:
        subprocess.run(["chattr", "-i", str(db)], capture_output=True)
    assert trial_states(url, "tiny") == []


@pytest.fixture
def own_postgres():
    """A PostgreSQL cluster of this test's own (initdb + pg_ctl as the postgres user in a temporary
    folder, on a free port), so stopping it touches nobody else's server; removed afterwards."""
    import pwd
    import socket
    import tempfile

    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb")) if Path("/usr/lib/postgresql").exists() else []
    if not versions or os.geteuid() != 0:
        pytest.skip("needs root and a PostgreSQL server install (apt-get install -y postgresql)")
    try:
        pg = pwd.getpwnam("postgres")
    except KeyError:
        pytest.skip("no postgres user")
    bindir = versions[-1].parent
    folder = Path(tempfile.mkdtemp(prefix="fs-own-pg-"))
    os.chown(folder, pg.pw_uid, pg.pw_gid)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]

    def as_postgres(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(["runuser", "-u", "postgres", "--", *args], capture_output=True, text=True, timeout=120)

    data = folder / "data"
    made = as_postgres(str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "--auth-local=trust",
                       "--auth-host=scram-sha-256")
    assert made.returncode == 0, made.stderr

    def start() -> None:
        done = as_postgres(str(bindir / "pg_ctl"), "-D", str(data), "-l", str(folder / "log"), "-w", "-t", "60", "-o",
                           f"-p {port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={folder}", "start")
        assert done.returncode == 0, done.stderr + (folder / "log").read_text()[-2000:]

    def stop() -> None:
        as_postgres(str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop")

    start()
    sql = "CREATE ROLE fs LOGIN PASSWORD 'own-secret-pw'; CREATE DATABASE fs OWNER fs;"
    for statement in sql.split(";")[:2]:
        done = as_postgres(str(bindir / "psql"), "-h", str(folder), "-p", str(port), "-d", "postgres", "-c", statement)
        assert done.returncode == 0, done.stderr
    try:
        yield f"postgresql+psycopg2://fs:own-secret-pw@127.0.0.1:{port}/fs", start, stop
    finally:
        as_postgres(str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.slow
def test_postgres_stopped_mid_search_retries_then_stops_in_one_line_and_the_resume_reruns(tmp_path, own_postgres) -> None:
    url, start, stop = own_postgres
    path = write_tiny_config(tmp_path, storage=url, budget={"trials": 6, "epochs": 2})

    def states() -> list[TrialState]:
        try:
            return [t.state for t in optuna.load_study(study_name="tiny", storage=url).get_trials()]
        except Exception:
            return []

    proc = start_search(path, tmp_path, FUSIONSCOPE_STORAGE_RETRY_S="6")
    deadline = time.time() + 480
    while time.time() < deadline and TrialState.COMPLETE not in states():
        assert proc.poll() is None, proc.communicate()[1][-3000:]
        time.sleep(0.5)
    stop()
    code, out, err = finish(proc, timeout=240)
    assert code == 2, err[-3000:]
    assert "own-secret-pw" not in out + err
    assert "error: lost the storage postgresql+psycopg2://fs:***@127.0.0.1:" in err, err[-3000:]
    own_lines_only(err)
    start()
    resumed = subprocess.run([*FUSIONSCOPE, "search", "--config", str(path), "--no-progress"], cwd=tmp_path,
                             capture_output=True, text=True, timeout=600,
                             env={**os.environ, "RAY_USAGE_STATS_ENABLED": "0"})
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    final = optuna.load_study(study_name="tiny", storage=url).get_trials()
    assert not [t for t in final if t.state == TrialState.RUNNING]
    assert not [t for t in final if t.state == TrialState.FAIL and not t.user_attrs.get(record.INTERRUPTED)]
    assert sum(t.state == TrialState.COMPLETE for t in final) + sum(
        t.state == TrialState.PRUNED and record.DUPLICATE_OF not in t.user_attrs for t in final) == 6


# --- 4: one spec claimed by two drivers at once --------------------------------------------------
def test_a_spec_two_drivers_sample_at_once_is_trained_by_the_lower_trial_only(tmp_path, monkeypatch) -> None:
    """Driver A's trial 0 is still sampling when driver B's trial 1 samples the same spec and
    checks: B must wait for 0's key and yield the spec (it used to train it as well: #20 item 4)."""
    import threading

    from trials.running import searcher as searcher_mod
    from trials.running.searcher import StudySearcher

    monkeypatch.setattr(searcher_mod, "MAX_DUPLICATES_IN_A_ROW", 3)
    path, url = tiny(tmp_path, budget={"trials": 2, "epochs": 1})
    config = config_mod.load(path)
    open_study(config, url)
    job = {"training": {}, "epochs": 1, "cpus_per_trial": 1, "gpus_per_trial": 0, "latency_batch": 1,
           "weights_dir": None}

    def driver() -> StudySearcher:
        study = optuna.load_study(study_name="tiny", storage=url)  # a driver of its own: its own cache
        return StudySearcher(study, config, config.search_space(), [], (10, 1, 28), job, {}, lambda: None,
                             storage_url=url)

    a, b = driver(), driver()
    trial_a = a.study.ask()  # A has asked trial 0 and is sampling it
    got = {}
    thread = threading.Thread(target=lambda: got.update(job=b.suggest("b-1")))
    thread.start()
    deadline = time.monotonic() + 30
    key = None
    while key is None and time.monotonic() < deadline:  # B asks trial 1, samples it and writes its key ...
        time.sleep(0.05)
        key = next((t.user_attrs.get(record.SPEC_KEY) for t in a.study.get_trials() if t.number == 1), None)
    assert key is not None
    time.sleep(0.3)  # ... and checks; then A's trial 0 has sampled the same design and writes its key
    a.space.sample(trial_a)
    trial_a.set_user_attr(record.SPEC_KEY, key)
    assert a._spec_done(key, trial_a.number) is None  # A keeps it: B's is the higher number
    thread.join(timeout=60)
    assert got["job"] is None or got["job"] == searcher_mod.Searcher.FINISHED or got["job"]["number"] != 1, \
        "driver B was handed the spec driver A is training"
    trial_1 = optuna.load_study(study_name="tiny", storage=url).get_trials()[1]
    assert trial_1.state == TrialState.PRUNED and trial_1.user_attrs[record.DUPLICATE_OF] == 0


# --- 7: a password given as a query parameter -----------------------------------------------------
PG_URL = os.environ.get("FUSIONSCOPE_TEST_POSTGRES_URL")


@pytest.mark.skipif(not PG_URL, reason="FUSIONSCOPE_TEST_POSTGRES_URL is not set (source .ci/postgres.sh)")
def test_a_query_password_is_in_no_printed_line_and_no_report_file(tmp_path, capsys) -> None:
    import uuid

    from sqlalchemy.engine import make_url

    from tests.analysis.analysis_studies import fill_search, make_study

    base = make_url(PG_URL)
    password = base.password
    url = f"{base.drivername}://{base.username}@{base.host}:{base.port}/{base.database}?password={password}"
    name = f"qpw-{uuid.uuid4().hex[:10]}"
    study = make_study(url, name, ["accuracy", "macs"])
    fill_search(study)
    try:
        out = tmp_path / "report"
        assert main(["report", "--storage", url, "--study", name, "-o", str(out)]) == 0
        printed = capsys.readouterr()
        leaked = password in printed.out + printed.err
        assert not leaked, "report printed the password"
        written = sorted(p.name for p in out.iterdir() if password.encode() in p.read_bytes())
        assert written == [], f"the password is in {written}"
        assert "password=***" in (out / "report.md").read_text()
        # error lines: a missing study, and the dashboard on a database that does not exist
        assert main(["report", "--storage", url, "--study", "no-such-study", "-o", str(tmp_path / "r2")]) == 2
        assert main(["dashboard", "--storage", url.replace(f"/{base.database}?", "/no_such_db?"), "--port", "1"]) == 2
        printed = capsys.readouterr()
        leaked = password in printed.out + printed.err
        assert not leaked, "an error line printed the password"
        assert printed.err.count("error: ") == 2
    finally:
        optuna.delete_study(study_name=name, storage=url)


# --- 12: resources the cluster cannot place ------------------------------------------------------
@pytest.mark.slow
def test_cpus_per_trial_beyond_the_cluster_is_refused_naming_what_it_has(tmp_path) -> None:
    """It used to hang with one trial RUNNING and nothing printed."""
    path, url = tiny(tmp_path, resources={"cpus_per_trial": 1000000, "concurrent": 1})
    proc = start_search(path, tmp_path)
    code, out, err = finish(proc, timeout=180)
    assert code == 2, err[-3000:]
    assert f"resources.cpus_per_trial=1e+06: the largest node of the Ray cluster has {os.cpu_count()} CPUs" in err, err
    own_lines_only(err)
    assert [t for t in trial_states(url, "tiny") if t == "RUNNING"] == []


# --- 15: a budget larger than the space -------------------------------------------------------------
@pytest.mark.slow
def test_a_budget_larger_than_the_space_says_the_space_was_exhausted_and_stops_asking(tmp_path) -> None:
    space = {**TINY["space"], "fusion": ["none", "sum"]}
    size = len(config_mod.from_dict({**TINY, "space": space}).search_space().grid())
    path, url = tiny(tmp_path, space=space, budget={"trials": 40, "epochs": 1})
    proc = start_search(path, tmp_path)
    code, out, err = finish(proc, timeout=600)
    assert code == 0, err[-3000:]
    assert f"the space holds {size} designs and every one has been tried" in out, out
    trials = optuna.load_study(study_name="tiny", storage=url).get_trials()
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    assert len({t.user_attrs[record.SPEC_KEY] for t in complete}) == len(complete) == size
    repeats = [t for t in trials if record.DUPLICATE_OF in t.user_attrs]
    assert len(repeats) <= 4 * size, f"{len(repeats)} repeated proposals recorded for a {size}-design space"


# --- 16: the progress line's running count ------------------------------------------------------------
def test_the_progress_line_counts_a_trial_as_running_as_soon_as_it_starts(tmp_path) -> None:
    from trials.running.progress import SearchProgress
    from trials.running.searcher import StudySearcher

    path, url = tiny(tmp_path)
    config = config_mod.load(path)
    study = open_study(config, url)
    bar = SearchProgress(study, config.budget.trials, enabled=True)
    job = {"training": {}, "epochs": 1, "cpus_per_trial": 1, "gpus_per_trial": 0, "latency_batch": 1,
           "weights_dir": None}
    searcher = StudySearcher(study, config, config.search_space(), [], (10, 1, 28), job, {}, bar.update,
                             storage_url=url)
    for n in (1, 2):
        assert isinstance(searcher.suggest(f"t{n}"), dict)
        running = sum(t.state == TrialState.RUNNING for t in study.get_trials())
        assert running == n and f"running={n}" in bar.bar.postfix, bar.bar.postfix
    bar.bar.close()


# --- 14: the Ray processes a SIGKILLed driver left behind -----------------------------------------
@pytest.mark.slow
def test_the_ray_of_a_sigkilled_driver_is_reaped_and_no_other(tmp_path) -> None:
    import json

    import psutil

    from trials.running.search import _drivers_dir, reap_orphaned_ray

    path, url = tiny(tmp_path, budget={"trials": 2, "epochs": 30})
    proc = start_search(path, tmp_path)
    record_file = _drivers_dir() / f"{proc.pid}.json"
    deadline = time.time() + 300
    while time.time() < deadline and "RUNNING" not in trial_states_or_none(url):
        assert proc.poll() is None, proc.communicate()[1][-3000:]
        time.sleep(0.5)
    assert record_file.is_file(), "the driver did not record its Ray processes"
    recorded = [tuple(p) for p in json.loads(record_file.read_text())["processes"]]
    assert recorded
    # another driver, alive, with a process of its own: never touched
    other_driver = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    other_ray = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    other = _drivers_dir() / f"{other_driver.pid}.json"
    other.write_text(json.dumps({"driver": [other_driver.pid, psutil.Process(other_driver.pid).create_time()],
                                 "processes": [[other_ray.pid, psutil.Process(other_ray.pid).create_time()]]}))
    try:
        os.kill(proc.pid, signal.SIGKILL)
        proc.communicate(timeout=30)
        time.sleep(3)
        left = [pid for pid, _t in recorded if psutil.pid_exists(pid)
                and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE]
        assert reap_orphaned_ray() == len(left)
        time.sleep(1)
        assert not [pid for pid in left if psutil.pid_exists(pid)
                    and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE], "orphaned Ray processes are alive"
        assert not record_file.exists()
        assert other_ray.poll() is None and other.exists(), "another driver's Ray was touched"
    finally:
        for p in (other_driver, other_ray):
            p.kill()
            p.wait()
        other.unlink(missing_ok=True)
        os.killpg(proc.pid, signal.SIGKILL) if _group_alive(proc.pid) else None


def trial_states_or_none(url: str) -> list[str]:
    try:
        return trial_states(url, "tiny")
    except Exception:
        return []


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
        return True
    except OSError:
        return False
