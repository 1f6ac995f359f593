"""The Pareto front of a study: the numbers (``ParetoInfo``), then a plotly rendering.

Front membership is Optuna's own (``study.best_trials``, over all of the study's objectives);
the line joining the front in each panel is the front of just that panel's two objectives.
Three or more objectives are drawn as a lower-triangle grid of 2-D panels in SVG rather than
``go.Splom`` or a 3-D scatter: those need WebGL, which headless and GPU-less Chrome only gets
through a software fallback that Chrome has deprecated.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import Mapping, Sequence

import numpy as np
import optuna
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from search_space.errors import FusionscopeError

from analysis.formatting import format_objective, format_spec, objective_label
from analysis.load import Objective, TrialRow, study_objectives, trial_rows
from trials import record
from trials.running.moasha import nondominated_fronts
from trials.record.objectives import BY_LIMIT, OBJECTIVES

#: Preferred x axis for a default 2-D view: MACs (the papers' cost axis), then the other minimised
#: objectives in the objective table's order.
_COST_AXES_ORDER = ("macs", *(o.name for o in OBJECTIVES.values() if not o.maximize and o.name != "macs"))


class UnknownObjectiveError(FusionscopeError, ValueError):
    """An axis names no objective of the study; the message lists the ones it has."""


@dataclass(frozen=True)
class ParetoPoint:
    """One complete trial as plotted: all objective values, front membership, hover text."""

    number: int
    values: Mapping[str, float]
    on_front: bool
    hover: str


@dataclass(frozen=True)
class ParetoInfo:
    """What a Pareto plot shows, independent of how it is drawn.

    ``axes`` are the plotted objectives: two give one scatter (x, y); three or more give one
    panel per pair.  ``join_lines`` maps each panel's (x, y) to the trial numbers on the 2-D
    front of those two objectives, sorted by x.
    """

    objectives: tuple[Objective, ...]
    axes: tuple[str, ...]
    points: tuple[ParetoPoint, ...]
    join_lines: Mapping[tuple[str, str], tuple[int, ...]]
    #: the search's cost limits by objective name (``constraints:`` of the study's config), drawn as
    #: lines; designs over them were never trained, so no plotted point lies beyond a limit
    limits: Mapping[str, float] = field(default_factory=dict)

    @property
    def front(self) -> tuple[ParetoPoint, ...]:
        return tuple(p for p in self.points if p.on_front)

    @property
    def panels(self) -> list[tuple[str, str]]:
        return list(self.join_lines)


def non_dominated(losses: np.ndarray) -> np.ndarray:
    """Mask of rows no other row dominates (all ≤ and one <); every column is minimized.  The one
    dominance rule is ``trials.running.moasha``'s non-dominated sorting (MOASHA promotes by it)."""
    losses = np.asarray(losses, dtype=float).reshape(len(losses), -1)
    mask = np.zeros(len(losses), dtype=bool)
    if len(losses):
        mask[nondominated_fronts(losses.tolist())[0]] = True
    return mask


def hover_text(row: TrialRow, objectives: Sequence[Objective]) -> str:
    """Trial number, every objective, then the spec one field per line (plotly's <br>)."""
    lines = [f"trial {row.number}"]
    lines += [f"{o.name}: {format_objective(o.name, row.values.get(o.name))}" for o in objectives]
    replicates = len(row.accuracy_samples)
    if replicates > 1:
        lines.append(f"seeds: {replicates}")
    lines += [format_spec({key: value}) for key, value in row.spec.items()]
    return "<br>".join(html.escape(line) for line in lines)


def _check_axis(name: str, objectives: Sequence[Objective]) -> None:
    names = [o.name for o in objectives]
    if name not in names:
        raise UnknownObjectiveError(
            f"unknown objective {name!r}; this study's objectives: {', '.join(names)}"
        )


def _choose_axes(objectives: Sequence[Objective], x: str | None, y: str | None) -> tuple[str, ...]:
    """Two named axes, or defaults: accuracy on y and a cost on x; all objectives if ≥3.

    With all objectives, the maximized ones (accuracy) come last, so the bottom row of the
    grid shows accuracy against each cost.
    """
    names = [o.name for o in objectives]
    for axis in (x, y):
        if axis is not None:
            _check_axis(axis, objectives)
    if x is None and y is None and len(names) >= 3:
        return tuple(o.name for o in sorted(objectives, key=lambda o: o.maximize))
    if y is None:
        y = "accuracy" if "accuracy" in names and x != "accuracy" else next(n for n in names if n != x)
    if x is None:
        preferred = [n for n in _COST_AXES_ORDER if n in names] + names
        x = next(n for n in preferred if n != y)
    if x == y:
        raise ValueError(f"x and y are both {x!r}; choose two different objectives")
    return (x, y)


def _front_2d(
    points: Sequence[ParetoPoint], objectives: Sequence[Objective], x: str, y: str
) -> tuple[int, ...]:
    """Trial numbers on the front of objectives x and y alone, in x order."""
    if not points:
        return ()
    sign = {o.name: o.sign for o in objectives}
    losses = [[sign[x] * p.values[x], sign[y] * p.values[y]] for p in points]
    front = [p for p, keep in zip(points, non_dominated(losses)) if keep]
    front.sort(key=lambda p: (p.values[x], p.values[y]))
    return tuple(p.number for p in front)


