"""The report shows each level's test accuracy beside validation when the study recorded it."""

from __future__ import annotations

from optuna.distributions import CategoricalDistribution
from optuna.trial import create_trial

from analysis.ablation import ablation_tables
from analysis.load import TrialRow
from analysis.report import build_report, to_markdown
from analysis_studies import CHOICES, add_complete, cfn_spec, make_study
from trials import record


def test_trial_row_reads_the_recorded_test_accuracies():
    row = TrialRow(0, "COMPLETE", {}, {"accuracy": 0.8}, {record.TEST_ACCURACY_REPLICATES: [0.7, 0.9]})
    assert row.test_accuracy_samples == [0.7, 0.9]
    assert row.accuracy_samples == [0.8]  # validation stays the objective
    old = TrialRow(1, "COMPLETE", {}, {"accuracy": 0.8}, {record.TEST_ACCURACY_REPLICATES: None})
    assert old.test_accuracy_samples == [] and TrialRow(2, "COMPLETE", {}).test_accuracy_samples == []


def test_ablation_table_has_a_test_accuracy_column_only_when_recorded(tmp_path):
    storage = f"sqlite:///{tmp_path / 's.db'}"
    study = make_study(storage, "t", ["accuracy", "params"])
    tests = {"none": [0.70, 0.72], "lc": [0.75, 0.79]}
    for fusion, val in (("none", [0.80, 0.82]), ("lc", [0.84, 0.86])):
        params = cfn_spec("plain", 16, fusion, "eflp", "1,2")
        study.add_trial(create_trial(
            params=params, distributions={k: CategoricalDistribution(CHOICES[k]) for k in params},
            values=[sum(val) / 2, 1000],
            user_attrs={record.ACCURACY_REPLICATES: val, record.TEST_ACCURACY_REPLICATES: tests[fusion],
                        record.PARAMS: 1000, record.MACS: 10_000, record.SPEC: params}))
    (table,) = [t for t in ablation_tables([_row(t) for t in study.trials]) if t.factor == "fusion"]
    by_level = {s.level: s for s in table.levels}
    assert abs(by_level["lc"].test_accuracy_mean - 0.77) < 1e-12 and abs(by_level["none"].test_accuracy_mean - 0.71) < 1e-12
    markdown = to_markdown(build_report(storage, "t"))
    assert "| level's trials: test accuracy % (mean over seeds) | params (mean) |" in markdown
    assert "| 77.00 |" in markdown and "| 71.00 |" in markdown

    plain = make_study(storage, "no-test", ["accuracy", "params"])
    for fusion, val in (("none", [0.80, 0.82]), ("lc", [0.84, 0.86])):
        add_complete(plain, cfn_spec("plain", 16, fusion, "eflp", "1,2"), val, 1000, 10_000)
    assert "test accuracy" not in to_markdown(build_report(storage, "no-test"))  # old studies: as before


def _row(trial) -> TrialRow:
    return TrialRow(trial.number, trial.state.name, trial.params, {"accuracy": trial.values[0]}, trial.user_attrs)
