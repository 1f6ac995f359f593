"""SCFF's D-S modules (§2.3.2, Table 2): map the fused upper level onto the next stage.

Each must shrink the map by the stages' spatial ``factor`` and expand channels.  Sizes round
up like the backbones' own downsampling (ceil-mode pooling, stride-f convs on padded maps), so
odd maps (7 -> 4) line up.  The parameter-free pools expand channels by zero padding, the
ResNet "option A" shortcut: the only expansion that adds no weights, which is their point.
"""

from __future__ import annotations

from functools import partial

from torch import nn
from torch.nn import functional as F

from search_space.modules.table import ModuleTable


class PoolConv(nn.Module):
    """Pooling, then a point convolution for the channels (SCFF's chosen avg-pool D-S, Fig. 4)."""

    def __init__(self, pool: str, in_channels: int, out_channels: int, factor: int) -> None:
        super().__init__()
        pool_cls = nn.AvgPool2d if pool == "avg" else nn.MaxPool2d
        self.pool = pool_cls(factor, factor, ceil_mode=True) if factor > 1 else nn.Identity()
        self.proj = nn.Sequential(nn.Conv2d(in_channels, out_channels, 1, bias=False), nn.BatchNorm2d(out_channels))

    def forward(self, x):
        return self.proj(self.pool(x))

    def extra_macs(self, inputs: tuple, output) -> int:
        return 0  # pooling is free; the 1x1 conv is counted as a Conv2d


class StridedConv(nn.Module):
    """A single conv does both jobs: 2x2 stride 2 (kernel = stride = factor) or 1x1 stride 2."""

    def __init__(self, kernel: str, in_channels: int, out_channels: int, factor: int) -> None:
        super().__init__()
        self.factor = factor
        self.kernel = factor if kernel == "square" else 1
        self.conv = nn.Conv2d(in_channels, out_channels, self.kernel, stride=factor, bias=False)
        self.bn = nn.BatchNorm2d(out_channels)

    def forward(self, x):
        if self.kernel > 1:
            h, w = x.shape[-2:]
            x = F.pad(x, (0, -w % self.factor, 0, -h % self.factor))
        return self.bn(self.conv(x))

    def extra_macs(self, inputs: tuple, output) -> int:
        return 0  # the conv is counted as a Conv2d


class PoolPad(nn.Module):
    """Plain pooling; channels expanded with zeros."""

    def __init__(self, pool: str, in_channels: int, out_channels: int, factor: int) -> None:
        super().__init__()
        if out_channels < in_channels:
            raise ValueError(
                f"a parameter-free D-S cannot reduce channels from {in_channels} to {out_channels}"
            )
        pool_cls = nn.AvgPool2d if pool == "avg" else nn.MaxPool2d
        self.pool = pool_cls(factor, factor, ceil_mode=True) if factor > 1 else nn.Identity()
        self.extra = out_channels - in_channels

    def forward(self, x):
        return F.pad(self.pool(x), (0, 0, 0, 0, 0, self.extra))

    def extra_macs(self, inputs: tuple, output) -> int:
        return 0  # pooling and zero padding: no multiply-adds


#: ``downsample`` -> D-S module, one convention: ``(in_channels, out_channels, factor)``.
DOWNSAMPLES = ModuleTable("downsample", {
    "avgpool_conv": partial(PoolConv, "avg"),
    "maxpool_conv": partial(PoolConv, "max"),
    "conv2x2": partial(StridedConv, "square"),
    "conv1x1": partial(StridedConv, "point"),
    "avgpool": partial(PoolPad, "avg"),
    "maxpool": partial(PoolPad, "max"),
})
