"""Effects across the budget: the same model at every epoch, and whether an effect has settled.

An effect measured after too few epochs can be an artefact of speed, not of quality (LC fusion
learns slowly in its first epoch and looked 11.5 points worse at 2 epochs, level at 8).  So the
model of ``analysis.effects`` is fitted again on each epoch's validation accuracies, and each
level's path is judged by how far the effect still moves at the end of the budget:

* **the late change**: each seed's validation curve is reduced to its trend over the last half
  of the budget (least squares, each epoch weighted by 1 / its seed variance, so a noisy
  mid-budget epoch counts less), read as the change from the 75 % epoch to the last.  The change
  is seed-paired (every seed is compared with itself, so a seed's lasting luck cancels) and goes
  through the same effect model as the accuracies, so the change *of the effect* has an interval
  with the study's own error model (design means, or per-design seed variances in a grid).
* **settled** iff that change's 90 % interval lies inside ±``SETTLED_MARGIN`` points: an
  equivalence test (two one-sided tests at 5 %) that the effect moves less than the margin over
  the last quarter of the budget.  Otherwise it is "not settled at this budget": the effect still
  moves, or the seeds are too few to show that it does not.

Why not "the same significance verdict at every epoch of the last half" (the rule this replaced):
mid-budget epochs are noisy, so a real effect passes from "not significant" to "significant"
somewhere in the last half and that rule called a truly stable +2 unsettled in 73 % of simulated
presets.  The margin and the calibration (stable effects settled, late sign flips not) are
checked on simulated presets with the README's learning-curve noise in
``tests/analysis/test_analysis_settled.py``.

Per-epoch accuracies come from the trial attr ``val_accuracy_by_replicate`` (one list per seed);
studies recorded before it fall back to ``val_accuracy_history`` (the mean over seeds per epoch,
one observation per trial and epoch).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np
import plotly.graph_objects as go

from analysis.ablation import factor_label
from analysis.formatting import format_points
from analysis.effects import (
    ADJUSTMENT,
    Contrast,
    LackOfFit,
    Mean,
    ModelFit,
    Observation,
    fit_effects,
    level_key,
    study_levels,
)
from analysis.load import TrialRow
from analysis.stats import design_index, seeds_needed
from trials import record

NOT_SETTLED = "not settled at this budget"
#: Equivalence margin of "settled", accuracy points: the most the effect may still move from the
#: 75 % epoch to the last.  Calibrated on simulated 10-epoch presets with the README's per-epoch
#: noise (``tests/analysis/test_analysis_settled.py``): a smaller margin leaves stable effects
#: unsettled at 3 seeds, a larger one settles late sign flips.
SETTLED_MARGIN = 2.25
#: Confidence of the late change's interval: 90 % two-sided = two one-sided tests at 5 %.
SETTLED_CONFIDENCE = 0.90
SETTLED_RULE = (
    "settled: the effect's change from the 75 % epoch to the last, read off each seed's trend over "
    "the last half of the budget (weighted least squares, seed-paired) and fitted with the same effect "
    f"model, has its 90 % interval inside ±{SETTLED_MARGIN:g} points (equivalence, two one-sided tests "
    "at 5 %); otherwise " + NOT_SETTLED
)
#: Trial attrs that mark a PRUNED trial as never trained (not an early stop).
_NOT_EARLY_STOPPED = (record.INFEASIBLE, record.DUPLICATE_OF)


def final_observations(rows: Sequence[TrialRow]) -> list[Observation]:
    """Each seed's final accuracy (percent) of each complete trial; designs by identical params."""
    complete = [row for row in rows if row.complete and row.accuracy_samples]
    index = design_index(row.params for row in complete)
    return [Observation(d, row.params, 100.0 * a) for d, row in zip(index, complete) for a in row.accuracy_samples]


def curves(row: TrialRow) -> list[list[float]]:
    """Per-seed validation accuracy after each epoch, or the mean curve as one seed, or []."""
    by_replicate = row.attrs.get(record.VAL_ACCURACY_BY_REPLICATE)
    if by_replicate:
        return [[float(a) for a in seed] for seed in by_replicate]
    history = row.attrs.get(record.VAL_ACCURACY_HISTORY)
    return [[float(a) for a in history]] if history else []


