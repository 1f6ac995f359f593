"""An until-clear ablation read back from its study: every look, and the report section's numbers.

``trials.running.until_clear`` records the plan (seeds per design at each look, the margin) and every
round's allocation in the study; this module replays the looks from that record with
``analysis.sequential`` (the same decisions the rounds made), and words them for the command's
output and the report's section "Seeds added until clear".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from analysis.formatting import format_points
from analysis.load import TrialRow, open_study, trial_rows
from analysis.sequential import CORRECTION, UNRESOLVED, Look, judge, look_rows
from trials import record
from trials.running.until_clear import percent, seeds_at


@dataclass(frozen=True)
class UntilClear:
    """The plan, the seeds each round gave each design, and every look's decisions."""

    base_seed: int
    schedule: tuple[int, ...]
    margin: float
    allocations: tuple[Mapping[str, Sequence[int]], ...]
    looks: tuple[Look, ...]
    labels: Mapping[str, str]  # spec key -> a short design label (the varied params)

    @property
    def final(self) -> Look:
        return self.looks[-1]

    @property
    def stopped_because(self) -> str:
        if all(c.resolved for c in self.final.contrasts):
            return "every contrast was resolved"
        if not self.final.designs_needing_seeds:
            return "no unresolved contrast was left that more seeds could help"
        if len(self.looks) == len(self.schedule):
            return f"the cap was reached ({self.schedule[-1]} seeds per design, {len(self.schedule)} looks)"
        return "the rounds were stopped before the cap (the study holds no later round)"


def _labels(rows: Sequence[TrialRow], factors: Sequence[str]) -> dict[str, str]:
    out = {}
    for row in rows:
        key = row.attrs.get(record.SPEC_KEY)
        if key and key not in out:
            out[key] = ", ".join(f"{f}={row.params[f]}" for f in factors if f in row.params) or key
    return out


def until_clear_info(rows: Sequence[TrialRow], attrs: Mapping[str, Any]) -> UntilClear | None:
    """Replay every look the study's until-clear record holds; None for a study run without it."""
    plan = attrs.get(record.STUDY_UNTIL_CLEAR)
    if not plan:
        return None
    space = (attrs.get(record.STUDY_CONFIG) or {}).get("space")
    allocations = tuple(plan.get("allocations", ()))
    schedule = tuple(plan["looks"])
    trained = {(row.attrs.get(record.SPEC_KEY), tuple(row.attrs.get(record.SEEDS) or ()))
               for row in rows if row.state in ("COMPLETE", "FAIL", "PRUNED") and not row.attrs.get(record.INTERRUPTED)}
    looks = []
    for look in range(1, len(allocations) + 1):
        if any((key, tuple(seeds)) not in trained for key, seeds in allocations[look - 1].items()):
            break  # a round recorded but not (all) trained yet: its look has not been taken
        seen = look_rows(rows, seeds_at(allocations, look))
        if not seen:
            break
        looks.append(judge(seen, space, float(plan["margin"]), len(schedule), look))
    if not looks:
        return None
    factors = [c.factor for c in looks[-1].contrasts]
    return UntilClear(int(plan["base_seed"]), schedule, float(plan["margin"]), allocations, tuple(looks),
                      _labels(rows, list(dict.fromkeys(factors))))


def study_until_clear(storage: str, study_name: str) -> UntilClear | None:
    study = open_study(storage, study_name)
    return until_clear_info(trial_rows(study), study.user_attrs)


def contrast_line(c: Any, confidence: float, labels: Mapping[str, str] | None = None) -> str:
    ci = c.contrast
    seeds = ", ".join(f"{(labels or {}).get(k, k)}: {n}" for k, n in c.seeds.items())
    if ci.estimate is None:
        shown = f"not estimable ({ci.reason})"
    else:
        shown = f"{format_points(ci.estimate, ci.ci_low, ci.ci_high)} points ({percent(confidence)} interval)"
    return f"  {c.factor}={c.level} vs {c.reference}: {shown}: {c.status} (seeds per design: {seeds})"


def look_lines(look: Look, schedule: Sequence[int], labels: Mapping[str, str] | None = None) -> list[str]:
    """What the command prints after a look."""
    open_ = sum(1 for c in look.contrasts if not c.resolved)
    head = (f"look {look.look} of at most {len(schedule)}: {len(look.contrasts) - open_} of {len(look.contrasts)} "
            f"contrasts resolved (interval excludes 0, or inside ±{look.margin:g} points; {CORRECTION})")
    return [head, *(contrast_line(c, look.confidence, labels) for c in look.contrasts)]


