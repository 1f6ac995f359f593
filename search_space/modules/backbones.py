"""Backbones that hand their stage outputs to the fusion: X_1 .. X_S, the last = main branch.

Two kinds of entry share the table:

* **families** sized by the spec's ``width``, ``depth`` and ``stages``: ``plain`` (a CFN-style
  net: stages of 3x3 conv-BN-ReLU separated by max pooling, widths w, 2w, 2w, ..., the last
  stage ending in CFN's 1x1 conv of K = ``side_channels`` channels), ``vgg`` (widths double per
  stage) and ``resnet`` (the CIFAR ResNet with basic blocks: stride-2 first block, 1x1
  projection shortcut);
* **the papers' own networks**, fixed by their papers (width, depth and stages do not apply):
  ``cfn`` (CFN §4.1, Fig. 4), ``resnet32`` (scFusion §4.1.2, Table 3), ``resnet18`` (SCFF §3)
  and any torchvision classifier as ``tv:<name>`` (SCFF's bottleneck ResNet is
  ``tv:resnet50``; scFusion Table 5's ``tv:resnet34``).

Each backbone offers its stage outputs at two positions, because the papers tap differently:
CFN grows side branches *from the pooling layers* (after each pool, §3.1), SCFF fuses each
stage *before* the map shrinks (§3.2), so every D-S link really downsamples.  The pooling
between stages is therefore a ``transition`` of its own: ``forward(x, before_downsampling)``
returns the outputs before or after it.  On ``resnet`` and ``tv:`` trunks the downsampling
sits inside the next stage, so both positions are the same.

``channels[-1]`` is the main branch's width: the GAP of the last stage output is the main
branch of every backbone, fused or not (``build.GapFusionNet``), and side branches project to it.
"""

from __future__ import annotations

import functools

import torch
from torch import nn

from search_space.dimensions import SpecError
from search_space.modules.table import ModuleTable


def conv_bn_relu(c_in: int, c_out: int, kernel: int = 3, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, kernel, stride, kernel // 2, bias=False),
                         nn.BatchNorm2d(c_out), nn.ReLU(inplace=True))


class ShiftNorm(nn.BatchNorm2d):
    """Batch normalisation with a learned shift and no learned scale: C parameters, as many as a
    conv bias.  CFN's net (below) counts exactly one parameter per channel beyond the weights."""

    def __init__(self, channels: int) -> None:
        super().__init__(channels, affine=False)
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x) + self.bias.view(1, -1, 1, 1)


def conv_shift_relu(c_in: int, c_out: int, kernel: int = 3) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, kernel, 1, kernel // 2, bias=False), ShiftNorm(c_out),
                         nn.ReLU(inplace=True))


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
    """A CFN-style net; its last stage ends in the 1x1 conv of K = ``side_channels`` channels."""
    widths = [width] + [2 * width] * (stages - 1)
    head = [conv_bn_relu(widths[-1], side_channels, kernel=1)]  # CFN's 1x1 conv of K channels
    mods, pools = _pooled_stages(in_channels, widths, depth, head)
    return StagedBackbone(mods, widths[:-1] + [side_channels], pools)


def vgg(in_channels: int, width: int, depth: int, stages: int, side_channels: None = None) -> StagedBackbone:
    widths = [width * 2 ** s for s in range(stages)]
    mods, pools = _pooled_stages(in_channels, widths, depth, [])
    return StagedBackbone(mods, widths, pools)


def resnet(in_channels: int, width: int, depth: int, stages: int, side_channels: None = None) -> StagedBackbone:
    widths = [width * 2 ** s for s in range(stages)]
    mods, c = [], width
    for s, w in enumerate(widths):
        blocks = [conv_bn_relu(in_channels, width)] if s == 0 else []
        for b in range(depth):
            blocks.append(BasicBlock(c, w, 2 if (s > 0 and b == 0) else 1))
            c = w
        mods.append(nn.Sequential(*blocks))
    return StagedBackbone(mods, widths)


def _fixed(name: str, width: int | None, depth: int | None, stages: int | None) -> None:
    if any(v is not None for v in (width, depth, stages)):
        raise SpecError(f"backbone={name!r} is fixed by its paper: width, depth and stages do not apply")


#: CFN §4.1: the 3x3 convs' widths; pools after conv3 and conv5 (see ``cfn``)
CFN_WIDTHS = (96, 96, 192, 192, 192, 192)
CFN_POOL_AFTER = (3, 5)
CFN_K = 192


