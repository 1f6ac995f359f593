"""Factor effects from any study: an additive model over all complete trials.

Exact pairs (``analysis.ablation``) need two designs that differ in one factor only; a sampler
rarely draws them, so a search study said nothing about most factors.  Here every complete
trial counts: one ordinary least-squares fit (statsmodels ``OLS``) of accuracy, in percent, on
all factors at once, each in treatment coding against its reference level, so a level's
coefficient is its effect with the other factors held fixed *if the effects add* (the
lack-of-fit test below says when they do not).

* **Seeds are replicates, not designs.**  Seeds of one design (identical params) share
  everything the design does, including its own departure from the additive model, so the
  unit of the fit is the design: the model is fitted on each design's mean accuracy over its
  seeds, with a t on (designs − coefficients) degrees of freedom.  This is the random-intercept-
  per-design model (the exact mixed-model estimator when designs have equal replicates)
  without its iterative fit.  Per-seed errors would count three seeds of one design as three
  designs and undercover; cluster-robust errors by design undercover too with the 10–30 designs
  a study here has (both measured in ``tests/analysis/test_analysis_effects.py``).
* **Seeds are the error only in a one-factor grid.**  When a study varies one factor (with the
  params nested in it) every design is its own cell and the contrasts are differences of design
  means, so the seeds are the whole error; each design keeps its *own* seed variance
  (Welch–Satterthwaite df), so one unstable level does not borrow the others' precision.  In any
  other study with no more designs than coefficients there is nothing to measure how far designs
  depart from the additive model: the fit says "too few designs" and how many it needs
  (``ModelFit.designs_needed``), instead of pretending the seeds are enough.
* **Conditional dimensions are nested.**  A param that exists only under some levels of another
  (``strategy`` only when ``fusion`` is not ``none``) gets one indicator per non-reference level;
  where it is absent all its indicators are 0, so its "n/a" is absorbed by the parent's effect,
  and its own effect is estimated among the designs that have it.
* **No number without a design behind it.**  A level is *not estimable*, with the reason, when
  it was never observed, when its indicator lies outside the row space of the design matrix
  (confounded with the named other levels: no trial separates them), or when the errors cannot
  be measured.
* **Multiple comparisons, study-wide:** Holm (step-down Bonferroni, family-wise error) across
  every contrast of the fit, all factors together; ``ModelFit.n_tests`` says how many.
* **Do the effects add?**  A lack-of-fit F test compares the design means' departures from the
  additive model with the seed variance (``LackOfFit``).  When it fires, the pair of factors
  whose interaction explains most of the departure is named, with one factor's effect at each
  level of the other.
* **Estimated marginal means:** the model's prediction at the level, the other factors at their
  average over the designs (children of the factor as they are at that level).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np
import statsmodels.api as sm
from scipy import stats as scipy_stats

# CONFIDENCE, ALPHA and holm are also importable from here, where older code found them.
from analysis.stats import ALPHA, CONFIDENCE, HOLM, holm, satterthwaite, t_quantile
from search_space.dimensions import labels, level_order

ABSENT = "n/a"  # the level of a conditional param where it does not apply
ADJUSTMENT = f"{HOLM} across all the study's contrasts"
METHOD = ("OLS on design means (random intercept per design), treatment coding, t on residual designs, "
          + ADJUSTMENT)
SATURATED_METHOD = ("one-factor grid: design means with each design's own seed variance "
                    "(Welch–Satterthwaite df), treatment coding, " + ADJUSTMENT)
#: Alternatives kept for the tests that show why ``METHOD`` is the default.
NAIVE_METHOD = "OLS on seeds as if independent, treatment coding, " + ADJUSTMENT
CLUSTER_METHOD = "OLS on seeds, cluster-robust by design (t, designs − 1 df), " + ADJUSTMENT

_TOL = 1e-8

#: Levels in the papers' order (the vocabulary's); the first is the reference when the
#: configured space does not name one.
LEVEL_ORDER: dict[str, tuple[Any, ...]] = level_order()
_FACTOR_ORDER = list(labels())


def level_key(value: Any) -> str:
    """A level as report.json names it: the value as a string (``"lc"``, ``"16"``, ``"True"``)."""
    return str(value)


def ordered_levels(factor: str, levels: set[Any]) -> list[Any]:
    """Levels in the vocabulary's order; unlisted levels follow, sorted."""
    known = [level for level in LEVEL_ORDER.get(factor, ()) if level in levels]
    rest = sorted(set(levels) - set(known), key=lambda v: (type(v).__name__, v))
    return known + rest


