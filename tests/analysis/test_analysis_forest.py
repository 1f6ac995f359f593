"""The forest plot: every effect with its interval beside its cost, checked against the storage."""

from __future__ import annotations

import json

import numpy as np
import optuna
import pytest
from optuna.trial import TrialState

from analysis.forest import forest_figure, forest_info
from analysis.report import build_report, to_html, to_markdown, write_report
from trials import record


def test_rows_are_the_models_effects_beside_the_recomputed_costs(search_study):
    report = build_report(search_study.storage, search_study.name)
    info = forest_info(report.effects, report.ablation)
    study = optuna.load_study(study_name=search_study.name, storage=search_study.storage)
    complete = study.get_trials(states=(TrialState.COMPLETE,))

    def mean_cost(factor, level, attr):
        return np.mean([t.user_attrs[attr] for t in complete if str(t.params.get(factor)) == level])

    expected = [(f.factor, str(lvl.level)) for f in report.effects.factors for lvl in f.levels if lvl.contrast]
    assert [(r.factor, r.level) for r in info.rows] == expected  # every effect, in the report's order
    lc = next(r for r in info.rows if (r.factor, r.level) == ("fusion", "lc"))
    model = report.effects.factor("fusion")
    (lc_effect,) = [lvl for lvl in model.levels if lvl.level == "lc"]
    assert (lc.estimate, lc.ci_low, lc.ci_high) == (lc_effect.contrast.estimate, lc_effect.contrast.ci_low,
                                                    lc_effect.contrast.ci_high)
    assert lc.reference == "none" and lc.label == "fusion=lc vs none"
    assert lc.delta_params == pytest.approx(mean_cost("fusion", "lc", record.PARAMS)
                                            - mean_cost("fusion", "none", record.PARAMS))
    assert lc.delta_macs == pytest.approx(mean_cost("fusion", "lc", record.MACS)
                                          - mean_cost("fusion", "none", record.MACS))
    conv = next(r for r in info.rows if (r.factor, r.level) == ("fusion", "conv"))
    assert conv.estimate is None and "confounded" in conv.reason and conv not in info.estimable


def test_figure_draws_each_estimable_effect_with_its_interval_and_costs(search_study):
    info = forest_info(*(lambda r: (r.effects, r.ablation))(build_report(search_study.storage, search_study.name)))
    figure = forest_figure(info)
    effect, params, macs = figure.data
    rows = info.estimable
    assert list(effect.y) == [r.label for r in rows] == list(params.y) == list(macs.y)
    assert list(effect.x) == [r.estimate for r in rows]
    assert list(effect.error_x.array) == pytest.approx([r.ci_high - r.estimate for r in rows])
    assert list(effect.error_x.arrayminus) == pytest.approx([r.estimate - r.ci_low for r in rows])
    assert list(params.x) == [r.delta_params for r in rows] and list(macs.x) == [r.delta_macs for r in rows]


def test_the_forest_is_first_in_the_report_and_in_report_json(search_study, tmp_path):
    report = build_report(search_study.storage, search_study.name)
    markdown = to_markdown(report)
    assert markdown.index("## What each choice buys and costs") < markdown.index("## Pareto front")
    page = to_html(report)
    assert page.index("What each choice buys and costs") < page.index("Pareto front")
    data = json.loads(write_report(search_study.storage, search_study.name, tmp_path / "out")["json"].read_text())
    rows = {(r["factor"], r["level"]): r for r in data["forest"]["rows"]}
    lc = next(r for r in report.forest.rows if (r.factor, r.level) == ("fusion", "lc"))
    assert rows[("fusion", "lc")]["estimate"] == lc.estimate
    assert rows[("fusion", "lc")]["delta_params"] == lc.delta_params
    assert rows[("fusion", "conv")]["estimate"] is None and rows[("fusion", "conv")]["reason"]