def cfn(in_channels: int, width: None = None, depth: None = None, stages: None = None,
        side_channels: int = CFN_K) -> StagedBackbone:
    """CFN's CIFAR net (CFN §4.1, Fig. 4): six 3x3 convs 96-96-192-192-192-192, then the 1x1 conv
    to K = 192, GAP, FC (the FC is the head).

    Fig. 4 is not in the text, so the layout is the one that reproduces *both* of Table 1's counts:
    max pooling after conv3 and after conv5 (three stages: conv1-3 | conv4-5 | conv6 + 1x1; the
    side branches grow from the two pooling layers, 192 channels each), and one parameter per
    channel beyond each conv's weights.  That gives 1,286,698 "basic" parameters (1.287M) and
    2 x (192·192 + 192) = 74,112 for the side branches' 1x1 convs (0.074M) on 3x32x32 CIFAR-10.
    The per-channel parameter is a batch-norm shift without a scale (``ShiftNorm``): it counts
    like the conv bias of the 2016 Caffe net and keeps the net trainable at CFN's lr 0.1.
    """
    _fixed("cfn", width, depth, stages)
    mods, layers, c = [], [], in_channels
    for i, w in enumerate(CFN_WIDTHS, 1):
        layers.append(conv_shift_relu(c, w))
        c = w
        if i in CFN_POOL_AFTER:
            mods.append(nn.Sequential(*layers))
            layers = []
    mods.append(nn.Sequential(*layers, conv_shift_relu(c, side_channels, kernel=1)))
    return StagedBackbone(mods, [CFN_WIDTHS[p - 1] for p in CFN_POOL_AFTER] + [side_channels],
                          [nn.MaxPool2d(2, 2, ceil_mode=True) for _ in CFN_POOL_AFTER])


def _named_resnet(name: str, w: int, d: int, s: int, every_conv: bool = False):
    """A CIFAR ResNet of fixed width ``w``, ``d`` basic blocks per stage and ``s`` stages;
    ``every_conv``: scFusion replaces all its convs (``scfusion.sparsify``)."""
    def entry(in_channels: int, width: None = None, depth: None = None, stages: None = None,
              side_channels: None = None) -> StagedBackbone:
        _fixed(name, width, depth, stages)
        net = resnet(in_channels, w, d, s)
        net.sparsify_every_conv = every_conv
        return net

    entry.__name__ = entry.__qualname__ = name
    return entry


#: scFusion §4.1.2, Table 3: He et al.'s CIFAR ResNet-32, a 3x3 stem of 16 channels, 3 stages of
#: 5 basic blocks (16, 32, 64), GAP, FC (stage changes by a 1x1 projection shortcut).  Its scFusion
#: version replaces *all* convs (§4.1.1), which reproduces Table 3's reductions within 2 %; keeping
#: the stem and the 1x1 shortcuts dense (the ImageNet rule) gives 2.49x params at alpha 4, not 2.39x.
resnet32 = _named_resnet("resnet32", 16, 5, 3, every_conv=True)
#: SCFF §3: the CIFAR ResNet-18: a 3x3 stem of 64 channels, 4 stages of 2 basic blocks
#: (64, 128, 256, 512), GAP, FC; 11,173,962 parameters for 10 classes
resnet18 = _named_resnet("resnet18", 64, 2, 4)

_POOLS = (nn.MaxPool2d, nn.AvgPool2d, nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d)


