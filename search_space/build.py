"""ArchSpec -> torch.nn.Module.

Every network is made of the same four parts, named as the cost breakdown reports them (CFN
Table 1 counts "basic + extra branches + fusion"): ``backbone``, ``branches`` (CFN side
branches, or SCFF's D-S modules), ``fusion`` (the fusion op, or SCFF's F-F modules) and
``head`` (classifiers, HCNN's combination network).  HCNN's two base nets sit in ``nets``;
a parameter belongs to the innermost part named in its path.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from search_space.modules import DOWNSAMPLES, GAP_FUSION_OPS, MERGES, create_backbone, sparsify
from search_space.modules.hcnn import AverageCombination, ConcatCombination, cut_top_layers
from search_space.spec import ArchSpec, SpecError

PARTS = ("backbone", "branches", "fusion", "head")


def build_backbone(spec: ArchSpec, in_channels: int) -> nn.Module:
    return create_backbone(spec.backbone, in_channels, spec.width, spec.depth, spec.stages, spec.side_channels)


class SideBranch(nn.Sequential):
    """CFN's side output: 1x1 conv to K channels, ReLU, global average pooling."""

    def __init__(self, in_channels: int, k: int) -> None:
        super().__init__(nn.Conv2d(in_channels, k, 1), nn.ReLU(inplace=True),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten())


