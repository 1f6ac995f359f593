"""The ``pareto`` and ``report`` subcommands, parsed the way the main CLI parses them."""

from __future__ import annotations

import pytest

from tests.browser import needs_chromium


def run(*argv: str) -> int:
    """The command as the user runs it: ``fusionscope.cli.main`` prints an error once and returns its code."""
    from fusionscope.cli import main

    return main(list(argv))


def test_report_writes_markdown_and_html(search_study, tmp_path, capsys):
    out = tmp_path / "report"
    assert run("report", "--storage", search_study.storage, "--study", search_study.name, "-o", str(out)) == 0
    assert (out / "report.md").read_text().startswith("# Study cfn-search")
    assert "<table>" in (out / "report.html").read_text()
    assert (out / "pareto.html").exists()
    assert f"wrote {out / 'report.md'}" in capsys.readouterr().out


def test_missing_study_is_named_with_the_existing_ones(search_study, tmp_path, capsys):
    code = run("report", "--storage", search_study.storage, "--study", "cfn-serach", "-o", str(tmp_path / "r"))
    assert code == 2
    error = capsys.readouterr().err
    assert "'cfn-serach'" in error and "'cfn-search'" in error
    assert not (tmp_path / "r").exists()
    assert run("pareto", "--storage", search_study.storage, "--study", "nope", "-o", str(tmp_path / "p.html")) == 2


def test_unknown_objective_is_named_with_the_studys_objectives(search_study, tmp_path, capsys):
    code = run(
        "pareto", "--storage", search_study.storage, "--study", search_study.name,
        "--x", "flops", "-o", str(tmp_path / "p.html"),
    )
    assert code == 2
    error = capsys.readouterr().err
    assert "'flops'" in error and "accuracy, params, macs" in error


def test_pareto_writes_the_chosen_axes(search_study, tmp_path, capsys):
    out = tmp_path / "plots" / "front.html"
    code = run(
        "pareto", "--storage", search_study.storage, "--study", search_study.name,
        "--x", "macs", "--y", "accuracy", "-o", str(out),
    )
    assert code == 0
    assert "Pareto front: accuracy vs macs" in out.read_text()
    assert "9 complete trials" in capsys.readouterr().out


def test_storage_password_never_printed(tmp_path, capsys):
    # nothing listens on port 1: the connection fails, and the message must not leak the password
    storage = "postgresql+psycopg2://bob:s3cret@127.0.0.1:1/runs"
    assert run("report", "--storage", storage, "--study", "x", "-o", str(tmp_path / "r")) == 2
    captured = capsys.readouterr()
    assert "s3cret" not in captured.out + captured.err
    assert "postgresql+psycopg2://bob:***@127.0.0.1:1/runs" in captured.err


def test_help_describes_both_subcommands(capsys):
    for name in ("pareto", "report"):
        with pytest.raises(SystemExit):
            run(name, "--help")
    text = capsys.readouterr().out
    assert "multiply-accumulates per image" in text and "--png" in text and "--x OBJECTIVE" in text


@needs_chromium  # kaleido drives it to write PNGs
def test_png_export_through_kaleido(search_study, tmp_path):
    out = tmp_path / "report"
    assert run("report", "--storage", search_study.storage, "--study", search_study.name, "-o", str(out), "--png") == 0
    for name in ("forest.png", "pareto.png", "hypervolume.png"):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "![pareto](pareto.png)" in (out / "report.md").read_text()
    assert "![forest](forest.png)" in (out / "report.md").read_text()


def test_png_export_without_a_browser_says_why(search_study, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("BROWSER_PATH", str(tmp_path / "no-such-chromium"))
    out = tmp_path / "front.html"
    code = run("pareto", "--storage", search_study.storage, "--study", search_study.name, "-o", str(out), "--png")
    assert code == 1
    assert out.exists() and not out.with_suffix(".png").exists()
    error = capsys.readouterr().err
    assert "BROWSER_PATH=" in error and "no-such-chromium" in error and "Chrome/Chromium" in error
    # the report still writes its Markdown and HTML before saying PNGs are impossible
    report = tmp_path / "report"
    assert run("report", "--storage", search_study.storage, "--study", search_study.name, "-o", str(report), "--png") == 1
    assert (report / "report.md").exists() and (report / "report.html").exists()
    assert not (report / "pareto.png").exists() and "![pareto]" not in (report / "report.md").read_text()


@pytest.mark.parametrize("kind", ["all failed or pruned", "empty", "plain optuna, one objective"])
def test_a_report_of_a_study_without_complete_trials_says_what_failed(tmp_path, capsys, kind):
    """Issue #20 item 11: it used to end in ``ValueError: zero-size array`` from the effects fit."""
    import json

    import optuna
    from optuna.distributions import CategoricalDistribution
    from optuna.trial import TrialState, create_trial

    from trials import record

    url = f"sqlite:///{tmp_path / 'x.db'}"
    fusion = CategoricalDistribution(["none", "lc"])
    study = optuna.create_study(study_name="s", storage=url,
                                directions=["maximize"] if kind.startswith("plain") else ["maximize", "minimize"])
    if not kind.startswith("plain"):
        study.set_user_attr(record.STUDY_OBJECTIVES, ["accuracy", "macs"])
    if kind != "empty":
        study.add_trial(create_trial(state=TrialState.FAIL, params={"fusion": "lc"}, distributions={"fusion": fusion},
                                     user_attrs={record.ERROR: "CandidateError: loss is nan", record.MACS: 1000}))
        study.add_trial(create_trial(state=TrialState.PRUNED, params={"fusion": "none"},
                                     distributions={"fusion": fusion},
                                     user_attrs={record.INFEASIBLE: "macs 2000 > max_macs 1000", record.MACS: 2000}))
    out = tmp_path / "report"
    assert run("report", "--storage", url, "--study", "s", "-o", str(out)) == 0, capsys.readouterr().err
    text = (out / "report.md").read_text()
    assert "No Pareto front: no complete trial" in text or kind.startswith("plain")
    if kind != "empty":
        assert "CandidateError: loss is nan" in text
    assert json.loads((out / "report.json").read_text())
