"""The report's words say only what its intervals say, and early-stopped levels are visible."""

from __future__ import annotations

import numpy as np
from optuna.distributions import CategoricalDistribution
from optuna.trial import TrialState, create_trial

from analysis.report import build_report, interval_reading, to_markdown
from tests.analysis.synthetic_effects import SPACE, add_trial, new_study
from trials import record


def test_an_interval_holding_zero_is_no_difference_detected_with_its_range():
    # README's cfn-fusion lc row: once printed as "level with the plain CNN"
    assert interval_reading(-1.93, 0.60, 0.52) == "no difference detected; the interval allows -1.93 to +0.60"
    assert interval_reading(0.57, 3.10, 0.03) == "higher: the interval allows +0.57 to +3.10"
    assert interval_reading(-3.0, -0.2, 0.2).startswith("lower: the interval allows -3.00 to -0.20 (but not "
                                                        "significant after the adjustment")


def test_report_text_never_overclaims(search_study):
    markdown = to_markdown(build_report(search_study.storage, search_study.name))
    assert "level with" not in markdown and "no effect" not in markdown
    assert "strongest evidence" not in markdown and "DISAGREES" not in markdown
    # "held fixed" only with its condition
    assert markdown.count("held fixed") == markdown.count("held fixed only if effects add") >= 1
    headers = [line for line in markdown.splitlines() if line.startswith("| level |")]
    assert headers and all(" | 95% CI |" not in h for h in headers)  # no bare raw-interval column
    (sum_row,) = [line for line in markdown.splitlines() if line.startswith("| sum | ")]
    assert "no difference detected; the interval allows" in sum_row or "the interval allows" in sum_row


def pruned_trial(study, params: dict, **attrs) -> None:
    study.add_trial(create_trial(state=TrialState.PRUNED, params=params, user_attrs=attrs,
                                 distributions={k: CategoricalDistribution(SPACE[k]) for k in params}))


def test_a_level_whose_trials_were_all_stopped_early_says_so(tmp_path):
    """Under ASHA lc can vanish from the effects; its row shows how many of its trials were pruned."""
    storage = f"sqlite:///{tmp_path / 'asha.db'}"
    study = new_study(storage, "asha")
    rng = np.random.default_rng(0)
    for i in range(8):
        params = {"fusion": ["none", "sum"][i % 2], "width": [16, 32][(i // 2) % 2]}
        if params["fusion"] != "none":
            params["strategy"] = "eflp"
        add_trial(study, params, list((80 + rng.normal(0, 0.5, 3)) / 100))
    for width in (16, 32, 16):
        pruned_trial(study, {"fusion": "lc", "width": width, "strategy": "eflp"})
    pruned_trial(study, {"fusion": "lc", "width": 32, "strategy": "eflp"}, **{record.INFEASIBLE: "macs"})
    pruned_trial(study, {"fusion": "lc", "width": 16, "strategy": "eflp"}, **{record.DUPLICATE_OF: 8})
    report = build_report(storage, "asha")
    markdown = to_markdown(report)
    (lc_row,) = [line for line in markdown.splitlines() if line.startswith("| lc | ")]
    assert "all 3 trials of this level were stopped early (pruned)" in lc_row
    assert lc_row.endswith("| 0 | 0 | 3 |")  # complete trials, seed replicates, pruned
    assert "Early-stopped (pruned) trials, left out of every effect: lc 3." in markdown
    from analysis.report import report_dict

    assert report_dict(report)["effects"]["fusion"]["lc"]["pruned"] == 3
