"""Factor effects from any study: an additive model over all complete trials.

Exact pairs (``analysis.ablation``) need two designs that differ in one factor only; a sampler
rarely draws them, so a search study said nothing about most factors.  Here every complete
trial counts: one ordinary least-squares fit (statsmodels' formula API) of accuracy, in percent,
on all factors at once, each in treatment coding against its reference level, so a level's
coefficient is its effect with the other factors held fixed.

* **Seeds are replicates, not designs.**  Seeds of one design (identical params) share
  everything the design does, including its own departure from the additive model, so the
  unit of the fit is the design: the model is fitted on each design's mean accuracy over its
  seeds, with a t on (designs − coefficients) degrees of freedom.  This is the random-intercept-
  per-design model (the exact mixed-model estimator when designs have equal replicates, as in
  presets and searches with fixed ``replicates``) without its iterative fit.  Per-seed errors
  would count three seeds of one design as three designs and undercover; cluster-robust errors
  by design undercover too with the 10–30 designs a study here has (both measured in
  ``tests/analysis/test_analysis_effects.py``).
* **Conditional dimensions are nested.**  A param that exists only under some levels of another
  (``strategy`` only when ``fusion`` is not ``none``) gets one indicator per non-reference level;
  where it is absent all its indicators are 0, so its "n/a" is absorbed by the parent's effect,
  and its own effect is estimated among the designs that have it.
* **No number without a design behind it.**  A level is *not estimable*, with the reason, when
  it was never observed, when its indicator lies outside the row space of the design matrix
  (confounded with the named other levels: no trial separates them), or when there are no more
  designs than coefficients (no residual designs to measure the error).
* **Multiple comparisons:** Holm across the levels of each factor (step-down Bonferroni).
* **Estimated marginal means:** the model's prediction at the level, the other factors at their
  average over the trials (children of the factor as they are at that level).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd
import statsmodels.formula.api as smf

from analysis.ablation import LEVEL_ORDER, factor_order, ordered_levels

CONFIDENCE = 0.95
ALPHA = 1 - CONFIDENCE
ABSENT = "n/a"  # the level of a conditional param where it does not apply
METHOD = "OLS on design means (random intercept per design), treatment coding, t on residual designs, Holm across levels"
SATURATED_METHOD = ("OLS on seeds (each design its own coefficient, so seed noise is the whole error), "
                    "treatment coding, Holm across levels")
#: Alternatives kept for the tests that show why ``METHOD`` is the default.
NAIVE_METHOD = "OLS on seeds as if independent, treatment coding, Holm across levels"
CLUSTER_METHOD = "OLS on seeds, cluster-robust by design (t, designs − 1 df), Holm across levels"

_TOL = 1e-8


def level_key(value: Any) -> str:
    """A level as report.json names it: the value as a string (``"lc"``, ``"16"``, ``"True"``)."""
    return str(value)


@dataclass(frozen=True)
class Observation:
    """One seed's accuracy (percent) of one design; ``design`` groups the seeds of one design."""

    design: int
    params: Mapping[str, Any]
    accuracy: float


@dataclass(frozen=True)
class Contrast:
    """A level's effect against its factor's reference, in accuracy points, or why there is none."""

    estimate: float | None
    ci_low: float | None
    ci_high: float | None
    p_value: float | None
    p_adjusted: float | None
    reason: str | None  # set exactly when estimate is None

    @property
    def significant(self) -> bool:
        return self.p_adjusted is not None and self.p_adjusted < ALPHA

    @property
    def verdict(self) -> str | None:
        """``+``/``-`` when significant after adjustment, ``0`` when not, None when not estimable."""
        if self.estimate is None:
            return None
        if not self.significant:
            return "0"
        return "+" if self.estimate > 0 else "-"


def _not_estimable(reason: str) -> Contrast:
    return Contrast(None, None, None, None, None, reason)


@dataclass(frozen=True)
class Mean:
    """Estimated marginal mean accuracy (percent) of a level with its 95% interval."""

    estimate: float | None
    ci_low: float | None
    ci_high: float | None


@dataclass(frozen=True)
class ModelFit:
    """Contrasts and marginal means of one fit, keyed by factor then level key."""

    method: str
    n_observations: int
    n_designs: int
    n_coefficients: int
    rank: int
    contrasts: Mapping[str, Mapping[str, Contrast]]
    means: Mapping[str, Mapping[str, Mean]]
    note: str | None  # why nothing could be estimated, when that is so


def _column_name(factor: str, level: str) -> str:
    return f"{factor}__{level}"


def _children(frame: pd.DataFrame, factors: Sequence[str]) -> dict[str, list[str]]:
    """Conditional factors nested in each factor: present or absent by the parent's level alone."""
    out: dict[str, list[str]] = {f: [] for f in factors}
    for child in factors:
        absent = frame[child] == ABSENT
        if not absent.any():
            continue
        for parent in factors:
            if parent == child:
                continue
            by_level = absent.groupby(frame[parent]).agg(["all", "any"])
            if (by_level["all"] == by_level["any"]).all():
                out[parent].append(child)
                break
    return out


