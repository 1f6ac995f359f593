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
    low, high = stats.t.interval(0.95, len(lc) - 1, loc=lc.mean(), scale=stats.sem(lc))
    none16 = accuracies(n["none16"], n["none16_again"]).mean()
    differences = [
        accuracies(n["lc16"]).mean() - none16,
        accuracies(n["lc32"]).mean() - accuracies(n["none32"]).mean(),
        accuracies(n["lc16_eplf"]).mean() - none16,
    ]
    d_interval = stats.ttest_1samp(differences, 0.0).confidence_interval(0.95)
    expected_row = (
        f"| lc | {100 * lc.mean():.2f} ± {100 * lc.std(ddof=1):.2f} "
        f"| [{100 * low:.2f}, {100 * high:.2f}] "
        f"| {100 * np.mean(differences):+.2f} [{100 * d_interval.low:+.2f}, {100 * d_interval.high:+.2f}] "
        f"(paired t, 3 pairs) | 236k | 17.8M | 3 | 8 |"
    )
    markdown = to_markdown(build_report(search_study.storage, search_study.name))
    assert "### fusion op (CFN): fusion" in markdown
    assert "| level | accuracy % (mean ± sd) | 95% CI | Δ vs none [95% CI] | params | MACs | trials | replicates |" in markdown
    assert expected_row in markdown
    assert "| none (reference) |" in markdown
    assert "| conv | 85.80 ± 0.42 |" in markdown and "n/a (no pair of designs differing only here)" in markdown
    assert "[n/a] (1 pair, <2 replicates per side)" in markdown


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
    assert page.count('class="plotly-graph-div"') == 2  # Pareto front and hypervolume history
    # nothing outside plotly.js itself loads from elsewhere
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page.replace(plotly_js, ""))
    assert "<th>Δ vs none [95% CI]</th>" in page
    assert "RuntimeError: out of memory | allocating 2.0 GiB" in page


def test_write_report_writes_the_three_files(search_study, tmp_path):
    paths = write_report(search_study.storage, search_study.name, tmp_path / "out")
    assert {k: p.name for k, p in paths.items()} == {
        "markdown": "report.md", "html": "report.html", "pareto_html": "pareto.html",
    }
    assert all(p.stat().st_size > 0 for p in paths.values())
    pareto_page = paths["pareto_html"].read_text()
    assert "Plotly.newPlot" in pareto_page and len(pareto_page) > 1_000_000  # plotly.js included
