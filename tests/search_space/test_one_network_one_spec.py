"""One network, one spec: two valid specs with different keys never build the same network."""

from collections import defaultdict

import pytest
import torch

from search_space.build import build_model
from search_space.space import SearchSpace

SMALL = {"width": 8, "depth": 1, "stages": 3, "side_channels": 16}
SIZED = ["plain", "vgg", "resnet"]


def every_value_grid():
    """Every value of every dimension where it applies: on plain, vgg and resnet; on the papers' fixed
    networks and torchvision trunks (which take no width, depth or stages); and HCNN pairs with
    alpha > 1 (where B = A's architecture is A exactly, alpha included)."""
    specs = SearchSpace.from_config({**SMALL, "backbone": SIZED, "alpha": 1, "combination": "single"}).grid()
    specs += SearchSpace.from_config({**SMALL, "backbone": SIZED, "fusion_site": "gap",
                                      "fusion": ["none", "lc"], "strategy": "eflp", "branches": "1,2",
                                      "alpha": [2, 4, 8], "combination": "single"}).grid()
    specs += SearchSpace.from_config({**SMALL, "backbone": ["plain", "resnet"], "alpha": [1, 2],
                                      "sc_inverse": True, "combination": ["avg", "cl"],
                                      "partner_backbone": ["plain", "resnet", "vgg"], "partner_width": [8, 16],
                                      "partner_depth": 1, "cl_width": [16, 32],
                                      "hcnn_finetune": [False, True]}).grid()
    specs += SearchSpace.from_config({"backbone": ["cfn", "resnet32", "tv:resnet18", "tv:mobilenet_v3_small"],
                                      "fusion_site": "gap", "fusion": ["none", "lc"], "strategy": "eflp",
                                      "branches": "1,2", "alpha": [1, 2], "sc_inverse": True,
                                      "combination": "single"}).grid()
    specs += SearchSpace.from_config({"backbone": ["cfn", "resnet32"], "alpha": [1, 2], "sc_inverse": True,
                                      "combination": "avg", "partner_backbone": ["cfn", "resnet32", "plain"],
                                      "partner_width": 8, "partner_depth": 1}).grid()
    return [s for s in specs if not (s.backbone == "tv:mobilenet_v3_small" and s.alpha > 1)]


def _fingerprint(model: torch.nn.Module, x: torch.Tensor) -> tuple:
    """What the network computes: its outputs and every gradient, on a fixed input."""
    model.eval()
    x = x.clone().requires_grad_(True)
    out = model(x)
    out.square().sum().backward()
    grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    return out.detach(), x.grad.clone(), grads


def test_no_two_keys_build_the_same_network():
    specs = every_value_grid()
    assert len({s.key() for s in specs}) == len(specs)
    by_structure = defaultdict(list)
    for spec in specs:
        torch.manual_seed(0)
        model = build_model(spec, 10, 1, 28)
        structure = (repr(model), tuple((k, tuple(v.shape)) for k, v in model.state_dict().items()))
        by_structure[structure].append((spec, model))
    x = torch.randn(2, 1, 28, 28, generator=torch.Generator().manual_seed(1))
    same = []
    for group in by_structure.values():
        if len(group) < 2:
            continue
        state = group[0][1].state_dict()
        prints = []
        for spec, model in group:
            model.load_state_dict(state)
            prints.append((spec, _fingerprint(model, x)))
        for i, (a, (out_a, gx_a, g_a)) in enumerate(prints):
            for b, (out_b, gx_b, g_b) in prints[i + 1:]:
                if torch.allclose(out_a, out_b) and torch.allclose(gx_a, gx_b) and g_a.keys() == g_b.keys() \
                        and all(torch.allclose(g_a[k], g_b[k]) for k in g_a):
                    same.append((a.to_params(), b.to_params()))
    assert not same, f"{len(same)} pairs of specs build the same network, e.g. {same[:3]}"
    assert len(specs) > 600  # the grid really covers the space


def test_alpha_on_a_trunk_without_dense_convs_to_sparsify_is_an_error():
    """MobileNet's convs are depthwise or 1x1: alpha > 1 would build the dense net under another key."""
    from search_space.spec import ArchSpec, SpecError

    with pytest.raises(SpecError, match="alpha=2.*no dense 3x3 or 5x5 conv.*tv:mobilenet_v3_small"):
        build_model(ArchSpec(backbone="tv:mobilenet_v3_small", alpha=2), 10, 1, 28)


def test_every_value_of_every_dimension_is_in_the_grid():
    from search_space.dimensions import DIMENSIONS

    specs = every_value_grid()
    for dim in DIMENSIONS:
        if dim.kind in ("choice", "bool", "backbone"):
            seen = {getattr(s, dim.name) for s in specs} - {None}
            expected = set(dim.values) if dim.name != "stages" else {3}
            if dim.kind == "backbone":  # resnet18 (11M parameters) is checked in test_papers_networks
                expected -= {"resnet18"}
            assert expected <= seen, dim.name


@pytest.mark.parametrize("backbone", ["plain", "vgg", "resnet"])
def test_pyramid_taps_precede_each_downsampling(backbone):
    """SCFF §3.2: every D-S link maps a larger map onto a smaller one, on every backbone."""
    from search_space.spec import ArchSpec

    spec = ArchSpec(backbone=backbone, width=8, depth=1, fusion_site="pyramid", branches="1,2", merge="add")
    model = build_model(spec, 10, 1, 28)
    outs = model.backbone(torch.zeros(1, 1, 28, 28), before_downsampling=True)
    sizes = [o.shape[-1] for o in outs]
    assert sizes == sorted(sizes, reverse=True) and len(set(sizes)) == len(sizes), sizes
    for down in model.branches:
        assert not isinstance(getattr(down, "pool", None), torch.nn.Identity)
        assert getattr(down, "factor", 2) > 1