def _curve_rows(rows: Sequence[TrialRow]) -> list[tuple[int, TrialRow, list[list[float]]]]:
    complete = [(row, curves(row)) for row in rows if row.complete]
    complete = [(row, seeds) for row, seeds in complete if seeds]
    index = design_index(row.params for row, _ in complete)
    return [(d, row, seeds) for d, (row, seeds) in zip(index, complete)]


def epoch_observations(rows: Sequence[TrialRow]) -> dict[int, list[Observation]]:
    """Observations per epoch (1-based) from the complete trials' learning curves."""
    out: dict[int, list[Observation]] = {}
    for design, row, seeds in _curve_rows(rows):
        for seed in seeds:
            for epoch, accuracy in enumerate(seed, start=1):
                out.setdefault(epoch, []).append(Observation(design, row.params, 100.0 * accuracy))
    return dict(sorted(out.items()))


def late_window(epochs: int) -> tuple[range, int]:
    """The epochs whose trend is read (the last half) and the 75 % epoch the change starts at."""
    return range(epochs // 2 + 1, epochs + 1), math.ceil(0.75 * epochs)


def late_change_observations(rows: Sequence[TrialRow], epochs: int,
                             seed_sd_by_epoch: Mapping[int, float | None]) -> list[Observation]:
    """Per seed: its accuracy's change (points) from the 75 % epoch to the last, along its late trend.

    The trend is a weighted least-squares line through the seed's curve over the last half of the
    budget, epoch e weighted by 1 / (the study's pooled seed variance at e); trials whose curves
    stop before ``epochs`` are left out.
    """
    window, start = late_window(epochs)
    x = np.array(list(window), float)
    sds = [seed_sd_by_epoch.get(int(e)) for e in x]
    w = np.array([1.0 / sd**2 if sd else np.nan for sd in sds])
    if not np.isfinite(w).all():
        w = np.ones_like(x)
    xc = x - (w * x).sum() / w.sum()
    slope_weights = w * xc / (w * xc**2).sum()
    out = []
    for design, row, seeds in _curve_rows(rows):
        for seed in seeds:
            if len(seed) < epochs:
                continue
            y = 100.0 * np.asarray(seed[epochs // 2:epochs], float)
            out.append(Observation(design, row.params, float(slope_weights @ y) * (epochs - start)))
    return out


def _early_stopped(row: TrialRow) -> bool:
    return row.state == "PRUNED" and not any(key in row.attrs for key in _NOT_EARLY_STOPPED)


def pruned_counts(rows: Sequence[TrialRow]) -> dict[tuple[str, str], int]:
    """Early-stopped trials (PRUNED, but neither infeasible nor a duplicate) per (param, level key)."""
    out: dict[tuple[str, str], int] = {}
    for row in rows:
        if not _early_stopped(row):
            continue
        for key, value in row.params.items():
            out[(key, level_key(value))] = out.get((key, level_key(value)), 0) + 1
    return out


@dataclass(frozen=True)
class EpochEffect:
    epoch: int
    contrast: Contrast


@dataclass(frozen=True)
class LevelEffect:
    """One level's effect at the end of the budget, its marginal mean, and its path over epochs.

    ``change`` is the late change of the effect that ``settled`` judges (90 % interval);
    ``pruned`` counts the level's early-stopped trials, which the effect (complete trials only)
    does not see; ``seeds_needed`` is the seeds per design a two-design contrast of the observed
    size would need to be significant with 80 % power at the study's seed sd.
    """

    level: Any
    contrast: Contrast | None  # None for the reference level
    mean: Mean
    by_epoch: tuple[EpochEffect, ...]
    settled: bool | None  # None: reference level, not estimable, or too few epochs to judge
    settled_note: str
    change: Contrast | None = None
    pruned: int = 0
    seeds_needed: int | None = None


@dataclass(frozen=True)
class FactorEffects:
    factor: str
    label: str
    reference: Any
    reference_note: str | None
    levels: tuple[LevelEffect, ...]


@dataclass(frozen=True)
class StudyEffects:
    """The effects section of a report: one model at the end, one per epoch.

    ``n_tests`` is how many contrasts ``adjustment`` ran over (all factors together);
    ``designs_needed`` is set with a "too few designs" note; ``lack_of_fit`` says whether the
    effects add; ``settled_margin`` and ``settled_rule`` state the stability verdict;
    ``n_pruned`` counts early-stopped trials (not in the fit).
    """

    method: str
    n_observations: int
    n_designs: int
    n_coefficients: int
    rank: int
    note: str | None
    epochs: int  # epochs with per-epoch records (0 when none)
    factors: tuple[FactorEffects, ...]
    n_tests: int = 0
    adjustment: str = ADJUSTMENT
    designs_needed: int | None = None
    lack_of_fit: LackOfFit | None = None
    settled_margin: float = SETTLED_MARGIN
    settled_rule: str = SETTLED_RULE
    n_pruned: int = 0
    seed_sd: float | None = None

    def factor(self, name: str) -> FactorEffects:
        return next(f for f in self.factors if f.factor == name)


def settled_verdict(change: Contrast | None, epochs: int, margin: float = SETTLED_MARGIN,
                    final: Contrast | None = None) -> tuple[bool | None, str]:
    """Settled iff the late change's 90 % interval lies inside ±margin (an equivalence test).

    ``final`` (the effect at the last epoch) only words the note: positive, negative or not
    significant after the study-wide adjustment.
    """
    if epochs < 4:
        return None, f"too few epochs recorded ({epochs}) to judge whether it settled"
    if change is None or change.estimate is None:
        why = change.reason if change is not None else "no complete learning curves"
        return None, f"its late change is not estimable ({why})"
    window, start = late_window(epochs)
    moved = (f"moved {format_points(change.estimate, change.ci_low, change.ci_high)} points from epoch "
             f"{start} to {epochs} (trend of epochs {window[0]}–{window[-1]}, 90% interval)")
    if -margin < change.ci_low and change.ci_high < margin:
        words = {"+": "positive", "-": "negative", "0": "not significant"}.get(final.verdict if final else None)
        return True, f"settled{f' ({words} at epoch {epochs})' if words else ''}: {moved}, within ±{margin:g}"
    return False, f"{NOT_SETTLED} ({moved}, not within ±{margin:g})"


def study_effects(rows: Sequence[TrialRow], space: Mapping[str, Any] | None = None) -> StudyEffects:
    """Fit the effects model on the final accuracies and on every recorded epoch."""
    final = final_observations(rows)
    pruned = pruned_counts(rows)
    stopped = [row for row in rows if _early_stopped(row)]
    levels, references, notes = study_levels(final, space, listed=stopped)
    fit: ModelFit = fit_effects(final, levels, references)
    per_epoch = epoch_observations(rows)
    epoch_fits = {epoch: fit_effects(obs, levels, references, check_fit=False) for epoch, obs in per_epoch.items()}
    epochs = max(per_epoch, default=0)
    change_fit = None
    if epochs >= 4:
        changes = late_change_observations(rows, epochs, {e: f.seed_sd for e, f in epoch_fits.items()})
        if changes:
            change_fit = fit_effects(changes, levels, references, confidence=SETTLED_CONFIDENCE, check_fit=False)
    factors = []
    for factor, values in levels.items():
        reference = references[factor]
        out = []
        for value in values:
            key = level_key(value)
            mean = fit.means[factor].get(key, Mean(None, None, None))
            count = pruned.get((factor, key), 0)
            if key == level_key(reference):
                out.append(LevelEffect(value, None, mean, (), None, "reference", pruned=count))
                continue
            contrast = fit.contrasts[factor][key]
            path = tuple(EpochEffect(e, f.contrasts[factor][key]) for e, f in epoch_fits.items())
            change = change_fit.contrasts[factor][key] if change_fit is not None else None
            if contrast.estimate is None:
                settled, note = None, "not estimable"
            elif not path:
                settled, note = None, "no per-epoch record"
            else:
                settled, note = settled_verdict(change, epochs, final=contrast)
            needed = (seeds_needed(contrast.estimate, fit.seed_sd)
                      if contrast.estimate is not None and fit.seed_sd is not None else None)
            out.append(LevelEffect(value, contrast, mean, path, settled, note, change, count, needed))
        factors.append(FactorEffects(factor, factor_label(factor), reference, notes.get(factor), tuple(out)))
    n_pruned = len(stopped)
    return StudyEffects(fit.method, fit.n_observations, fit.n_designs, fit.n_coefficients, fit.rank, fit.note,
                        epochs, tuple(factors), n_tests=fit.n_tests, adjustment=fit.adjustment,
                        designs_needed=fit.designs_needed, lack_of_fit=fit.lack_of_fit, n_pruned=n_pruned,
                        seed_sd=fit.seed_sd)


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
