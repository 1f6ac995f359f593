"""Every bad input and broken storage of issue #12 ends in one ``error:`` line and exit 2.

Each case also checks that nothing recorded changed (the SQLite file hashes the same before
and after) and that nothing was created (no empty database for a mistyped path, no file
outside the runs folder).  No Ray, no training: the commands fail before either starts.
"""

from __future__ import annotations

import errno
import hashlib
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import optuna
import pytest
import yaml

from fusionscope.cli import build_parser, main
from search_space.spec import ArchSpec
from tests.disks import small_tmpfs
from tests.trials.tiny import tiny_yaml
from trials import record
from trials.config import ConfigError, from_dict, load

STUDY = "keep"


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def fails(capsys, argv: list[str], *words: str, code: int = 2) -> str:
    """Run the command in-process: it must return ``code`` (not raise) with ``error:`` naming ``words``."""
    assert main(argv) == code
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1, err
    for word in words:
        assert word in err, err
    return err


@pytest.fixture
def study_db(tmp_path) -> Path:
    """A real Optuna study (two complete trials of the default spec) made without training;
    trial 0 names ``weights.pt`` beside it as its weights (absent until a test writes it)."""
    db = tmp_path / "keep.db"
    storage = optuna.storages.RDBStorage(f"sqlite:///{db}")
    study = optuna.create_study(study_name=STUDY, storage=storage, directions=["maximize", "minimize"])
    study.set_user_attr(record.STUDY_OBJECTIVES, ["accuracy", "macs"])
    study.set_user_attr(record.STUDY_DATA_SHAPE, [10, 1, 28])
    params = ArchSpec().to_params()
    for accuracy in (0.5, 0.6):
        study.enqueue_trial(params, skip_if_exists=False)
        trial = study.ask()
        for key, value in params.items():
            trial.suggest_categorical(key, [value])
        trial.set_user_attr(record.WEIGHTS_PATH, str(tmp_path / "weights.pt"))
        study.tell(trial, [accuracy, 1000.0])
    storage.engine.dispose()  # close the pool so the file is settled for hashing
    return db


@pytest.fixture
def foreign_db(tmp_path) -> Path:
    path = tmp_path / "notes.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE notes (text TEXT)")
        conn.execute("INSERT INTO notes VALUES ('mine')")
    conn.close()
    return path


