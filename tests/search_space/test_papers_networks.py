"""The papers' own networks, named in the backbone table, cost what the papers say they cost."""

import argparse
import json

import pytest

from search_space.build import build_model
from search_space.commands import register
from search_space.cost import spec_cost
from search_space.modules import BACKBONES
from search_space.spec import ArchSpec, SpecError

CIFAR = dict(num_classes=10, in_channels=3, image_size=32)


def cost_command(*words: str, capsys) -> dict:
    """``fusionscope cost WORDS`` as the CLI runs it (search_space registers the command)."""
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    args = parser.parse_args(["cost", *words])
    assert args.func(args) == 0
    return json.loads(capsys.readouterr().out)


def test_cfn_reproduces_cfn_table1(capsys):
    """CFN Table 1: CNN 1.287M (basic); + 0.074M (extra branches) + 0 / 4 / 768 (fusion)."""
    base = cost_command("backbone=cfn", "--in-channels", "3", "--image-size", "32", capsys=capsys)
    assert base["params"] == 1_286_698 and round(base["params"] / 1e6, 3) == 1.287
    assert base["spec"] == {"backbone": "cfn", "combination": "single", "fusion_site": "gap", "fusion": "none",
                            "alpha": 1, "side_channels": 192}
    for fusion, weights in (("sum", 0), ("conv", 4), ("lc", 768)):
        fused = cost_command("backbone=cfn", f"fusion={fusion}", "--in-channels", "3", "--image-size", "32",
                             capsys=capsys)
        parts = fused["breakdown"]["params"]
        assert fused["spec"]["branches"] == "1,2"  # both pooling layers grow a side branch
        assert parts["branches"] == 74_112 and round(parts["branches"] / 1e6, 3) == 0.074
        assert parts["fusion"] == weights
        assert parts["backbone"] + parts["head"] == base["params"]  # the basic CNN is unchanged


def test_cfn_is_fig4s_layout():
    model = build_model(ArchSpec(backbone="cfn"), **CIFAR)
    convs = [m for m in model.backbone.modules() if m.__class__.__name__ == "Conv2d"]
    assert [(c.out_channels, c.kernel_size) for c in convs] == [(96, (3, 3)), (96, (3, 3)), (192, (3, 3)),
                                                                 (192, (3, 3)), (192, (3, 3)), (192, (3, 3)),
                                                                 (192, (1, 1))]
    assert [len(s) for s in model.backbone.stages] == [3, 2, 2]  # pools after conv3 and conv5
    assert model.backbone.channels == [192, 192, 192]


@pytest.mark.parametrize("backbone", ["cfn", "resnet32", "resnet18", "tv:resnet18"])
@pytest.mark.parametrize("key", ["width", "depth", "stages"])
def test_fixed_networks_take_no_size(backbone, key):
    with pytest.raises(SpecError, match=f"{key}=.*applies only with backbone 'plain', 'resnet' or 'vgg'"):
        ArchSpec(backbone=backbone, **{key: 2})
    if backbone in BACKBONES.names():  # the table's entry refuses a size too
        with pytest.raises(SpecError, match="fixed by its paper"):
            BACKBONES.create(backbone, 3, **{key: 2})


@pytest.mark.parametrize("alpha, flops, params", [(2, 1.26, 1.25), (4, 2.45, 2.39)])
def test_resnet32_reproduces_scfusion_table3(alpha, flops, params):
    dense = spec_cost(ArchSpec(backbone="resnet32"), **CIFAR)
    sparse = spec_cost(ArchSpec(backbone="resnet32", alpha=alpha), **CIFAR)
    assert dense.macs / sparse.macs == pytest.approx(flops, rel=0.03)
    assert dense.params / sparse.params == pytest.approx(params, rel=0.03)


def test_resnet32_and_resnet18_are_the_cifar_resnets():
    r32 = build_model(ArchSpec(backbone="resnet32"), **CIFAR)
    convs = [m for m in r32.modules() if m.__class__.__name__ == "Conv2d" and m.kernel_size == (3, 3)]
    assert len(convs) == 31 and r32.backbone.channels == [16, 32, 64]  # 31 convs + FC = 32 layers
    assert sum(p.numel() for p in r32.parameters()) == 466_906
    r18 = spec_cost(ArchSpec(backbone="resnet18"), **CIFAR)
    assert r18.params == 11_173_962  # the CIFAR ResNet-18 SCFF trains (64-128-256-512, 3x3 stem)
    assert build_model(ArchSpec(backbone="resnet18"), **CIFAR).backbone.channels == [64, 128, 256, 512]


def test_tv_resnet34_alpha8_is_scfusion_table5():
    """scFusion §4.1.3 keeps the first conv dense (the 7x7 stem): 4.40x fewer MACs (Table 5)."""
    size = dict(num_classes=1000, in_channels=3, image_size=224)
    dense = spec_cost(ArchSpec(backbone="tv:resnet34"), **size)
    sparse = spec_cost(ArchSpec(backbone="tv:resnet34", alpha=8), **size)
    assert round(dense.macs / sparse.macs, 2) == 4.40
    model = build_model(ArchSpec(backbone="tv:resnet34", alpha=8), **size)
    convs = [(n, m) for n, m in model.named_modules() if m.__class__.__name__ in ("Conv2d", "SCFusionConv")]
    assert convs[0][1].__class__.__name__ == "Conv2d" and convs[0][1].kernel_size == (7, 7)
    assert all(m.__class__.__name__ == "SCFusionConv" for n, m in convs[1:]
               if m.__class__.__name__ == "SCFusionConv" or m.kernel_size == (3, 3))


def test_tv_resnet18_is_torchvisions_published_cost(capsys):
    out = cost_command("backbone=tv:resnet18", "--classes", "1000", "--image-size", "224", "--in-channels", "3",
                       capsys=capsys)
    assert out["params"] == 11_689_512 and round(out["macs"] / 1e9, 3) == 1.814


@pytest.mark.parametrize("kw", [
    dict(backbone="cfn", fusion_site="pyramid", merge="add"),
    dict(backbone="resnet32", fusion_site="pyramid", downsample="conv1x1", merge="sk_softmax"),
    dict(backbone="cfn", fusion="lc", strategy="eplf", alpha=4),
    dict(backbone="cfn", combination="cl", cl_layers=2, partner_backbone="resnet32"),
], ids=["cfn-pyramid", "resnet32-pyramid", "cfn-eplf-alpha4", "cfn-resnet32-2cl"])
def test_papers_networks_take_every_fusion_site_and_combination(kw):
    import torch

    model = build_model(ArchSpec(**kw), **CIFAR)
    out = model(torch.randn(2, 3, 32, 32))
    out.sum().backward()
    assert out.shape == (2, 10)
    if kw.get("combination") == "cl":  # HCNN §2.2: cfn gives up its classifier and its 1x1 conv
        assert model.nets[0].feature_dim == 192 and model.nets[1].feature_dim == 64
