"""The report states the numbers the storage implies, in Markdown and in self-contained HTML."""

from __future__ import annotations

import re

import numpy as np
import optuna
import plotly.offline
from optuna.trial import TrialState
from scipy import stats

from analysis.report import build_report, to_html, to_markdown, write_report
from trials import record


def test_markdown_fusion_table_row_has_the_recomputed_numbers(search_study):
    study = optuna.load_study(study_name=search_study.name, storage=search_study.storage)
    complete = {t.number: t for t in study.get_trials(states=(TrialState.COMPLETE,))}
    n = search_study.numbers

    def accuracies(*numbers):
        return np.concatenate([complete[k].user_attrs[record.ACCURACY_REPLICATES] for k in numbers])

    lc = accuracies(n["lc16"], n["lc32"], n["lc16_eplf"])
    none16 = accuracies(n["none16"], n["none16_again"]).mean()
    differences = [  # lc16_eplf is not an exact pair of none16: strategy at its reference only (issue #18, 5)
        accuracies(n["lc16"]).mean() - none16,
        accuracies(n["lc32"]).mean() - accuracies(n["none32"]).mean(),
    ]
    d_interval = stats.ttest_1samp(differences, 0.0).confidence_interval(0.95)
    expected_row_tail = (
        f"| {100 * np.mean(differences):+.2f} [{100 * d_interval.low:+.2f}, {100 * d_interval.high:+.2f}] "
        f"(paired t, 2 pairs at branches=1,2, strategy=eflp); vs model: the pairs are a comparison the "
        f"model itself makes: nothing to test | {100 * lc.mean():.2f} ± {100 * lc.std(ddof=1):.2f} "
        f"| 236k | 17.8M | 3 | 8 | 0 |"
    )
    markdown = to_markdown(build_report(search_study.storage, search_study.name))
    assert "### fusion op (CFN): fusion" in markdown
    # each header says what its column is; the raw per-level 95% CI beside the model's is gone (issue #18, 10)
    assert (
        "| level | effect vs none: model, points [95% CI] | p (adjusted) | reading of the interval | budget "
        "| model's marginal mean, % [95% CI] | exact pairs: Δ points [95% CI]; pairs − model "
        "| level's trials: accuracy % (mean ± sd over seeds) | params (mean) | MACs (mean) | complete trials "
        "| seed replicates | pruned (early-stopped) trials |"
    ) in markdown
    (lc_row,) = [line for line in markdown.splitlines() if line.startswith("| lc | ")]
    assert lc_row.endswith(expected_row_tail)
    assert "| none (reference) |" in markdown
    # conv appears only on the resnet backbone: the model says so instead of printing a number
    assert "| conv | not estimable: confounded with backbone=resnet" in markdown
    assert "none: no pair of designs differing only here (params nested in it at their reference level) | 85.80 ± 0.42 |" in markdown
    assert "[no interval] (1 pair, <2 replicates per side)" in markdown


def test_markdown_states_conventions_reference_point_front_and_failures(search_study):
    report = build_report(search_study.storage, search_study.name)
    markdown = to_markdown(report)
    assert "MACs: multiply-accumulates per image" in markdown
    hv = report.hypervolume
    assert f"Reference point: accuracy {100 * hv.reference_point['accuracy']:.2f}%" in markdown
    assert "the worst value among the 9 complete trials, moved 10%" in markdown
    assert "Trials: 12 (COMPLETE 9, FAIL 1, PRUNED 1, RUNNING 1)" in markdown
    front = {p.number for p in report.pareto.front}
    table_trials = {int(m) for m in re.findall(r"^\| (\d+) \| \d+\.\d+% \|", markdown, flags=re.M)}
    assert table_trials == front
    # the error text's "|" is escaped so the table keeps its columns
    assert f"| {search_study.numbers['failed']} | RuntimeError: out of memory \\| allocating 2.0 GiB |" in markdown
    assert "## Parameter importance" in markdown and "PED-ANOVA" in markdown


