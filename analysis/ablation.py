"""Per-factor ablation tables: what each design choice did to accuracy and cost.

A *factor* is any trial param that took at least two values among complete trials.  For each
of its levels the table pools the per-seed accuracies of all the level's trials (mean, sd,
95% t-interval) and averages their params and MACs.  The Δ column compares each level with
the reference level (the first in the papers' order, e.g. fusion ``none``, α 1) on *pairs* of
designs that agree on everything else, so the difference is the factor's alone:

* two designs pair when every other param they both have is equal; a param only one of them
  has exists because of this factor (``strategy`` appears only once ``fusion`` is not ``none``);
* trials with identical params (the sampler proposed the same design twice) are one design,
  their replicates pooled;
* Δ is the mean over pairs of (mean accuracy of the level's design − of the reference's), with
  a paired t-interval when there are ≥2 pairs, a Welch t-interval from the two designs'
  replicates when there is one pair with ≥2 replicates on each side, and none otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Hashable, Mapping, Sequence

import numpy as np
from scipy import stats

from analysis.load import TrialRow
from search_space.dimensions import labels, level_order

CONFIDENCE = 0.95

_ABSENT = object()  # a param the trial does not have (conditional on another choice)

#: Factor names as the papers call them, in the vocabulary's order (``search_space/dimensions.py``).
FACTOR_LABELS: dict[str, str] = labels()

#: Levels in the papers' order; the first is the reference (the baseline the papers ablate
#: against).  Unlisted levels follow, sorted; numbers and booleans simply sort.
LEVEL_ORDER: dict[str, tuple[Any, ...]] = level_order()


def factor_label(name: str) -> str:
    return FACTOR_LABELS.get(name, name)


def ordered_levels(factor: str, levels: set[Any]) -> list[Any]:
    known = [level for level in LEVEL_ORDER.get(factor, ()) if level in levels]
    rest = sorted(set(levels) - set(known), key=lambda v: (type(v).__name__, v))
    return known + rest


def t_interval(samples: Sequence[float]) -> tuple[float, float] | None:
    """Two-sided 95% Student-t interval of the mean; None below two samples."""
    n = len(samples)
    if n < 2:
        return None
    mean, sd = float(np.mean(samples)), float(np.std(samples, ddof=1))
    half = stats.t.ppf((1 + CONFIDENCE) / 2, n - 1) * sd / np.sqrt(n)
    return (mean - half, mean + half)


def welch_interval(a: Sequence[float], b: Sequence[float]) -> tuple[float, float]:
    """95% Welch interval of mean(a) − mean(b); both need ≥2 samples."""
    diff = float(np.mean(a) - np.mean(b))
    va, vb = np.var(a, ddof=1) / len(a), np.var(b, ddof=1) / len(b)
    if va + vb == 0:
        return (diff, diff)
    df = (va + vb) ** 2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1))
    half = stats.t.ppf((1 + CONFIDENCE) / 2, df) * np.sqrt(va + vb)
    return (diff - half, diff + half)


@dataclass(frozen=True)
class Design:
    """Complete trials with identical params, their accuracy replicates pooled."""

    params: Mapping[str, Any]
    trials: tuple[int, ...]
    accuracies: tuple[float, ...]

    @property
    def accuracy(self) -> float:
        return float(np.mean(self.accuracies))


@dataclass(frozen=True)
class Pair:
    """A design at the level and one at the reference that differ only in the factor."""

    level_trials: tuple[int, ...]
    reference_trials: tuple[int, ...]
    difference: float


@dataclass(frozen=True)
class Difference:
    """Δ accuracy (level − reference) over pairs, with its 95% interval and how it was got.

    ``mean`` is None without pairs and ``interval`` None when no interval applies; ``method``
    says which case holds.
    """

    mean: float | None
    interval: tuple[float, float] | None
    method: str
    pairs: tuple[Pair, ...]


@dataclass(frozen=True)
class LevelStats:
    """One row of a factor table."""

    level: Any
    n_trials: int
    n_replicates: int
    accuracy_mean: float | None
    accuracy_sd: float | None
    accuracy_interval: tuple[float, float] | None
    params_mean: float | None
    macs_mean: float | None
    difference: Difference | None  # None for the reference level itself
    test_accuracy_mean: float | None = None  # over the seeds that recorded a test accuracy


@dataclass(frozen=True)
class FactorTable:
    factor: str
    label: str
    reference: Any
    levels: tuple[LevelStats, ...]


def designs(rows: Sequence[TrialRow]) -> list[Design]:
    """Group complete trials with accuracy samples by identical params, in trial order."""
    grouped: dict[frozenset[tuple[str, Hashable]], list[TrialRow]] = {}
    for row in rows:
        if row.complete and row.accuracy_samples:
            grouped.setdefault(frozenset(row.params.items()), []).append(row)
    return [
        Design(
            params=dict(group[0].params),
            trials=tuple(r.number for r in group),
            accuracies=tuple(a for r in group for a in r.accuracy_samples),
        )
        for group in grouped.values()
    ]


def differ_only_in(a: Mapping[str, Any], b: Mapping[str, Any], factor: str) -> bool:
    shared = (a.keys() & b.keys()) - {factor}
    return all(a[k] == b[k] for k in shared)


def paired_difference(
    all_designs: Sequence[Design], factor: str, level: Any, reference: Any
) -> Difference:
    level_designs = [d for d in all_designs if d.params.get(factor, _ABSENT) == level]
    reference_designs = [d for d in all_designs if d.params.get(factor, _ABSENT) == reference]
    matched = [
        (d, r)
        for d in level_designs
        for r in reference_designs
        if differ_only_in(d.params, r.params, factor)
    ]
    pairs = tuple(Pair(d.trials, r.trials, d.accuracy - r.accuracy) for d, r in matched)
    if not pairs:
        return Difference(None, None, "no pair of designs differing only here", pairs)
    differences = [p.difference for p in pairs]
    mean = float(np.mean(differences))
    if len(pairs) >= 2:
        return Difference(mean, t_interval(differences), f"paired t, {len(pairs)} pairs", pairs)
    ((d, r),) = matched
    if len(d.accuracies) >= 2 and len(r.accuracies) >= 2:
        return Difference(mean, welch_interval(d.accuracies, r.accuracies), "Welch t, 1 pair", pairs)
    return Difference(mean, None, "1 pair, <2 replicates per side", pairs)


def level_stats(level: Any, rows: Sequence[TrialRow], difference: Difference | None) -> LevelStats:
    """Pooled per-seed accuracy and mean costs of the level's complete trials."""
    samples = [a for r in rows for a in r.accuracy_samples]
    tests = [a for r in rows for a in r.test_accuracy_samples]
    costs = {
        name: [c for c in (r.cost(name) for r in rows) if c is not None] for name in ("params", "macs")
    }
    return LevelStats(
        level=level,
        n_trials=len(rows),
        n_replicates=len(samples),
        accuracy_mean=float(np.mean(samples)) if samples else None,
        accuracy_sd=float(np.std(samples, ddof=1)) if len(samples) >= 2 else None,
        accuracy_interval=t_interval(samples),
        params_mean=float(np.mean(costs["params"])) if costs["params"] else None,
        macs_mean=float(np.mean(costs["macs"])) if costs["macs"] else None,
        difference=difference,
        test_accuracy_mean=float(np.mean(tests)) if tests else None,
    )


def factor_order(factors: set[str]) -> list[str]:
    known = [f for f in FACTOR_LABELS if f in factors]
    return known + sorted(factors - set(known))


def ablation_tables(rows: Sequence[TrialRow]) -> tuple[FactorTable, ...]:
    """One table per factor that took ≥2 values among complete trials."""
    complete = [r for r in rows if r.complete]
    all_designs = designs(complete)
    values: dict[str, set[Any]] = {}
    for row in complete:
        for key, value in row.params.items():
            values.setdefault(key, set()).add(value)
    tables = []
    for factor in factor_order({k for k, v in values.items() if len(v) >= 2}):
        levels = ordered_levels(factor, values[factor])
        reference = levels[0]
        stats_rows = tuple(
            level_stats(
                level,
                [r for r in complete if r.params.get(factor, _ABSENT) == level],
                None if level == reference else paired_difference(all_designs, factor, level, reference),
            )
            for level in levels
        )
        tables.append(FactorTable(factor, factor_label(factor), reference, stats_rows))
    return tuple(tables)
