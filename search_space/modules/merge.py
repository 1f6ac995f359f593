"""SCFF's F-F modules (§2.3.3): fuse the downsampled upper level D with the stage output X."""

from __future__ import annotations

import torch
from torch import nn


class AddMerge(nn.Module):
    """Element-wise addition: the F-F used for SCFF's D-S comparison (Table 2, upper part)."""

    def __init__(self, channels: int) -> None:
        super().__init__()

    def forward(self, d: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return d + x

    def weighted_macs(self, d: torch.Tensor) -> int:
        return 0


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
        self.squeeze = nn.Sequential(nn.Linear(channels, hidden, bias=False), nn.BatchNorm1d(hidden), nn.ReLU())
        self.select = nn.Linear(hidden, 2 * channels)
        self.channels = channels

    def forward(self, d: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        s = (d + x).mean((2, 3))
        if self.softmax_first:
            s = s.softmax(1)
        a = self.select(self.squeeze(s)).view(-1, 2, self.channels, 1, 1).softmax(1)
        return a[:, 0] * d + a[:, 1] * x

    def weighted_macs(self, d: torch.Tensor) -> int:
        return 2 * d[0].numel()


MERGES = {
    "add": AddMerge,
    "sk": lambda c: SKMerge(c, softmax_first=False),
    "sk_softmax": lambda c: SKMerge(c, softmax_first=True),
}
