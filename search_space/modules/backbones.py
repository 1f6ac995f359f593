"""Backbones that hand their stage outputs to the fusion: X_1 .. X_S, the last = main branch.

``plain`` is CFN's CIFAR net (§4.1, Fig. 4): stages of 3x3 conv-BN-ReLU separated by max
pooling, the last ending in CFN's 1x1 conv of K channels; widths (w, 2w, 2w, ...), so w = 96
with K = 192 gives CFN's 1.287M-parameter CNN.  ``vgg`` doubles the width each stage, ``resnet``
is the CIFAR ResNet with basic blocks (stride-2 first block, 1x1 projection shortcut).

Each backbone offers its stage outputs at two positions, because the papers tap differently:
CFN grows side branches *from the pooling layers* (after each pool, §3.1), SCFF fuses each
stage *before* the map shrinks (§3.2), so every D-S link really downsamples.  The pooling
between stages is therefore a ``transition`` of its own: ``forward(x, before_downsampling)``
returns the outputs before or after it.  On ``resnet`` and ``tv:`` trunks the downsampling
sits inside the next stage, so both positions are the same.
``tv:<name>`` taps a torchvision classifier's trunk where its resolution halves, with
``torchvision.models.feature_extraction`` instead of re-writing its forward.
"""

from __future__ import annotations

import torch
from torch import nn

from search_space.dimensions import SpecError
from search_space.modules.table import ModuleTable


def conv_bn_relu(c_in: int, c_out: int, kernel: int = 3, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, kernel, stride, kernel // 2, bias=False),
                         nn.BatchNorm2d(c_out), nn.ReLU(inplace=True))


class BasicBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, stride: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True),
            nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False), nn.BatchNorm2d(c_out))
        self.shortcut = nn.Identity() if stride == 1 and c_in == c_out else nn.Sequential(
            nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out))

    def forward(self, x):
        return torch.relu(self.body(x) + self.shortcut(x))


class StagedBackbone(nn.Module):
    """Runs its stages in order and returns every stage's output, before or after the
    transition (pooling) that follows it."""

    def __init__(self, stages: list[nn.Module], channels: list[int],
                 transitions: list[nn.Module] | None = None) -> None:
        super().__init__()
        self.stages = nn.ModuleList(stages)
        self.transitions = nn.ModuleList(transitions or [nn.Identity() for _ in stages[:-1]])
        self.channels = channels

    def forward(self, x: torch.Tensor, before_downsampling: bool = False) -> list[torch.Tensor]:
        outs = []
        for i, stage in enumerate(self.stages):
            x = stage(x)
            if i < len(self.transitions):
                pooled = self.transitions[i](x)
                outs.append(x if before_downsampling else pooled)
                x = pooled
            else:
                outs.append(x)
        return outs


def _pooled_stages(in_channels: int, widths: list[int], depth: int,
                   last_extra: list[nn.Module]) -> tuple[list[nn.Module], list[nn.Module]]:
    """Stages of conv-BN-ReLU, and the 2x2 max pooling between them (CFN's taps follow it)."""
    mods, c = [], in_channels
    for s, w in enumerate(widths):
        layers = []
        for _ in range(depth):
            layers.append(conv_bn_relu(c, w))
            c = w
        mods.append(nn.Sequential(*layers, *(last_extra if s == len(widths) - 1 else [])))
    return mods, [nn.MaxPool2d(2, 2, ceil_mode=True) for _ in widths[:-1]]


def plain(in_channels: int, width: int, depth: int, stages: int, side_channels: int) -> StagedBackbone:
    """CFN's net; its last stage ends in the 1x1 conv of K = ``side_channels`` channels."""
    widths = [width] + [2 * width] * (stages - 1)
    head = [conv_bn_relu(widths[-1], side_channels, kernel=1)]  # CFN's 1x1 conv of K channels
    mods, pools = _pooled_stages(in_channels, widths, depth, head)
    return StagedBackbone(mods, widths[:-1] + [side_channels], pools)