def fit_effects(
    observations: Sequence[Observation],
    levels: Mapping[str, Sequence[Any]],
    references: Mapping[str, Any],
    errors: str = "design",
) -> ModelFit:
    """Fit the additive model and return every level's contrast and marginal mean.

    ``levels[factor]`` lists the levels to report (configured or observed, reference among
    them); ``references[factor]`` names the reference level.  Levels without observations are
    reported as never observed.  ``errors``: ``"design"`` (the default, see the module
    docstring), ``"cluster"`` or ``"naive"`` (per-seed rows; for comparison only).
    """
    factors = list(levels)
    method = {"design": METHOD, "cluster": CLUSTER_METHOD, "naive": NAIVE_METHOD}[errors]
    if not observations:  # no complete trial (all failed or pruned, or none yet): nothing to fit, nothing estimable
        return ModelFit(method, 0, 0, 0, 0, {f: {level_key(v): _not_estimable("no complete trials") for v in levels[f]} for f in factors}, {f: {} for f in factors}, "no complete trials")
    frame = pd.DataFrame(
        {
            "y": [o.accuracy for o in observations],
            "design": [o.design for o in observations],
            **{f: [level_key(o.params[f]) if f in o.params else ABSENT for o in observations] for f in factors},
        }
    )
    seeds = frame
    if errors == "design":
        frame = frame.groupby("design", sort=False).agg({"y": "mean", **{f: "first" for f in factors}})
        frame = frame.reset_index()
    observed = {f: set(frame[f]) - {ABSENT} for f in factors}
    terms: list[str] = []
    columns: dict[tuple[str, str], str] = {}  # (factor, level) -> exog column name
    for f in factors:
        ref = level_key(references[f])
        present = [level_key(v) for v in levels[f] if level_key(v) in observed[f] and level_key(v) != ref]
        if not present:
            continue
        if (frame[f] == ABSENT).any() or ref not in observed[f]:
            # nested (or reference unseen): explicit indicators, zero where the param is absent
            for level in present:
                name = _column_name(f, len(columns))
                frame[name] = (frame[f] == level).astype(float)
                seeds[name] = (seeds[f] == level).astype(float)
                terms.append(name)
                columns[(f, level)] = name
        else:
            term = f"C({f}, Treatment(reference={ref!r}))"
            terms.append(term)
            for level in present:
                columns[(f, level)] = f"{term}[T.{level}]"
    formula = "y ~ " + (" + ".join(terms) if terms else "1")
    n_designs = frame["design"].nunique()
    model = smf.ols(formula, frame)
    rank = _rank(model.exog)
    if errors == "design" and n_designs <= rank < len(seeds):
        # Saturated: every design has its own coefficients, so there is no departure from the
        # model left to estimate and seed noise is the whole error (a one-factor grid, a preset).
        method, frame = SATURATED_METHOD, seeds
        model = smf.ols(formula, frame)
        rank = _rank(model.exog)
    exog = model.exog
    names = list(model.exog_names)
    index = {name: i for i, name in enumerate(names)}
    _, _, vt = np.linalg.svd(exog, full_matrices=True)
    null = vt[rank:].T  # columns: directions the data cannot tell apart

    contrasts: dict[str, dict[str, Contrast]] = {f: {} for f in factors}
    means: dict[str, dict[str, Mean]] = {f: {} for f in factors}
    fit_note = None
    units, what = (n_designs, "designs") if method in (METHOD, CLUSTER_METHOD) else (len(frame), "seed replicates")
    if units <= rank:
        fit_note = (
            f"too few designs: {units} {what} for {rank} coefficients "
            "(the errors need more of them than coefficients)"
        )
        result = None
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # rank-deficient designs: only estimable contrasts are read
            if errors == "cluster":
                result = model.fit(cov_type="cluster", cov_kwds={"groups": frame["design"]}, use_t=True)
            else:
                result = model.fit(use_t=True)

    def label(column: int) -> str:
        if names[column] == "Intercept":
            return "the intercept (all reference levels)"
        for (f, level), name in columns.items():
            if name == names[column]:
                return f"{f}={level}"
        return names[column]

    def test(vector: np.ndarray) -> tuple[float, float, float, float]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            t = result.t_test(vector)
        low, high = np.asarray(t.conf_int(alpha=ALPHA)).ravel()
        return float(np.ravel(t.effect)[0]), float(low), float(high), float(np.ravel(t.pvalue)[0])

    def estimable(vector: np.ndarray) -> bool:
        return null.shape[1] == 0 or float(np.abs(null.T @ vector).max()) < 1e-7

    children = _children(frame, factors)
    for f in factors:
        ref = level_key(references[f])
        raw: dict[str, tuple[float, float, float, float]] = {}
        for value in levels[f]:
            level = level_key(value)
            if level == ref:
                continue
            if level not in observed[f]:
                contrasts[f][level] = _not_estimable("never observed among complete trials")
                continue
            if ref not in observed[f]:
                contrasts[f][level] = _not_estimable(f"the reference level {ref} was never observed")
                continue
            j = index[columns[(f, level)]]
            unit = np.zeros(len(names))
            unit[j] = 1.0
            if not estimable(unit):
                weights = null @ (null.T @ unit)
                partners = [label(k) for k in np.flatnonzero(np.abs(weights) > 1e-7) if k != j]
                contrasts[f][level] = _not_estimable(
                    "confounded with " + ", ".join(partners) + ": no complete trials separate their effects"
                )
                continue
            if result is None:
                contrasts[f][level] = _not_estimable(fit_note)
                continue
            raw[level] = test(unit)
        if raw:
            adjusted = holm([r[3] for r in raw.values()])
            for (level, (est, low, high, p)), p_adj in zip(raw.items(), adjusted):
                contrasts[f][level] = Contrast(est, low, high, p, float(p_adj), None)
        means[f] = _marginal_means(f, levels[f], frame, exog, columns, index, children, observed, estimable,
                                   test if result is not None else None)
    return ModelFit(method, len(observations), int(n_designs), len(names), rank, contrasts, means, fit_note)


