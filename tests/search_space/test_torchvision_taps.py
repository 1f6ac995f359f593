"""A ``tv:`` trunk is tapped at each stage's output, never inside a stage or after a global pool,
and takes no size of its own (width, depth and stages are torchvision's)."""

import pytest
import torch

from search_space.modules.backbones import TorchvisionBackbone
from search_space.spec import ArchSpec, SpecError

TRUNKS = {
    "resnet18": (["layer1", "layer2", "layer3", "layer4"], [64, 128, 256, 512]),
    "resnet50": (["layer1", "layer2", "layer3", "layer4"], [256, 512, 1024, 2048]),
    "densenet121": (["features.denseblock1", "features.denseblock2", "features.denseblock3", "features.norm5"],
                    [256, 512, 1024, 1024]),
    "mobilenet_v2": (["features.1", "features.3", "features.6", "features.13", "features.18"],
                     [16, 24, 32, 96, 1280]),
    # block 1 is a stage (two convs at full resolution); the final max-pool is not
    "vgg16_bn": (["features.5", "features.12", "features.22", "features.32", "features.42"],
                 [64, 128, 256, 512, 512]),
}


@pytest.mark.parametrize("name", list(TRUNKS))
def test_each_stage_output_is_tapped(name):
    taps, channels = TRUNKS[name]
    trunk = TorchvisionBackbone(name, 3)
    assert trunk.taps == taps and trunk.channels == channels
    with torch.no_grad():
        outs = trunk.eval()(torch.zeros(1, 3, 64, 64))
    sizes = [o.shape[-1] for o in outs]
    assert [o.shape[1] for o in outs] == channels
    assert sizes == sorted(sizes, reverse=True) and len(set(sizes)) == len(sizes) and sizes[-1] > 1, sizes
    assert not any("pool" in t for t in trunk.taps)


def test_tv_partner_takes_no_width_or_depth():
    for key in ("partner_width", "partner_depth"):
        with pytest.raises(SpecError, match=f"{key}=16 applies only with .*partner_backbone 'plain'"):
            ArchSpec(backbone="plain", combination="avg", partner_backbone="tv:resnet18", **{key: 16})
    pair = ArchSpec(backbone="plain", combination="avg", partner_backbone="tv:resnet18")
    assert pair.partner() == ArchSpec(backbone="tv:resnet18")


def test_tv_default_side_branches_are_every_side_stage():
    assert ArchSpec(backbone="tv:resnet50", fusion="lc").branches == (1, 2, 3)
    assert ArchSpec(backbone="tv:mobilenet_v2", fusion_site="pyramid").branches == (1, 2, 3, 4)
