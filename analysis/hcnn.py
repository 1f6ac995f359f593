"""HCNN's question (Table 2): does combining two nets beat the better of them?

Every HCNN trial records its bases' own validation accuracies, trained alone with the same
seeds (``trials.training.train``), so the gain is paired within a replicate.  The better base is the one
with the higher **mean** over the seeds (one choice per trial), and
gain_r = accuracy of the combination − accuracy of that base, in points, with a t-interval over
the replicates (seeds of one design, the only replicates there are).

Taking the better base seed by seed (max(A_r, B_r)) instead compares the combination with a
maximum of noise: for a homogeneous pair [A, A'] the gain is biased down by about 0.56 of a
base's seed sd, and null pairs are called a significant loss far too often; choosing once, by
the means, leaves a bias √seeds times smaller, which the interval absorbs (measured in
``tests/analysis/test_analysis_hcnn.py``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

from analysis.load import TrialRow
from trials import record

CONFIDENCE = 0.95


@dataclass(frozen=True)
class CombinationGain:
    number: int  # trial number
    design: str  # "[plain,resnet]+avg"
    accuracy: float  # mean over seeds, percent
    better_single: float  # mean over seeds of the better base (the higher mean), percent
    gain: float  # points
    ci: tuple[float, float] | None  # None with fewer than two seeds
    replicates: int
    better_base: str = "A"  # "A" (the spec's own backbone) or "B" (the partner)
    p_value: float | None = None  # two-sided t over seeds, H0: no gain; None with fewer than two seeds

    @property
    def verdict(self) -> str:
        """What the interval says, in words."""
        if self.ci is None:
            return "no interval (one seed)"
        low, high = self.ci
        if low > 0:
            return f"better than the better single net by {low:.2f} to {high:.2f} points"
        if high < 0:
            return f"worse than the better single net by {-high:.2f} to {-low:.2f} points"
        return f"no difference detected; the interval allows {low:+.2f} to {high:+.2f}"


def design_name(params: dict) -> str:
    pair = f"[{params.get('backbone')},{params.get('partner_backbone')}]"
    homogeneous = (params.get("partner_backbone") == params.get("backbone")
                   and params.get("partner_width") == params.get("width")
                   and params.get("partner_depth") == params.get("depth"))
    tail = "avg" if params.get("combination") == "avg" else f"{params.get('cl_layers')}CL"
    if params.get("hcnn_finetune"):
        tail += " fine-tuned"
    return f"{pair}+{tail}" + (" (homogeneous: A, A')" if homogeneous else "")


def combination_gains(rows: list[TrialRow] | tuple[TrialRow, ...]) -> list[CombinationGain]:
    """One line per complete HCNN trial that recorded its bases' accuracies."""
    out = []
    for row in rows:
        bases = row.attrs.get(record.HCNN_BASE_ACCURACIES)
        combined = row.accuracy_samples
        if not row.complete or not bases or len(bases) != len(combined):
            continue
        base = 100 * np.asarray(bases, dtype=float)  # replicates × (A, B)
        better = int(np.argmax(base.mean(axis=0)))
        gains = 100 * np.asarray(combined, dtype=float) - base[:, better]
        ci, p = None, None
        if len(gains) >= 2:
            sd = gains.std(ddof=1)
            half = stats.t.ppf(0.5 + CONFIDENCE / 2, len(gains) - 1) * sd / np.sqrt(len(gains))
            ci = (float(gains.mean() - half), float(gains.mean() + half))
            p = float(stats.ttest_1samp(gains, 0.0).pvalue) if sd > 0 else (1.0 if gains.mean() == 0 else 0.0)
        out.append(CombinationGain(row.number, design_name(dict(row.params)), 100 * float(np.mean(combined)),
                                   float(base[:, better].mean()), float(gains.mean()), ci, len(gains),
                                   "AB"[better], p))
    return out
