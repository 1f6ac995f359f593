"""Per-factor ablation tables: what each design choice did to accuracy and cost.

A *factor* is any trial param that took at least two values among complete trials.  For each
of its levels the table pools the per-seed accuracies of all the level's trials (mean, sd) and
averages their params and MACs.  The Δ column compares each level with the reference level (the
effects model's, else the first in the papers' order, e.g. fusion ``none``, α 1) on *pairs* of
designs that agree on everything else, so the difference is the factor's alone:

* two designs pair when every other param they both have is equal; a param only one of them
  has exists because of this factor (``strategy`` appears only once ``fusion`` is not ``none``)
  and must be at its reference level, so the pairs measure what the model's effect measures
  (the effect at the nested params' references), not an average over the nested levels;
* trials with identical params (the sampler proposed the same design twice) are one design,
  their replicates pooled;
* pairs that share a design are one unit (their mean difference): a reference design reused
  by several pairs would otherwise count its own noise several times and narrow the interval;
* Δ is the mean over units, with a t-interval over units when there are ≥2, a Welch t-interval
  from the two designs' replicates when there is one pair with ≥2 replicates on each side, and
  none otherwise;
* ``ModelCheck`` tests the pairs' Δ against the additive model's prediction of it (the test of
  a difference that replaced a non-overlap check, which essentially never fired).

Early-stopped trials are in no table or effect; ``pruned_counts`` counts them per level.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Hashable, Mapping, Sequence

import numpy as np
from scipy import stats

from analysis.load import TrialRow
from trials import record
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
    units: int = 0  # independent units behind the interval (connected sets of pairs)
    weights: tuple[float, ...] | None = None  # Δ = Σ weights × design mean, over ``designs()`` order
    check: "ModelCheck | None" = None  # against the additive model


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


def _reference_of(all_designs: Sequence[Design], references: Mapping[str, Any] | None):
    """The reference level of every param: ``references`` (the effects model's), else the first observed."""
    seen: dict[str, set[Any]] = {}
    for d in all_designs:
        for k, v in d.params.items():
            seen.setdefault(k, set()).add(v)
    out = {k: ordered_levels(k, v)[0] for k, v in seen.items()}
    out.update(references or {})
    return out


def _at_reference(params: Mapping[str, Any], keys: set[str], reference: Mapping[str, Any]) -> bool:
    return all(str(params[k]) == str(reference.get(k, params[k])) for k in keys)


def _components(matched: Sequence[tuple[int, int]]) -> list[list[int]]:
    """Indices of ``matched`` grouped into sets that share a design (union-find over designs)."""
    parent: dict[tuple[str, int], tuple[str, int]] = {}

    def find(x):
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for d, r in matched:
        parent[find(("l", d))] = find(("r", r))
    groups: dict[tuple[str, int], list[int]] = {}
    for i, (d, _) in enumerate(matched):
        groups.setdefault(find(("l", d)), []).append(i)
    return list(groups.values())


def paired_difference(
    all_designs: Sequence[Design], factor: str, level: Any, reference: Any,
    references: Mapping[str, Any] | None = None,
) -> Difference:
    """Δ over pairs that differ in ``factor`` only, nested params at their reference level.

    A param that one design of a pair has and the other lacks exists because of ``factor``
    (``strategy`` under a fusion op); the pair is kept only where that param is at its reference
    level, so the Δ is the effect the model reports (at the nested params' references), not an
    average over them.  Pairs that share a design are not independent: each connected set of
    pairs is one unit (the mean of its differences) for the interval.
    """
    refs = _reference_of(all_designs, references)
    index_l = [i for i, d in enumerate(all_designs) if d.params.get(factor, _ABSENT) == level]
    index_r = [i for i, d in enumerate(all_designs) if d.params.get(factor, _ABSENT) == reference]
    matched = []
    for i in index_l:
        for j in index_r:
            a, b = all_designs[i].params, all_designs[j].params
            if (differ_only_in(a, b, factor) and _at_reference(a, set(a) - set(b), refs)
                    and _at_reference(b, set(b) - set(a), refs)):
                matched.append((i, j))
    pairs = tuple(Pair(all_designs[i].trials, all_designs[j].trials,
                       all_designs[i].accuracy - all_designs[j].accuracy) for i, j in matched)
    nested = sorted({k for i, j in matched for k in set(all_designs[i].params) ^ set(all_designs[j].params)})
    at = f" at {', '.join(f'{k}={refs[k]}' for k in nested)}" if nested else ""
    if not pairs:
        return Difference(None, None, "no pair of designs differing only here"
                          " (params nested in it at their reference level)", pairs)
    units = [float(np.mean([pairs[i].difference for i in group])) for group in _components(matched)]
    mean = float(np.mean(units))
    weights = np.zeros(len(all_designs))
    for group in _components(matched):
        for i in group:
            d, r = matched[i]
            weights[d] += 1 / (len(units) * len(group))
            weights[r] -= 1 / (len(units) * len(group))
    if len(units) >= 2:
        shared = "" if len(units) == len(pairs) else f" ({len(units)} independent sets of pairs sharing a design)"
        return Difference(mean, t_interval(units), f"paired t, {len(pairs)} pairs{shared}{at}", pairs,
                          len(units), tuple(weights))
    if len(pairs) == 1:
        ((i, j),) = matched
        d, r = all_designs[i], all_designs[j]
        if len(d.accuracies) >= 2 and len(r.accuracies) >= 2:
            return Difference(mean, welch_interval(d.accuracies, r.accuracies), f"Welch t, 1 pair{at}", pairs,
                              1, tuple(weights))
        return Difference(mean, None, f"1 pair, <2 replicates per side{at}", pairs, 1, tuple(weights))
    return Difference(mean, None, f"{len(pairs)} pairs sharing designs: one independent unit, no interval{at}",
                      pairs, 1, tuple(weights))


@dataclass(frozen=True)
class ModelCheck:
    """Exact pairs against the additive model: is their difference more than noise?

    ``difference`` = pairs' Δ − the model's prediction of it (points); the model's prediction is
    its effect for the level when the pairs differ only there.  The test adds the pairs' weights
    over designs as one more regressor to the additive model on design means: its t tests exactly
    pairs − model (= w'My, M the model's residual maker), on the model's residual degrees of
    freedom, so under additive effects p is uniform.  ``p_value`` is None, with ``note``, when the
    pairs are a combination the model already uses (a one-factor grid) or no designs are left.
    """

    model_estimate: float | None
    difference: float | None
    p_value: float | None
    note: str | None

    @property
    def flagged(self) -> bool:
        return self.p_value is not None and self.p_value < 1 - CONFIDENCE


def additive_matrix(all_designs: Sequence[Design], references: Mapping[str, Any]) -> np.ndarray:
    """Intercept + one indicator per non-reference level of every varying param (0 where absent).

    The effects model's coding (``analysis.effects``): treatment coding, nested params' indicators
    zero where they do not apply.
    """
    seen: dict[str, set[Any]] = {}
    for d in all_designs:
        for k, v in d.params.items():
            seen.setdefault(k, set()).add(v)
    columns = [np.ones(len(all_designs))]
    for factor in factor_order({k for k, v in seen.items() if len(v) >= 2}):
        ref = str(references.get(factor, ordered_levels(factor, seen[factor])[0]))
        for value in ordered_levels(factor, seen[factor]):
            if str(value) != ref:
                columns.append(np.array([float(factor in d.params and d.params[factor] == value)
                                         for d in all_designs]))
    return np.column_stack(columns)


def model_check(all_designs: Sequence[Design], difference: Difference,
                references: Mapping[str, Any] | None = None) -> ModelCheck:
    """Test pairs' Δ against the additive model fitted on all designs' mean accuracies (points)."""
    if difference.mean is None or difference.weights is None:
        return ModelCheck(None, None, None, "no pairs")
    refs = _reference_of(all_designs, references)
    y = 100 * np.array([d.accuracy for d in all_designs])
    w = np.asarray(difference.weights)
    x = additive_matrix(all_designs, refs)
    beta, *_ = np.linalg.lstsq(x, y, rcond=None)
    model = float(w @ (x @ beta))
    gap = 100 * difference.mean - model
    residual_w = w - x @ np.linalg.lstsq(x, w, rcond=None)[0]
    if float(residual_w @ residual_w) < 1e-10 * max(float(w @ w), 1e-12):
        return ModelCheck(model, gap, None, "the pairs are a comparison the model itself makes: nothing to test")
    z = np.column_stack([x, w])
    rank = int(np.linalg.matrix_rank(z))
    df = len(y) - rank
    if df <= 0:
        return ModelCheck(model, gap, None, "no designs left over the model and the pairs to measure the error")
    resid = y - z @ np.linalg.lstsq(z, y, rcond=None)[0]
    s2 = float(resid @ resid) / df
    if s2 <= 0:
        return ModelCheck(model, gap, None, "no residual error")
    t = gap / np.sqrt(s2 * float(residual_w @ residual_w))
    return ModelCheck(model, gap, float(2 * stats.t.sf(abs(t), df)), None)


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


def early_stopped(row: TrialRow) -> bool:
    """Pruned by the scheduler (ASHA) after training began: not a design skipped as over the cost
    limits (``infeasible``) or as a repeat (``duplicate_of``), which are PRUNED too but never trained."""
    return row.state == "PRUNED" and record.INFEASIBLE not in row.attrs and record.DUPLICATE_OF not in row.attrs


def pruned_counts(rows: Sequence[TrialRow]) -> dict[str, dict[str, int]]:
    """Early-stopped trials per param and level (the value as a string), from every trial's params.

    The effects read complete trials only, so a level that learns slowly can vanish from them under
    early stopping; the report shows these counts beside each effect.
    """
    out: dict[str, dict[str, int]] = {}
    for row in rows:
        if early_stopped(row):
            for key, value in row.params.items():
                levels = out.setdefault(key, {})
                levels[str(value)] = levels.get(str(value), 0) + 1
    return out


def ablation_tables(rows: Sequence[TrialRow], references: Mapping[str, Any] | None = None
                    ) -> tuple[FactorTable, ...]:
    """One table per factor that took ≥2 values among complete trials.

    ``references`` (factor -> level) names each factor's reference, so the tables use the one the
    effects model uses (``analysis.effects.study_levels``); a factor it does not name, or whose named
    reference was never observed, takes the first level in the papers' order.
    """
    complete = [r for r in rows if r.complete]
    all_designs = designs(complete)
    values: dict[str, set[Any]] = {}
    for row in complete:
        for key, value in row.params.items():
            values.setdefault(key, set()).add(value)
    named = {k: v for k, v in (references or {}).items() if str(v) in {str(x) for x in values.get(k, ())}}
    tables = []
    for factor in factor_order({k for k, v in values.items() if len(v) >= 2}):
        levels = ordered_levels(factor, values[factor])
        reference = next((v for v in levels if str(v) == str(named[factor])), levels[0]) if factor in named \
            else levels[0]
        levels = [reference] + [v for v in levels if v != reference]
        refs = {**named, factor: reference}
        stats_rows = []
        for level in levels:
            difference = None
            if level != reference:
                difference = paired_difference(all_designs, factor, level, reference, refs)
                difference = replace(difference, check=model_check(all_designs, difference, refs))
            stats_rows.append(level_stats(level, [r for r in complete if r.params.get(factor, _ABSENT) == level],
                                          difference))
        tables.append(FactorTable(factor, factor_label(factor), reference, tuple(stats_rows)))
    return tuple(tables)
