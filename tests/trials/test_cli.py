"""The command line: help everywhere, bad input named, nothing recorded is lost."""

import json
import subprocess
import sys

import optuna
import pytest

from fusionscope.cli import build_parser, main

FUSIONSCOPE = [sys.executable, "-m", "fusionscope"]


def run(*args, cwd=None):
    return subprocess.run(FUSIONSCOPE + list(args), capture_output=True, text=True, cwd=cwd, timeout=600)


def test_every_command_has_help():
    parser = build_parser()
    commands = parser._subparsers._group_actions[0].choices
    assert set(commands) >= {"search", "ablate", "cost", "pareto", "report", "export", "dashboard"}
    for name in commands:
        with pytest.raises(SystemExit) as exit_:
            main([name, "--help"])
        assert exit_.value.code == 0


def test_cost_command_prints_cfn_breakdown(capsys):
    assert main(["cost", "backbone=plain", "fusion=lc", "branches=1,2", "side_channels=192", "width=96"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["breakdown"]["params"]["fusion"] == 768
    assert out["params"] == sum(out["breakdown"]["params"].values())
    assert out["macs"] == sum(out["breakdown"]["macs"].values()) and "multiply-accumulates" in out["mac_convention"]
    assert main(["cost", "fusion=max"]) == 2
    assert "fusion='max'" in capsys.readouterr().err


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    """One real search whose records the bad-input tests must leave untouched."""
    from tests.trials.tiny import tiny_yaml

    tmp = tmp_path_factory.mktemp("cli")
    db = tmp / "keep.db"
    path = tmp / "keep.yaml"
    path.write_text(tiny_yaml("keep", db, trials=2))
    out = run("search", "--config", str(path), "--no-progress", cwd=tmp)
    assert out.returncode == 0, out.stderr[-2000:]
    url = f"sqlite:///{db}"
    return tmp, path, url


def snapshot(url):
    s = optuna.load_study(study_name="keep", storage=url)
    return [(t.number, t.state, t.values, t.params) for t in s.trials]


@pytest.mark.slow
@pytest.mark.parametrize("edit, words", [
    (lambda t: t + "\nsurprise: 1\n", ["'surprise'"]),
    (lambda t: t.replace("dataset: fashion-mnist", "dataset: mnist2"), ["mnist2"]),
    (lambda t: t.replace("objectives: [accuracy, macs]", "objectives: [accuracy, flops]"), ["'flops'"]),
    (lambda t: t.replace("objectives: [accuracy, macs]", "objectives: [accuracy, params]"), ["objectives", "'macs'"]),
    (lambda t: t.replace("width: 8", "width: [8, 12]").replace("alpha: [1, 2]", "alpha: [1, 8]"), ["alpha=8", "width=12"]),
    (lambda t: t.replace("space:", "space: [").replace("combination: single", "combination: single"), ["YAML"]),
    (lambda t: t.replace("dataset: fashion-mnist", "dataset: 'imagefolder:/nonexistent/x'"), ["/nonexistent/x"]),
])
def test_bad_input_is_named_and_the_study_is_untouched(recorded, edit, words):
    tmp, path, url = recorded
    before = snapshot(url)
    bad = tmp / "bad.yaml"
    bad.write_text(edit(path.read_text()))
    out = run("search", "--config", str(bad), "--no-progress", cwd=tmp)
    assert out.returncode != 0
    for w in words:
        assert w in out.stderr, out.stderr[-1500:]
    assert "Traceback" not in out.stderr
    assert snapshot(url) == before


@pytest.mark.slow
def test_export_best_trial_and_reject_bad_weights(recorded, tmp_path):
    tmp, path, url = recorded
    out = run("export", "--storage", url, "--study", "keep", "--best", "accuracy", "-o", str(tmp_path / "best"))
    assert out.returncode == 0, out.stderr
    from trials.training.export import ExportError, load_exported

    model = load_exported(tmp_path / "best")
    import torch

    assert model(torch.zeros(2, 1, 28, 28)).shape == (2, 10)
    (tmp_path / "best" / "weights.pt").write_bytes(b"not a state dict")
    with pytest.raises(ExportError, match="not a state_dict"):
        load_exported(tmp_path / "best")
    out = run("export", "--storage", url, "--study", "keep", "--trial", "99", "-o", str(tmp_path / "x"))
    assert out.returncode == 2 and "no trial 99" in out.stderr


@pytest.mark.slow
def test_unreachable_ray_address_fails_fast_and_the_study_is_untouched(recorded):
    import socket
    import time

    tmp, path, url = recorded
    before = snapshot(url)
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    start = time.monotonic()
    out = run("search", "--config", str(path), "--no-progress", "--address", f"127.0.0.1:{port}", cwd=tmp)
    assert out.returncode == 2, out.stderr[-1500:]
    assert f"127.0.0.1:{port}" in out.stderr and "Traceback" not in out.stderr
    assert time.monotonic() - start < 60  # not ray.init's minutes of retries
    assert snapshot(url) == before


def test_trials_never_imports_analysis_and_the_cli_sits_above_all():
    """The floors: trials (every module, its commands included) imports no analysis module;
    only the top-floor fusionscope.cli assembles all three packages' commands."""
    code = (
        "import json, sys, pkgutil, importlib, trials\n"
        "for m in pkgutil.walk_packages(trials.__path__, 'trials.'):\n"
        "    importlib.import_module(m.name)\n"
        "print(json.dumps(sorted(n for n in sys.modules if n.split('.')[0] in ('analysis', 'fusionscope'))))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert json.loads(done.stdout.splitlines()[-1]) == []
    done = subprocess.run([sys.executable, "-m", "fusionscope", "--help"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0
    for command in ("search", "ablate", "cost", "pareto", "report", "export", "dashboard"):
        assert command in done.stdout
