"""The study report: every number first (``Report``), then Markdown, HTML and ``report.json``.

The report is the table ``SECTIONS``: each entry is one section with its title, the keys its
numbers add to ``report.json`` (``analysis.report_json``), its Markdown/HTML blocks and its
figures.  Markdown and HTML print the same ``Section`` blocks, so they cannot disagree, and
report.json is built from the same entries; adding a section is one entry and a test.  The HTML
adds the interactive figures (plotly.js embedded once, no external URLs).
"""

from __future__ import annotations

import html
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

import plotly.graph_objects as go
import plotly.offline

from analysis.ablation import FactorTable, LevelStats, ablation_tables, pruned_counts
from analysis.effects import LackOfFit, level_key
from analysis.stats import CONFIDENCE
from analysis.formatting import (
    MACS_CONVENTION,
    format_count,
    format_interval,
    format_objective,
    format_percent,
    format_points,
    format_spec,
)
from analysis.hypervolume import (
    HypervolumeHistory,
    describe_reference,
    hypervolume_figure,
    hypervolume_history,
)
from analysis.forest import ForestInfo, forest_figure, forest_info
from analysis.hcnn import CombinationGain, combination_gains
from analysis.importance import Importance, param_importances
from analysis.load import Objective, TrialRow, mask_url, open_study, study_objectives, trial_rows
from analysis.pareto import ParetoInfo, pareto_figure, pareto_info
from analysis.png import write_pngs
from analysis import report_json
from analysis.settled import LevelEffect, StudyEffects, effects_by_epoch_figure, study_effects
from analysis.until_clear import UntilClear, until_clear_blocks, until_clear_info, until_clear_json
from trials import record


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
    effects: StudyEffects
    importances: tuple[Importance, ...]
    failures: tuple[TrialRow, ...]
    hcnn_gains: tuple[CombinationGain, ...] = ()
    #: early-stopped (pruned) trials by param and level key: not in the effects, shown beside them
    pruned: Mapping[str, Mapping[str, int]] = field(default_factory=dict)
    forest: ForestInfo | None = None  # every effect beside its cost
    infeasible: int = 0  # designs over the search's cost limits, recorded but never trained
    until_clear: UntilClear | None = None  # ``ablate --until-clear``: the rounds, looks and corrected intervals


