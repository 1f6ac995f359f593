"""The study report: every number first (``Report``), then Markdown and self-contained HTML.

Both renderers print the same ``Section`` list, so the Markdown and the HTML cannot disagree;
the HTML adds the interactive figures (plotly.js embedded once, no external URLs).
"""

from __future__ import annotations

import html
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

import plotly.graph_objects as go
import plotly.offline

from analysis.ablation import FactorTable, LevelStats, ablation_tables
from analysis.formatting import (
    MACS_CONVENTION,
    format_count,
    format_interval,
    format_objective,
    format_percent,
    format_spec,
)
from analysis.hypervolume import (
    HypervolumeHistory,
    describe_reference,
    hypervolume_figure,
    hypervolume_history,
)
from analysis.hcnn import CombinationGain, combination_gains
from analysis.importance import Importance, param_importances
from analysis.load import Objective, TrialRow, mask_url, open_study, study_objectives, trial_rows
from analysis.pareto import ParetoInfo, pareto_figure, pareto_info
from analysis.png import write_pngs


@dataclass(frozen=True)
class Report:
    """Everything the report states, computed from the storage alone."""

    study_name: str
    storage: str  # password masked
    objectives: tuple[Objective, ...]
    state_counts: Mapping[str, int]
    pareto: ParetoInfo | None  # None: fewer than two objectives or no complete trial
    front_rows: tuple[TrialRow, ...]
    hypervolume: HypervolumeHistory | None
    ablation: tuple[FactorTable, ...]
    importances: tuple[Importance, ...]
    failures: tuple[TrialRow, ...]
    hcnn_gains: tuple[CombinationGain, ...] = ()


def build_report(storage: str, study_name: str) -> Report:
    """Read the study at ``storage`` and compute every section of the report."""
    study = open_study(storage, study_name)
    objectives = study_objectives(study)
    rows = trial_rows(study)
    has_front = len(objectives) >= 2 and any(r.complete for r in rows)
    pareto = pareto_info(study) if has_front else None
    front_numbers = {p.number for p in pareto.front} if pareto else set()
    return Report(
        study_name=study_name,
        storage=mask_url(storage),
        objectives=objectives,
        state_counts=dict(Counter(r.state for r in rows)),
        pareto=pareto,
        front_rows=tuple(r for r in rows if r.number in front_numbers),
        hypervolume=hypervolume_history(study) if has_front else None,
        ablation=ablation_tables(rows),
        importances=param_importances(study),
        failures=tuple(r for r in rows if r.state == "FAIL"),
        hcnn_gains=tuple(combination_gains(rows)),
    )


@dataclass(frozen=True)
class Table:
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


@dataclass(frozen=True)
class Section:
    """A titled block of plain-text paragraphs, an optional table and an optional figure key."""

    title: str
    depth: int
    paragraphs: tuple[str, ...] = ()
    table: Table | None = None
    figure: str | None = None  # key into report_figures()


def _overview(report: Report) -> Section:
    counts = ", ".join(f"{state} {n}" for state, n in sorted(report.state_counts.items()))
    total = sum(report.state_counts.values())
    objectives = ", ".join(f"{o.name} ({o.direction})" for o in report.objectives)
    return Section(
        f"Study {report.study_name}",
        1,
        (
            f"Storage: {report.storage}",
            f"Trials: {total} ({counts or 'none'})",
            f"Objectives: {objectives}",
            "Accuracy: final validation accuracy; a trial's objective is the mean over its seeds, "
            "and the ablation tables pool the per-seed values.",
            MACS_CONVENTION + ".",
        ),
    )


def _pareto_section(report: Report) -> Section:
    if report.pareto is None:
        reason = "fewer than two objectives" if len(report.objectives) < 2 else "no complete trial"
        return Section("Pareto front", 2, (f"No Pareto front: {reason}.",))
    names = [o.name for o in report.objectives]
    rows = sorted(report.front_rows, key=lambda r: r.values[report.pareto.axes[0]])
    table = Table(
        ("trial", *names, "spec"),
        tuple(
            (str(r.number), *(format_objective(n, r.values[n]) for n in names), format_spec(r.spec))
            for r in rows
        ),
    )
    text = (
        f"{len(report.pareto.front)} of {len(report.pareto.points)} complete trials are "
        f"Pareto-optimal over {'both' if len(names) == 2 else f'all {len(names)}'} objectives "
        "(Optuna's study.best_trials).",
    )
    return Section("Pareto front", 2, text, table, "pareto")


