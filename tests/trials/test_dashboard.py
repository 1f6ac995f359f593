"""``fusionscope dashboard``: optuna-dashboard on 127.0.0.1 only, seen in a real (headless) browser.

optuna-dashboard is a React app: the HTML the server sends holds no study data, so the test
renders it in headless Chromium (``--dump-dom`` after a virtual-time budget) and reads the DOM.
The study list (/dashboard/) shows each study's name; a study's trial list
(/dashboard/studies/<id>/trials) shows "<n> Trials"; /api/studies/<id> confirms the count.
"""

from __future__ import annotations

import html
import ipaddress
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import optuna
import psutil
import pytest
from optuna.distributions import CategoricalDistribution
from optuna.trial import TrialState, create_trial
from sqlalchemy.engine import make_url

from fusionscope import cli
from trials import record
from trials.running.study import make_storage, mask_url

from tests.browser import CHROMIUM, needs_chromium
PG_URL = os.environ.get("FUSIONSCOPE_TEST_POSTGRES_URL")
FUSION = CategoricalDistribution(["none", "sum", "lc"])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def add_study(storage: optuna.storages.BaseStorage, name: str, states: list[TrialState]) -> None:
    """A study shaped like a search's: objectives accuracy/macs, cost attrs on every trial."""
    study = optuna.create_study(study_name=name, storage=storage, directions=["maximize", "minimize"])
    study.set_user_attr(record.STUDY_OBJECTIVES, ["accuracy", "macs"])
    for i, state in enumerate(states):
        fusion = FUSION.choices[i % 3]
        macs = 400_000 + 10_000 * i
        study.add_trial(create_trial(
            state=state, params={"fusion": fusion}, distributions={"fusion": FUSION},
            values=[0.5 + 0.05 * i, macs] if state == TrialState.COMPLETE else None,
            user_attrs={record.MACS: macs, record.PARAMS: 4000 + i,
                        **({record.ERROR: "CandidateError: loss is nan"} if state == TrialState.FAIL else {})}))


class Dashboard:
    """``fusionscope dashboard`` in a subprocess; ``stop()`` ends it (by its pid)."""

    def __init__(self, storage: str, cwd: Path) -> None:
        self.port = free_port()
        script = Path(sys.executable).with_name("fusionscope")
        command = [str(script)] if script.exists() else [sys.executable, "-m", "fusionscope"]
        self.log = cwd / f"dashboard-{self.port}.log"
        self._log = self.log.open("w")
        self.proc = subprocess.Popen([*command, "dashboard", "--storage", storage, "--port", str(self.port)],
                                     cwd=cwd, stdout=self._log, stderr=subprocess.STDOUT,
                                     env={**os.environ, "PYTHONUNBUFFERED": "1"})

    def wait_until_up(self, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"the dashboard exited with {self.proc.returncode}:\n{self.output()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                time.sleep(0.3)
        pytest.fail(f"the dashboard did not answer on 127.0.0.1:{self.port} in {timeout} s:\n{self.output()}")

    def output(self) -> str:
        if not self._log.closed:
            self._log.flush()
        return self.log.read_text()

    def get_json(self, path: str):
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=30) as response:
            return json.load(response)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()


