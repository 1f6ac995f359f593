"""What each design choice buys and costs, in one look: the numbers (``ForestInfo``), then a plot.

One row per non-reference level of every factor: its effect on accuracy against the factor's
reference (the effects model's estimate and 95% interval, in accuracy points) beside what it
costs (Δ params and Δ MACs: the level's mean over its complete trials minus the reference's,
from the ablation tables).  Like ``analysis.pareto``, the numbers are a small dataclass a test
can check against the storage, and ``forest_figure`` only draws them (SVG traces, no WebGL, so
headless Chromium renders it).  The costs are raw means, not adjusted for the other params; a
level whose trials differ in other ways (a wider backbone) shows that in its cost.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from analysis.ablation import FactorTable
from analysis.effects import level_key
from analysis.settled import StudyEffects


@dataclass(frozen=True)
class ForestRow:
    """One level against its factor's reference: accuracy points gained, params and MACs added."""

    factor: str
    level: str
    reference: str
    estimate: float | None  # points; None when not estimable ...
    ci_low: float | None
    ci_high: float | None
    p_adjusted: float | None
    reason: str | None  # ... and then this says why
    delta_params: float | None  # level's mean params − reference's; None without cost records
    delta_macs: float | None

    @property
    def label(self) -> str:
        return f"{self.factor}={self.level} vs {self.reference}"


@dataclass(frozen=True)
class ForestInfo:
    """Every effect of the study with its cost, in the report's factor order."""

    rows: tuple[ForestRow, ...]
    method: str  # the effects model's

    @property
    def estimable(self) -> tuple[ForestRow, ...]:
        return tuple(r for r in self.rows if r.estimate is not None)


def _delta(level: float | None, reference: float | None) -> float | None:
    return None if level is None or reference is None else level - reference


def forest_info(effects: StudyEffects, ablation: Sequence[FactorTable]) -> ForestInfo:
    """Effects from the model, costs from the ablation tables' means (same reference per factor)."""
    tables = {t.factor: t for t in ablation}
    rows = []
    for factor in effects.factors:
        table = tables.get(factor.factor)
        means = {level_key(s.level): s for s in table.levels} if table else {}
        reference = means.get(level_key(factor.reference))
        for level in factor.levels:
            contrast = level.contrast
            if contrast is None:
                continue
            stats = means.get(level_key(level.level))
            rows.append(ForestRow(
                factor.factor, level_key(level.level), level_key(factor.reference),
                contrast.estimate, contrast.ci_low, contrast.ci_high, contrast.p_adjusted, contrast.reason,
                _delta(stats and stats.params_mean, reference and reference.params_mean),
                _delta(stats and stats.macs_mean, reference and reference.macs_mean),
            ))
    return ForestInfo(tuple(rows), effects.method)


_EFFECT_STYLE = {"color": "#1f77b4", "size": 9}
_COST_COLOURS = {"params": "#ff7f0e", "macs": "#9467bd"}


def forest_figure(info: ForestInfo) -> go.Figure | None:
    """Effects ± 95% intervals (left) beside Δ params and Δ MACs (right); None with nothing estimable."""
    rows = info.estimable
    if not rows:
        return None
    labels = [r.label for r in rows]
    figure = make_subplots(
        rows=1, cols=3, shared_yaxes=True, column_widths=[0.5, 0.25, 0.25], horizontal_spacing=0.03,
        subplot_titles=("effect on accuracy (points, 95% CI)", "Δ params", "Δ MACs per image"),
    )
    figure.add_trace(go.Scatter(
        x=[r.estimate for r in rows], y=labels, mode="markers", marker=_EFFECT_STYLE, name="effect",
        error_x={"type": "data", "symmetric": False, "array": [r.ci_high - r.estimate for r in rows],
                 "arrayminus": [r.estimate - r.ci_low for r in rows]},
        customdata=[[r.ci_low, r.ci_high, "—" if r.p_adjusted is None else f"{r.p_adjusted:.3g}"] for r in rows],
        hovertemplate="%{y}<br>effect %{x:+.2f} points [%{customdata[0]:+.2f}, %{customdata[1]:+.2f}]"
                      "<br>p (adjusted) %{customdata[2]}<extra></extra>",
    ), row=1, col=1)
    figure.add_vline(x=0, line_dash="dot", line_color="grey", row=1, col=1)
    for col, (name, values) in enumerate((("params", [r.delta_params for r in rows]),
                                          ("macs", [r.delta_macs for r in rows])), start=2):
        figure.add_trace(go.Bar(
            x=[0 if v is None else v for v in values], y=labels, orientation="h", name=f"Δ {name}",
            marker_color=_COST_COLOURS[name], hovertemplate=f"%{{y}}<br>Δ {name} %{{x:.4s}}<extra></extra>",
        ), row=1, col=col)
        figure.add_vline(x=0, line_color="grey", row=1, col=col)
    figure.update_yaxes(autorange="reversed")  # first factor on top (categories draw bottom-up)
    figure.update_layout(
        title={"text": f"What each choice buys and costs: {len(rows)} effects against each factor's reference"},
        height=max(320, 160 + 32 * len(rows)), template="plotly_white", showlegend=False, bargap=0.35,
    )
    return figure
