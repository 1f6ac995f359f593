"""The statistical facts every analysis module shares, written once.

The confidence level, the Student-t and Welch intervals, the Welch–Satterthwaite degrees of
freedom of a weighted sum of means, grouping seed replicates into designs, and the
multiple-testing adjustments.  ``analysis.effects``, ``analysis.settled``, ``analysis.ablation``
and ``analysis.hcnn`` import from here so that "95 %" and "Holm" mean one thing in one report.
"""

from __future__ import annotations

from typing import Any, Hashable, Iterable, Mapping, Sequence

import numpy as np
from scipy import stats

#: Two-sided confidence of every interval a report prints.
CONFIDENCE = 0.95
#: The significance level that goes with it.
ALPHA = 1 - CONFIDENCE


def t_quantile(df: float, confidence: float = CONFIDENCE) -> float:
    """The two-sided Student-t critical value: ``half-width = t_quantile(df) * se``."""
    return float(stats.t.ppf(0.5 + confidence / 2, df))


def t_interval(samples: Sequence[float], confidence: float = CONFIDENCE) -> tuple[float, float] | None:
    """Two-sided Student-t interval of the mean; None below two samples."""
    n = len(samples)
    if n < 2:
        return None
    mean, sd = float(np.mean(samples)), float(np.std(samples, ddof=1))
    half = t_quantile(n - 1, confidence) * sd / np.sqrt(n)
    return (mean - half, mean + half)


def satterthwaite(weights: Sequence[float], variances: Sequence[float],
                  counts: Sequence[int]) -> tuple[float, float]:
    """Variance and Welch–Satterthwaite df of ``sum(w_i * mean_i)`` for independent group means.

    Group i has ``counts[i]`` samples with sample variance ``variances[i]``; each group keeps its
    own variance (no pooling), so one noisy group widens only the contrasts that use it.  The df
    is ``(sum v_i)^2 / sum(v_i^2 / (n_i - 1))`` with ``v_i = w_i^2 s_i^2 / n_i``; a zero variance
    gives df = sum(n_i - 1) (nothing to weigh).  Groups with weight 0 are ignored.
    """
    w = np.asarray(weights, float)
    s2 = np.asarray(variances, float)
    n = np.asarray(counts, float)
    used = np.abs(w) > 1e-12
    w, s2, n = w[used], s2[used], n[used]
    parts = w**2 * s2 / n
    total = float(parts.sum())
    if total <= 0:
        return 0.0, float((n - 1).sum())
    return total, float(total**2 / np.sum(parts**2 / (n - 1)))


def welch_interval(a: Sequence[float], b: Sequence[float],
                   confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Welch interval of mean(a) − mean(b); both need ≥2 samples."""
    diff = float(np.mean(a) - np.mean(b))
    variance, df = satterthwaite([1.0, -1.0], [np.var(a, ddof=1), np.var(b, ddof=1)], [len(a), len(b)])
    if variance == 0:
        return (diff, diff)
    half = t_quantile(df, confidence) * np.sqrt(variance)
    return (diff - half, diff + half)


def design_index(params: Iterable[Mapping[str, Any]]) -> list[int]:
    """A design number per item, equal exactly for identical params (seeds of one design), in first-seen order."""
    designs: dict[frozenset[tuple[str, Hashable]], int] = {}
    return [designs.setdefault(frozenset(p.items()), len(designs)) for p in params]


HOLM = "Holm"
BENJAMINI_HOCHBERG = "Benjamini–Hochberg"


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm-adjusted p-values (step-down Bonferroni; controls the family-wise error), in input order.

    The same numbers as ``statsmodels.stats.multitest.multipletests(p, method="holm")[1]``
    (a test checks it); written out because that function's Holm branch calls ``gc.collect()``,
    about 0.3 s per call in a process holding torch and pandas, paid once per epoch.
    """
    n = len(p_values)
    if n == 0:
        return []
    order = np.argsort(p_values)
    adjusted = np.minimum(1.0, np.maximum.accumulate(np.asarray(p_values, float)[order] * (n - np.arange(n))))
    out = np.empty(n)
    out[order] = adjusted
    return [float(v) for v in out]


def benjamini_hochberg(p_values: Sequence[float]) -> list[float]:
    """Benjamini–Hochberg adjusted p-values (controls the false discovery rate), in input order."""
    n = len(p_values)
    if n == 0:
        return []
    order = np.argsort(p_values)[::-1]
    ranked = np.asarray(p_values, float)[order] * n / (n - np.arange(n))
    adjusted = np.minimum(1.0, np.minimum.accumulate(ranked))
    out = np.empty(n)
    out[order] = adjusted
    return [float(v) for v in out]


def seeds_needed(effect: float, seed_sd: float, confidence: float = CONFIDENCE, power: float = 0.8,
                 cap: int = 1000) -> int | None:
    """Seeds per design for a two-design contrast of size ``effect`` to be significant with ``power``.

    The two-sample t-test's sample size (equal seeds on both sides, seed sd ``seed_sd``): the
    smallest n with ``(t_{1-α/2, 2n-2} + t_{power, 2n-2}) * seed_sd * sqrt(2/n) <= |effect|``.
    None for a zero effect or one that needs more than ``cap`` seeds.
    """
    if seed_sd <= 0:
        return 2
    if effect == 0:
        return None
    n = np.arange(2, cap + 1)
    df = 2 * n - 2
    need = (stats.t.ppf(0.5 + confidence / 2, df) + stats.t.ppf(power, df)) * seed_sd * np.sqrt(2 / n)
    enough = np.flatnonzero(need <= abs(effect))
    return int(n[enough[0]]) if enough.size else None
