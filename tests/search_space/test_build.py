"""Every point of the space builds, trains one step, and respects the papers' structure."""

import itertools

import pytest
import torch

from search_space.build import build_model
from search_space.space import SearchSpace
from search_space.spec import ArchSpec, SpecError

SMALL = {"width": 8, "depth": 1}
K = {"side_channels": 16}


def covering_set() -> list[ArchSpec]:
    """Every value of every dimension, in the combinations where they interact."""
    specs = []
    specs += SearchSpace.from_config({**SMALL, **K, "backbone": "plain", "fusion_site": "gap", "alpha": 1,
                                      "combination": "single"}).grid()
    specs += SearchSpace.from_config({**SMALL, "backbone": ["resnet", "vgg"], "fusion_site": "gap",
                                      "branches": "1,2", "alpha": 1, "combination": "single"}).grid()
    specs += SearchSpace.from_config({**SMALL, **K, "fusion_site": "pyramid", "branches": "1,2", "detach": True,
                                      "alpha": 1, "combination": "single"}).grid()
    specs += SearchSpace.from_config({**SMALL, "backbone": "resnet", "fusion_site": "pyramid",
                                      "branches": ["1", "2"], "merge": "add", "detach": False, "alpha": 1,
                                      "combination": "single"}).grid()
    specs += SearchSpace.from_config({**SMALL, **K, "backbone": ["plain", "resnet"], "fusion": ["none", "lc"],
                                      "strategy": "eflp", "branches": "1,2", "fusion_site": "gap",
                                      "combination": "single"}).grid()
    specs += SearchSpace.from_config({**SMALL, "backbone": "vgg", "fusion_site": "gap", "fusion": ["none", "lc"],
                                      "strategy": "eplf", "branches": "2", "alpha": 1, "combination": "single"}).grid()
    specs += SearchSpace.from_config({**SMALL, **K, "backbone": "plain", "alpha": [1, 2], "combination": ["avg", "cl"],
                                      "partner_backbone": ["plain", "resnet", "vgg"], "partner_width": 8,
                                      "partner_depth": 1, "cl_width": 16}).grid()
    return specs


COVER = covering_set()


def test_covering_set_spans_every_value():
    for key in ("backbone", "fusion", "strategy", "downsample", "merge", "detach", "alpha", "sc_add",
                "sc_inverse", "combination", "cl_layers", "partner_backbone", "fusion_site"):
        seen = {getattr(s, key) for s in COVER} - {None}
        allowed = set(SearchSpace.from_config().choices[key])
        assert seen == allowed, key
    assert {s.branches for s in COVER} >= {(), (1,), (2,), (1, 2)}


@pytest.mark.parametrize("shape", [(1, 28), (3, 32)], ids=["28x28x1", "32x32x3"])
def test_every_point_trains(shape):
    in_ch, size = shape
    torch.manual_seed(0)
    x, y = torch.randn(4, in_ch, size, size), torch.tensor([0, 1, 2, 3])
    for spec in COVER:
        model = build_model(spec, 10, in_ch, size)
        opt = torch.optim.SGD(model.parameters(), lr=0.05)
        loss = torch.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        assert all(p.grad is not None for p in model.parameters() if p.requires_grad), spec
        opt.step()
        after = torch.nn.functional.cross_entropy(model(x), y)
        assert torch.isfinite(after) and after.item() != loss.item(), spec


def test_detach_cuts_the_fusion_gradient_into_lower_stages():
    """SCFF Fig. 3: with detach the D-S branch's output carries no gradient into stage 1, while the
    branch itself still learns; without it the same output does reach stage 1."""
    x = torch.randn(2, 3, 32, 32)
    for detach in (False, True):
        torch.manual_seed(0)
        spec = ArchSpec(backbone="resnet", width=8, depth=1, fusion_site="pyramid", branches="1,2",
                        merge="add", downsample="avgpool_conv", detach=detach)
        model = build_model(spec, 10, 3, 32)
        seen = []
        model.branches[0].register_forward_hook(lambda module, args, out: seen.append(out))
        loss = torch.nn.functional.cross_entropy(model(x), torch.tensor([1, 7]))
        stage1 = model.backbone.stages[0][0][0].weight
        through_branch, = torch.autograd.grad(seen[0].sum(), [stage1], retain_graph=True, allow_unused=True)
        if detach:
            assert through_branch is None  # the fusion path is cut off from stage 1 entirely
        else:
            assert through_branch is not None and through_branch.abs().sum() > 0
        branch_grads = torch.autograd.grad(loss, list(model.branches[0].parameters()), retain_graph=True)
        assert all(g.abs().sum() > 0 for g in branch_grads)  # the D-S branch trains either way
        main_path, = torch.autograd.grad(loss, [stage1])
        assert main_path.abs().sum() > 0  # stage 1 still learns through the backbone


def test_lc_initialised_to_one_over_s():
    model = build_model(ArchSpec(fusion="lc", branches="1,2", width=8, side_channels=16), 10, 1, 28)
    assert torch.allclose(model.fusion.weight, torch.full((16, 3), 1 / 3))
    assert model.fusion.weight.shape == (16, 3) and model.fusion.bias.shape == (16,)


def test_torchvision_backbone_is_tapped_per_stage():
    spec = ArchSpec(backbone="tv:resnet18", fusion="lc", branches="1,2,3")
    model = build_model(spec, 10, 3, 32)
    assert model.backbone.channels == [64, 128, 256, 512]
    assert model(torch.randn(2, 3, 32, 32)).shape == (2, 10)
    with pytest.raises(SpecError, match="branches"):
        build_model(ArchSpec(backbone="tv:resnet18", fusion="lc", branches="4"), 10, 3, 32)
    with pytest.raises(SpecError, match="nosuchnet"):
        build_model(ArchSpec(backbone="tv:nosuchnet"), 10, 3, 32)


def test_parameter_free_downsample_cannot_shrink_channels():
    spec = ArchSpec(backbone="plain", width=32, side_channels=16, fusion_site="pyramid", branches="2",
                    downsample="maxpool")
    with pytest.raises(SpecError, match="downsample='maxpool'"):
        build_model(spec, 10, 1, 28)