def vgg(in_channels: int, width: int, depth: int, stages: int, side_channels: int | None = None) -> StagedBackbone:
    widths = [width * 2 ** s for s in range(stages)]
    mods, pools = _pooled_stages(in_channels, widths, depth, [])
    return StagedBackbone(mods, widths, pools)


def resnet(in_channels: int, width: int, depth: int, stages: int, side_channels: int | None = None) -> StagedBackbone:
    widths = [width * 2 ** s for s in range(stages)]
    mods, c = [], width
    for s, w in enumerate(widths):
        blocks = [conv_bn_relu(in_channels, width)] if s == 0 else []
        for b in range(depth):
            blocks.append(BasicBlock(c, w, 2 if (s > 0 and b == 0) else 1))
            c = w
        mods.append(nn.Sequential(*blocks))
    return StagedBackbone(mods, widths)


class TorchvisionBackbone(nn.Module):
    """A torchvision classifier's trunk, tapped just before each halving of resolution."""

    def __init__(self, name: str, in_channels: int, probe_size: int = 64) -> None:
        super().__init__()
        from torchvision.models import get_model
        from torchvision.models.feature_extraction import create_feature_extractor, get_graph_node_names

        try:
            model = get_model(name, weights=None)
        except ValueError as err:
            raise ValueError(f"backbone='tv:{name}': {err}") from None
        if in_channels != 3:
            _adapt_first_conv(model, in_channels)
        trunk_nodes = [n for n in get_graph_node_names(model)[1]
                       if not n.startswith(("fc", "classifier", "head", "avgpool", "flatten", "heads"))
                       and n not in ("x",)]
        probe = create_feature_extractor(model, return_nodes=trunk_nodes).eval()
        with torch.no_grad():
            feats = probe(torch.zeros(1, in_channels, probe_size, probe_size))
        taps, sizes = [], []
        for node, out in feats.items():
            if not (isinstance(out, torch.Tensor) and out.dim() == 4):
                continue
            size = out.shape[-1]
            if sizes and size < sizes[-1]:
                taps.append(last_node)  # the last node before the map shrank
                sizes.append(size)
            elif not sizes:
                sizes.append(size)
            last_node = node
        taps.append(last_node)
        taps = taps[1:] if len(taps) > 4 else taps  # the stem's output is not a stage
        self.taps = taps
        self.extractor = create_feature_extractor(model, return_nodes={n: n for n in taps})
        with torch.no_grad():
            outs = self.extractor.eval()(torch.zeros(1, in_channels, probe_size, probe_size))
        self.channels = [outs[n].shape[1] for n in taps]

    def forward(self, x: torch.Tensor, before_downsampling: bool = True) -> list[torch.Tensor]:
        out = self.extractor(x)  # taps precede each shrink: both positions are the same
        return [out[n] for n in self.taps]


def _adapt_first_conv(model: nn.Module, in_channels: int) -> None:
    for name, m in model.named_modules():
        if isinstance(m, nn.Conv2d):
            new = nn.Conv2d(in_channels, m.out_channels, m.kernel_size, m.stride, m.padding,
                            bias=m.bias is not None)
            parent_name, _, child = name.rpartition(".")
            setattr(model.get_submodule(parent_name) if parent_name else model, child, new)
            return


#: ``backbone`` -> builder, one convention: ``(in_channels, width=, depth=, stages=, side_channels=)``.
BACKBONES = ModuleTable("backbone", {"plain": plain, "resnet": resnet, "vgg": vgg})


def create_backbone(name: str, in_channels: int, width: int, depth: int, stages: int,
                    side_channels: int | None) -> nn.Module:
    """A backbone by name; ``tv:<model>`` taps a torchvision classifier."""
    if name.startswith("tv:"):
        try:
            return TorchvisionBackbone(name[3:], in_channels)
        except ValueError as err:
            raise SpecError(str(err)) from None
    return BACKBONES.create(name, in_channels, width=width, depth=depth, stages=stages, side_channels=side_channels)
