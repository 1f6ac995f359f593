"""``report.json``: every number of ``report.md``, for scripts and for other tools.

The schema is documented in the README ("Reading a study back").  Effects are in accuracy
points (percent) relative to the factor's reference level; a level that cannot be estimated has
``estimate: null`` and a ``reason``; levels are the param values as strings (``"lc"``, ``"16"``).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

from analysis.effects import Contrast, level_key
from analysis.settled import FactorEffects

if TYPE_CHECKING:
    from analysis.report import Report

SCHEMA_VERSION = 1


def _number(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


def _contrast(contrast: Contrast) -> dict[str, Any]:
    return {
        "estimate": _number(contrast.estimate),
        "ci_low": _number(contrast.ci_low),
        "ci_high": _number(contrast.ci_high),
        "p_value": _number(contrast.p_value),
        "p_adjusted": _number(contrast.p_adjusted),
        "reason": contrast.reason,
    }


def _factor_effects(factor: FactorEffects, method: str, pairs: dict[str, Any]) -> dict[str, Any]:
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
            "marginal_mean": {"estimate": _number(level.mean.estimate), "ci_low": _number(level.mean.ci_low),
                              "ci_high": _number(level.mean.ci_high)},
            "exact_pairs": pairs.get(key),
        }
    return out


def report_dict(report: "Report") -> dict[str, Any]:
    """The report's numbers as JSON-able data (accuracies of the ablation tables in [0, 1])."""
    tables = {t.factor: t for t in report.ablation}
    effects, references, pairs_by_factor, ablation = {}, {}, {}, {}
    for factor in report.effects.factors:
        references[factor.factor] = level_key(factor.reference)
        table = tables.get(factor.factor)
        pairs: dict[str, Any] = {}
        if table is not None:
            ablation[factor.factor] = [
                {"level": level_key(s.level), "n_trials": s.n_trials, "n_replicates": s.n_replicates,
                 "accuracy_mean": _number(s.accuracy_mean), "accuracy_sd": _number(s.accuracy_sd),
                 "accuracy_ci": list(s.accuracy_interval) if s.accuracy_interval else None,
                 "params_mean": _number(s.params_mean), "macs_mean": _number(s.macs_mean)}
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
                        "model_difference": None if d.check is None else _number(d.check.difference),
                        "model_p": None if d.check is None else _number(d.check.p_value),
                        "differs": bool(d.check is not None and d.check.flagged),
                    }
        pairs_by_factor[factor.factor] = pairs
        effects[factor.factor] = _factor_effects(factor, report.effects.method, pairs)
    hv = report.hypervolume
    return {
        "schema_version": SCHEMA_VERSION,
        "study": report.study_name,
        "storage": report.storage,
        "objectives": [{"name": o.name, "direction": "maximize" if o.maximize else "minimize"}
                       for o in report.objectives],
        "state_counts": dict(report.state_counts),
        "reference": references,
        "effects_model": {"method": report.effects.method, "designs": report.effects.n_designs,
                          "observations": report.effects.n_observations, "rank": report.effects.rank,
                          "coefficients": report.effects.n_coefficients, "epochs": report.effects.epochs,
                          "note": report.effects.note},
        "effects": effects,
        "ablation": ablation,
        "pareto_front": sorted(p.number for p in report.pareto.front) if report.pareto else [],
        "hypervolume": None if hv is None else {
            "final": hv.final, "reference_point": dict(hv.reference_point), "reference_rule": hv.reference_rule,
            "ideal_point": dict(hv.ideal_point), "box_share": hv.share(hv.final),
            "history": [{"trial": n, "value": v} for n, v in zip(hv.trial_numbers, hv.values)],
        },
        "importances": {i.objective: {"importances": dict(i.importances), "note": i.note}
                        for i in report.importances},
        "failures": [{"trial": r.number, "error": r.error} for r in report.failures],
        "hcnn": [{"trial": g.number, "design": g.design, "accuracy": g.accuracy, "better_base": g.better_base,
                  "better_single": g.better_single, "gain": g.gain,
                  "ci_low": None if g.ci is None else g.ci[0], "ci_high": None if g.ci is None else g.ci[1],
                  "p_value": _number(g.p_value), "seeds": g.replicates} for g in report.hcnn_gains],
    }


def write_report_json(report: "Report", path: str | Path) -> Path:
    path = Path(path)
    path.write_text(json.dumps(report_dict(report), indent=1, allow_nan=False) + "\n", encoding="utf-8")
    return path