def _hypervolume_section(report: Report) -> Section:
    hv = report.hypervolume
    if hv is None:
        return Section("Hypervolume", 2, ("No hypervolume: no Pareto front.",))
    improvements = [
        (n, v)
        for i, (n, v) in enumerate(zip(hv.trial_numbers, hv.values))
        if i == 0 or v > hv.values[i - 1]
    ]
    text = (
        f"Reference point: {describe_reference(hv)} ({hv.reference_rule}).",
        f"Final hypervolume: {hv.final:.6g} (units: {' × '.join(o.name for o in hv.objectives)}) "
        f"after {len(hv.values)} complete trials, {hv.share(hv.final):.1%} of the box between "
        f"the reference point and the ideal point (best value seen on each objective). "
        f"The table lists the trials that raised it.",
    )
    table = Table(
        ("trial", "hypervolume", "share of box"),
        tuple((str(n), f"{v:.6g}", f"{hv.share(v):.1%}") for n, v in improvements),
    )
    return Section("Hypervolume", 2, text, table, "hypervolume")


def _accuracy_cell(level: LevelStats) -> str:
    sd = "n/a" if level.accuracy_sd is None else format_percent(level.accuracy_sd)
    return f"{format_percent(level.accuracy_mean)} ± {sd}"


def _difference_cell(level: LevelStats) -> str:
    difference = level.difference
    if difference is None:
        return "reference"
    if difference.mean is None:
        return f"n/a ({difference.method})"
    interval = "[n/a]" if difference.interval is None else format_interval(difference.interval, signed=True)
    return f"{format_percent(difference.mean, signed=True)} {interval} ({difference.method})"


def _ablation_sections(report: Report) -> list[Section]:
    intro = (
        "One table per param that took at least two values among complete trials. Accuracy in "
        "percent over all seeds of the level's trials: mean ± sd and a 95% t-interval. "
        "Δ vs reference: mean accuracy difference over pairs of designs that differ only in "
        "this param (params only one of the two has are conditional on it), with a 95% "
        "paired t-interval (≥2 pairs) or a Welch interval from the two designs' seeds (1 pair).",
    )
    sections = [Section("Ablation", 2, intro if report.ablation else ("No param took two values.",))]
    for table in report.ablation:
        header = (
            "level", "accuracy % (mean ± sd)", "95% CI", f"Δ vs {table.reference} [95% CI]",
            "params", "MACs", "trials", "replicates",
        )
        rows = tuple(
            (
                f"{level.level} (reference)" if level.difference is None else str(level.level),
                _accuracy_cell(level),
                format_interval(level.accuracy_interval),
                _difference_cell(level),
                format_count(level.params_mean),
                format_count(level.macs_mean),
                str(level.n_trials),
                str(level.n_replicates),
            )
            for level in table.levels
        )
        title = table.factor if table.label == table.factor else f"{table.label}: {table.factor}"
        sections.append(Section(title, 3, (), Table(header, rows)))
    return sections


def _importance_section(report: Report) -> Section:
    notes = tuple(f"{i.objective}: {i.note}" for i in report.importances)
    computed = [i for i in report.importances if i.importances]
    if not computed:
        return Section("Parameter importance", 2, notes)
    params = list(dict.fromkeys(p for i in computed for p in i.importances))
    table = Table(
        ("param", *(i.objective for i in computed)),
        tuple((p, *(f"{i.importances.get(p, 0.0):.3f}" for i in computed)) for p in params),
    )
    return Section("Parameter importance", 2, notes, table)


def _failure_section(report: Report) -> Section:
    if not report.failures:
        return Section("Failed trials", 2, ("None.",))
    table = Table(
        ("trial", "error", "spec"),
        tuple(
            (str(r.number), r.error or "(no error recorded)", format_spec(r.spec))
            for r in report.failures
        ),
    )
    return Section("Failed trials", 2, (), table)


def _hcnn_section(report: Report) -> list[Section]:
    if not report.hcnn_gains:
        return []
    rows = tuple((f"#{g.number}", g.design, f"{g.accuracy:.2f}", f"{g.better_single:.2f}", f"{g.gain:+.2f}",
                  f"[{g.ci[0]:+.2f}, {g.ci[1]:+.2f}]" if g.ci else "n/a (one seed)", str(g.replicates))
                 for g in report.hcnn_gains)
    table = Table(("trial", "combination", "accuracy %", "better single %", "gain (points)", "95% CI", "seeds"), rows)
    return [Section("HCNN: gain over the better single net", 2, (
        "Each combination against the better of its own two bases, trained alone with the same seeds first "
        "(HCNN §2.3), so the gain is paired within a seed; the interval is over seeds.",), table)]


