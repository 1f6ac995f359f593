"""One reference per factor: ``study_levels`` is the single source every table reads.

The README says the first value a config lists is the reference level.  The effect model read
it from the configured space, the ablation table from the vocabulary, so ``width: [64, 32, 16]``
showed 32−16 pairs beside the model's 32−64.  ``study_levels`` now lives below the ablation
(``analysis.effects`` imports nothing of ``analysis.ablation``) so that it can use it too.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np

from analysis.effects import level_key, study_levels
from analysis.load import TrialRow
from analysis.settled import final_observations, study_effects
from trials import record

REVERSED = {"fusion": ["none", "sum"], "width": [64, 32, 16]}


def _reversed_study() -> list[TrialRow]:
    rng = np.random.default_rng(0)
    rows = []
    for fusion in REVERSED["fusion"]:
        for width in REVERSED["width"]:
            accuracies = (80 + 0.05 * width + rng.normal(0, 0.3, 3)) / 100
            rows.append(TrialRow(len(rows), "COMPLETE", {"fusion": fusion, "width": width},
                                 {"accuracy": float(accuracies.mean())},
                                 {record.ACCURACY_REPLICATES: accuracies.tolist()}))
    return rows


def test_a_reversed_config_gives_its_first_value_as_the_reference_everywhere():
    rows = _reversed_study()
    effects = study_effects(rows, REVERSED)
    width = effects.factor("width")
    assert width.reference == 64
    assert [lvl.level for lvl in width.levels] == [64, 32, 16]
    contrasts = {level_key(lvl.level): lvl.contrast for lvl in width.levels if lvl.contrast is not None}
    assert set(contrasts) == {"32", "16"} and all(c.estimate is not None for c in contrasts.values())
    assert contrasts["16"].ci_low <= 0.05 * (16 - 64) <= contrasts["16"].ci_high
    # the same answer from the trial rows themselves (what analysis.ablation has at hand)
    complete = [row for row in rows if row.complete]
    from_rows = study_levels(complete, REVERSED)
    assert from_rows == study_levels(final_observations(rows), REVERSED)
    assert from_rows[0]["width"] == [64, 32, 16] and from_rows[1] == {"fusion": "none", "width": 64}


def test_levels_seen_only_in_early_stopped_trials_are_listed_but_never_the_reference():
    rows = _reversed_study()
    complete = [row for row in rows if row.complete]
    stopped = [TrialRow(99, "PRUNED", {"fusion": "lc", "width": 64})]
    levels, references, _ = study_levels(complete, None, listed=stopped)
    assert levels["fusion"] == ["none", "sum", "lc"] and references["fusion"] == "none"


def test_the_effect_model_does_not_import_the_ablation_table():
    code = "import sys, analysis.effects; sys.exit('analysis.ablation' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0