def factor_order(factors: set[str]) -> list[str]:
    """Factors in the vocabulary's order; unknown ones follow, sorted."""
    known = [f for f in _FACTOR_ORDER if f in factors]
    return known + sorted(factors - set(known))


@dataclass(frozen=True)
class Observation:
    """One seed's accuracy (percent) of one design; ``design`` groups the seeds of one design."""

    design: int
    params: Mapping[str, Any]
    accuracy: float


@dataclass(frozen=True)
class Contrast:
    """A level's effect against its factor's reference, in accuracy points, or why there is none.

    ``p_adjusted`` is adjusted across all the study's contrasts (``ModelFit.adjustment``);
    ``se`` and ``df`` are the standard error and the t degrees of freedom behind the interval.
    """

    estimate: float | None
    ci_low: float | None
    ci_high: float | None
    p_value: float | None
    p_adjusted: float | None
    reason: str | None  # set exactly when estimate is None
    se: float | None = None
    df: float | None = None

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
class LackOfFit:
    """Do the effects add?  Design means' departures from the additive model against seed noise.

    ``statistic`` is F = (weighted sum of squared design-mean residuals / ``df_lack``) /
    (pooled seed variance), on (``df_lack``, ``df_seeds``) df.  ``fires`` when p < ALPHA.  Then
    ``interaction`` names the pair of factors whose interaction explains most of the departure
    (``interaction_p``: its partial F test against the seed variance) and ``breakdown[f][level][g_level]``
    is the effect of ``f=level`` (vs f's reference) among designs at ``g=g_level``, both ways round
    (intervals from the seed variance).  A design's own departure can also fire it: the test says
    the one effect per level does not describe every design, not which interaction is true.
    """

    statistic: float
    df_lack: int
    df_seeds: int
    p_value: float
    fires: bool
    interaction: tuple[str, str] | None = None
    interaction_p: float | None = None
    breakdown: Mapping[str, Mapping[str, Mapping[str, Contrast]]] = field(default_factory=dict)

    @property
    def note(self) -> str:
        head = (f"lack of fit F = {self.statistic:.2f} on ({self.df_lack}, {self.df_seeds}) df, "
                f"p = {self.p_value:.3g}")
        if not self.fires:
            return head + ": the design means agree with additive effects"
        text = head + ": the effects do not add; each level's one effect is an average over designs"
        if self.interaction:
            f, g = self.interaction
            text += f"; the largest interaction is {f} × {g} (p = {self.interaction_p:.3g})"
        return text


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
    n_tests: int = 0  # contrasts the adjustment ran over (all factors)
    adjustment: str = ADJUSTMENT
    designs_needed: int | None = None  # with "too few designs": the fewest designs the fit needs
    lack_of_fit: LackOfFit | None = None
    seed_sd: float | None = None  # pooled sd of seeds around their design mean (points)


def _children(frame: Mapping[str, np.ndarray], factors: Sequence[str]) -> dict[str, list[str]]:
    """Conditional factors nested in each factor: present or absent by the parent's level alone."""
    out: dict[str, list[str]] = {f: [] for f in factors}
    for child in factors:
        absent = frame[child] == ABSENT
        if not absent.any():
            continue
        for parent in factors:
            if parent == child:
                continue
            by_level: dict[str, set[bool]] = {}
            for level, a in zip(frame[parent].tolist(), absent.tolist()):
                by_level.setdefault(level, set()).add(a)
            if all(len(v) == 1 for v in by_level.values()):
                out[parent].append(child)
                break
    return out