def report_sections(report: Report) -> list[Section]:
    return [
        _overview(report),
        _pareto_section(report),
        _hypervolume_section(report),
        *_hcnn_section(report),
        *_ablation_sections(report),
        _importance_section(report),
        _failure_section(report),
    ]


def report_figures(report: Report) -> dict[str, go.Figure]:
    """The report's interactive figures by the key their section refers to."""
    if report.pareto is None or report.hypervolume is None:
        return {}
    return {"pareto": pareto_figure(report.pareto), "hypervolume": hypervolume_figure(report.hypervolume)}


def _markdown_cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def to_markdown(report: Report, images: Mapping[str, str] | None = None) -> str:
    """The report as Markdown; ``images`` maps figure keys to image paths to embed."""
    images = images or {}
    lines: list[str] = []
    for section in report_sections(report):
        lines += ["#" * section.depth + " " + section.title, ""]
        lines += [p for paragraph in section.paragraphs for p in (paragraph, "")]
        if section.table is not None:
            lines.append("| " + " | ".join(section.table.header) + " |")
            lines.append("|" + "---|" * len(section.table.header))
            lines += ["| " + " | ".join(_markdown_cell(c) for c in row) + " |" for row in section.table.rows]
            lines.append("")
        if section.figure in images:
            lines += [f"![{section.figure}]({images[section.figure]})", ""]
    return "\n".join(lines)


_STYLE = """
body { font-family: system-ui, sans-serif; max-width: 1200px; margin: 2em auto; padding: 0 1em; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: left; vertical-align: top; }
th { background: #f2f2f2; }
"""


def _figure_html(figure: go.Figure) -> str:
    height = f"{figure.layout.height or 520}px"
    return figure.to_html(
        full_html=False, include_plotlyjs=False, default_height=height, config={"displaylogo": False}
    )


def to_html(report: Report) -> str:
    """The report as one self-contained HTML page: plotly.js embedded once, figures inline."""
    figures = report_figures(report)
    body: list[str] = []
    for section in report_sections(report):
        body.append(f"<h{section.depth}>{html.escape(section.title)}</h{section.depth}>")
        body += [f"<p>{html.escape(p)}</p>" for p in section.paragraphs]
        if section.figure in figures:
            body.append(_figure_html(figures[section.figure]))
        if section.table is not None:
            head = "".join(f"<th>{html.escape(c)}</th>" for c in section.table.header)
            rows = "".join(
                "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>"
                for row in section.table.rows
            )
            body.append(f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>")
    return (
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
        f"<title>fusionscope: {html.escape(report.study_name)}</title><style>{_STYLE}</style>"
        f"<script type=\"text/javascript\">{plotly.offline.get_plotlyjs()}</script></head>\n"
        "<body>\n" + "\n".join(body) + "\n</body></html>\n"
    )


def write_report(storage: str, study_name: str, out_dir: str | Path, png: bool = False) -> dict[str, Path]:
    """Write report.md, report.html and pareto.html (and PNGs of the figures) into ``out_dir``.

    Returns the written paths by kind: ``markdown``, ``html``, ``pareto_html`` (absent without
    a Pareto front) and, with ``png``, ``pareto_png`` and ``hypervolume_png``.  When PNG export
    is impossible, the Markdown and HTML are still written before ``PngExportError`` is raised.
    """
    report = build_report(storage, study_name)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    figures = report_figures(report)
    paths = {"html": out / "report.html", "markdown": out / "report.md"}
    paths["html"].write_text(to_html(report), encoding="utf-8")
    if "pareto" in figures:
        paths["pareto_html"] = out / "pareto.html"
        figures["pareto"].write_html(
            paths["pareto_html"], include_plotlyjs=True, config={"displaylogo": False}
        )
    images: dict[str, str] = {}
    try:
        if png and figures:
            pngs = {f"{key}_png": out / f"{key}.png" for key in figures}
            write_pngs(list(figures.values()), list(pngs.values()))
            paths.update(pngs)
            images = {key: path.name for key, path in zip(figures, pngs.values())}
    finally:
        paths["markdown"].write_text(to_markdown(report, images), encoding="utf-8")
    return paths
