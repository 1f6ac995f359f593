"""Do the effects add?  The lack-of-fit test on simulated searches with a known truth.

Each study is a random search of 30 trials (3 seeds, seed sd 0.7) over fusion (none/sum/lc),
width (16/32) and alpha (1/2, null).  Additive truth: sum +1.5, lc +0.5, width 0.  Interacting
truth: lc is −1 at width 16 and +2 at width 32 (one "lc" number covered those width-specific
effects 19–51 % of the time in the issue's runs, and nothing warned).
"""

from __future__ import annotations

import numpy as np

from analysis.effects import Observation, fit_effects

LEVELS = {"fusion": ["none", "sum", "lc"], "width": [16, 32], "alpha": [1, 2]}
REFERENCES = {"fusion": "none", "width": 16, "alpha": 1}


def search(rng: np.random.Generator, lc_by_width: dict[int, float], trials: int = 30) -> list[Observation]:
    designs: dict[tuple, int] = {}
    out = []
    for _ in range(trials):
        params = {"fusion": str(rng.choice(LEVELS["fusion"])), "width": int(rng.choice([16, 32])),
                  "alpha": int(rng.choice([1, 2]))}
        mean = 80 + {"none": 0.0, "sum": 1.5, "lc": lc_by_width[params["width"]]}[params["fusion"]]
        design = designs.setdefault(tuple(params.values()), len(designs))
        out += [Observation(design, params, mean + e) for e in rng.normal(0, 0.7, 3)]
    return out


def test_lack_of_fit_fires_under_an_interaction_and_rarely_under_additive_effects():
    rng = np.random.default_rng(5)
    additive = [fit_effects(search(rng, {16: 0.5, 32: 0.5}), LEVELS, REFERENCES).lack_of_fit for _ in range(150)]
    interacting = [fit_effects(search(rng, {16: -1.0, 32: 2.0}), LEVELS, REFERENCES).lack_of_fit
                   for _ in range(150)]
    assert all(lof is not None for lof in additive + interacting)
    assert np.mean([lof.fires for lof in additive]) <= 0.10  # measured 0.053
    fired = [lof for lof in interacting if lof.fires]
    assert len(fired) / len(interacting) >= 0.70  # measured 0.987
    named = [lof for lof in fired if set(lof.interaction) == {"fusion", "width"}]
    assert len(named) / len(fired) >= 0.90  # measured 0.993
    # the breakdown gives lc's effect at each width, and its intervals cover the truth
    cells = [(lof.breakdown["fusion"]["lc"][w], truth) for lof in named for w, truth in (("16", -1.0), ("32", 2.0))]
    estimated = [(c, truth) for c, truth in cells if c.estimate is not None]
    assert all("no complete trials of fusion=lc at width=" in c.reason for c, _ in cells if c.estimate is None)
    assert len(estimated) / len(cells) >= 0.95  # a study that drew no lc at one width says so
    assert np.mean([c.ci_low <= truth <= c.ci_high for c, truth in estimated]) >= 0.90  # measured 0.935
    assert "do not add" in named[0].note and "fusion × width" in named[0].note


def test_no_lack_of_fit_test_without_seed_replicates():
    rng = np.random.default_rng(1)
    one_seed = [o for o in search(rng, {16: 0.5, 32: 0.5}) if o.accuracy]  # 3 seeds ...
    first = {}
    for o in one_seed:
        first.setdefault(o.design, o)  # ... reduced to one per design
    fit = fit_effects(list(first.values()), LEVELS, REFERENCES)
    assert fit.lack_of_fit is None and fit.contrasts["fusion"]["sum"].estimate is not None


def test_the_report_says_when_effects_do_not_add_and_breaks_the_interaction_down(tmp_path):
    """A real study in a storage with lc −1 at width 16 and +2 at width 32: the report's Ablation
    section states the test, names fusion × width, and gives lc's effect at each width; report.json
    holds the same numbers."""
    import json

    from analysis.report import write_report
    from tests.analysis.analysis_studies import add_complete, cfn_spec, make_study

    url = f"sqlite:///{tmp_path / 'lof.db'}"
    study = make_study(url, "lof", ["accuracy", "macs"])
    rng = np.random.default_rng(3)
    for fusion in ("none", "sum", "lc"):
        for width in (16, 32):
            mean = 80 + {"none": 0.0, "sum": 1.5, "lc": {16: -1.0, 32: 2.0}[width]}[fusion]
            for strategy_seed in range(2):  # two designs per cell: branches differ, nested in fusion
                branches = None if fusion == "none" else ("1,2", "1")[strategy_seed]
                if fusion == "none" and strategy_seed:
                    continue
                params = cfn_spec("plain", width, fusion, "eflp" if fusion != "none" else None, branches)
                add_complete(study, params, list((mean + rng.normal(0, 0.3, 3)) / 100), 1000, 10_000 * width)
    paths = write_report(url, "lof", tmp_path / "report")
    markdown = paths["markdown"].read_text()
    data = json.loads(paths["json"].read_text())["effects_model"]
    assert data["lack_of_fit"]["fires"] and set(data["lack_of_fit"]["interaction"]) == {"fusion", "width"}
    assert "Do the effects add? Lack of fit F =" in markdown and "the effects do not add" in markdown
    assert "### Interaction: " in markdown and f"Adjusted together: {data['n_tests']} contrasts" in markdown
    at = data["lack_of_fit"]["breakdown"]["fusion"]["lc"]
    assert at["16"]["ci_low"] <= -1.0 <= at["16"]["ci_high"] and at["32"]["ci_low"] <= 2.0 <= at["32"]["ci_high"]
    assert f"{at['32']['estimate']:+.2f} [{at['32']['ci_low']:+.2f}, {at['32']['ci_high']:+.2f}]" in markdown