def fit_effects(
    observations: Sequence[Observation],
    levels: Mapping[str, Sequence[Any]],
    references: Mapping[str, Any],
    errors: str = "design",
    confidence: float = CONFIDENCE,
    check_fit: bool = True,
) -> ModelFit:
    """Fit the additive model and return every level's contrast and marginal mean.

    ``levels[factor]`` lists the levels to report (configured or observed, reference among
    them); ``references[factor]`` names the reference level.  Levels without observations are
    reported as never observed.  ``errors``: ``"design"`` (the default, see the module
    docstring), ``"cluster"`` or ``"naive"`` (per-seed rows; for comparison only).
    ``confidence`` sets the intervals (``analysis.settled`` asks for 90 % for its equivalence test);
    ``check_fit=False`` skips the lack-of-fit test (the per-epoch fits, which only feed the path).
    """
    factors = list(levels)
    method = {"design": METHOD, "cluster": CLUSTER_METHOD, "naive": NAIVE_METHOD}[errors]
    y_seeds = np.array([float(o.accuracy) for o in observations])
    row_of_design: dict[int, int] = {}
    seed_design = np.array([row_of_design.setdefault(o.design, len(row_of_design)) for o in observations], int)
    first = {}
    for o in observations:
        first.setdefault(o.design, o)
    designs = {f: np.array([level_key(o.params[f]) if f in o.params else ABSENT for o in first.values()], object)
               for f in factors}
    counts = np.bincount(seed_design, minlength=len(first)).astype(float)
    means_y = np.bincount(seed_design, weights=y_seeds, minlength=len(first)) / np.maximum(counts, 1)
    ss_by_design = np.bincount(seed_design, weights=(y_seeds - means_y[seed_design]) ** 2, minlength=len(first))
    variances = np.where(counts > 1, ss_by_design / np.maximum(counts - 1, 1), 0.0)
    df_seeds = int((counts - 1).sum())
    ss_seeds = float(ss_by_design.sum())
    seed_sd = float(np.sqrt(ss_seeds / df_seeds)) if df_seeds > 0 else None

    observed = {f: set(designs[f].tolist()) - {ABSENT} for f in factors}
    columns: dict[tuple[str, str], int] = {}  # (factor, level) -> exog column
    names = ["Intercept"]
    n_designs = len(first)
    blocks = [np.ones(n_designs)]
    for f in factors:
        ref = level_key(references[f])
        for value in levels[f]:
            level = level_key(value)
            if level == ref or level not in observed[f] or (f, level) in columns:
                continue
            columns[(f, level)] = len(names)
            names.append(f"{f}={level}")
            blocks.append((designs[f] == level).astype(float))
    x_designs = np.column_stack(blocks)
    rank = _rank(x_designs)
    _, _, vt = np.linalg.svd(x_designs, full_matrices=True)
    null = vt[rank:].T  # columns: directions the data cannot tell apart

    children = _children(designs, factors)
    nested = {c for kids in children.values() for c in kids}
    varied = {f for (f, _) in columns}
    one_factor_grid = len(varied - nested) <= 1

    fit_note, designs_needed = None, None
    mode = "ols"
    if errors == "design" and n_designs <= rank:
        if one_factor_grid and df_seeds > 0:
            mode, method = "welch", SATURATED_METHOD
        else:
            mode = None
            if n_designs == 0:
                fit_note = "no complete trials"
            elif one_factor_grid:
                fit_note = (f"too few replicates: {n_designs} designs for {rank} coefficients and no design with "
                            "two seeds, so nothing measures the error (train at least 2 seeds per design)")
            else:
                designs_needed = rank + 1
                fit_note = (f"too few designs: {n_designs} designs for {rank} coefficients; the fit needs at least "
                            f"{designs_needed} designs (the study varies several factors, so the seeds alone "
                            "cannot measure how far designs depart from the additive model)")
    elif errors != "design" and len(y_seeds) <= rank:
        mode = None
        fit_note = f"too few designs: {len(y_seeds)} seed replicates for {rank} coefficients"

    result = None
    if mode == "ols":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # rank-deficient designs: only estimable contrasts are read
            if errors == "design":
                result = sm.OLS(means_y, x_designs).fit()
            else:
                x_seeds = x_designs[seed_design]
                if errors == "cluster":
                    result = sm.OLS(y_seeds, x_seeds).fit(
                        cov_type="cluster", cov_kwds={"groups": seed_design}, use_t=True)
                else:
                    result = sm.OLS(y_seeds, x_seeds).fit()
    pinv_designs = np.linalg.pinv(x_designs) if mode == "welch" else None

    def label(column: int) -> str:
        return "the intercept (all reference levels)" if column == 0 else names[column]

    def test(vector: np.ndarray) -> tuple[float, float, float, float, float, float] | str:
        """(estimate, low, high, p, se, df) of vector·β, or why it has no interval."""
        if mode == "welch":
            weights = pinv_designs.T @ vector  # the contrast as a weighted sum of design means
            used = np.abs(weights) > 1e-9
            if (counts[used] < 2).any():
                return "fewer than two seed replicates of a design it compares: no seed variance"
            estimate = float(weights @ means_y)
            variance, df = satterthwaite(weights, variances, counts)
        else:
            estimate = float(vector @ result.params)
            variance = float(vector @ np.asarray(result.cov_params()) @ vector)
            df = float(n_designs - 1) if errors == "cluster" else float(result.df_resid)
        se = float(np.sqrt(max(variance, 0.0)))
        if se == 0:
            p = 0.0 if estimate != 0 else 1.0
            return estimate, estimate, estimate, p, 0.0, df
        half = t_quantile(df, confidence) * se
        p = float(2 * scipy_stats.t.sf(abs(estimate) / se, df))
        return estimate, estimate - half, estimate + half, p, se, df

    def estimable(vector: np.ndarray) -> bool:
        return null.shape[1] == 0 or float(np.abs(null.T @ vector).max()) < 1e-7

    contrasts: dict[str, dict[str, Contrast]] = {f: {} for f in factors}
    raw: dict[tuple[str, str], tuple] = {}
    for f in factors:
        ref = level_key(references[f])
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
            j = columns[(f, level)]
            unit = np.zeros(len(names))
            unit[j] = 1.0
            if not estimable(unit):
                weights = null @ (null.T @ unit)
                partners = [label(k) for k in np.flatnonzero(np.abs(weights) > 1e-7) if k != j]
                contrasts[f][level] = _not_estimable(
                    "confounded with " + ", ".join(partners) + ": no complete trials separate their effects"
                )
                continue
            if mode is None:
                contrasts[f][level] = _not_estimable(fit_note)
                continue
            outcome = test(unit)
            if isinstance(outcome, str):
                contrasts[f][level] = _not_estimable(outcome)
                continue
            raw[(f, level)] = outcome
    adjusted = holm([r[3] for r in raw.values()])
    for (f, level), (est, low, high, p, se, df), p_adj in zip(raw.keys(), raw.values(), adjusted):
        contrasts[f][level] = Contrast(est, low, high, p, p_adj, None, se, df)
    # keep each factor's levels in the order asked for
    contrasts = {f: {level_key(v): contrasts[f][level_key(v)] for v in levels[f] if level_key(v) in contrasts[f]}
                 for f in factors}

    means = {
        f: _marginal_means(f, levels[f], designs, x_designs, columns, children, observed, estimable,
                           test if mode is not None else None)
        for f in factors
    }
    lack = None
    if check_fit and mode == "ols" and errors == "design" and df_seeds > 0 and n_designs > rank:
        lack = _lack_of_fit(designs, means_y, x_designs, names, columns, counts, ss_seeds, df_seeds, rank, factors,
                            children, levels, references, observed, confidence)
    return ModelFit(method, len(observations), int(n_designs), len(names), rank, contrasts, means, fit_note,
                    n_tests=len(raw), designs_needed=designs_needed, lack_of_fit=lack, seed_sd=seed_sd)


