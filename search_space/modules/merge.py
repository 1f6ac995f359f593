"""SCFF's F-F modules (§2.3.3): fuse the downsampled upper level D with the stage output X.

SCFF compared SE-style gating with additive and concatenated combinations before settling on
SKNet's selection with its softmax change; all of them are here, one class each.
"""

from __future__ import annotations

from functools import partial

import torch
from torch import nn
from torch.nn import functional as F

from search_space.modules.table import ModuleTable


class AddMerge(nn.Module):
    """Element-wise addition: the F-F used for SCFF's D-S comparison (Table 2, upper part)."""

    def __init__(self, channels: int) -> None:
        super().__init__()

    def forward(self, d: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return d + x

    def extra_macs(self, inputs: tuple, output: torch.Tensor) -> int:
        return 0  # additions count as zero


class BatchNorm1dAnyBatch(nn.BatchNorm1d):
    """SKNet's BN on the squeezed vector, usable when a training batch holds one image.

    Batch statistics of one sample do not exist (torch raises), so such a batch is normalised
    with the running statistics instead.  Without this every SK candidate fails whenever the
    training set's size is 1 mod the batch size, which would bias ablations against SK.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training and x.shape[0] == 1:
            return F.batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias, False, 0.0, self.eps)
        return super().forward(x)


class SKMerge(nn.Module):
    """SKNet's two-way selective fusion (SCFF Fig. 6).

    ``softmax_first`` is SCFF's change (Fig. 7): the pooled global feature of D + X is put
    through a softmax before the first FC, which the paper likens to initialising the weights.
    The hidden width follows SKNet: d = max(C / r, L) with r = 16, L = 32.
    """

    def __init__(self, channels: int, softmax_first: bool = False, reduction: int = 16, min_hidden: int = 32) -> None:
        super().__init__()
        hidden = max(channels // reduction, min_hidden)
        self.softmax_first = softmax_first
        self.squeeze = nn.Sequential(nn.Linear(channels, hidden, bias=False), BatchNorm1dAnyBatch(hidden), nn.ReLU())
        self.select = nn.Linear(hidden, 2 * channels)
        self.channels = channels

    def forward(self, d: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        s = (d + x).mean((2, 3))
        if self.softmax_first:
            s = s.softmax(1)
        a = self.select(self.squeeze(s)).view(-1, 2, self.channels, 1, 1).softmax(1)
        return a[:, 0] * d + a[:, 1] * x

    def extra_macs(self, inputs: tuple, output: torch.Tensor) -> int:
        return 2 * inputs[0][0].numel()  # the selection weights both maps; the FCs are Linear layers


class SEMerge(nn.Module):
    """SE-style gating (SCFF Fig. 5, §2.3.3): GAP of D + X, an FC-ReLU-FC funnel, and a sigmoid
    weight in (0, 1) per channel for each input, then the weighted inputs are added.  Unlike
    SK's softmax the two weights are independent, so both inputs may be kept or both damped."""

    def __init__(self, channels: int, reduction: int = 16, min_hidden: int = 32) -> None:
        super().__init__()
        hidden = max(channels // reduction, min_hidden)
        self.funnel = nn.Sequential(nn.Linear(channels, hidden), nn.ReLU(), nn.Linear(hidden, 2 * channels))
        self.channels = channels

    def forward(self, d: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        g = self.funnel((d + x).mean((2, 3))).view(-1, 2, self.channels, 1, 1).sigmoid()
        return g[:, 0] * d + g[:, 1] * x

    def extra_macs(self, inputs: tuple, output: torch.Tensor) -> int:
        return 2 * inputs[0][0].numel()  # the gating weights both maps; the funnel is Linear layers


class ConcatMerge(nn.Module):
    """Concatenation (SCFF §2.3.3's concatenated combination): [D, X] along channels, then a
    1x1 conv + BN back to C channels, so the next link sees the stage's width."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.proj = nn.Sequential(nn.Conv2d(2 * channels, channels, 1, bias=False), nn.BatchNorm2d(channels))

    def forward(self, d: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return self.proj(torch.cat([d, x], 1))

    def extra_macs(self, inputs: tuple, output: torch.Tensor) -> int:
        return 0  # the 1x1 conv is counted as a Conv2d


#: ``merge`` -> F-F module, one convention: ``(channels)``.
MERGES = ModuleTable("merge", {
    "add": AddMerge,
    "sk": partial(SKMerge, softmax_first=False),
    "sk_softmax": partial(SKMerge, softmax_first=True),
    "se": SEMerge,
    "concat": ConcatMerge,
})
