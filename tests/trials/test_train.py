import dataclasses

import pytest
import torch

from search_space.spec import ArchSpec
from trials.config import TrainingConfig
from trials.data import DataConfig, load_data
from trials.training.train import CandidateError, train_spec

SPEC = ArchSpec(backbone="plain", width=8, depth=1, side_channels=16, fusion="lc", branches="1,2")


@pytest.fixture(scope="module")
def fmnist():
    return load_data(DataConfig(subset=1500, val_fraction=0.2, seed=0))


def test_trains_above_chance_and_reports_every_epoch(fmnist):
    seen = []
    result = train_spec(SPEC, fmnist, TrainingConfig(batch_size=64, lr=0.2, replicates=2), 2,
                        on_epoch=lambda e, acc: seen.append((e, acc)))
    assert [e for e, _ in seen] == [1, 2]
    assert len(result.accuracy_replicates) == 2 and result.history[-1] == pytest.approx(
        sum(result.accuracy_replicates) / 2)
    assert result.history[-1] > 0.3  # 10 classes: chance is 0.1; 38 steps of a width-8 net
    assert result.images_per_s > 0 and result.epochs_done == 2
    # one training window per epoch, in order, counting every image of both replicates
    assert len(result.timeline) == 2
    (s1, e1, n1), (s2, e2, n2) = result.timeline
    assert s1 < e1 <= s2 < e2 and n1 == n2 == 2 * len(fmnist.x_train)


def test_deterministic_with_a_seed_on_cpu(fmnist):
    cfg = TrainingConfig(batch_size=64, replicates=1, seed=3)
    a = train_spec(SPEC, fmnist, cfg, 1)
    b = train_spec(SPEC, fmnist, cfg, 1)
    c = train_spec(SPEC, fmnist, dataclasses.replace(cfg, seed=4), 1)
    assert a.accuracy_replicates == b.accuracy_replicates
    sa, sc = a.models[0].state_dict(), c.models[0].state_dict()
    assert any(not torch.equal(sa[k], sc[k]) for k in sa)


def test_non_finite_loss_is_a_candidate_error(fmnist):
    broken = dataclasses.replace(fmnist, x_train=torch.full_like(fmnist.x_train, float("nan")))
    with pytest.raises(CandidateError, match="non-finite"):
        train_spec(SPEC, broken, TrainingConfig(batch_size=64), 1)
