"""The Pareto front of a study: the numbers (``ParetoInfo``), then a plotly rendering.

Front membership is Optuna's own (``study.best_trials``, over all of the study's objectives);
the line joining the front in a 2-D plot is the front of just the two plotted objectives.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np
import optuna
import plotly.graph_objects as go

from analysis.formatting import format_objective, format_spec, objective_label
from analysis.load import Objective, TrialRow, study_objectives, trial_rows

#: Preferred x axis for a default 2-D view: the first cost objective the study has.
_COST_AXES_ORDER = ("macs", "params", "latency")


class UnknownObjectiveError(ValueError):
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

    ``axes`` are the plotted objectives (two: a scatter plot; three or more: a scatter matrix).
    ``join_line`` holds the trial numbers on the front of the two plotted objectives, sorted
    by x, and is empty for a scatter matrix.
    """

    objectives: tuple[Objective, ...]
    axes: tuple[str, ...]
    points: tuple[ParetoPoint, ...]
    join_line: tuple[int, ...]

    @property
    def front(self) -> tuple[ParetoPoint, ...]:
        return tuple(p for p in self.points if p.on_front)


def non_dominated(losses: np.ndarray) -> np.ndarray:
    """Mask of rows no other row dominates (all ≤ and one <); every column is minimized."""
    losses = np.asarray(losses, dtype=float)
    no_worse = (losses[:, None, :] <= losses[None, :, :]).all(axis=2)
    better = (losses[:, None, :] < losses[None, :, :]).any(axis=2)
    dominates = no_worse & better  # [i, j]: row i dominates row j
    return ~dominates.any(axis=0)


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
    """Two named axes, or defaults: accuracy on y and a cost on x; all objectives if ≥3."""
    names = [o.name for o in objectives]
    for axis in (x, y):
        if axis is not None:
            _check_axis(axis, objectives)
    if x is None and y is None and len(names) >= 3:
        return tuple(names)
    if y is None:
        y = "accuracy" if "accuracy" in names and x != "accuracy" else next(n for n in names if n != x)
    if x is None:
        preferred = [n for n in _COST_AXES_ORDER if n in names] + names
        x = next(n for n in preferred if n != y)
    if x == y:
        raise ValueError(f"x and y are both {x!r}; choose two different objectives")
    return (x, y)


def _losses(points: Sequence[ParetoPoint], objectives: Sequence[Objective], axes: Sequence[str]) -> np.ndarray:
    sign = {o.name: -1.0 if o.maximize else 1.0 for o in objectives}
    return np.array([[sign[a] * p.values[a] for a in axes] for p in points], dtype=float).reshape(
        len(points), len(axes)
    )


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
    join_line: tuple[int, ...] = ()
    if len(axes) == 2 and points:
        on_2d_front = non_dominated(_losses(points, objectives, axes))
        front_2d = [p for p, keep in zip(points, on_2d_front) if keep]
        front_2d.sort(key=lambda p: (p.values[axes[0]], p.values[axes[1]]))
        join_line = tuple(p.number for p in front_2d)
    return ParetoInfo(objectives, axes, points, join_line)


def _axis_format(name: str) -> dict:
    return {"title": {"text": objective_label(name)}, **({"tickformat": ".1%"} if name == "accuracy" else {})}


_DOMINATED_STYLE = {"color": "rgba(140, 140, 140, 0.55)", "size": 8}
_FRONT_STYLE = {"color": "#d62728", "size": 11, "line": {"color": "black", "width": 1}}


def pareto_figure(info: ParetoInfo) -> go.Figure:
    """Scatter of every complete trial, the front highlighted (and joined, in 2-D)."""
    n_objectives = len(info.objectives)
    groups = (
        (f"Pareto-optimal (all {n_objectives} objectives)", [p for p in info.points if p.on_front], _FRONT_STYLE),
        ("dominated", [p for p in info.points if not p.on_front], _DOMINATED_STYLE),
    )
    fig = go.Figure()
    if len(info.axes) == 2:
        x, y = info.axes
        by_number = {p.number: p for p in info.points}
        line = [by_number[n] for n in info.join_line]
        fig.add_trace(
            go.Scatter(
                x=[p.values[x] for p in line], y=[p.values[y] for p in line], mode="lines",
                line={"color": "#d62728", "width": 1.5, "dash": "dot"},
                name=f"front of {x} vs {y}", hoverinfo="skip",
            )
        )
        for name, points, style in groups:
            fig.add_trace(
                go.Scatter(
                    x=[p.values[x] for p in points], y=[p.values[y] for p in points],
                    mode="markers", marker=style, name=name,
                    text=[p.hover for p in points], hovertemplate="%{text}<extra></extra>",
                )
            )
        fig.update_layout(xaxis=_axis_format(x), yaxis=_axis_format(y))
        title = f"Pareto front: {y} vs {x}"
    else:
        for name, points, style in groups:
            fig.add_trace(
                go.Splom(
                    dimensions=[
                        {"label": objective_label(a), "values": [p.values[a] for p in points]}
                        for a in info.axes
                    ],
                    marker=style, name=name, diagonal_visible=False, showupperhalf=False,
                    text=[p.hover for p in points], hovertemplate="%{text}<extra></extra>",
                )
            )
        fig.update_layout(height=300 * len(info.axes), width=300 * len(info.axes) + 200)
        title = "Pareto front: " + ", ".join(info.axes)
    fig.update_layout(
        title={"text": f"{title} ({len(info.points)} complete trials, {len(info.front)} on the front)"},
        template="plotly_white", hoverlabel={"align": "left"},
    )
    return fig
