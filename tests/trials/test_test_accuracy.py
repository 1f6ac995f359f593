"""data.test_accuracy: every design's last-epoch accuracy on the official test split, recorded
beside validation for ablations; the objective stays validation accuracy."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from search_space.spec import ArchSpec
from trials import record
from trials.config import TrainingConfig, from_dict
from trials.checked import ConfigError
from trials.data import DataConfig, DataError, load_data, load_test
from trials.running.protocol import FINAL_RECORDED, TrialReport
from trials.training.replicates import train_together
from trials.training.train import evaluate, train_spec

SPEC = ArchSpec(backbone="plain", width=8, depth=1, side_channels=16, fusion="lc", branches="1,2")
CFG = DataConfig(subset=400, val_fraction=0.25, seed=1, test_accuracy=True)


@pytest.fixture(scope="module")
def data():
    return load_data(CFG)


def test_the_test_split_is_loaded_only_when_asked_and_normalised_like_training(data):
    x, y = load_test(CFG)
    assert torch.equal(data.x_test, x) and torch.equal(data.y_test, y) and len(y) == 10_000
    plain = load_data(dataclasses.replace(CFG, test_accuracy=False))
    assert plain.x_test is None and plain.y_test is None
    assert torch.equal(plain.x_train, data.x_train) and torch.equal(plain.x_val, data.x_val)
    assert from_dict({"data": {"test_accuracy": True}}).data.test_accuracy is True


def test_each_seed_records_its_final_models_test_accuracy(data):
    torch.set_num_threads(1)
    plain = ArchSpec(backbone="plain", width=8, depth=1, side_channels=16)  # LC starts slowly: near chance here
    result = train_spec(plain, data, TrainingConfig(batch_size=32, lr=0.1, replicates=2, seed=0), 2)
    assert len(result.test_accuracy_replicates) == 2
    for model, acc in zip(result.models, result.test_accuracy_replicates):
        assert acc == evaluate(model, data.x_test, data.y_test)
        assert 0.25 < acc <= 1  # above chance (0.1): the test labels and normalisation match training
    # validation is still what the trial is scored on
    assert result.history[-1] == pytest.approx(sum(result.accuracy_replicates) / 2)
    assert result.accuracy_replicates == [evaluate(m, data.x_val, data.y_val) for m in result.models]
    none = train_spec(SPEC, dataclasses.replace(data, x_test=None, y_test=None),
                      TrainingConfig(batch_size=64, replicates=1, seed=0), 1)
    assert none.test_accuracy_replicates == []


def test_replicates_together_and_hcnn_record_it_too(data):
    torch.set_num_threads(1)
    together = train_together(SPEC, data, TrainingConfig(batch_size=64, replicates=2, seed=0), 1)
    assert together.test_accuracy_replicates == [evaluate(m, data.x_test, data.y_test) for m in together.models]
    hcnn = ArchSpec(backbone="plain", width=8, depth=1, side_channels=16, partner_backbone="resnet",
                    partner_width=8, partner_depth=1, combination="avg")
    result = train_spec(hcnn, data, TrainingConfig(batch_size=64, replicates=1, seed=0), 1)
    assert result.test_accuracy_replicates == [evaluate(result.models[0], data.x_test, data.y_test)]


def test_the_report_field_is_recorded_under_the_records_name():
    assert record.TEST_ACCURACY_REPLICATES == "test_accuracy_replicates"
    assert record.TEST_ACCURACY_REPLICATES in FINAL_RECORDED
    from trials.record.objectives import OBJECTIVES

    assert "test_accuracy" not in OBJECTIVES  # never an objective: nothing selects on it
    assert all(o.record_key != record.TEST_ACCURACY_REPLICATES for o in OBJECTIVES.values())
    report = TrialReport(epochs_done=1, accuracy=0.5, node_id="n", hostname="h", device="cpu", pid=1,
                         test_accuracy_replicates=[0.4, 0.6])
    assert TrialReport.from_result(report.to_dict()).test_accuracy_replicates == [0.4, 0.6]


def test_a_test_subset_is_a_seeded_part_of_the_same_split(data):
    small = load_data(dataclasses.replace(CFG, test_subset=200))
    assert small.x_test.shape[0] == 200 and torch.equal(small.x_train, data.x_train)
    rows = {tuple(r.flatten()[:50].tolist()) for r in data.x_test}
    assert all(tuple(r.flatten()[:50].tolist()) in rows for r in small.x_test)  # images of the full split
    again = load_data(dataclasses.replace(CFG, test_subset=200))
    assert torch.equal(again.x_test, small.x_test) and torch.equal(again.y_test, small.y_test)
    with pytest.raises(DataError, match="test_subset 20000 is larger than its 10000 test images"):
        load_data(dataclasses.replace(CFG, test_subset=20_000))
    with pytest.raises(ConfigError, match="data.test_subset=0: must be at least 1"):
        DataConfig(test_subset=0)