def _rank(exog: np.ndarray) -> int:
    singular = np.linalg.svd(exog, compute_uv=False)
    return int((singular > _TOL * max(singular.max(initial=0.0), 1.0)).sum())


def _weighted_fit(x: np.ndarray, y: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, float, int, np.ndarray]:
    """Least squares of design means weighted by their seed counts (= OLS on the seeds)."""
    root = np.sqrt(w)
    xw = x * root[:, None]
    pinv = np.linalg.pinv(xw)
    beta = pinv @ (y * root)
    residual = float((w * (y - x @ beta) ** 2).sum())
    return beta, residual, _rank(xw), pinv @ pinv.T  # (X'WX)^+


def _lack_of_fit(designs, means_y, x, names, columns, counts, ss_seeds, df_seeds, rank, factors, children, levels,
                 references, observed, confidence) -> LackOfFit | None:
    y = means_y
    w = counts.astype(float)
    _, ss_resid, rank_w, _ = _weighted_fit(x, y, w)
    df_lack = len(y) - rank_w
    if df_lack <= 0 or ss_seeds <= 0:
        return None
    seed_var = ss_seeds / df_seeds
    statistic = (ss_resid / df_lack) / seed_var
    p = float(scipy_stats.f.sf(statistic, df_lack, df_seeds))
    fires = p < ALPHA
    if not fires:
        return LackOfFit(float(statistic), int(df_lack), int(df_seeds), p, False)
    varied = [f for f in factors if any(k[0] == f for k in columns)]
    best = None
    for i, f in enumerate(varied):
        for g in varied[i + 1:]:
            if g in children.get(f, []) or f in children.get(g, []):
                continue
            extra, cells = [], {}
            for (ff, a), ja in columns.items():
                if ff != f:
                    continue
                for (gg, b), jb in columns.items():
                    if gg != g:
                        continue
                    cells[(a, b)] = x.shape[1] + len(extra)
                    extra.append(x[:, ja] * x[:, jb])
            if not extra:
                continue
            xi = np.column_stack([x] + extra)
            beta, ss_int, rank_int, cov = _weighted_fit(xi, y, w)
            gained = rank_int - rank_w
            if gained <= 0:
                continue
            f_int = ((ss_resid - ss_int) / gained) / seed_var
            p_int = float(scipy_stats.f.sf(f_int, gained, df_seeds))
            if best is None or p_int < best[0]:
                best = (p_int, f, g, xi, beta, cov, cells)
    if best is None:
        return LackOfFit(float(statistic), int(df_lack), int(df_seeds), p, True)
    p_int, f, g, xi, beta, cov, cells = best
    _, _, vt = np.linalg.svd(xi * np.sqrt(w)[:, None], full_matrices=True)
    null = vt[_rank(xi * np.sqrt(w)[:, None]):].T
    half_t = t_quantile(df_seeds, confidence)

    def effect_at(factor, level, other, other_level) -> Contrast:
        if level not in observed[factor] or other_level not in observed[other]:
            return _not_estimable("never observed among complete trials")
        vector = np.zeros(xi.shape[1])
        vector[columns[(factor, level)]] = 1.0
        key = (level, other_level) if factor == f else (other_level, level)
        if key in cells:
            vector[cells[key]] = 1.0
        if null.shape[1] and float(np.abs(null.T @ vector).max()) >= 1e-7:
            return _not_estimable(f"no complete trials of {factor}={level} at {other}={other_level} and its reference")
        estimate = float(vector @ beta)
        se = float(np.sqrt(max(seed_var * (vector @ cov @ vector), 0.0)))
        pv = float(2 * scipy_stats.t.sf(abs(estimate) / se, df_seeds)) if se > 0 else (0.0 if estimate else 1.0)
        return Contrast(estimate, estimate - half_t * se, estimate + half_t * se, pv, None, None, se,
                        float(df_seeds))

    breakdown: dict[str, dict[str, dict[str, Contrast]]] = {}
    for factor, other in ((f, g), (g, f)):
        ref = level_key(references[factor])
        breakdown[factor] = {
            level_key(a): {level_key(b): effect_at(factor, level_key(a), other, level_key(b))
                           for b in levels[other] if level_key(b) in observed[other]}
            for a in levels[factor] if level_key(a) != ref and level_key(a) in observed[factor]
        }
    return LackOfFit(float(statistic), int(df_lack), int(df_seeds), p, True, (f, g), p_int, breakdown)


