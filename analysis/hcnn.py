"""HCNN's question (Table 2): does combining two nets beat the better of them?

Every HCNN trial records its bases' own validation accuracies, trained alone with the same
seeds (``trials.train``), so the gain is paired within a replicate:
gain_r = accuracy of the combination − max(accuracy of A, accuracy of B), in points, and its
interval is a t-interval over the replicates (seeds of one design, the only replicates there are).
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
    better_single: float  # mean over seeds of max(A, B) alone, percent
    gain: float  # points
    ci: tuple[float, float] | None  # None with fewer than two seeds
    replicates: int


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
        gains = np.array([100 * (c - max(ab)) for c, ab in zip(combined, bases)])
        ci = None
        if len(gains) >= 2:
            half = stats.t.ppf(0.5 + CONFIDENCE / 2, len(gains) - 1) * gains.std(ddof=1) / np.sqrt(len(gains))
            ci = (float(gains.mean() - half), float(gains.mean() + half))
        out.append(CombinationGain(row.number, design_name(dict(row.params)), 100 * float(np.mean(combined)),
                                   100 * float(np.mean([max(ab) for ab in bases])), float(gains.mean()), ci,
                                   len(gains)))
    return out
