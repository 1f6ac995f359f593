"""Hypervolume of the front after each completed trial: did the search keep finding better designs?

The reference point is taken from the data (stated in ``HypervolumeHistory.reference_rule``)
unless given, and is fixed for the whole history so the values are comparable.  Values are in
the objectives' own units multiplied together (e.g. accuracy × MACs).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np
import optuna
import plotly.graph_objects as go

from analysis.formatting import format_objective
from analysis.load import Objective, TrialRow, study_objectives, trial_rows
from analysis.load import losses as trial_losses

#: How far beyond the worst value seen the data-derived reference point lies, as a share of
#: each objective's range.
REFERENCE_MARGIN = 0.10


def hypervolume(losses: np.ndarray, reference: np.ndarray) -> float:
    """Exact hypervolume dominated by ``losses`` (all minimized) and bounded by ``reference``.

    Optuna 5 has no public hypervolume function; ``optuna._hypervolume.compute_hypervolume``
    (exact: 2-D sweep, 3-D sweep, WFG beyond) is what its own ``plot_hypervolume_history``
    uses.  Points that do not dominate the reference add nothing and are dropped first,
    because Optuna rejects them.
    """
    from optuna._hypervolume import compute_hypervolume  # private: see the docstring

    losses = np.asarray(losses, dtype=float).reshape(-1, len(reference))
    inside = losses[(losses <= reference).all(axis=1)]
    return float(compute_hypervolume(inside, np.asarray(reference, dtype=float)))


@dataclass(frozen=True)
class HypervolumeHistory:
    """Hypervolume of the complete trials numbered up to each complete trial.

    Raw values multiply the objectives' units (hard to read with MACs in the millions), so
    ``share`` divides them by the volume of the box between the reference point and the ideal
    point (the best value seen on each objective): 1.0 would be one trial best at everything.
    """

    objectives: tuple[Objective, ...]
    reference_point: Mapping[str, float]
    reference_rule: str
    ideal_point: Mapping[str, float]
    trial_numbers: tuple[int, ...]
    values: tuple[float, ...]

    @property
    def final(self) -> float:
        return self.values[-1] if self.values else 0.0

    @property
    def box_volume(self) -> float:
        sides = [abs(self.reference_point[o.name] - self.ideal_point[o.name]) for o in self.objectives]
        return float(np.prod(sides))

    def share(self, value: float) -> float:
        return value / self.box_volume if self.box_volume > 0 else 0.0


def data_reference_point(
    rows: Sequence[TrialRow], objectives: Sequence[Objective], margin: float = REFERENCE_MARGIN
) -> dict[str, float]:
    """Per objective: the worst value among complete trials, moved ``margin`` × range further.

    With a zero range (one trial, or all equal) the step is ``margin`` × |worst| (or ``margin``
    when the worst is 0), so every trial still adds a box of non-zero volume.
    """
    point = {}
    for objective in objectives:
        seen = [r.values[objective.name] for r in rows if r.complete]
        if not seen:
            raise ValueError("no complete trials: no data to place a reference point")
        worst = min(seen) if objective.maximize else max(seen)
        step = margin * (max(seen) - min(seen)) or margin * (abs(worst) or 1.0)
        point[objective.name] = worst - step if objective.maximize else worst + step
    return point


def hypervolume_history(
    study: optuna.Study, reference_point: Mapping[str, float] | None = None
) -> HypervolumeHistory:
    """Hypervolume after each complete trial, in trial-number order."""
    objectives = study_objectives(study)
    rows = [r for r in trial_rows(study) if r.complete]
    if reference_point is None:
        reference_point = data_reference_point(rows, objectives)
        rule = (
            f"for each objective, the worst value among the {len(rows)} complete trials, "
            f"moved {REFERENCE_MARGIN:.0%} of the objective's range further"
        )
    else:
        rule = "given"
    missing = [o.name for o in objectives if o.name not in reference_point]
    if missing:
        raise ValueError(f"the reference point has no value for {', '.join(missing)}")
    sign = np.array([o.sign for o in objectives])
    reference = sign * np.array([reference_point[o.name] for o in objectives])
    losses = trial_losses(rows, objectives)
    values: list[float] = []
    for i in range(len(rows)):
        # a trial weakly dominated by an earlier one adds nothing: skip the recomputation
        adds_nothing = bool(values) and bool((losses[:i] <= losses[i]).all(axis=1).any())
        values.append(values[-1] if adds_nothing else hypervolume(losses[: i + 1], reference))
    ideal = sign * losses.min(axis=0) if rows else sign * reference
    return HypervolumeHistory(
        objectives=objectives,
        reference_point={o.name: float(reference_point[o.name]) for o in objectives},
        reference_rule=rule,
        ideal_point={o.name: float(v) for o, v in zip(objectives, ideal)},
        trial_numbers=tuple(r.number for r in rows),
        values=tuple(values),
    )


def describe_reference(history: HypervolumeHistory) -> str:
    """The reference point in the objectives' units, e.g. ``accuracy 41.20%, macs 12.3M``."""
    return ", ".join(
        f"{name} {format_objective(name, value)}" for name, value in history.reference_point.items()
    )


def hypervolume_figure(history: HypervolumeHistory) -> go.Figure:
    """Line of hypervolume against trial number, the reference point in the title."""
    units = " × ".join(o.name for o in history.objectives)
    fig = go.Figure(
        go.Scatter(
            x=list(history.trial_numbers), y=[history.share(v) for v in history.values],
            customdata=list(history.values), mode="lines+markers", line={"shape": "hv"},
            name="hypervolume",
            hovertemplate=(
                f"trial %{{x}}<br>%{{y:.1%}} of the box<br>%{{customdata:.4g}} ({units})<extra></extra>"
            ),
        )
    )
    fig.update_layout(
        title={
            "text": f"Hypervolume history<br><sup>reference point: {describe_reference(history)}</sup>"
        },
        xaxis={"title": {"text": "trial number"}},
        yaxis={
            "title": {"text": "share of the reference-to-ideal box"},
            "tickformat": ".0%",
            "rangemode": "tozero",
        },
        template="plotly_white",
    )
    return fig
