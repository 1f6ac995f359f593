"""Cost against the papers' own arithmetic."""

import math

import pytest
import torch

from search_space.build import build_model
from search_space.cost import count_macs, spec_cost
from search_space.modules.scfusion import SCFusionConv
from search_space.spec import ArchSpec

K, C = 192, 10


def cfn(**kw):
    return ArchSpec(backbone="plain", width=96, depth=2, side_channels=K, **kw)


def test_cfn_table1_basic_cnn_and_fusion_params():
    base = spec_cost(cfn(), C, 3, 32)
    assert abs(base.params - 1.287e6) / 1.287e6 < 0.001  # "1.287M (basic)"
    for fusion, expected in (("sum", 0), ("conv", 3 + 1), ("lc", K * (3 + 1))):
        cost = spec_cost(cfn(fusion=fusion, branches="1,2"), C, 3, 32)
        assert cost.params_by_part["fusion"] == expected  # CFN Table 1: 0 / 4 / 768
        assert cost.params_by_part["backbone"] + cost.params_by_part["head"] == base.params
        # extra branches: one 1x1 conv (C_s -> K, with bias) per side branch
        assert cost.params_by_part["branches"] == (96 + 1) * K + (192 + 1) * K


@pytest.mark.parametrize("s_branches", ["1", "1,2"])
def test_cfn_eq2_head_params_eflp_vs_eplf(s_branches):
    s = 1 + len(s_branches.split(","))
    eflp = spec_cost(cfn(fusion="lc", branches=s_branches, strategy="eflp"), C, 3, 32)
    eplf = spec_cost(cfn(fusion="lc", branches=s_branches, strategy="eplf"), C, 3, 32)
    assert eflp.params_by_part["head"] == (K + 1) * C  # one FC after fusion
    assert eplf.params_by_part["head"] == s * (K + 1) * C  # one FC per branch
    assert eflp.params_by_part["fusion"] == K * (s + 1)  # LC over K features
    assert eplf.params_by_part["fusion"] == C * (s + 1)  # LC over C predictions
    assert eflp.params < eplf.params


@pytest.mark.parametrize("ratio", [1, 2])
@pytest.mark.parametrize("alpha, table2", [(2, {1: 1.29, 2: 1.0}), (4, {1: 2.57, 2: 2.0}), (8, {1: 5.14, 2: 4.0})])
def test_scfusion_eq1_reduction_ratio(alpha, table2, ratio):
    c_in, hw, k = 64, 8, 3
    c_out = c_in * ratio
    layer = SCFusionConv(c_in, c_out, alpha)
    dense = torch.nn.Conv2d(c_in, c_out, 3, padding=1, bias=False)
    rho_eq1 = alpha * k * k / (2 * math.ceil(k * k / 2) + 4 * c_out / c_in)
    x = torch.zeros(1, c_in, hw, hw)
    macs_sc = sum(count_macs(torch.nn.Sequential(layer), c_in, hw).values())
    macs_dense = sum(count_macs(torch.nn.Sequential(dense), c_in, hw).values())
    assert macs_dense / macs_sc == pytest.approx(rho_eq1)
    assert round(rho_eq1, 2) == table2[ratio]  # scFusion Table 2
    params_sc = sum(p.numel() for p in layer.parameters())
    assert dense.weight.numel() / params_sc == pytest.approx(rho_eq1)  # "derived the same way"
    assert layer(x).shape == (1, c_out, hw, hw)


def test_sc_parts_set_the_fusion_width():
    for add, inverse, parts in ((False, False, 2), (True, False, 3), (True, True, 4)):
        layer = SCFusionConv(32, 32, 4, add=add, inverse=inverse)
        assert layer.fuse.in_channels == parts * 8


def test_masked_taps_stay_zero_and_cover_the_field():
    torch.manual_seed(0)
    layer = SCFusionConv(8, 16, 2)
    opt = torch.optim.SGD(layer.parameters(), lr=0.5, weight_decay=1e-2)
    for _ in range(3):
        opt.zero_grad()
        layer(torch.randn(4, 8, 6, 6)).pow(2).mean().backward()
        opt.step()
    w = layer.dense_weight().detach()
    even, odd = w[:8].flatten(2), w[8:].flatten(2)
    assert (even[:, :, [1, 3, 5, 7]] == 0).all() and (odd[:, :, [0, 2, 6, 8]] == 0).all()
    covered = (even.abs().sum((0, 1)) > 0) | (odd.abs().sum((0, 1)) > 0)
    assert covered.all()  # the pair covers all 9 taps; both keep the centre
    assert (even[:, :, 4] != 0).any() and (odd[:, :, 4] != 0).any()


def test_breakdown_sums_and_hcnn_head():
    spec = ArchSpec(backbone="plain", width=16, depth=1, side_channels=32,
                    combination="cl", cl_layers=2, cl_width=64, partner_backbone="vgg", partner_width=16, partner_depth=1)
    cost = spec_cost(spec, C, 1, 28)
    model = build_model(spec, C, 1, 28)
    assert cost.params == sum(p.numel() for p in model.parameters()) == sum(cost.params_by_part.values())
    # HCNN §2.2: 2 CL layers, so each base gives up its classifier and its top trunk layer: plain's
    # 1x1 conv (A's features are then its 2w = 32 channels) and vgg's last conv (B's: 2 * 16 = 32)
    assert cost.params_by_part["head"] == (32 + 32 + 1) * 64 + (64 + 1) * C  # 2CL on [A,B]
    assert cost.macs == sum(cost.macs_by_part.values()) > 0


def test_latency_is_measured_when_asked():
    cost = spec_cost(ArchSpec(width=8, side_channels=16), C, 1, 28, latency=True)
    assert cost.latency_ms > 0 and cost.latency_device == "cpu"
    assert spec_cost(ArchSpec(width=8, side_channels=16), C, 1, 28).latency_ms is None
