"""Fewer wasted trainings, from the YAML config: cost limits before training, MOASHA, replicates together."""

import optuna
import pytest
from optuna.trial import TrialState

from search_space import ArchSpec
from search_space.cost import spec_cost
from trials import record
from trials.config import load
from trials.running.search import run_search

pytestmark = pytest.mark.slow


def test_limits_moasha_and_replicates_together_in_one_real_search(tiny_config, tmp_path):
    limit = 1_000_000  # between width 8 (~0.42M MACs) and width 16 (~1.5M) on 28x28x1
    extra = f"""
constraints: {{max_macs: {limit}}}
space: {{width: [8, 16]}}
budget: {{early_stopping: moasha}}
training: {{replicates: 2, replicates_mode: together}}
"""
    path, url, study = tiny_config(study="levers", trials=8, epochs=3, extra=extra)
    config = load(path)
    assert config.budget.scheduler == "moasha" and config.training.replicates_mode == "together"
    run_search(config, progress=False, runs_dir=tmp_path / "runs")
    trials = optuna.load_study(study_name=study, storage=url).get_trials(deepcopy=False)
    asked = [t for t in trials if record.MACS in t.user_attrs]
    over = [t for t in asked if t.user_attrs[record.MACS] > limit]
    assert over, "the sampler never proposed a design over the limit; the test proves nothing"
    for t in over:  # never trained: recorded with its cost and the reason, train time 0
        assert t.state == TrialState.PRUNED and "max_macs" in t.user_attrs[record.INFEASIBLE]
        assert t.user_attrs[record.TRAIN_TIME_S] == 0.0 and record.EPOCHS_DONE not in t.user_attrs
        assert t.user_attrs["constraints"][1] > 0  # Optuna's convention: > 0 is infeasible
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    assert complete and all(t.user_attrs[record.MACS] <= limit for t in complete)
    for t in complete:  # two seeds trained as one stacked model, each with its own curve
        curves = t.user_attrs[record.VAL_ACCURACY_BY_REPLICATE]
        assert len(curves) == 2 and all(len(c) == 3 for c in curves) and curves[0] != curves[1]
        assert t.values[1] == spec_cost(ArchSpec.from_params(t.params), 10, 1, 28).macs
    stopped = [t for t in trials if t.state == TrialState.PRUNED and record.EPOCHS_DONE in t.user_attrs]
    assert stopped, "MOASHA stopped no trial at its rung: the scheduler was not exercised"
    for t in stopped:  # MOASHA stopped these at a rung, before the last epoch
        assert t.user_attrs[record.EPOCHS_DONE] < 3

    from analysis.report import write_report

    text = write_report(url, study, tmp_path / "report")["markdown"].read_text()
    assert f"{len(over)} proposed designs were over them and never trained" in text