def _stage_taps(model: nn.Module, in_channels: int, probe_size: int) -> tuple[list[str], list[int]]:
    """The module whose output ends each stage of a torchvision trunk, and its channels.

    A probe pass records every module's output.  A module is a *unit* unless the outputs of its
    children that hold a conv come at more than one resolution (then its children are,
    recursively): ``layer2`` of a ResNet, a DenseNet transition and a ConvNeXt downsampling layer
    are units, ``features`` of a VGG or MobileNet is not.  A stage ends with the last
    unit at each resolution; pooling units are never a stage (VGG's final max-pool, the global
    average pool), nor is anything that is not a 4-D map (classifiers).  A first resolution whose
    units hold a single conv is the stem (ResNet's, DenseNet's 7x7 conv), not a stage.
    """
    outputs: dict[str, tuple[int, tuple]] = {}
    hooks = []
    for name, module in model.named_modules():
        def hook(m, i, o, name=name):
            if name not in outputs:
                outputs[name] = (len(outputs), tuple(o.shape) if isinstance(o, torch.Tensor) else ())
        hooks.append(module.register_forward_hook(hook))
    was = model.training
    try:
        with torch.no_grad():
            model.eval()(torch.zeros(1, in_channels, probe_size, probe_size))
    finally:
        for h in hooks:
            h.remove()
        model.train(was)

    def size(name: str) -> tuple | None:
        shape = outputs[name][1]
        return tuple(shape[-2:]) if len(shape) == 4 else None

    def units(prefix: str, module: nn.Module) -> list[tuple[str, nn.Module]]:
        children = sorted(((f"{prefix}.{n}" if prefix else n, c) for n, c in module.named_children()
                           if (f"{prefix}.{n}" if prefix else n) in outputs), key=lambda nc: outputs[nc[0]][0])
        sizes = {size(n) for n, c in children if any(isinstance(m, nn.Conv2d) for m in c.modules())} - {None}
        if not children or (prefix and len(sizes) <= 1):
            return [(prefix, module)]
        return [u for n, c in children for u in units(n, c)]

    levels: list[list[tuple[str, nn.Module]]] = []
    for name, module in units("", model):
        s = size(name)
        if s is None or isinstance(module, _POOLS):
            continue
        if levels and size(levels[-1][-1][0]) == s:
            levels[-1].append((name, module))
        else:
            levels.append([(name, module)])
    if levels and sum(isinstance(m, nn.Conv2d) for _, u in levels[0] for m in u.modules()) <= 1:
        levels = levels[1:]  # the stem
    taps = [level[-1][0] for level in levels]
    return taps, [outputs[t][1][1] for t in taps]


_TAPS: dict[tuple, tuple[list[str], list[int]]] = {}


class TorchvisionBackbone(nn.Module):
    """A torchvision classifier's trunk, tapped at each stage's output (``_stage_taps``) with
    ``torchvision.models.feature_extraction`` instead of re-writing its forward."""

    def __init__(self, name: str, in_channels: int, probe_size: int = 128) -> None:
        super().__init__()
        from torchvision.models import get_model
        from torchvision.models.feature_extraction import create_feature_extractor

        try:
            model = get_model(name, weights=None)
        except ValueError as err:
            raise ValueError(f"backbone='tv:{name}': {err}") from None
        if in_channels != 3:
            _adapt_first_conv(model, in_channels)
        key = (name, in_channels, probe_size)
        if key not in _TAPS:  # the probe pass is the slow part of building a large trunk
            _TAPS[key] = _stage_taps(model, in_channels, probe_size)
        self.taps, self.channels = (list(v) for v in _TAPS[key])
        if len(self.taps) < 2:
            raise ValueError(f"backbone='tv:{name}': found {len(self.taps)} convolutional stage(s); "
                             "fusion needs a trunk of at least two")
        self.extractor = create_feature_extractor(model, return_nodes={n: n for n in self.taps})

    def forward(self, x: torch.Tensor, before_downsampling: bool = True) -> list[torch.Tensor]:
        out = self.extractor(x)  # taps end each stage, before the next one shrinks the map
        return [out[n] for n in self.taps]


@functools.lru_cache(maxsize=None)
def tv_stage_count(name: str) -> int:
    """How many stages ``tv:<name>`` has (the vocabulary's default side branches need it)."""
    try:
        return len(TorchvisionBackbone(name, 3).taps)
    except ValueError as err:
        raise SpecError(str(err)) from None


def _adapt_first_conv(model: nn.Module, in_channels: int) -> None:
    for name, m in model.named_modules():
        if isinstance(m, nn.Conv2d):
            new = nn.Conv2d(in_channels, m.out_channels, m.kernel_size, m.stride, m.padding,
                            bias=m.bias is not None)
            parent_name, _, child = name.rpartition(".")
            setattr(model.get_submodule(parent_name) if parent_name else model, child, new)
            return


#: ``backbone`` -> builder, one convention: ``(in_channels, width=, depth=, stages=, side_channels=)``;
#: the papers' fixed networks take ``None`` for width, depth and stages (an error otherwise).
BACKBONES = ModuleTable("backbone", {"plain": plain, "resnet": resnet, "vgg": vgg,
                                     "cfn": cfn, "resnet32": resnet32, "resnet18": resnet18})


def create_backbone(name: str, in_channels: int, width: int | None, depth: int | None, stages: int | None,
                    side_channels: int | None) -> nn.Module:
    """A backbone by name; ``tv:<model>`` taps a torchvision classifier."""
    if name.startswith("tv:"):
        try:
            return TorchvisionBackbone(name[3:], in_channels)
        except ValueError as err:
            raise SpecError(str(err)) from None
    kwargs = {} if side_channels is None else {"side_channels": side_channels}
    return BACKBONES.create(name, in_channels, width=width, depth=depth, stages=stages, **kwargs)
