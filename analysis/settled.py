"""Effects across the budget: the same model at every epoch, and whether an effect has settled.

An effect measured after too few epochs can be an artefact of speed, not of quality (LC fusion
learns slowly in its first epoch and looked 11.5 points worse at 2 epochs, level at 8).  So the
model of ``analysis.effects`` is fitted again on each epoch's validation accuracies, and a
level's effect is **settled** only if its verdict — significantly positive, significantly
negative, or not significant (Holm-adjusted, 5%) — is the same at every epoch of the last half
of the budget.  Otherwise it is "not settled at this budget".

Per-epoch accuracies come from the trial attr ``val_accuracy_by_replicate`` (one list per seed);
studies recorded before it fall back to ``val_accuracy_history`` (the mean over seeds per epoch,
one observation per trial and epoch).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import plotly.graph_objects as go

from analysis.ablation import factor_label
from analysis.effects import (
    Contrast,
    Mean,
    ModelFit,
    Observation,
    fit_effects,
    level_key,
    study_levels,
)
from analysis.load import TrialRow
from trials import record

NOT_SETTLED = "not settled at this budget"


def final_observations(rows: Sequence[TrialRow]) -> list[Observation]:
    """Each seed's final accuracy (percent) of each complete trial; designs by identical params."""
    designs: dict[frozenset, int] = {}
    out = []
    for row in rows:
        if not (row.complete and row.accuracy_samples):
            continue
        design = designs.setdefault(frozenset(row.params.items()), len(designs))
        out += [Observation(design, row.params, 100.0 * a) for a in row.accuracy_samples]
    return out


def curves(row: TrialRow) -> list[list[float]]:
    """Per-seed validation accuracy after each epoch, or the mean curve as one seed, or []."""
    by_replicate = row.attrs.get(record.VAL_ACCURACY_BY_REPLICATE)
    if by_replicate:
        return [[float(a) for a in seed] for seed in by_replicate]
    history = row.attrs.get(record.VAL_ACCURACY_HISTORY)
    return [[float(a) for a in history]] if history else []


def epoch_observations(rows: Sequence[TrialRow]) -> dict[int, list[Observation]]:
    """Observations per epoch (1-based) from the complete trials' learning curves."""
    designs: dict[frozenset, int] = {}
    out: dict[int, list[Observation]] = {}
    for row in rows:
        if not row.complete:
            continue
        seeds = curves(row)
        if not seeds:
            continue
        design = designs.setdefault(frozenset(row.params.items()), len(designs))
        for seed in seeds:
            for epoch, accuracy in enumerate(seed, start=1):
                out.setdefault(epoch, []).append(Observation(design, row.params, 100.0 * accuracy))
    return dict(sorted(out.items()))


@dataclass(frozen=True)
class EpochEffect:
    epoch: int
    contrast: Contrast


@dataclass(frozen=True)
class LevelEffect:
    """One level's effect at the end of the budget, its marginal mean, and its path over epochs."""

    level: Any
    contrast: Contrast | None  # None for the reference level
    mean: Mean
    by_epoch: tuple[EpochEffect, ...]
    settled: bool | None  # None: reference level, not estimable, or too few epochs to judge
    settled_note: str


@dataclass(frozen=True)
class FactorEffects:
    factor: str
    label: str
    reference: Any
    reference_note: str | None
    levels: tuple[LevelEffect, ...]


@dataclass(frozen=True)
class StudyEffects:
    """The effects section of a report: one model at the end, one per epoch."""

    method: str
    n_observations: int
    n_designs: int
    n_coefficients: int
    rank: int
    note: str | None
    epochs: int  # epochs with per-epoch records (0 when none)
    factors: tuple[FactorEffects, ...]

    def factor(self, name: str) -> FactorEffects:
        return next(f for f in self.factors if f.factor == name)


def settled_verdict(path: Sequence[EpochEffect], epochs: int) -> tuple[bool | None, str]:
    """Settled iff the verdict (+, −, not significant) is one over the last half of the epochs."""
    last = [e for e in path if e.epoch > epochs // 2]
    if epochs < 4 or len(last) < 2:
        return None, f"too few epochs recorded ({epochs}) to judge whether it settled"
    verdicts = [e.contrast.verdict for e in last]
    if None in verdicts:
        return None, "not estimable at every epoch of the last half"
    if len(set(verdicts)) == 1:
        words = {"+": "positive", "-": "negative", "0": "not significant"}
        return True, f"settled: {words[verdicts[0]]} over epochs {last[0].epoch}–{last[-1].epoch}"
    return False, NOT_SETTLED + f" (verdicts over epochs {last[0].epoch}–{last[-1].epoch}: " + " ".join(
        "ns" if v == "0" else v for v in verdicts) + ")"


def study_effects(rows: Sequence[TrialRow], space: Mapping[str, Any] | None = None) -> StudyEffects:
    """Fit the effects model on the final accuracies and on every recorded epoch."""
    final = final_observations(rows)
    levels, references, notes = study_levels(final, space)
    fit: ModelFit = fit_effects(final, levels, references)
    per_epoch = epoch_observations(rows)
    epoch_fits = {epoch: fit_effects(obs, levels, references) for epoch, obs in per_epoch.items()}
    epochs = max(per_epoch, default=0)
    factors = []
    for factor, values in levels.items():
        reference = references[factor]
        out = []
        for value in values:
            key = level_key(value)
            mean = fit.means[factor].get(key, Mean(None, None, None))
            if key == level_key(reference):
                out.append(LevelEffect(value, None, mean, (), None, "reference"))
                continue
            contrast = fit.contrasts[factor][key]
            path = tuple(EpochEffect(e, f.contrasts[factor][key]) for e, f in epoch_fits.items())
            if contrast.estimate is None:
                settled, note = None, "not estimable"
            elif not path:
                settled, note = None, "no per-epoch record"
            else:
                settled, note = settled_verdict(path, epochs)
            out.append(LevelEffect(value, contrast, mean, path, settled, note))
        factors.append(FactorEffects(factor, factor_label(factor), reference, notes.get(factor), tuple(out)))
    return StudyEffects(fit.method, fit.n_observations, fit.n_designs, fit.n_coefficients, fit.rank, fit.note,
                        epochs, tuple(factors))


def effects_by_epoch_figure(factor: FactorEffects) -> go.Figure | None:
    """Each level's effect (points, 95% interval) against epoch; None without per-epoch estimates."""
    figure = go.Figure()
    for level in factor.levels:
        path = [e for e in level.by_epoch if e.contrast.estimate is not None]
        if not path:
            continue
        figure.add_trace(go.Scatter(
            x=[e.epoch for e in path],
            y=[e.contrast.estimate for e in path],
            error_y={"type": "data", "symmetric": False,
                     "array": [e.contrast.ci_high - e.contrast.estimate for e in path],
                     "arrayminus": [e.contrast.estimate - e.contrast.ci_low for e in path]},
            mode="lines+markers",
            name=f"{level.level} ({'settled' if level.settled else 'not settled' if level.settled is False else '?'})",
        ))
    if not figure.data:
        return None
    figure.add_hline(y=0, line_dash="dot", line_color="grey")
    figure.update_layout(
        title=f"{factor.label}: effect vs {factor.reference} by epoch (95% intervals)",
        xaxis_title="epoch", yaxis_title="effect (accuracy points)", height=360, template="plotly_white",
    )
    return figure