def write_config(tmp_path: Path, text: str, name: str = "c.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def tiny(tmp_path: Path, **edits) -> str:
    raw = yaml.safe_load(tiny_yaml(STUDY, tmp_path / "runs" / "keep.db", trials=2))
    for dotted, value in edits.items():
        section, _, key = dotted.partition("__")
        if key:
            raw.setdefault(section, {})[key] = value
        else:
            raw[section] = value
    return yaml.safe_dump(raw)


# --- config ------------------------------------------------------------------------------
@pytest.mark.parametrize("text, words", [
    ("", ["empty file"]),
    ("[]\n", ["list []"]),
    ("0\n", ["int 0"]),
])
def test_an_empty_or_non_mapping_config_is_an_error_not_the_default_search(tmp_path, capsys, monkeypatch, text,
                                                                           words):
    monkeypatch.chdir(tmp_path)
    path = write_config(tmp_path, text)
    fails(capsys, ["search", "--config", str(path)], "the config must be a mapping", *words)
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize("edits, words", [
    ({"data__val_fraction": 0}, ["data.val_fraction=0", "validation images", "50"]),
    ({"data__val_fraction": 0.99}, ["data.val_fraction=0.99", "6 training", "594 validation", "100"]),
    ({"sampler": {"name": "nsga2", "population_size": 1}}, ["sampler.population_size=1", "at least 2"]),
    ({"storage": 123}, ["storage=123", "string"]),
    ({"training__lr": float("nan")}, ["training.lr=nan", "finite"]),
    ({"training__lr": float("inf")}, ["training.lr=inf", "finite"]),
    ({"training__momentum": -0.1}, ["training.momentum=-0.1", "at least 0"]),
    ({"training__weight_decay": -1e-4}, ["training.weight_decay=-0.0001", "at least 0"]),
    ({"budget__grace_epochs": -1}, ["budget.grace_epochs=-1", "at least 1"]),
    ({"resources": {"retries": -1}}, ["resources.retries=-1", "at least 0"]),
    ({"resources": {"latency_batch": 0}}, ["resources.latency_batch=0", "at least 1"]),
    ({"resources": {"cpus_per_trial": float("nan")}}, ["resources.cpus_per_trial=nan", "finite"]),
    ({"study": "../../x"}, ["study='../../x'", "runs/"]),
    ({"study": "/abs/path"}, ["study='/abs/path'"]),
    ({"study": ""}, ["study=''", "non-empty"]),
    ({"budget__trials": "1e3"}, ["budget.trials='1e3'", "write 1000"]),
    # issue #20 item 12
    ({"sampler": {"name": "random", "seed": 10**20}}, ["sampler.seed=100000000000000000000", "at most 4294967295"]),
    ({"training__seed": 10**20}, ["training.seed=100000000000000000000", "at most 4294967295"]),
    ({"training__seed": 2**32 - 1, "training__replicates": 3}, ["training.seed=4294967295", "up to 4294967297"]),
    ({"data__image_size": 100000}, ["data.image_size=100000", "between 1 and 1024"]),
])
def test_bad_config_values_exit_2_naming_the_key(tmp_path, capsys, monkeypatch, edits, words):
    monkeypatch.chdir(tmp_path)
    path = write_config(tmp_path, tiny(tmp_path, **edits))
    fails(capsys, ["search", "--config", str(path)], *words)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.yaml"]  # no runs/, no database


def test_yaml_special_floats_are_refused_and_yaml_1_1_exponents_accepted(tmp_path):
    path = write_config(tmp_path, tiny(tmp_path).replace("lr: 0.05", "lr: .nan"))
    with pytest.raises(ConfigError, match="training.lr=nan"):
        load(path)
    path.write_text(tiny(tmp_path).replace("lr: 0.05", "lr: 1e-3").replace("sampler:\n  name: random\n  seed: 0",
                                                                          "sampler: nsga2"))
    config = load(path)
    assert config.training.lr == 0.001 and config.sampler.name == "nsga2"


def test_a_config_built_in_code_is_checked_like_yaml():
    from trials.config import BudgetConfig, ResourcesConfig, TrainingConfig

    with pytest.raises(ConfigError, match="training.lr=nan"):
        TrainingConfig(lr=float("nan"))
    with pytest.raises(ConfigError, match="budget.trials=0"):
        BudgetConfig(trials=0)
    with pytest.raises(ConfigError, match=r"resources.concurrent=2\.5.*expected int"):
        ResourcesConfig(concurrent=2.5)
    with pytest.raises(ConfigError, match="training.optimizer='adam'.*'sgd', 'adamw'"):
        from_dict({"training": {"optimizer": "adam"}})


@pytest.mark.parametrize("option", [["--trials", "0"], ["--trials", "-3"], ["--study", ""], ["--study", "../../x"],
                                    ["--study", "/abs/path"]])
def test_bad_command_line_overrides_are_refused(tmp_path, capsys, monkeypatch, option):
    monkeypatch.chdir(tmp_path)
    path = write_config(tmp_path, tiny(tmp_path))
    try:
        code = main(["search", "--config", str(path), *option])
    except SystemExit as exit_:  # argparse's own refusal (--trials): usage + "error:" line, exit 2
        code = exit_.code
    assert code == 2
    err = capsys.readouterr().err
    assert "error:" in err, err
    assert (option[0] in err) if option[0] == "--trials" else ("study=" in err), err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.yaml"]


def test_resume_on_a_missing_study_creates_nothing(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = write_config(tmp_path, tiny(tmp_path))
    fails(capsys, ["search", "--config", str(path), "--resume"], "does not exist")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.yaml"]


# --- storages ------------------------------------------------------------------------------
def test_sqlite_without_a_file_is_refused(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = write_config(tmp_path, tiny(tmp_path, storage="sqlite://"))
    fails(capsys, ["search", "--config", str(path)], "'sqlite://' names no file")
    fails(capsys, ["report", "--storage", "sqlite://", "--study", STUDY, "-o", str(tmp_path / "r")], "names no file")


def test_a_storage_folder_that_cannot_be_created(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    blocker = tmp_path / "afile"
    blocker.write_text("not a folder")
    path = write_config(tmp_path, tiny(tmp_path, storage=f"sqlite:///{blocker}/sub/x.db"))
    fails(capsys, ["search", "--config", str(path)], "cannot create the folder", str(blocker / "sub"))
    assert blocker.read_text() == "not a folder"


@pytest.mark.parametrize("command", ["report", "pareto", "export", "dashboard"])
def test_read_only_commands_refuse_a_foreign_sqlite_file_and_leave_it_untouched(foreign_db, tmp_path, capsys,
                                                                                command):
    before = sha(foreign_db)
    argv = [command, "--storage", f"sqlite:///{foreign_db}"]
    if command != "dashboard":
        argv += ["--study", STUDY, "-o", str(tmp_path / "out")]
    if command == "export":
        argv += ["--best", "accuracy"]
    fails(capsys, argv, "not an Optuna storage", "'studies'")
    assert sha(foreign_db) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.db"]


@pytest.mark.parametrize("command", ["report", "pareto", "export", "dashboard"])
def test_read_only_commands_on_a_mistyped_path_create_nothing(tmp_path, capsys, command):
    argv = [command, "--storage", f"sqlite:///{tmp_path / 'typo.db'}"]
    if command != "dashboard":
        argv += ["--study", STUDY, "-o", str(tmp_path / "out")]
    if command == "export":
        argv += ["--trial", "0"]
    fails(capsys, argv, "typo.db", "does not exist")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("command", ["report", "pareto", "export"])
def test_a_file_that_is_not_a_database_is_refused(tmp_path, capsys, command):
    junk = tmp_path / "junk.db"
    junk.write_bytes(os.urandom(4096))
    before = sha(junk)
    argv = [command, "--storage", f"sqlite:///{junk}", "--study", STUDY, "-o", str(tmp_path / "out")]
    fails(capsys, argv + (["--trial", "0"] if command == "export" else []), "junk.db")
    assert sha(junk) == before and not (tmp_path / "out").exists()


@pytest.mark.parametrize("command", ["report", "export"])
def test_a_storage_with_a_corrupted_page(study_db, tmp_path, capsys, command):
    data = bytearray(study_db.read_bytes())
    page = 4096
    assert len(data) > 3 * page
    for start in range(page, len(data), page):  # every page but the header's: b-tree pages now garbage
        data[start:start + 16] = b"\xff" * 16
    study_db.write_bytes(bytes(data))
    before = sha(study_db)
    argv = [command, "--storage", f"sqlite:///{study_db}", "--study", STUDY, "-o", str(tmp_path / "out")]
    fails(capsys, argv + (["--trial", "0"] if command == "export" else []), "keep.db")
    assert sha(study_db) == before


def test_a_storage_whose_trial_pages_break_mid_read(study_db, tmp_path, capsys):
    """The file opens (its schema and studies are intact) and breaks only when the trials are read."""
    with sqlite3.connect(f"{study_db.as_uri()}?mode=ro", uri=True) as conn:
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
        roots = [r for (r,) in conn.execute(
            "SELECT rootpage FROM sqlite_master WHERE name IN ('trial_values', 'trial_params', 'trials')")]
    conn.close()
    data = bytearray(study_db.read_bytes())
    for root in roots:
        start = (root - 1) * page_size
        data[start:start + 64] = b"\x0d" + b"\xff" * 63  # a leaf page whose cell count and offsets are garbage
    study_db.write_bytes(bytes(data))
    before = sha(study_db)
    fails(capsys, ["report", "--storage", f"sqlite:///{study_db}", "--study", STUDY, "-o", str(tmp_path / "out")],
          "cannot read the storage", "keep.db")
    assert sha(study_db) == before


def test_export_on_an_unreachable_storage_masks_the_password(tmp_path, capsys):
    url = "postgresql+psycopg2://u:p@ss@127.0.0.1:1/db"  # nothing listens on port 1; '@' unescaped
    err = fails(capsys, ["export", "--storage", url, "--study", STUDY, "--trial", "0", "-o", str(tmp_path / "x")],
                "u:***@127.0.0.1:1/db", "write it as %40")
    assert "p@ss" not in err and "ss@" not in err
    assert not (tmp_path / "x").exists()


# --- outputs ---------------------------------------------------------------------------------
@pytest.mark.parametrize("command", ["report", "pareto", "export"])
def test_o_naming_an_existing_file_is_refused(study_db, tmp_path, capsys, command):
    existing = tmp_path / "mine.txt"
    existing.write_text("keep me")
    before = sha(study_db)
    argv = [command, "--storage", f"sqlite:///{study_db}", "--study", STUDY, "-o", str(existing)]
    fails(capsys, argv + (["--trial", "0"] if command == "export" else []), "mine.txt", "exists")
    assert existing.read_text() == "keep me" and sha(study_db) == before


def test_export_checks_weights_before_writing_and_leaves_nothing(study_db, tmp_path, capsys):
    (tmp_path / "weights.pt").write_text("root:x:0:0")  # a study can name any file as its weights
    out = tmp_path / "export"
    fails(capsys, ["export", "--storage", f"sqlite:///{study_db}", "--study", STUDY, "--trial", "0", "-o", str(out)],
          "weights.pt", "not a state_dict")
    assert not out.exists()


def test_a_full_disk_is_one_error_line_and_leaves_no_partial_export(study_db, tmp_path, capsys, monkeypatch):
    import torch

    from search_space.build import build_model

    torch.save(build_model(ArchSpec(), 10, 1, 28).state_dict(), tmp_path / "weights.pt")

    def no_space(*_args, **_kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(torch, "save", no_space)  # spec.json was written: it must go again
    out = tmp_path / "export"
    fails(capsys, ["export", "--storage", f"sqlite:///{study_db}", "--study", STUDY, "--trial", "0", "-o", str(out)],
          "No space left on device", "nothing was left behind")
    assert not out.exists()


@pytest.fixture
def tiny_tmpfs(tmp_path):
    """A 64 KiB tmpfs: a real full disk."""
    with small_tmpfs(tmp_path / "full", "64k") as mount:
        yield mount


def test_a_report_onto_a_full_disk(study_db, tiny_tmpfs, capsys):
    before = sha(study_db)
    out = tiny_tmpfs / "report"
    err = fails(capsys, ["report", "--storage", f"sqlite:///{study_db}", "--study", STUDY, "-o", str(out)],
                "No space left on device")
    assert str(tiny_tmpfs) in err
    assert sha(study_db) == before


# --- cost and dashboard ----------------------------------------------------------------------
@pytest.mark.parametrize("argv, words", [
    (["--image-size", "0"], ["--image-size 0", "between 1 and"]),
    (["--classes", "-1"], ["--classes -1"]),
    (["--in-channels", "0"], ["--in-channels 0"]),
    (["width=100000"], ["width=100000", "4096"]),
    (["--latency", "--device", "tpu"], ["--device 'tpu'"]),
])
def test_cost_refuses_impossible_sizes(capsys, argv, words):
    fails(capsys, ["cost", *argv], *words)


def test_cost_on_cuda_without_a_gpu(capsys):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    fails(capsys, ["cost", "--latency", "--device", "cuda"], "no CUDA GPU")


def test_cost_defaults_to_the_default_data(capsys):
    import json

    assert main(["cost"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["input"] == [1, 28, 28] and out["classes"] == 10


def test_dashboard_port_out_of_range(study_db, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["dashboard", "--storage", f"sqlite:///{study_db}", "--port", "99999"])
    assert exit_.value.code == 2
    assert "error: argument --port: a port is between 1 and 65535, got 99999" in capsys.readouterr().err


# --- the command line itself -------------------------------------------------------------------
def test_every_option_has_help_and_version_prints():
    parser = build_parser()
    commands = parser._subparsers._group_actions[0].choices  # noqa: SLF001  (argparse has no public list)
    for name, sub in commands.items():
        for action in sub._actions:  # noqa: SLF001
            assert action.help, f"fusionscope {name} {action.option_strings or action.dest} has no help"
    done = subprocess.run([sys.executable, "-m", "fusionscope", "--version"], capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout.startswith("fusionscope 0.")


def test_the_next_line_is_shell_quoted(capsys):
    import shlex

    from trials.commands import _print_summary
    from trials.running.search import SearchSummary

    _print_summary(SearchSummary("my study", "sqlite:///runs/my study.db", 1, 0, 0, 1))
    next_line = capsys.readouterr().out.splitlines()[-1]
    words = shlex.split(next_line.removeprefix("next: "))
    assert words[words.index("--storage") + 1] == "sqlite:///runs/my study.db"
    assert words[words.index("--study") + 1] == "my study"


def test_a_bad_input_through_the_real_command_has_no_traceback(tmp_path):
    """End to end in a fresh process: one error line, exit 2, nothing written."""
    path = write_config(tmp_path, "[]\n")
    done = subprocess.run([sys.executable, "-m", "fusionscope", "search", "--config", str(path)],
                          capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert done.returncode == 2
    assert done.stderr.startswith("error: ") and "Traceback" not in done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.yaml"]


def test_a_real_bug_keeps_its_traceback(monkeypatch):
    import search_space.commands

    def broken(_args):
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(search_space.commands, "cmd_cost", broken)
    with pytest.raises(ZeroDivisionError):
        main(["cost"])


def test_o_never_overwrites_what_a_folder_holds(study_db, tmp_path, capsys) -> None:
    """Issue #20 item 6: ``export -o`` into another trial's export replaced its spec.json;
    ``report -o`` replaced a user-edited report.md."""
    url = f"sqlite:///{study_db}"
    out = tmp_path / "exported"
    assert main(["export", "--storage", url, "--study", STUDY, "--trial", "0", "-o", str(out)]) == 0
    capsys.readouterr()
    first = (out / "spec.json").read_text()
    fails(capsys, ["export", "--storage", url, "--study", STUDY, "--trial", "1", "-o", str(out)],
          "already holds spec.json", "nothing was overwritten")
    assert (out / "spec.json").read_text() == first

    report = tmp_path / "report"
    report.mkdir()
    (report / "report.md").write_text("my notes on this study\n")
    before = sha(study_db)
    fails(capsys, ["report", "--storage", url, "--study", STUDY, "-o", str(report)],
          "already holds report.md", "nothing was overwritten")
    assert (report / "report.md").read_text() == "my notes on this study\n"
    assert sorted(p.name for p in report.iterdir()) == ["report.md"]
    assert sha(study_db) == before
    # search --report DIR: refused before the search starts, not after it
    config = write_config(tmp_path, tiny(tmp_path))
    fails(capsys, ["search", "--config", str(config), "--report", str(report)], "--report", "already holds report.md")
    assert not (tmp_path / "runs").exists()


# --- issue #20 item 12: inputs a probe still broke ---------------------------------------------------
def test_a_key_given_twice_in_the_yaml_is_refused(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    text = tiny(tmp_path)
    assert "budget:" in text
    path = write_config(tmp_path, text + "budget:\n  trials: 99\n")
    fails(capsys, ["search", "--config", str(path)], "key 'budget' is given twice", "keep one")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.yaml"]


def test_dashboard_on_a_port_in_use_is_one_line(study_db, capsys):
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        fails(capsys, ["dashboard", "--storage", f"sqlite:///{study_db}", "--port", str(port)],
              f"--port {port}: cannot listen on 127.0.0.1:{port}", "choose another port")


def test_ctrl_c_before_the_search_has_its_handler_is_one_line(monkeypatch, capsys):
    def interrupted(*_a, **_k):
        raise KeyboardInterrupt

    monkeypatch.setattr("fusionscope.cli.build_parser", interrupted)
    assert main(["search", "--config", "x.yaml"]) == 130
    err = capsys.readouterr().err
    assert err == "error: stopped by SIGINT (Ctrl-C) before any trial started; nothing was recorded\n"


@pytest.mark.parametrize("delay", [0.5, 2.5])
def test_ctrl_c_in_the_first_seconds_of_a_real_search_is_one_line(tmp_path, delay):
    import signal
    import time

    path = write_config(tmp_path, tiny(tmp_path))
    proc = subprocess.Popen([sys.executable, "-m", "fusionscope", "search", "--config", str(path), "--no-progress"],
                            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    time.sleep(delay)  # imports, data load, storage: before any trial
    proc.send_signal(signal.SIGINT)
    try:
        _out, err = proc.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        raise
    assert proc.returncode == 130, err[-2000:]
    assert "Traceback" not in err and err.count("error: ") == 1, err[-2000:]


def test_ablate_set_on_a_preset_made_of_several_grids(tmp_path):
    """``ablate --preset hcnn-combination --set width=8`` raised TypeError (its space is a list of grids)."""
    from trials.presets import apply_overrides, preset_config

    raw = preset_config("hcnn-combination", "cpu", 1, 1, 600)
    out = apply_overrides(raw, ["width=8"])
    assert isinstance(out["space"], list) and all(part["width"] == 8 for part in out["space"])
    assert all("width" not in part or part["width"] != 8 for part in raw["space"])  # the preset is not changed
    assert from_dict(out).search_space().grid()