def pareto_info(study: optuna.Study, x: str | None = None, y: str | None = None) -> ParetoInfo:
    """All complete trials with their front membership, for the chosen (or default) axes."""
    objectives = study_objectives(study)
    if len(objectives) < 2:
        raise ValueError("a Pareto front needs a study with at least two objectives")
    axes = _choose_axes(objectives, x, y)
    front_numbers = {t.number for t in study.best_trials}
    points = tuple(
        ParetoPoint(row.number, row.values, row.number in front_numbers, hover_text(row, objectives))
        for row in trial_rows(study)
        if row.complete
    )
    panels = [(axes[i], axes[j]) for j in range(1, len(axes)) for i in range(j)]
    join_lines = {(px, py): _front_2d(points, objectives, px, py) for px, py in panels}
    return ParetoInfo(objectives, axes, points, join_lines, study_limits(study))


#: which objective each ``constraints:`` key limits (the objective table's)
LIMIT_OBJECTIVES = {limit: entry.name for limit, entry in BY_LIMIT.items()}


def study_limits(study: optuna.Study) -> dict[str, float]:
    """The cost limits the search ran under, by objective name, from the config it recorded."""
    config = study.user_attrs.get(record.STUDY_CONFIG) or {}
    limits = config.get("constraints") or {}
    return {LIMIT_OBJECTIVES[k]: float(v) for k, v in limits.items() if k in LIMIT_OBJECTIVES and v is not None}


def _axis_format(name: str, titled: bool = True) -> dict:
    axis: dict = {"tickformat": ".1%"} if name == "accuracy" else {}
    if titled:
        axis["title"] = {"text": objective_label(name)}
    return axis


_DOMINATED_STYLE = {"color": "rgba(140, 140, 140, 0.55)", "size": 8}
_FRONT_STYLE = {"color": "#d62728", "size": 11, "line": {"color": "black", "width": 1}}
_LINE_STYLE = {"color": "#d62728", "width": 1.5, "dash": "dot"}


def pareto_figure(info: ParetoInfo) -> go.Figure:
    """Every complete trial, the front highlighted, each panel's 2-D front joined by a line."""
    n_objectives = len(info.objectives)
    front_name = "Pareto-optimal"
    if n_objectives > len(info.axes):
        front_name += f" (all {n_objectives} objectives)"
    size = len(info.axes) - 1
    line_name = f"front of {info.axes[1]} vs {info.axes[0]}" if size == 1 else "2-D front of each panel"
    groups = (  # dominated first, so the front is drawn on top
        ("dominated", [p for p in info.points if not p.on_front], _DOMINATED_STYLE),
        (front_name, [p for p in info.points if p.on_front], _FRONT_STYLE),
    )
    by_number = {p.number: p for p in info.points}
    fig = make_subplots(
        rows=size, cols=size, shared_xaxes="columns", shared_yaxes="rows",
        horizontal_spacing=0.04, vertical_spacing=0.04,
    )
    for panel, (x, y) in enumerate(info.panels):
        row, col = info.axes.index(y), info.axes.index(x) + 1
        line = [by_number[n] for n in info.join_lines[(x, y)]]
        fig.add_trace(
            go.Scatter(
                x=[p.values[x] for p in line], y=[p.values[y] for p in line], mode="lines",
                line=_LINE_STYLE, name=line_name, legendgroup="line",
                showlegend=panel == 0, hoverinfo="skip",
            ),
            row=row, col=col,
        )
        for name, points, style in groups:
            fig.add_trace(
                go.Scatter(
                    x=[p.values[x] for p in points], y=[p.values[y] for p in points],
                    mode="markers", marker=style, name=name, legendgroup=name, showlegend=panel == 0,
                    text=[p.hover for p in points], hovertemplate="%{text}<extra></extra>",
                ),
                row=row, col=col,
            )
        for axis, name in (("x", x), ("y", y)):
            if name in info.limits:  # the search's cost limit: nothing beyond it was trained
                line = {"line_dash": "dash", "line_color": "#1f77b4", "row": row, "col": col,
                        "annotation_text": f"limit {name} {info.limits[name]:.4g}"}
                (fig.add_vline if axis == "x" else fig.add_hline)(info.limits[name], **line)
        fig.update_xaxes(_axis_format(x, titled=row == size), row=row, col=col)
        fig.update_yaxes(_axis_format(y, titled=col == 1), row=row, col=col)
    if size == 1:
        x, y = info.axes
        title = f"Pareto front: {y} vs {x}"
    else:
        title = "Pareto front: " + ", ".join(info.axes)
        fig.update_layout(height=330 * size + 120, width=400 * size + 260)
    fig.update_layout(
        title={"text": f"{title} ({len(info.points)} complete trials, {len(info.front)} on the front)"},
        template="plotly_white", hoverlabel={"align": "left"},
    )
    return fig