def _marginal_means(factor, values, frame, exog, columns, children, observed, estimable, test):
    """Prediction at each level of ``factor``, every other factor at its average over the designs."""
    out: dict[str, Mean] = {}
    average = exog.mean(axis=0)
    for value in values:
        level = level_key(value)
        if level not in observed[factor] or test is None:
            out[level] = Mean(None, None, None)
            continue
        vector = average.copy()
        for (f, other), j in columns.items():
            if f == factor:
                vector[j] = float(other == level)
        at_level = frame[factor] == level
        for child in children.get(factor, []):
            present = frame[child] != ABSENT
            rows = (at_level & present) if (present & at_level).any() else None
            for (f, _), j in columns.items():
                if f == child:
                    vector[j] = 0.0 if rows is None else exog[rows, j].mean()
        if not estimable(vector):
            out[level] = Mean(None, None, None)
            continue
        outcome = test(vector)
        if isinstance(outcome, str):
            out[level] = Mean(None, None, None)
            continue
        est, low, high = outcome[:3]
        out[level] = Mean(est, low, high)
    return out


def study_levels(
    observations: Sequence[Any], space: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None,
    listed: Sequence[Any] = (),
) -> tuple[dict[str, list[Any]], dict[str, Any], dict[str, str]]:
    """The factors of a study, their levels in order and their reference levels: the one source.

    Every table of a report (the effect model, the exact pairs, the forest plot) takes each
    factor's reference and level order from here, so one factor never has two references.
    ``observations`` are anything with ``.params`` (``Observation``\\s, or the complete
    ``TrialRow``\\s of ``analysis.load``).  A factor is a param that took two values among them,
    or one the configured space lists with two or more values.  The reference is the first value
    of the configured space (``space[factor]`` as a list: the README's "the first value listed is
    the reference level"), else the vocabulary's first (``LEVEL_ORDER``); a reference never
    observed falls back to the first observed level, and ``notes[factor]`` says so.  Levels follow
    the configured order, then the other observed levels in the vocabulary's order.
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
        keys = {level_key(v) for v in ordered}
        extra = {o.params[factor] for o in listed if factor in o.params} - {v for v in ordered}
        ordered += [v for v in ordered_levels(factor, extra) if level_key(v) not in keys]
        levels[factor] = ordered
        references[factor] = reference
    return levels, references, notes
