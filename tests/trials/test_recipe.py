"""The papers' optimizer and schedule as config: classical or Nesterov momentum, step milestones."""

from __future__ import annotations

import pytest
import torch

from search_space.spec import ArchSpec
from trials.config import ConfigError, TrainingConfig, from_dict
from trials.data import DataConfig, load_data
from trials.training.replicates import train_together
from trials.training.train import _optimizer, _schedule, train_spec

SPEC = ArchSpec(backbone="plain", width=8, depth=1, side_channels=16, fusion="lc", branches="1,2")


@pytest.fixture(scope="module")
def data():
    return load_data(DataConfig(subset=400, val_fraction=0.25, seed=0))


def _lrs(cfg: TrainingConfig, total: int) -> list[float]:
    opt = _optimizer(torch.nn.Linear(2, 2), cfg)
    sched = _schedule(opt, cfg, total)
    out = []
    for _ in range(total):
        out.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return out


def test_sgd_is_classical_momentum_by_default_and_nesterov_when_asked():
    assert TrainingConfig().nesterov is False
    classical = _optimizer(torch.nn.Linear(2, 2), TrainingConfig())
    assert isinstance(classical, torch.optim.SGD) and classical.param_groups[0]["nesterov"] is False
    assert classical.param_groups[0]["momentum"] == 0.9
    nesterov = _optimizer(torch.nn.Linear(2, 2), TrainingConfig(nesterov=True))
    assert nesterov.param_groups[0]["nesterov"] is True


def test_classical_and_nesterov_momentum_train_different_weights(data):
    torch.set_num_threads(1)
    cfg = TrainingConfig(batch_size=64, replicates=1, seed=2, lr=0.1)
    a = train_spec(SPEC, data, cfg, 1).models[0].state_dict()
    b = train_spec(SPEC, data, TrainingConfig(batch_size=64, replicates=1, seed=2, lr=0.1, nesterov=True),
                   1).models[0].state_dict()
    assert any(not torch.equal(a[k], b[k]) for k in a if k.endswith("weight"))


@pytest.mark.parametrize("milestones, drops", [
    ((0.5, 0.75), (50, 75)),  # the default (scFusion's CIFAR ResNets: 50 % and 75 % of the epochs)
    ((5 / 6,), (100,)),  # CFN: one drop at 10x10^4 of 12x10^4 iterations
    ([0.3, 0.6, 0.9], (30, 60, 90)),  # SCFF: every 30 of 100 epochs; a YAML list is accepted
])
def test_step_schedule_drops_tenfold_at_each_milestone(milestones, drops):
    total = 120 if len(drops) == 1 else 100
    cfg = TrainingConfig(lr=0.1, schedule="step", milestones=milestones)
    assert isinstance(cfg.milestones, tuple)
    lrs = _lrs(cfg, total)
    expected, lr = [], 0.1
    for step in range(total):
        if step in drops:
            lr /= 10
        expected.append(lr)
    assert lrs == pytest.approx(expected)


@pytest.mark.parametrize("training, words", [
    ({"schedule": "step", "milestones": [0.75, 0.5]}, ["training.milestones", "increase"]),
    ({"schedule": "step", "milestones": [0.5, 0.5]}, ["training.milestones", "increase"]),
    ({"schedule": "step", "milestones": [0.0, 0.5]}, ["training.milestones", "(0, 1)"]),
    ({"schedule": "step", "milestones": [1.0]}, ["training.milestones", "(0, 1)"]),
    ({"schedule": "step", "milestones": []}, ["training.milestones", "list"]),
    ({"schedule": "step", "milestones": 0.5}, ["training.milestones", "list"]),
    ({"schedule": "step", "milestones": ["half"]}, ["training.milestones", "'half'"]),
    ({"schedule": "cosine", "milestones": [0.8]}, ["training.milestones", "schedule: step"]),
    ({"optimizer": "adamw", "nesterov": True}, ["training.nesterov", "sgd"]),
    ({"momentum": 0.0, "nesterov": True}, ["training.nesterov", "momentum"]),
    ({"nesterov": "yes"}, ["training.nesterov", "true or false"]),
])
def test_bad_recipes_name_the_key(training, words):
    with pytest.raises(ConfigError) as err:
        from_dict({"training": training})
    for w in words:
        assert w in str(err.value)


def test_replicates_together_follow_the_same_optimizer_and_schedule(data):
    """train_together reuses _optimizer/_schedule: with a step schedule whose first drop falls inside
    the epoch and Nesterov on, each replicate still equals its seed trained alone."""
    torch.set_num_threads(1)
    cfg = TrainingConfig(batch_size=64, seed=5, replicates=2, schedule="step", milestones=(0.4,), nesterov=True,
                         save_weights=False)
    together = train_together(SPEC, data, cfg, 1)
    for r in range(2):
        alone = train_spec(SPEC, data, TrainingConfig(batch_size=64, seed=5 + r, replicates=1, schedule="step",
                                                      milestones=(0.4,), nesterov=True), 1)
        a, t = alone.models[0].state_dict(), together.models[r].state_dict()
        for k in a:
            torch.testing.assert_close(t[k].float(), a[k].float(), atol=2e-4, rtol=1e-3, msg=k)
    # and the schedule is not a no-op: a constant learning rate ends elsewhere
    const = train_spec(SPEC, data, TrainingConfig(batch_size=64, seed=5, replicates=1, nesterov=True,
                                                  schedule="constant"), 1).models[0].state_dict()
    t0 = together.models[0].state_dict()
    assert any((t0[k].float() - const[k].float()).abs().max() > 1e-3 for k in t0 if k.endswith("weight"))