def test_html_is_self_contained_with_plotly_once_and_both_figures(search_study):
    page = to_html(build_report(search_study.storage, search_study.name))
    plotly_js = plotly.offline.get_plotlyjs()
    assert page.count(plotly_js) == 1
    assert page.count('class="plotly-graph-div"') == 3  # forest (effects and costs), Pareto front, hypervolume
    # nothing outside plotly.js itself loads from elsewhere
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page.replace(plotly_js, ""))
    assert "<th>effect vs none: model, points [95% CI]</th>" in page
    assert "<th>exact pairs: Δ points [95% CI]; pairs − model</th>" in page
    assert "RuntimeError: out of memory | allocating 2.0 GiB" in page


def test_write_report_writes_the_four_files(search_study, tmp_path):
    paths = write_report(search_study.storage, search_study.name, tmp_path / "out")
    assert {k: p.name for k, p in paths.items()} == {
        "markdown": "report.md", "html": "report.html", "json": "report.json", "pareto_html": "pareto.html",
    }
    assert all(p.stat().st_size > 0 for p in paths.values())
    pareto_page = paths["pareto_html"].read_text()
    assert "Plotly.newPlot" in pareto_page and len(pareto_page) > 1_000_000  # plotly.js included


def test_report_json_holds_the_numbers_of_the_markdown(search_study, tmp_path):
    import json

    paths = write_report(search_study.storage, search_study.name, tmp_path / "out")
    data = json.loads(paths["json"].read_text())
    markdown = paths["markdown"].read_text()
    report = build_report(search_study.storage, search_study.name)
    assert data["reference"]["fusion"] == "none" and data["reference"]["width"] == "16"
    lc = data["effects"]["fusion"]["lc"]
    (lc_row,) = [line for line in markdown.splitlines() if line.startswith("| lc | ")]
    assert lc_row.startswith(f"| lc | {lc['estimate']:+.2f} [{lc['ci_low']:+.2f}, {lc['ci_high']:+.2f}] "
                             f"| {lc['p_adjusted']:.3g} |")
    assert lc["exact_pairs"]["method"] == "paired t, 2 pairs at branches=1,2, strategy=eflp" and lc["by_epoch"] == []
    conv = data["effects"]["fusion"]["conv"]
    assert conv["estimate"] is None and "confounded with backbone=resnet" in conv["reason"]
    # every level states a number or a reason
    for factor, levels in data["effects"].items():
        for level, effect in levels.items():
            assert (effect["estimate"] is None) == bool(effect["reason"]), (factor, level)
    ablation = markdown.split("## Ablation")[1].split("## Parameter importance")[0]
    cells = [c.strip() for line in ablation.splitlines() if line.startswith("| ") for c in line.split(" | ")]
    assert "n/a" not in cells and not any(c.startswith("n/a ") for c in cells)  # every blank says why
    assert data["pareto_front"] == sorted(p.number for p in report.pareto.front)
    assert data["hypervolume"]["final"] == report.hypervolume.final
    assert data["hypervolume"]["reference_point"] == dict(report.hypervolume.reference_point)
    # the model's own figures the Markdown states in words: the tests adjusted over, lack of fit, margin
    model = data["effects_model"]
    assert model["n_tests"] == report.effects.n_tests > 0 and model["adjustment"] == report.effects.adjustment
    assert f"{model['n_tests']}" in markdown and model["settled_margin"] == report.effects.settled_margin
    assert (model["lack_of_fit"] is None) == (report.effects.lack_of_fit is None)
    if model["lack_of_fit"] is not None:
        assert model["lack_of_fit"]["p_value"] == report.effects.lack_of_fit.p_value
        assert f"p = {model['lack_of_fit']['p_value']:.3g}" in markdown


def test_learning_curves_give_one_effect_plot_per_factor_and_the_settled_column(tmp_path):
    from tests.analysis.synthetic_effects import stored_learning_curve_study

    storage = f"sqlite:///{tmp_path / 'curves.db'}"
    stored_learning_curve_study(storage)
    report = build_report(storage, "curves")
    page = to_html(report)
    assert page.count('class="plotly-graph-div"') == 5  # forest, Pareto, hypervolume, fusion and width by epoch
    markdown = to_markdown(report)
    (lc_row,) = [line for line in markdown.splitlines() if line.startswith("| lc | ")]
    assert "not settled at this budget" in lc_row
