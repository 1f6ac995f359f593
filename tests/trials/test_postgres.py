"""A search into PostgreSQL (the many-hosts storage), and passwords kept out of every output.

The PostgreSQL tests need a server: ``source .ci/postgres.sh`` (as root, after
``apt-get install -y postgresql``) starts one on 127.0.0.1 and exports
FUSIONSCOPE_TEST_POSTGRES_URL; without it they are skipped.  The unreachable-storage
tests need no server and always run.
"""

from __future__ import annotations

import dataclasses
import math
import os
import subprocess
import sys
import uuid
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState
from sqlalchemy.engine import make_url

from tests.processes import run_in_group
from tests.trials.tiny import TINY, write_tiny_config
from trials import record
from trials.running.study import mask_url

PG_URL = os.environ.get("FUSIONSCOPE_TEST_POSTGRES_URL")
needs_postgres = pytest.mark.skipif(
    not PG_URL,
    reason="FUSIONSCOPE_TEST_POSTGRES_URL is not set; `source .ci/postgres.sh` (as root, after "
           "`apt-get install -y postgresql`) starts a local PostgreSQL and exports it",
)
UNREACHABLE = "postgresql+psycopg2://u:secretpw@127.0.0.1:1/db"




def fusionscope(*args: str, cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess:
    """Run the CLI in its own process group; on a timeout the group (and its local Ray) is killed."""
    script = Path(sys.executable).with_name("fusionscope")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "fusionscope"]
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    env.update(PYTHONUNBUFFERED="1", RAY_USAGE_STATS_ENABLED="0")
    return run_in_group([*command, *args], env, timeout, cwd)


def leaks(secret: str, *texts: str) -> list[int]:
    """Which of ``texts`` contain ``secret`` (by position), so a failing assert never prints it."""
    return [i for i, text in enumerate(texts) if secret in text]


def files_containing(folder: Path, secret: str) -> list[str]:
    needle = secret.encode()
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*")
                  if p.is_file() and not p.is_symlink() and needle in p.read_bytes())


@dataclasses.dataclass
class PgSearch:
    work: Path
    study: str
    search: subprocess.CompletedProcess
    password: str = dataclasses.field(repr=False)  # never in a failure message


@pytest.fixture(scope="module")
def pg_search(tmp_path_factory) -> PgSearch:
    """One tiny search (4 trials, 2 concurrent Ray trials) into PostgreSQL, shared by the tests."""
    assert PG_URL
    password = make_url(PG_URL).password
    assert password, "FUSIONSCOPE_TEST_POSTGRES_URL should carry a password"
    work = tmp_path_factory.mktemp("pg_search")
    study = f"pg-{uuid.uuid4().hex[:12]}"
    config = write_tiny_config(work)
    search = fusionscope("search", "--config", str(config), "--storage", PG_URL, "--study", study, cwd=work)
    assert search.returncode == 0, f"search failed\nstdout:\n{search.stdout[-3000:]}\nstderr:\n{search.stderr[-5000:]}"
    yield PgSearch(work, study, search, password)
    try:
        optuna.delete_study(study_name=study, storage=PG_URL)
    except Exception:  # noqa: BLE001 - cleanup only
        pass


@needs_postgres
@pytest.mark.slow
def test_search_into_postgres_records_every_trial(pg_search: PgSearch) -> None:
    study = optuna.load_study(study_name=pg_search.study, storage=PG_URL)
    trials = study.get_trials(deepcopy=False)
    assert [t.state for t in trials] == [TrialState.COMPLETE] * 4, [(t.number, t.state, t.user_attrs.get(record.ERROR))
                                                                    for t in trials]
    assert study.user_attrs[record.STUDY_OBJECTIVES] == ["accuracy", "macs"]
    for t in trials:
        assert len(t.values) == 2 and all(v is not None and math.isfinite(v) for v in t.values)
        accuracy, macs = t.values
        assert 0.0 <= accuracy <= 1.0
        attrs = t.user_attrs
        assert macs == attrs[record.MACS] > 0
        assert isinstance(attrs[record.PARAMS], int) and attrs[record.PARAMS] > 0
        assert set(attrs[record.COST_BREAKDOWN]) == {"params", "macs"}
        assert attrs[record.LATENCY_MS] > 0
        assert attrs[record.NODE_ID] and attrs[record.HOSTNAME]
        assert attrs[record.EPOCHS_DONE] == 1 and len(attrs[record.VAL_ACCURACY_HISTORY]) == 1
        assert record.ERROR not in attrs
    # two Ray trials wrote at the same time: some trial started before another one finished
    spans = sorted((t.datetime_start, t.datetime_complete) for t in trials)
    assert any(later_start < end for (_, end), (later_start, _) in zip(spans, spans[1:])), spans


@needs_postgres
@pytest.mark.slow
def test_search_output_masks_the_password(pg_search: PgSearch) -> None:
    search = pg_search.search
    assert not leaks(pg_search.password, search.stdout, search.stderr), "password in the search's stdout/stderr"
    masked = mask_url(PG_URL)  # computed outside the assert, so a failure shows only the masked URL
    assert "***" in masked and masked in search.stdout  # the summary names the storage, masked
    assert "4 complete" in search.stdout


@needs_postgres
@pytest.mark.slow
def test_report_from_postgres_masks_the_password(pg_search: PgSearch) -> None:
    work = pg_search.work
    report = fusionscope("report", "--storage", PG_URL, "--study", pg_search.study, "-o", "report", cwd=work)
    assert report.returncode == 0, report.stderr[-5000:]
    assert not leaks(pg_search.password, report.stdout, report.stderr), "password in the report's stdout/stderr"
    markdown, html = work / "report" / "report.md", work / "report" / "report.html"
    assert markdown.is_file() and html.is_file()
    for path in (markdown, html):
        text = path.read_text()
        assert not leaks(pg_search.password, text), f"password in {path}"
        assert pg_search.study in text
    masked = mask_url(PG_URL)
    assert masked in markdown.read_text()


@needs_postgres
@pytest.mark.slow
def test_no_file_the_search_writes_holds_the_password(pg_search: PgSearch) -> None:
    assert files_containing(pg_search.work, pg_search.password) == []


@needs_postgres
def test_a_password_in_the_config_is_not_recorded_in_the_study() -> None:
    from trials import config as config_mod
    from trials.running.study import open_study

    password = make_url(PG_URL).password
    name = f"pg-cfg-{uuid.uuid4().hex[:12]}"
    config = config_mod.from_dict({**TINY, "study": name, "storage": PG_URL})
    try:
        study = open_study(config)
        assert not leaks(password, repr(study.user_attrs)), "password in the study's user attrs"
    finally:
        optuna.delete_study(study_name=name, storage=PG_URL)


@pytest.mark.parametrize("command", ["search", "report", "dashboard"])
def test_unreachable_storage_fails_naming_the_masked_url(command: str, tmp_path: Path) -> None:
    args = {"search": ["--config", str(write_tiny_config(tmp_path)), "--study", "never"],
            "report": ["--study", "never", "-o", "report"],
            "dashboard": ["--port", "1"]}[command]
    result = fusionscope(command, "--storage", UNREACHABLE, *args, cwd=tmp_path, timeout=120)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "postgresql+psycopg2://u:***@127.0.0.1:1/db" in result.stderr, output
    assert "secretpw" not in output
    assert "Traceback" not in output
    assert not (tmp_path / "runs" / "ray").exists()  # failed before Ray started