def build_report(storage: str, study_name: str) -> Report:
    """Read the study at ``storage`` and compute every section of the report."""
    study = open_study(storage, study_name)
    objectives = study_objectives(study)
    rows = trial_rows(study)
    has_front = len(objectives) >= 2 and any(r.complete for r in rows)
    pareto = pareto_info(study) if has_front else None
    front_numbers = {p.number for p in pareto.front} if pareto else set()
    effects = study_effects(rows, (study.user_attrs.get(record.STUDY_CONFIG) or {}).get("space"))
    ablation = ablation_tables(rows, {f.factor: f.reference for f in effects.factors})
    return Report(
        study_name=study_name,
        storage=mask_url(storage),
        objectives=objectives,
        state_counts=dict(Counter(r.state for r in rows)),
        pareto=pareto,
        front_rows=tuple(r for r in rows if r.number in front_numbers),
        hypervolume=hypervolume_history(study) if has_front else None,
        ablation=ablation,
        effects=effects,
        importances=param_importances(study),
        failures=tuple(r for r in rows if r.state == "FAIL"),
        hcnn_gains=tuple(combination_gains(rows)),
        pruned=pruned_counts(rows),
        forest=forest_info(effects, ablation),
        infeasible=sum(1 for r in rows if record.INFEASIBLE in r.attrs),
        until_clear=until_clear_info(rows, study.user_attrs),
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
    if report.pareto.limits:
        shown = ", ".join(f"{name} ≤ {format_objective(name, value)}" for name, value in report.pareto.limits.items())
        text += (f"The search ran under cost limits ({shown}), drawn on the plot; {report.infeasible} proposed "
                 "designs were over them and never trained, so the front and the hypervolume are of feasible "
                 "designs only.",)
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


def _accuracy_cell(level: LevelStats | None) -> str:
    if level is None:
        return "no complete trial"
    sd = "n/a (one replicate)" if level.accuracy_sd is None else format_percent(level.accuracy_sd)
    return f"{format_percent(level.accuracy_mean)} ± {sd}"


def _points(value: float) -> str:
    return f"{value:+.2f}"


def _model_cell(effect: LevelEffect) -> str:
    contrast = effect.contrast
    if contrast is None:
        return "reference"
    if contrast.estimate is None:
        return f"not estimable: {contrast.reason}"
    return f"{_points(contrast.estimate)} [{_points(contrast.ci_low)}, {_points(contrast.ci_high)}]"


def interval_reading(low: float, high: float, p_adjusted: float | None = None) -> str:
    """What a 95% interval of an effect (points) says, and nothing more.

    An interval that holds 0 is "no difference detected" with the range it still allows, never
    "level" or "no effect": [−1.93, +0.60] allows a loss of almost two points.
    """
    if low > 0 or high < 0:
        words = f"{'higher' if low > 0 else 'lower'}: the interval allows {low:+.2f} to {high:+.2f}"
        if p_adjusted is not None and p_adjusted >= 0.05:
            words += f" (but not significant after the adjustment for several tests: p = {p_adjusted:.2g})"
        return words
    return f"no difference detected; the interval allows {low:+.2f} to {high:+.2f}"


def _reading_cell(effect: LevelEffect, n_trials: int, n_pruned: int) -> str:
    contrast = effect.contrast
    if contrast is None:
        return "—"
    if contrast.estimate is None:
        if n_trials == 0 and n_pruned:
            return f"no estimate: all {n_pruned} trials of this level were stopped early (pruned)"
        return "no estimate"
    return interval_reading(contrast.ci_low, contrast.ci_high, contrast.p_adjusted)


def _p_cell(effect: LevelEffect) -> str:
    contrast = effect.contrast
    if contrast is None or contrast.p_adjusted is None:
        return "—"
    return f"{contrast.p_adjusted:.3g}"


def _budget_cell(effect: LevelEffect) -> str:
    if effect.contrast is None:
        return "—"
    if effect.settled is None:
        return f"unknown: {effect.settled_note}"
    return effect.settled_note


def _mean_cell(effect: LevelEffect) -> str:
    mean = effect.mean
    if mean.estimate is None:
        return "not estimable (the average runs over a confounded or unobserved level)"
    return f"{mean.estimate:.2f} [{mean.ci_low:.2f}, {mean.ci_high:.2f}]"


def _pairs_cell(level: LevelStats | None, effect: LevelEffect) -> str:
    """The exact paired Δ (points) and its test against the model's effect (flagged at p < 0.05)."""
    if effect.contrast is None:
        return "reference"
    difference = None if level is None else level.difference
    if difference is None or difference.mean is None:
        return "none: " + (difference.method if difference else "level never observed")
    interval = "[no interval]" if difference.interval is None else format_interval(difference.interval, signed=True)
    text = f"{format_percent(difference.mean, signed=True)} {interval} ({difference.method})"
    check = difference.check
    if check is not None and check.p_value is not None:
        text += f"; pairs − model {check.difference:+.2f}, p = {check.p_value:.2g}"
        if check.flagged:
            text += ": DIFFERS from the model (effects may not add)"
    elif check is not None and check.note:
        text += f"; vs model: {check.note}"
    return text


def _ablation_sections(report: Report) -> list[Section]:
    effects = report.effects
    intro = (
        "One table per param that took at least two values among complete trials (or that the "
        "study's space lists with several). Effect vs reference: accuracy points from an additive "
        f"model over all complete trials ({effects.method}; {effects.n_designs} designs, "
        f"{effects.n_observations} seed replicates), each param in treatment coding against its "
        "reference level. It is the effect with the other params held fixed only if effects add, "
        "which the model assumes (where exact pairs differ from it, they may not); params that exist "
        "only under some level of another (e.g. strategy under a fusion op) are nested in it. p: "
        "adjusted for the several tests, as the method says. Reading: what the 95% interval allows; "
        "an interval holding 0 means no difference was detected, not that there is none. Budget: "
        "whether the effect has settled over the epochs (the same model fitted at every epoch). "
        "Marginal mean: the model's accuracy (%) at the level, other params at their average. "
        "Exact pairs: the mean difference over pairs of designs that differ only in this param, "
        "params nested in it at their reference level so that they measure what the model's effect "
        "measures; pairs sharing a design count as one unit; a paired t (≥2 units) or Welch interval "
        "(1 pair). pairs − model: the pairs' Δ minus the model's prediction of it, tested on the "
        "model's residual designs (p < 0.05: DIFFERS, a sign that the effects do not add). Level's "
        "trials: mean ± sd over all seeds of the level's complete trials, and their mean params and "
        "MACs; raw, not adjusted for the other params. Pruned: the level's trials stopped early by "
        "the scheduler, which are in none of the effects.",
    )
    if effects.note:
        intro += (f"Model: {effects.note}.",)
    if effects.n_tests:
        intro += (f"Adjusted together: {effects.n_tests} contrasts ({effects.adjustment}).",)
    lack = effects.lack_of_fit
    if lack is not None:
        intro += (f"Do the effects add? {lack.note[0].upper()}{lack.note[1:]}.",)
    sections = [Section("Ablation", 2, intro if effects.factors else ("No param took two values.",))]
    if lack is not None and lack.fires and lack.interaction:
        sections.append(_interaction_section(lack))
    tables = {t.factor: t for t in report.ablation}
    # test accuracy (data.test_accuracy: ablations record it, never an objective) beside validation
    with_test = any(s.test_accuracy_mean is not None for t in report.ablation for s in t.levels)
    for factor in effects.factors:
        table = tables.get(factor.factor)
        stats_by_level = {level_key(s.level): s for s in table.levels} if table else {}
        header = (
            "level", f"effect vs {factor.reference}: model, points [95% CI]", "p (adjusted)",
            "reading of the interval", "budget", "model's marginal mean, % [95% CI]",
            "exact pairs: Δ points [95% CI]; pairs − model", "level's trials: accuracy % (mean ± sd over seeds)",
            *(("level's trials: test accuracy % (mean over seeds)",) if with_test else ()),
            "params (mean)", "MACs (mean)", "complete trials", "seed replicates", "pruned (early-stopped) trials",
        )
        pruned = report.pruned.get(factor.factor, {})
        rows = []
        for effect in factor.levels:
            stats = stats_by_level.get(level_key(effect.level))
            n_pruned = getattr(effect, "n_pruned", None)
            n_pruned = pruned.get(level_key(effect.level), 0) if n_pruned is None else n_pruned
            rows.append((
                f"{effect.level} (reference)" if effect.contrast is None else str(effect.level),
                _model_cell(effect), _p_cell(effect),
                _reading_cell(effect, stats.n_trials if stats else 0, n_pruned),
                _budget_cell(effect), _mean_cell(effect),
                _pairs_cell(stats, effect), _accuracy_cell(stats),
                *((format_percent(stats.test_accuracy_mean) if stats and stats.test_accuracy_mean is not None
                   else "—",) if with_test else ()),
                format_count(stats.params_mean) if stats else "—",
                format_count(stats.macs_mean) if stats else "—",
                str(stats.n_trials) if stats else "0", str(stats.n_replicates) if stats else "0",
                str(n_pruned),
            ))
        title = factor.factor if factor.label == factor.factor else f"{factor.label}: {factor.factor}"
        notes = (factor.reference_note,) if factor.reference_note else ()
        if any(pruned.values()):
            notes += ("Early-stopped (pruned) trials, left out of every effect: " + ", ".join(
                f"{level} {n}" for level, n in pruned.items() if n) + ". A level that learns slowly can look "
                "worse, or vanish from the effects, when its trials are stopped early.",)
        has_path = any(e.contrast.estimate is not None for lvl in factor.levels for e in lvl.by_epoch)
        sections.append(Section(title, 3, notes, Table(header, tuple(rows)),
                                f"effects_{factor.factor}" if has_path else None))
    return sections


def _interaction_section(lack: LackOfFit) -> Section:
    """When the effects do not add: one factor's effects at each level of the other, both ways round."""
    f, g = lack.interaction
    rows = []
    for a, b in ((f, g), (g, f)):
        for level, by_other in lack.breakdown.get(a, {}).items():
            for other, c in by_other.items():
                cell = (format_points(c.estimate, c.ci_low, c.ci_high) if c.estimate is not None
                        else f"not estimable: {c.reason}")
                rows.append((f"{a}={level}", f"{b}={other}", cell))
    return Section(f"Interaction: {f} × {g}", 3,
                   (f"The effect of each level against its factor's reference among the designs at one level "
                    f"of the other factor (points, {CONFIDENCE:.0%} intervals from the seed variance).",),
                   Table(("effect of", "among designs at", "effect, points [CI]"), tuple(rows)))


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
    rows = tuple((f"#{g.number}", g.design, f"{g.accuracy:.2f}", f"{g.better_base}: {g.better_single:.2f}",
                  f"{g.gain:+.2f}", f"[{g.ci[0]:+.2f}, {g.ci[1]:+.2f}]" if g.ci else "n/a (one seed)",
                  "—" if g.p_value is None else f"{g.p_value:.3g}", g.verdict, str(g.replicates))
                 for g in report.hcnn_gains)
    table = Table(("trial", "combination", "accuracy % (mean over seeds)", "better base: its accuracy %",
                   "gain (points)", "gain 95% CI (t over seeds)", "p (no gain)", "reading", "seeds"), rows)
    return [Section("HCNN: gain over the better single net", 2, (
        "Each combination against the better of its own two bases (the one with the higher mean over the "
        "seeds), trained alone with the same seeds first (HCNN §2.3), so the gain is paired within a seed; "
        "the interval is a t over seeds.",), table)]


def _signed_count(value: float | None) -> str:
    if value is None:
        return "no cost recorded"
    return ("+" if value >= 0 else "−") + format_count(abs(value))


def _forest_section(report: Report) -> list[Section]:
    info = report.forest
    if info is None or not info.rows:
        return []
    rows = tuple(
        (r.label,
         "not estimable: " + (r.reason or "") if r.estimate is None
         else f"{_points(r.estimate)} [{_points(r.ci_low)}, {_points(r.ci_high)}]",
         "—" if r.estimate is None else interval_reading(r.ci_low, r.ci_high, r.p_adjusted),
         _signed_count(r.delta_params), _signed_count(r.delta_macs))
        for r in info.rows
    )
    missing = len(info.rows) - len(info.estimable)
    text = (
        "Each non-reference level against its factor's reference: the effects model's estimate with its "
        "95% interval in accuracy points (see Ablation below for the model and its caveats), beside what the "
        "level costs, Δ params and Δ MACs, the mean over its complete trials minus the reference level's "
        "(raw means, not adjusted for the other params)."
        + (f" {missing} of {len(info.rows)} levels have no estimate and are listed but not drawn." if missing else ""),
    )
    table = Table(("level vs reference", "effect, points [95% CI]", "reading of the interval",
                   "Δ params (mean)", "Δ MACs (mean)"), rows)
    return [Section("What each choice buys and costs", 2, text, table, "forest" if info.estimable else None)]


def _forest_json(report: Report) -> dict[str, Any]:
    info = report.forest
    return {"forest": None if info is None else {"method": info.method, "rows": [
        {"factor": r.factor, "level": r.level, "reference": r.reference,
         **{k: report_json.number(getattr(r, k)) for k in
            ("estimate", "ci_low", "ci_high", "p_adjusted", "delta_params", "delta_macs")},
         "reason": r.reason} for r in info.rows]}}


def _forest_figures(report: Report) -> dict[str, go.Figure]:
    figure = None if report.forest is None else forest_figure(report.forest)
    return {} if figure is None else {"forest": figure}


def _effect_figures(report: Report) -> dict[str, go.Figure]:
    figures = {}
    for factor in report.effects.factors:
        figure = effects_by_epoch_figure(factor)
        if figure is not None:
            figures[f"effects_{factor.factor}"] = figure
    return figures


def _both_fronts(report: Report) -> bool:
    return report.pareto is not None and report.hypervolume is not None


@dataclass(frozen=True)
class ReportSection:
    """One section of the report: defined once, rendered to Markdown, HTML and report.json.

    ``numbers`` gives the top-level keys the section adds to report.json; ``render`` the blocks
    Markdown and HTML print (none: the section is absent from this study's report); ``figures``
    the plotly figures its blocks refer to by key.
    """

    key: str
    title: str
    numbers: Callable[[Report], Mapping[str, Any]]
    render: Callable[[Report], list[Section]]
    figures: Callable[[Report], Mapping[str, go.Figure]] = lambda report: {}


SECTIONS: tuple[ReportSection, ...] = (
    ReportSection("overview", "Study", lambda r: report_json.overview_json(
        r.study_name, r.storage, r.objectives, r.state_counts), lambda r: [_overview(r)]),
    ReportSection("forest", "What each choice buys and costs", _forest_json, _forest_section, _forest_figures),
    ReportSection("pareto", "Pareto front", lambda r: report_json.pareto_json(r.pareto),
                  lambda r: [_pareto_section(r)],
                  lambda r: {"pareto": pareto_figure(r.pareto)} if _both_fronts(r) else {}),
    ReportSection("hypervolume", "Hypervolume", lambda r: report_json.hypervolume_json(r.hypervolume),
                  lambda r: [_hypervolume_section(r)],
                  lambda r: {"hypervolume": hypervolume_figure(r.hypervolume)} if _both_fronts(r) else {}),
    ReportSection("hcnn", "HCNN: gain over the better single net",
                  lambda r: report_json.hcnn_json(r.hcnn_gains), _hcnn_section),
    ReportSection("until_clear", "Seeds added until clear", lambda r: until_clear_json(r.until_clear),
                  lambda r: [Section(title, depth, text, Table(header, rows) if header else None)
                             for title, depth, text, header, rows in until_clear_blocks(r.until_clear)]),
    ReportSection("ablation", "Ablation", lambda r: report_json.effects_json(r.effects, r.ablation, r.pruned),
                  _ablation_sections, _effect_figures),
    ReportSection("importance", "Parameter importance", lambda r: report_json.importances_json(r.importances),
                  lambda r: [_importance_section(r)]),
    ReportSection("failures", "Failed trials", lambda r: report_json.failures_json(r.failures),
                  lambda r: [_failure_section(r)]),
)


def report_sections(report: Report) -> list[Section]:
    """Every section's blocks, in the table's order."""
    return [block for section in SECTIONS for block in section.render(report)]


def report_figures(report: Report) -> dict[str, go.Figure]:
    """The report's interactive figures by the key their section refers to."""
    return {key: figure for section in SECTIONS for key, figure in section.figures(report).items()}


def report_dict(report: Report) -> dict[str, Any]:
    """report.json: the schema version, then every section's numbers, in the table's order."""
    data: dict[str, Any] = {"schema_version": report_json.SCHEMA_VERSION}
    for section in SECTIONS:
        numbers = section.numbers(report)
        clash = data.keys() & numbers.keys()
        if clash:
            raise ValueError(f"report section {section.key!r} repeats report.json keys {sorted(clash)}")
        data.update(numbers)
    return data


def _markdown_cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def to_markdown(report: Report, images: Mapping[str, str] | None = None) -> str:
    """The report as Markdown; ``images`` maps figure keys to image paths to embed."""
    return sections_markdown(report_sections(report), images)


def sections_markdown(sections: list[Section], images: Mapping[str, str] | None = None) -> str:
    """Section blocks as Markdown (the report's, or another document's such as ``fusionscope claims``)."""
    images = images or {}
    lines: list[str] = []
    for section in sections:
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
    """Write report.md, report.html, report.json and pareto.html (and PNGs) into ``out_dir``.

    Returns the written paths by kind: ``markdown``, ``html``, ``json``, ``pareto_html`` (absent without
    a Pareto front) and, with ``png``, ``pareto_png`` and ``hypervolume_png``.  When PNG export
    is impossible, the Markdown and HTML are still written before ``PngExportError`` is raised.
    """
    report = build_report(storage, study_name)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    figures = report_figures(report)
    paths = {"html": out / "report.html", "markdown": out / "report.md", "json": out / "report.json"}
    paths["html"].write_text(to_html(report), encoding="utf-8")
    report_json.write_json(report_dict(report), paths["json"])
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
