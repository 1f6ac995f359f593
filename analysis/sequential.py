"""Seeds added until the answer is clear: the stopping rule and intervals that stay valid under it.

``ablate --until-clear`` looks at the data after every round and adds seeds only where a contrast
(a level against its factor's reference) is still unresolved, so how many seeds a design gets
depends on its results.  A 95 % interval read at whichever look the rule stopped is then no
longer a 95 % interval: a null effect that happens to look large at an early look is stopped
there, as "an effect".

* **The correction: Bonferroni over the K possible looks.**  The schedule fixes the seed counts
  of every look before any data exist (``trials.running.until_clear.schedule``), so there are at most K
  looks.  Every interval, at every look, is computed at confidence 1 − α/K; the probability that
  any of the K intervals of a contrast misses its truth is then at most K · α/K = α, whatever the
  stopping did, so the interval reported at the end (and the one the rule stopped on) covers
  with at least 1 − α.  Bonferroni was chosen over an alpha-spending rule because it needs no
  assumption about how the looks' estimates correlate (seeds come in unequal blocks per design,
  with Welch degrees of freedom) and it keeps every look's interval usable, not only the last.
* **Resolved**: the corrected interval excludes 0 (an effect, ``+`` or ``-``) or lies inside
  ±margin (``equivalent``: smaller than the margin either way); otherwise ``unresolved``.
* **Which designs get seeds**: those of every unresolved contrast, the level's designs and the
  reference level's (the designs where the factor is at either level).  A contrast that more seeds
  cannot make estimable (its level never completed, or a search-like study with "too few designs")
  gets none.
* Coverage of the corrected intervals under this very rule, and the uncorrected ones' shortfall,
  are measured on simulated ablations with a known truth in
  ``tests/analysis/test_analysis_sequential.py``.

Everything here is pure (no storage, no Ray): ``look_rows`` picks the trials a look saw from the
allocations the study records, ``judge`` fits them and decides.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from analysis.effects import Contrast, fit_effects, level_key, study_levels
from analysis.load import TrialRow
from analysis.settled import final_observations
from analysis.stats import ALPHA, seeds_needed
from trials import record

CORRECTION = "Bonferroni over the K possible looks"
EFFECT_UP, EFFECT_DOWN, EQUIVALENT, UNRESOLVED = "+", "-", "equivalent", "unresolved"
#: a contrast more seeds cannot make estimable: its level has no complete trial, or the study has too
#: few designs for its model (seeds are not designs)
NEEDS_DESIGNS = "not estimable; more seeds cannot help"


def corrected_confidence(looks: int, alpha: float = ALPHA) -> float:
    """The confidence of every interval of a K-look rule: 1 − α/K (Bonferroni over the looks)."""
    return 1.0 - alpha / max(int(looks), 1)


def resolution(low: float | None, high: float | None, margin: float) -> str:
    """``+``/``-`` when the interval excludes 0, ``equivalent`` inside ±margin, else ``unresolved``."""
    if low is None or high is None:
        return UNRESOLVED
    if low > 0:
        return EFFECT_UP
    if high < 0:
        return EFFECT_DOWN
    if -margin < low and high < margin:
        return EQUIVALENT
    return UNRESOLVED


def seeds_to_resolve(estimate: float, seed_sd: float, margin: float, confidence: float) -> int | None:
    """Seeds per design for a contrast of the observed size to be resolved with 80 % power at this
    confidence: shown to be non-zero (``seeds_needed`` of the estimate) or, inside the margin, shown
    to be inside it (``seeds_needed`` of its distance to the margin); the fewer of the two."""
    options = [seeds_needed(estimate, seed_sd, confidence)]
    if abs(estimate) < margin:
        options.append(seeds_needed(margin - abs(estimate), seed_sd, confidence))
    known = [n for n in options if n is not None]
    return min(known) if known else None


@dataclass(frozen=True)
class ContrastLook:
    """One contrast at one look, its interval at the corrected confidence."""

    factor: str
    level: Any
    reference: Any
    contrast: Contrast
    status: str  # EFFECT_UP, EFFECT_DOWN, EQUIVALENT or UNRESOLVED
    designs: frozenset[str]  # spec keys of the designs at the level or at the reference
    seeds: Mapping[str, int]  # seeds per design behind it, by spec key
    seeds_to_resolve: int | None = None

    @property
    def resolved(self) -> bool:
        return self.status in (EFFECT_UP, EFFECT_DOWN, EQUIVALENT)


@dataclass(frozen=True)
class Look:
    look: int
    confidence: float
    margin: float
    contrasts: tuple[ContrastLook, ...]
    seed_sd: float | None
    method: str
    note: str | None

    @property
    def designs_needing_seeds(self) -> frozenset[str]:
        return frozenset(k for c in self.contrasts if c.status == UNRESOLVED for k in c.designs)


def look_rows(rows: Sequence[TrialRow], seeds: Mapping[str, Sequence[int]]) -> list[TrialRow]:
    """The complete trials a look saw: those whose seeds all belong to their design's seeds at that look."""
    out = []
    for row in rows:
        key, trained = row.attrs.get(record.SPEC_KEY), row.attrs.get(record.SEEDS)
        if row.complete and key in seeds and trained is not None and set(trained) <= set(seeds[key]):
            out.append(row)
    return out


def judge(rows: Sequence[TrialRow], space: Any, margin: float, looks: int, look: int = 1,
          alpha: float = ALPHA) -> Look:
    """Fit the effects model on ``rows`` at the corrected confidence and decide every contrast."""
    confidence = corrected_confidence(looks, alpha)
    observations = final_observations(rows)
    levels, references, _ = study_levels(observations, space)
    fit = fit_effects(observations, levels, references, confidence=confidence, check_fit=False)
    complete = [row for row in rows if row.complete and row.accuracy_samples]
    out = []
    for factor, values in levels.items():
        ref = level_key(references[factor])
        for value in values:
            key = level_key(value)
            if key == ref or key not in fit.contrasts[factor]:
                continue
            contrast = fit.contrasts[factor][key]
            both = [r for r in complete if factor in r.params and level_key(r.params[factor]) in (key, ref)]
            seeds: dict[str, int] = {}
            for r in both:
                spec_key = r.attrs.get(record.SPEC_KEY)
                seeds[spec_key] = seeds.get(spec_key, 0) + len(r.accuracy_samples)
            status = resolution(contrast.ci_low, contrast.ci_high, margin)
            at_level = [r for r in both if level_key(r.params[factor]) == key]
            if contrast.estimate is None and (fit.designs_needed is not None or not at_level):
                status, seeds = NEEDS_DESIGNS, {}  # no seeds for it: they cannot help
            need = (seeds_to_resolve(contrast.estimate, fit.seed_sd, margin, confidence)
                    if contrast.estimate is not None and fit.seed_sd else None)
            out.append(ContrastLook(factor, value, references[factor], contrast, status,
                                    frozenset(k for k in seeds if k is not None), seeds, need))
    return Look(look, confidence, margin, tuple(out), fit.seed_sd, fit.method, fit.note)
