"""data.augment: crop_flip is the CIFAR papers' pad-4 crop + flip, batched, seeded per replicate."""

from __future__ import annotations

import dataclasses

import pytest
import torch

import trials.training.train
from search_space.spec import ArchSpec
from trials.config import ConfigError, TrainingConfig, from_dict
from trials.data import CROP_PAD, DataConfig, augmenter, crop_flip, load_data
from trials.training.replicates import train_together
from trials.training.train import PARTNER_SEED_OFFSET, train_spec

NONE = ArchSpec(backbone="plain", width=8, depth=1, side_channels=16, fusion="none")
LC = ArchSpec(backbone="plain", width=8, depth=1, side_channels=16, fusion="lc", branches="1,2")


@pytest.fixture(scope="module")
def data():
    return load_data(DataConfig(subset=400, val_fraction=0.25, seed=0, augment="crop_flip"))


def _fed(spec: ArchSpec, data, cfg: TrainingConfig, monkeypatch) -> list[list[torch.Tensor]]:
    """The training batches each replicate's model was fed, captured by a forward pre-hook."""
    seen: dict[int, list[torch.Tensor]] = {}
    build = trials.training.train.build_model

    def recording(*args, **kwargs):
        model = build(*args, **kwargs)
        slot = seen.setdefault(len(seen), [])
        model.register_forward_pre_hook(lambda m, inp: slot.append(inp[0].detach().clone()) if m.training else None)
        return model

    with monkeypatch.context() as m:
        m.setattr(trials.training.train, "build_model", recording)
        train_spec(spec, data, cfg, 1)
    return [seen[i] for i in sorted(seen)]


def test_config_accepts_crop_flip_and_names_a_bad_value():
    assert from_dict({"data": {"augment": "crop_flip"}}).data.augment == "crop_flip"
    assert DataConfig().augment == "none"
    with pytest.raises(ConfigError, match="augment 'cutout'.*none, crop_flip"):
        from_dict({"data": {"augment": "cutout"}})


def test_deterministic_per_seed_and_different_across_seeds(data):
    x = data.x_train[:64]
    a1, a2, b = augmenter(data, 7, "cpu"), augmenter(data, 7, "cpu"), augmenter(data, 8, "cpu")
    first, again, other = a1(x), a2(x), b(x)
    assert torch.equal(first, again)
    assert not torch.equal(first, other)
    assert not torch.equal(a1(x), first)  # the stream moves on: the next epoch's batch differs
    assert augmenter(dataclasses.replace(data, augment="none"), 7, "cpu") is None


def test_crops_and_flips_really_happen_with_black_padding():
    n, pad = 400, CROP_PAD
    x = torch.randn(n, 3, 8, 8)
    fill = torch.tensor([-1.0, -2.0, -3.0])
    out = crop_flip(x, torch.Generator().manual_seed(0), fill)
    assert out.shape == x.shape
    padded = fill.view(1, 3, 1, 1).expand(n, 3, 8 + 2 * pad, 8 + 2 * pad).clone()
    padded[:, :, pad:-pad, pad:-pad] = x
    found = []
    for i in range(n):  # which shift and flip produced image i (exactly one must)
        hits = [(dy, dx, f) for dy in range(2 * pad + 1) for dx in range(2 * pad + 1) for f in (False, True)
                if torch.equal(out[i], (lambda c: c.flip(-1) if f else c)(padded[i, :, dy:dy + 8, dx:dx + 8]))]
        assert len(hits) == 1, (i, hits)
        found.append(hits[0])
    flips = sum(f for _, _, f in found)
    assert 160 < flips < 240  # p = 0.5
    assert {dy for dy, _, _ in found} == set(range(9)) and {dx for _, dx, _ in found} == set(range(9))
    assert sum((dy, dx) == (pad, pad) for dy, dx, _ in found) < 20  # 1/81 unshifted
    # the padding is normalised black, per channel
    shifted = next(i for i, (dy, dx, f) in enumerate(found) if dy == 0 and not f)
    assert torch.equal(out[shifted, :, :pad, :], fill.view(3, 1, 1).expand(3, pad, 8))


def test_every_design_of_one_replicate_sees_the_same_augmented_batches(data, monkeypatch):
    torch.set_num_threads(1)
    cfg = TrainingConfig(batch_size=64, replicates=2, seed=3)
    plain, fused = _fed(NONE, data, cfg, monkeypatch), _fed(LC, data, cfg, monkeypatch)
    assert len(plain) == len(fused) == 2 and len(plain[0]) == 5  # 300 images, batch 64
    for r in range(2):
        for a, b in zip(plain[r], fused[r]):
            assert torch.equal(a, b)
    assert not torch.equal(plain[0][0], plain[1][0])  # replicates differ
    # the batches are augmented, not the stored images in the seed's order
    order = torch.randperm(len(data.x_train), generator=torch.Generator().manual_seed(3))[:64]
    assert not torch.equal(plain[0][0], data.x_train[order])


def test_replicates_together_feed_each_seed_its_own_augmented_batches(data):
    torch.set_num_threads(1)
    together = train_together(LC, data, TrainingConfig(batch_size=64, replicates=2, seed=3), 1)
    for r in range(2):
        alone = train_spec(LC, data, TrainingConfig(batch_size=64, replicates=1, seed=3 + r), 1)
        a, t = alone.models[0].state_dict(), together.models[r].state_dict()
        for k in a:
            torch.testing.assert_close(t[k].float(), a[k].float(), atol=2e-4, rtol=1e-3, msg=k)
    unaugmented = train_spec(LC, dataclasses.replace(data, augment="none"),
                             TrainingConfig(batch_size=64, replicates=1, seed=3), 1).models[0].state_dict()
    t0 = together.models[0].state_dict()
    assert any((t0[k] - unaugmented[k]).abs().max() > 1e-3 for k in t0 if k.endswith("weight"))


def test_hcnn_bases_are_augmented_as_when_trained_alone(data):
    torch.set_num_threads(1)
    spec = ArchSpec(backbone="plain", width=8, depth=1, side_channels=16, partner_backbone="resnet",
                    partner_width=8, partner_depth=1, combination="avg")
    cfg = TrainingConfig(batch_size=64, replicates=1, seed=3)
    combined = train_spec(spec, data, cfg, 1).models[0]
    alone_a = train_spec(spec.single(), data, cfg, 1).models[0]
    alone_b = train_spec(spec.partner(), data, dataclasses.replace(cfg, seed=3 + PARTNER_SEED_OFFSET), 1).models[0]
    for net, alone in zip(combined.nets, (alone_a, alone_b)):
        sa, sb = net.state_dict(), alone.state_dict()
        assert all(torch.equal(sa[k], sb[k]) for k in sa)
    plain = train_spec(spec.single(), dataclasses.replace(data, augment="none"), cfg, 1).models[0].state_dict()
    sa = alone_a.state_dict()
    assert any(not torch.equal(sa[k], plain[k]) for k in sa)