def rendered_text(url: str, profile: Path) -> str:
    """The text of the page's DOM after headless Chromium ran its scripts."""
    result = subprocess.run(
        [CHROMIUM, "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
         f"--user-data-dir={profile}", "--virtual-time-budget=8000", "--dump-dom", url],
        capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    dom = re.sub(r"<(style|script)\b.*?</\1>", " ", result.stdout, flags=re.S)
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", dom)))


def listening_addresses(pid: int, port: int) -> set[str]:
    return {c.laddr.ip for c in psutil.Process(pid).net_connections(kind="inet")
            if c.status == psutil.CONN_LISTEN and c.laddr.port == port}


def other_local_addresses() -> list[str]:
    """This machine's IPv4 addresses that are not loopback."""
    return sorted({a.address for addrs in psutil.net_if_addrs().values() for a in addrs
                   if a.family == socket.AF_INET and not ipaddress.ip_address(a.address).is_loopback})


@needs_chromium
def test_dashboard_serves_the_study_on_loopback_only(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'dash.db'}"
    storage = make_storage(url)
    add_study(storage, "fusion-dash-alpha", [TrialState.COMPLETE] * 3 + [TrialState.FAIL, TrialState.PRUNED])
    add_study(storage, "fusion-dash-beta", [TrialState.COMPLETE] * 2)
    storage.engine.dispose()

    dashboard = Dashboard(url, tmp_path)
    try:
        dashboard.wait_until_up()
        # bound to loopback only: the listening socket, and a connection attempt on every other address
        assert listening_addresses(dashboard.proc.pid, dashboard.port) == {"127.0.0.1"}
        for address in other_local_addresses():
            with pytest.raises(OSError):
                socket.create_connection((address, dashboard.port), timeout=2).close()
        first_line = dashboard.output().splitlines()[0]
        assert first_line.startswith(f"optuna-dashboard for {url} at http://127.0.0.1:{dashboard.port}/"), first_line

        ids = {s["study_name"]: s["study_id"] for s in dashboard.get_json("/api/studies")["study_summaries"]}
        assert set(ids) == {"fusion-dash-alpha", "fusion-dash-beta"}
        counts = {name: len(dashboard.get_json(f"/api/studies/{i}?after=0")["trials"]) for name, i in ids.items()}
        assert counts == {"fusion-dash-alpha": 5, "fusion-dash-beta": 2}

        base = f"http://127.0.0.1:{dashboard.port}/dashboard"
        listing = rendered_text(f"{base}/", tmp_path / "chromium")
        assert "fusion-dash-alpha" in listing and "fusion-dash-beta" in listing, listing[:2000]
        for name, count in counts.items():
            page = rendered_text(f"{base}/studies/{ids[name]}/trials", tmp_path / "chromium")
            assert name in page, page[:2000]
            assert f"{count} Trials" in page, page[:2000]
        alpha = rendered_text(f"{base}/studies/{ids['fusion-dash-alpha']}/trials", tmp_path / "chromium")
        assert "Fail" in alpha and "Pruned" in alpha and "Complete" in alpha, alpha[:2000]
    finally:
        dashboard.stop()
    assert dashboard.proc.returncode is not None


def test_dashboard_start_line_masks_the_password(monkeypatch, capsys) -> None:
    """The line printed before serving names the storage with the password masked."""
    served = {}
    monkeypatch.setattr("trials.record.storage.open_storage_to_serve", lambda url: (object(), False))
    monkeypatch.setattr("optuna_dashboard.run_server",
                        lambda storage, host, port: served.update(storage=storage, host=host, port=port))
    url = "postgresql+psycopg2://fusionscope:s3cr%40t-pw@db.example:5432/fusionscope"
    assert cli.main(["dashboard", "--storage", url, "--port", "8123"]) == 0
    out = capsys.readouterr()
    assert "s3cr" not in out.out + out.err
    assert out.out.startswith("optuna-dashboard for postgresql+psycopg2://fusionscope:***@db.example:5432/fusionscope "
                              "at http://127.0.0.1:8123/"), out.out
    assert served["host"] == "127.0.0.1" and served["port"] == 8123


needs_postgres = pytest.mark.skipif(not PG_URL, reason="FUSIONSCOPE_TEST_POSTGRES_URL is not set (source .ci/postgres.sh)")


@pytest.fixture
def fresh_database():
    """A new, empty PostgreSQL database on the test server (the fresh-machine case), dropped after.

    Created by the test role when it may (``CREATEDB``, granted by .ci/postgres.sh); a server
    whose role may not gets an empty schema of its own instead, made the URL's default through
    libpq's ``options=-csearch_path=...``: to the storage it is the same empty database."""
    import sqlalchemy

    name = f"fs_fresh_{os.getpid()}_{time.monotonic_ns() % 10**9}"
    admin = sqlalchemy.create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            try:
                conn.execute(sqlalchemy.text(f'CREATE DATABASE "{name}"'))
                kind = "database"
            except sqlalchemy.exc.ProgrammingError:  # no CREATEDB
                conn.execute(sqlalchemy.text(f'CREATE SCHEMA "{name}"'))
                kind = "schema"
        base = make_url(PG_URL)
        url = (base.set(database=name) if kind == "database"
               else base.update_query_dict({"options": f"-csearch_path={name}"}))
        yield url.render_as_string(hide_password=False)
    finally:
        sqlalchemy.orm.close_all_sessions()
        with admin.connect() as conn:
            if "kind" in locals() and kind == "database":
                conn.execute(sqlalchemy.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            else:
                conn.execute(sqlalchemy.text(f'DROP SCHEMA IF EXISTS "{name}" CASCADE'))
        admin.dispose()


def table_names(url: str) -> set[str]:
    import sqlalchemy

    engine = sqlalchemy.create_engine(url)
    try:
        return set(sqlalchemy.inspect(engine).get_table_names())
    finally:
        engine.dispose()


@needs_postgres
def test_dashboard_on_a_new_empty_postgres_database_comes_up_and_shows_the_first_search(
        fresh_database: str, tmp_path: Path) -> None:
    """Started before the first search, on a database with no tables: it serves (no error), and a
    study created afterwards appears in it; only Optuna's own tables were added."""
    assert table_names(fresh_database) == set()
    dashboard = Dashboard(fresh_database, tmp_path)
    try:
        dashboard.wait_until_up()
        assert dashboard.get_json("/api/studies")["study_summaries"] == []
        storage = make_storage(fresh_database)
        add_study(storage, "first-search", [TrialState.COMPLETE] * 2)
        storage.engine.dispose()
        names = [s["study_name"] for s in dashboard.get_json("/api/studies")["study_summaries"]]
        assert names == ["first-search"]
    finally:
        dashboard.stop()
    assert {"studies", "trials", "version_info"} <= table_names(fresh_database)
    assert "no tables: Optuna's tables were created" in dashboard.output()
    assert make_url(fresh_database).password not in dashboard.output()


@needs_postgres
def test_dashboard_refuses_a_postgres_database_of_something_else_and_leaves_it(fresh_database: str) -> None:
    import sqlalchemy

    engine = sqlalchemy.create_engine(fresh_database)
    with engine.begin() as conn:
        conn.execute(sqlalchemy.text("CREATE TABLE invoices (id integer primary key)"))
    engine.dispose()
    result = subprocess.run([sys.executable, "-m", "fusionscope", "dashboard", "--storage", fresh_database,
                             "--port", str(free_port())], capture_output=True, text=True, timeout=120)
    assert result.returncode == 2, result.stderr[-2000:]
    assert "is not an Optuna storage (no table 'studies'); it was left untouched" in result.stderr
    assert make_url(fresh_database).password not in result.stderr + result.stdout
    assert table_names(fresh_database) == {"invoices"}


def test_dashboard_refuses_a_missing_sqlite_file_and_creates_nothing(tmp_path: Path) -> None:
    missing = tmp_path / "typo.db"
    assert cli.main(["dashboard", "--storage", f"sqlite:///{missing}", "--port", str(free_port())]) == 2
    assert not missing.exists()


@needs_postgres
def test_dashboard_on_postgres_never_prints_the_password(tmp_path: Path) -> None:
    password = make_url(PG_URL).password
    dashboard = Dashboard(PG_URL, tmp_path)
    try:
        dashboard.wait_until_up()
        assert isinstance(dashboard.get_json("/api/studies")["study_summaries"], list)
    finally:
        dashboard.stop()
    output = dashboard.output()
    masked = mask_url(PG_URL)
    assert output.startswith(f"optuna-dashboard for {masked} at http://127.0.0.1:{dashboard.port}/"), output[:300]
    leaked = password in output
    assert not leaked, "the dashboard printed the storage password"
