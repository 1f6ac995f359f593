"""A fusion effect is the fusion alone: the baseline has the main branch its fused variants have,
so a fused net is the baseline plus its side branches and its fusion weights, nothing else."""

import pytest

from search_space.build import build_model
from search_space.cost import spec_cost
from search_space.spec import ArchSpec, SpecError

SIZE = dict(width=8, depth=1)
BACKBONES = [("plain", dict(SIZE, side_channels=16)), ("vgg", SIZE), ("resnet", SIZE), ("cfn", {}),
             ("resnet32", {}), ("tv:resnet18", {})]


@pytest.mark.parametrize("backbone, size", BACKBONES, ids=[b for b, _ in BACKBONES])
def test_fused_net_is_the_baseline_plus_side_branches_and_fusion_weights(backbone, size):
    base_spec = ArchSpec(backbone=backbone, **size)
    base = spec_cost(base_spec, 10, 1, 28)
    base_model = build_model(base_spec, 10, 1, 28)
    channels = base_model.backbone.channels
    for fusion in ("sum", "conv", "lc", "attention"):
        spec = ArchSpec(backbone=backbone, fusion=fusion, branches="1,2", strategy="eflp", **size)
        fused = spec_cost(spec, 10, 1, 28)
        parts = fused.params_by_part
        assert fused.params - base.params == parts["branches"] + parts["fusion"], fusion
        assert parts["backbone"] == base.params_by_part["backbone"] and parts["head"] == base.params_by_part["head"]
        # the side branches are the only branch weights: a 1x1 conv (+ bias) per side stage onto the
        # main branch's channels; the main branch itself (the trunk's GAP) has none
        assert parts["branches"] == sum((channels[s - 1] + 1) * channels[-1] for s in (1, 2)), fusion
        model = build_model(spec, 10, 1, 28)
        assert model.backbone.state_dict().keys() == base_model.backbone.state_dict().keys()
        assert model.feature_dim == base_model.feature_dim == channels[-1]


@pytest.mark.parametrize("backbone", ["vgg", "resnet", "resnet32", "tv:resnet18"])
def test_side_channels_applies_only_where_the_trunk_has_the_k_conv(backbone):
    size = SIZE if backbone in ("vgg", "resnet") else {}
    with pytest.raises(SpecError, match="side_channels=32 applies only with backbone .*'plain' or 'cfn'"):
        ArchSpec(backbone=backbone, fusion="lc", side_channels=32, **size)
    assert ArchSpec(backbone="cfn").side_channels == 192 and ArchSpec(backbone="plain").side_channels == 64
