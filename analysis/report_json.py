"""``report.json``: the numbers of each report section as JSON-able data, and the file writer.

Each function here turns one section's numbers (the typed results of ``analysis``) into the keys
that section contributes to ``report.json``; ``analysis.report.SECTIONS`` pairs each with its
Markdown/HTML renderer, so a section is defined once and this module never imports the report.
The schema is documented in docs/report.md.  Effects are in accuracy
points (percent) relative to the factor's reference level; a level that cannot be estimated has
``estimate: null`` and a ``reason``; levels are the param values as strings (``"lc"``, ``"16"``).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Mapping, Sequence

from analysis.ablation import FactorTable
from analysis.effects import Contrast, LackOfFit, level_key
from analysis.hcnn import CombinationGain
from analysis.hypervolume import HypervolumeHistory
from analysis.importance import Importance
from analysis.load import Objective, TrialRow
from analysis.pareto import ParetoInfo
from analysis.settled import FactorEffects, StudyEffects

SCHEMA_VERSION = 1


def number(value: float | None) -> float | None:
    """A finite float or None (JSON has no NaN)."""
    return None if value is None or not math.isfinite(value) else float(value)


def _contrast(contrast: Contrast) -> dict[str, Any]:
    return {
        "estimate": number(contrast.estimate),
        "ci_low": number(contrast.ci_low),
        "ci_high": number(contrast.ci_high),
        "p_value": number(contrast.p_value),
        "p_adjusted": number(contrast.p_adjusted),
        "reason": contrast.reason,
    }


def _factor_effects(factor: FactorEffects, method: str, pairs: dict[str, Any],
                    pruned: Mapping[str, int]) -> dict[str, Any]:
    out = {}
    for level in factor.levels:
        if level.contrast is None:
            continue
        key = level_key(level.level)
        out[key] = {
            **_contrast(level.contrast),
            "method": method,
            "settled": level.settled,
            "settled_note": level.settled_note,
            "by_epoch": [{"epoch": e.epoch, **_contrast(e.contrast)} for e in level.by_epoch],
            "marginal_mean": {"estimate": number(level.mean.estimate), "ci_low": number(level.mean.ci_low),
                              "ci_high": number(level.mean.ci_high)},
            "exact_pairs": pairs.get(key),
            "pruned": pruned.get(key, 0),
            "late_change": None if level.change is None else _contrast(level.change),  # what "settled" judges
            "seeds_needed": level.seeds_needed,
        }
    return out


def _lack_of_fit(fit: LackOfFit | None) -> dict[str, Any] | None:
    if fit is None:
        return None
    return {"statistic": number(fit.statistic), "df_lack": fit.df_lack, "df_seeds": fit.df_seeds,
            "p_value": number(fit.p_value), "fires": fit.fires,
            "interaction": list(fit.interaction) if fit.interaction else None,
            "interaction_p": number(fit.interaction_p),
            "breakdown": {f: {lv: {g: _contrast(c) for g, c in by_g.items()} for lv, by_g in levels.items()}
                          for f, levels in fit.breakdown.items()}}


def overview_json(study_name: str, storage: str, objectives: Sequence[Objective],
                  state_counts: Mapping[str, int]) -> dict[str, Any]:
    return {
        "study": study_name,
        "storage": storage,
        "objectives": [{"name": o.name, "direction": "maximize" if o.maximize else "minimize"} for o in objectives],
        "state_counts": dict(state_counts),
    }


def effects_json(effects: StudyEffects, ablation: Sequence[FactorTable],
                 pruned: Mapping[str, Mapping[str, int]]) -> dict[str, Any]:
    """The ablation section: references, the model, every level's effect, the per-level tables."""
    tables = {t.factor: t for t in ablation}
    out, references, tables_json = {}, {}, {}
    for factor in effects.factors:
        references[factor.factor] = level_key(factor.reference)
        table = tables.get(factor.factor)
        pairs: dict[str, Any] = {}
        if table is not None:
            tables_json[factor.factor] = [
                {"level": level_key(s.level), "n_trials": s.n_trials, "n_replicates": s.n_replicates,
                 "accuracy_mean": number(s.accuracy_mean), "accuracy_sd": number(s.accuracy_sd),
                 "accuracy_ci": list(s.accuracy_interval) if s.accuracy_interval else None,
                 "test_accuracy_mean": number(s.test_accuracy_mean),
                 "params_mean": number(s.params_mean), "macs_mean": number(s.macs_mean)}
                for s in table.levels
            ]
            for s in table.levels:
                d = s.difference
                if d is not None:
                    pairs[level_key(s.level)] = {
                        "estimate": None if d.mean is None else 100 * d.mean,
                        "ci_low": None if d.interval is None else 100 * d.interval[0],
                        "ci_high": None if d.interval is None else 100 * d.interval[1],
                        "method": d.method, "pairs": len(d.pairs), "units": d.units,
                        "model_difference": None if d.check is None else number(d.check.difference),
                        "model_p": None if d.check is None else number(d.check.p_value),
                        "differs": bool(d.check is not None and d.check.flagged),
                    }
        out[factor.factor] = _factor_effects(factor, effects.method, pairs, pruned.get(factor.factor, {}))
    return {
        "reference": references,
        "effects_model": {"method": effects.method, "designs": effects.n_designs,
                          "observations": effects.n_observations, "rank": effects.rank,
                          "coefficients": effects.n_coefficients, "epochs": effects.epochs, "note": effects.note,
                          "n_tests": effects.n_tests, "adjustment": effects.adjustment,
                          "designs_needed": effects.designs_needed, "seed_sd": number(effects.seed_sd),
                          "settled_margin": number(effects.settled_margin), "settled_rule": effects.settled_rule,
                          "pruned": effects.n_pruned, "lack_of_fit": _lack_of_fit(effects.lack_of_fit)},
        "effects": out,
        "ablation": tables_json,
    }


def pareto_json(pareto: ParetoInfo | None) -> dict[str, Any]:
    return {"pareto_front": sorted(p.number for p in pareto.front) if pareto else []}


def hypervolume_json(hv: HypervolumeHistory | None) -> dict[str, Any]:
    return {"hypervolume": None if hv is None else {
        "final": hv.final, "reference_point": dict(hv.reference_point), "reference_rule": hv.reference_rule,
        "ideal_point": dict(hv.ideal_point), "box_share": hv.share(hv.final),
        "history": [{"trial": n, "value": v} for n, v in zip(hv.trial_numbers, hv.values)],
    }}


def importances_json(importances: Sequence[Importance]) -> dict[str, Any]:
    return {"importances": {i.objective: {"importances": dict(i.importances), "note": i.note} for i in importances}}


def failures_json(failures: Sequence[TrialRow]) -> dict[str, Any]:
    return {"failures": [{"trial": r.number, "error": r.error} for r in failures]}


def hcnn_json(gains: Sequence[CombinationGain]) -> dict[str, Any]:
    return {"hcnn": [{"trial": g.number, "design": g.design, "accuracy": g.accuracy, "better_base": g.better_base,
                      "better_single": g.better_single, "gain": g.gain,
                      "ci_low": None if g.ci is None else g.ci[0], "ci_high": None if g.ci is None else g.ci[1],
                      "p_value": number(g.p_value), "seeds": g.replicates} for g in gains]}


def write_json(data: Mapping[str, Any], path: str | Path) -> Path:
    path = Path(path)
    path.write_text(json.dumps(data, indent=1, allow_nan=False) + "\n", encoding="utf-8")
    return path