def _rank(exog: np.ndarray) -> int:
    singular = np.linalg.svd(exog, compute_uv=False)
    return int((singular > _TOL * max(singular.max(initial=0.0), 1.0)).sum())


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm-adjusted p-values (step-down Bonferroni), in the input order.

    The same numbers as ``statsmodels.stats.multitest.multipletests(p, method="holm")[1]``
    (a test checks it); written out because that function's Holm branch calls ``gc.collect()``,
    about 0.3 s per call in a process holding torch and pandas, paid once per factor per epoch.
    """
    order = np.argsort(p_values)
    n = len(p_values)
    adjusted = np.minimum(1.0, np.maximum.accumulate(np.asarray(p_values)[order] * (n - np.arange(n))))
    out = np.empty(n)
    out[order] = adjusted
    return [float(v) for v in out]


def _marginal_means(factor, values, frame, exog, columns, index, children, observed, estimable, test):
    """Prediction at each level of ``factor``, every other factor at its average over the trials."""
    out: dict[str, Mean] = {}
    average = exog.mean(axis=0)
    for value in values:
        level = level_key(value)
        if level not in observed[factor] or test is None:
            out[level] = Mean(None, None, None)
            continue
        vector = average.copy()
        for (f, other), name in columns.items():
            if f == factor:
                vector[index[name]] = float(other == level)
        at_level = (frame[factor] == level).to_numpy()
        for child in children.get(factor, []):
            present = frame[child] != ABSENT
            rows = (at_level & present.to_numpy()) if (present & at_level).any() else None
            for (f, _), name in columns.items():
                if f == child:
                    vector[index[name]] = 0.0 if rows is None else exog[rows, index[name]].mean()
        if not estimable(vector):
            out[level] = Mean(None, None, None)
            continue
        est, low, high, _ = test(vector)
        out[level] = Mean(est, low, high)
    return out


def study_levels(
    observations: Sequence[Observation], space: Mapping[str, Any] | None
) -> tuple[dict[str, list[Any]], dict[str, Any], dict[str, str]]:
    """The factors of a study, their levels in order and their reference levels.

    A factor is a param that took two values among complete trials, or one the configured space
    lists with two or more values.  The reference is the first value of the configured space
    (``space[factor]`` as a list), else the vocabulary's first (``LEVEL_ORDER``); a reference
    never observed falls back to the first observed level, and ``notes[factor]`` says so.
    """
    space = space or {}
    seen: dict[str, set[Any]] = {}
    for o in observations:
        for key, value in o.params.items():
            seen.setdefault(key, set()).add(value)
    if isinstance(space, list):  # a union of subspaces (a preset's list): each key's values over all of them
        merged: dict[str, list] = {}
        for part in space:
            for k, v in part.items():
                for value in (v if isinstance(v, (list, tuple)) else [v]):
                    if value not in merged.setdefault(k, []):
                        merged[k].append(value)
        space = merged
    configured = {k: list(v) for k, v in space.items() if isinstance(v, (list, tuple)) and len(v) >= 2}
    names = {k for k, v in seen.items() if len(v) >= 2} | (configured.keys() & seen.keys())
    levels: dict[str, list[Any]] = {}
    references: dict[str, Any] = {}
    notes: dict[str, str] = {}
    for factor in factor_order(names):
        observed = ordered_levels(factor, seen.get(factor, set()))
        configured_levels = configured.get(factor, [])
        observed_keys = {level_key(v) for v in observed}
        ordered = list(configured_levels) + [v for v in observed if level_key(v) not in
                                             {level_key(c) for c in configured_levels}]
        if configured_levels:
            reference = configured_levels[0]
        else:
            vocabulary = [v for v in LEVEL_ORDER.get(factor, ()) if level_key(v) in observed_keys]
            reference = vocabulary[0] if vocabulary else observed[0]
        if level_key(reference) not in observed_keys:
            notes[factor] = f"reference {level_key(reference)} was never observed; {level_key(observed[0])} used instead"
            reference = observed[0]
        ordered = [reference] + [v for v in ordered if level_key(v) != level_key(reference)]
        levels[factor] = ordered
        references[factor] = reference
    return levels, references, notes