def until_clear_json(info: UntilClear | None) -> dict[str, Any]:
    """report.json's ``until_clear``: the plan, the allocation per round, the final contrasts."""
    if info is None:
        return {"until_clear": None}
    final = info.final
    return {"until_clear": {
        "correction": CORRECTION, "looks_planned": len(info.schedule), "looks_taken": len(info.looks),
        "confidence": final.confidence, "margin": info.margin, "schedule": list(info.schedule),
        "base_seed": info.base_seed, "stopping": "data-dependent: " + info.stopped_because,
        "rounds": [{"round": i + 1, "seeds": {k: list(v) for k, v in alloc.items()}}
                   for i, alloc in enumerate(info.allocations[:len(info.looks)])],
        "contrasts": [{"factor": c.factor, "level": str(c.level), "reference": str(c.reference),
                       "estimate": c.contrast.estimate, "ci_low": c.contrast.ci_low, "ci_high": c.contrast.ci_high,
                       "status": c.status, "seeds": dict(c.seeds), "seeds_to_resolve": c.seeds_to_resolve,
                       "resolved_at_look": next((lk.look for lk in info.looks for x in lk.contrasts
                                                 if x.factor == c.factor and x.level == c.level and x.resolved),
                                                None)}
                      for c in final.contrasts],
    }}


def until_clear_blocks(info: UntilClear | None) -> list[tuple[str, int, tuple[str, ...], tuple[str, ...] | None,
                                                               tuple[tuple[str, ...], ...]]]:
    """The section's blocks as (title, depth, paragraphs, table header, table rows) for the report."""
    if info is None:
        return []
    final = info.final
    pct = percent(final.confidence)
    text = (
        f"Seeds were added in rounds until each contrast was clear: round 1 trained every design with "
        f"{info.schedule[0]} seeds (from seed {info.base_seed}); after each round, the designs of every "
        f"unresolved contrast (its level's and the reference's) were brought to the next count of the schedule "
        f"{', '.join(map(str, info.schedule))} with their next unused seeds. A contrast is resolved when its "
        f"interval excludes 0 or lies inside ±{info.margin:g} points (equivalence). {len(info.looks)} of at most "
        f"{len(info.schedule)} looks were taken; it stopped because {info.stopped_because}.",
        f"The stopping was data-dependent, so a plain 95% interval read where it stopped would cover too "
        f"rarely. Every interval here is corrected by {CORRECTION} (K = {len(info.schedule)}): each is a "
        f"{pct} interval (1 − 0.05/{len(info.schedule)}), so all of a contrast's looks cover together with at "
        f"least 95%, however the stopping went (simulated coverage under this rule: "
        f"tests/analysis/test_analysis_sequential.py). The Ablation section's 95% intervals below do not "
        f"carry this correction; read these.",
    )
    rounds = tuple(
        (str(i + 1), "; ".join(f"{info.labels.get(k, k)}: seeds {s[0]}–{s[-1]}" for k, s in sorted(
            alloc.items(), key=lambda kv: info.labels.get(kv[0], kv[0]))))
        for i, alloc in enumerate(info.allocations[:len(info.looks)]))
    contrasts = tuple(
        (f"{c.factor}={c.level} vs {c.reference}",
         "not estimable" if c.contrast.estimate is None else
         format_points(c.contrast.estimate, c.contrast.ci_low, c.contrast.ci_high),
         c.status if c.status != UNRESOLVED else "unresolved at the cap" if len(info.looks) == len(info.schedule)
         else "unresolved",
         ", ".join(f"{info.labels.get(k, k)}: {n}" for k, n in c.seeds.items()),
         "—" if c.seeds_to_resolve is None else str(c.seeds_to_resolve))
        for c in final.contrasts)
    return [
        ("Seeds added until clear", 2, text, ("round", "seeds given, per design"), rounds),
        ("Contrasts at the last look", 3,
         (f"Seeds to resolve: the seeds per design a contrast of the observed size needs to be resolved with 80% "
          f"power at the {pct} level (shown non-zero, or shown inside ±{info.margin:g}; analysis/stats.py "
          f"seeds_needed at the study's pooled seed sd"
          + (f", {final.seed_sd:.2f} points)." if final.seed_sd else ")."),),
         ("level vs reference", f"effect, points [{pct} CI]", "verdict", "seeds per design", "seeds to resolve"),
         contrasts),
    ]