class GapFusionNet(nn.Module):
    """CFN: side branches from the chosen stages + the main branch, fused as 1xKxS (§3.1)."""

    def __init__(self, spec: ArchSpec, backbone: nn.Module, num_classes: int, with_head: bool) -> None:
        super().__init__()
        self.backbone = backbone
        self.taps = [b - 1 for b in spec.branches] + [len(backbone.channels) - 1]
        self.strategy = spec.strategy or "eflp"  # concat fuses features: EFLP
        channels = backbone.channels
        self.fused = spec.fusion != "none"
        k = spec.side_channels
        own_1x1 = spec.backbone == "plain"  # CFN's plain net already ends in the K-channel 1x1 conv
        if self.fused:
            self.branches = nn.ModuleList(
                [SideBranch(channels[t], k) for t in self.taps[:-1]]
                + [nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten()) if own_1x1 else SideBranch(channels[-1], k)])
            s = len(self.taps)
            if self.strategy == "eflp":
                self.fusion = GAP_FUSION_OPS.create(spec.fusion, k, s, activation=True)
                self.feature_dim = self.fusion.out_features
                if with_head:
                    self.head = nn.Linear(self.feature_dim, num_classes)
            else:  # eplf: one FC per branch, then fuse the S predictions
                self.feature_dim = k * s
                if with_head:
                    self.head = nn.ModuleList([nn.Linear(k, num_classes) for _ in range(s)])
                    self.fusion = GAP_FUSION_OPS.create(spec.fusion, num_classes, s, activation=False)
        else:
            self.branches = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten())
            self.feature_dim = channels[-1]
            if with_head:
                self.head = nn.Linear(self.feature_dim, num_classes)

    def _gap_vectors(self, x: torch.Tensor) -> list[torch.Tensor]:
        outs = self.backbone(x)
        return [branch(outs[t]) for branch, t in zip(self.branches, self.taps)]

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The classifier's input: HCNN concatenates these across base networks."""
        if not self.fused:
            return self.branches(self.backbone(x)[-1])
        vectors = self._gap_vectors(x)
        if self.strategy == "eflp":
            return self.fusion(torch.stack(vectors, -1))
        return torch.cat(vectors, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.fused and self.strategy == "eplf":
            preds = [fc(v) for fc, v in zip(self.head, self._gap_vectors(x))]
            return self.fusion(torch.stack(preds, -1))
        return self.head(self.features(x))


class PyramidFusionNet(nn.Module):
    """SCFF: Y_1 = X_1, Y_i = F(D(Y_{i-1}), X_i) top-down over the chosen stages (§2.3.1).

    Each X_i is tapped before its stage's map shrinks (SCFF §3.2), so every D-S link halves
    the map (or more, when a stage is skipped) and the D-S type always matters."""

    def __init__(self, spec: ArchSpec, backbone: nn.Module, num_classes: int, with_head: bool,
                 in_channels: int, probe_size: int) -> None:
        super().__init__()
        self.backbone = backbone
        self.taps = [b - 1 for b in spec.branches] + [len(backbone.channels) - 1]
        self.detach = spec.detach
        with torch.no_grad():
            probe = torch.zeros(1, in_channels, probe_size, probe_size)
            sizes = [o.shape[-1] for o in backbone.eval()(probe, before_downsampling=True)]
        backbone.train()
        ch = backbone.channels
        pairs = list(zip(self.taps[:-1], self.taps[1:]))
        try:
            self.branches = nn.ModuleList([
                DOWNSAMPLES.create(spec.downsample, ch[a], ch[b], max(1, round(sizes[a] / sizes[b])))
                for a, b in pairs])
        except ValueError as err:
            raise SpecError(f"downsample={spec.downsample!r}: {err}") from None
        self.fusion = nn.ModuleList([MERGES.create(spec.merge, ch[b]) for _, b in pairs])
        self.pool = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.feature_dim = ch[-1]
        if with_head:
            self.head = nn.Linear(self.feature_dim, num_classes)

    def extra_repr(self) -> str:
        return f"detach={self.detach}"  # a training-graph property: part of what the network is

    def features(self, x: torch.Tensor) -> torch.Tensor:
        outs = self.backbone(x, before_downsampling=True)
        xs = [outs[t] for t in self.taps]
        if self.detach:  # SCFF Fig. 3: fusion sends no gradient into the lower stages
            xs = [v.detach() for v in xs[:-1]] + [xs[-1]]
        y = xs[0]
        for down, merge, x_i in zip(self.branches, self.fusion, xs[1:]):
            d = down(y)
            if d.shape[-2:] != x_i.shape[-2:]:  # odd sizes in a torchvision trunk
                d = F.adaptive_avg_pool2d(d, x_i.shape[-2:])
            y = merge(d, x_i)
        return self.pool(y)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


def _single(spec: ArchSpec, num_classes: int, in_channels: int, with_head: bool, image_size: int) -> nn.Module:
    backbone = build_backbone(spec, in_channels)
    if spec.alpha > 1:
        try:
            sparsify(backbone, spec.alpha, spec.sc_add, bool(spec.sc_inverse))
        except ValueError as err:
            raise SpecError(str(err)) from None
    n_stages = len(backbone.channels)
    for b in spec.branches:
        if not 1 <= b < n_stages:
            raise SpecError(f"branches: stage {b} is past the side-branch stages 1..{n_stages - 1} of {spec.backbone}")
    if spec.fusion_site == "gap":
        return GapFusionNet(spec, backbone, num_classes, with_head)
    return PyramidFusionNet(spec, backbone, num_classes, with_head, in_channels, image_size)


def build_model(spec: ArchSpec, num_classes: int, in_channels: int, image_size: int = 32) -> nn.Module:
    """Build the candidate.  ``image_size`` tells the pyramid how far apart stages are, and HCNN
    how wide the features at its concatenation point are."""
    if spec.combination == "single":
        return _single(spec, num_classes, in_channels, True, image_size)
    a, b = build_bases(spec, num_classes, in_channels, image_size)
    if spec.combination == "avg":
        return AverageCombination(a, b)
    for net in (a, b):  # HCNN §2.2: each base gives up as many top layers as the CL network has
        del net.head
        cut_top_layers(net, spec.cl_layers - 1, in_channels, image_size)
    return ConcatCombination(a, b, spec.cl_layers, spec.cl_width, num_classes, bool(spec.hcnn_finetune))


def build_bases(spec: ArchSpec, num_classes: int, in_channels: int, image_size: int = 32) -> tuple[nn.Module, nn.Module]:
    """HCNN's two base networks, each a complete single net as it is trained alone."""
    return (_single(spec.single(), num_classes, in_channels, True, image_size),
            _single(spec.partner(), num_classes, in_channels, True, image_size))
