"""Replicates trained together match each seed trained alone (same init, same data order)."""

from __future__ import annotations

import pytest
import torch

from search_space.spec import ArchSpec
from trials.config import TrainingConfig
from trials.data import DataConfig, load_data
from trials.training.replicates import choose_mode, train_together
from trials.training.train import TrainResult, train_spec

SPEC = ArchSpec.from_params(dict(backbone="plain", width=8, depth=1, side_channels=16, fusion_site="gap",
                                 fusion="lc", strategy="eflp", branches="1,2"))


@pytest.fixture(scope="module")
def data():
    return load_data(DataConfig(subset=400, val_fraction=0.25))


def _alone(data, seed: int, epochs: int) -> TrainResult:
    return train_spec(SPEC, data, TrainingConfig(batch_size=64, seed=seed, replicates=1, save_weights=False), epochs)


def test_each_replicate_equals_its_seed_trained_alone_after_the_first_steps(data):
    torch.set_num_threads(1)
    together = train_together(SPEC, data, TrainingConfig(batch_size=64, seed=5, replicates=2), 1)
    assert isinstance(together, TrainResult) and len(together.models) == 2
    for r in range(2):
        alone = _alone(data, 5 + r, 1)
        a, t = alone.models[0].state_dict(), together.models[r].state_dict()
        assert a.keys() == t.keys()
        for k in a:  # weights and each replicate's own batch-norm statistics, after 5 SGD steps
            torch.testing.assert_close(t[k].float(), a[k].float(), atol=2e-4, rtol=1e-3, msg=k)
        assert abs(together.accuracy_replicates[r] - alone.accuracy_replicates[0]) <= 1 / len(data.y_val) + 1e-9
    # the two replicates are different networks (own seeds), not one copied
    s0, s1 = (m.state_dict() for m in together.models)
    assert any(not torch.equal(s0[k], s1[k]) for k in s0 if k.endswith("running_mean"))


def test_at_the_end_each_replicate_is_within_seed_noise_of_training_alone(data):
    torch.set_num_threads(1)
    epochs, seen = 3, []
    together = train_together(SPEC, data, TrainingConfig(batch_size=64, seed=0, replicates=2), epochs,
                              on_epoch=lambda e, acc: seen.append(e))
    alone = [_alone(data, r, epochs).accuracy_replicates[0] for r in range(2)]
    assert seen == [1, 2, 3] and together.epochs_done == 3 and len(together.history) == 3
    noise = max(abs(alone[0] - alone[1]), 0.03)
    for r in range(2):
        assert abs(together.accuracy_replicates[r] - alone[r]) <= noise, (together.accuracy_replicates, alone)
    assert together.history[-1] == pytest.approx(sum(together.accuracy_replicates) / 2)


def test_choose_mode_is_together_on_cuda_and_sequential_where_cpu_was_not_measured_faster():
    assert choose_mode(32, 1, "cuda") == "together"
    assert choose_mode(4096, 1, "cpu") == "sequential"
